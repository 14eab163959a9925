package admin_test

import (
	"bytes"
	"crypto/sha256"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/dbtest"
	"gatepass/internal/face"
	"gatepass/server/internal/servertest"
)

// TestMoveOutRevokesEverything gives a resident a credential of every kind, a session and
// a visitor pass with its own credential, then moves them out.
func TestMoveOutRevokesEverything(t *testing.T) {
	h := newHarness(t)
	f := h.Community()
	neighbour := h.NewResident(f)
	db := h.DB.SQL()
	pass := uuid.New()
	for _, r := range []string{f.Resident, neighbour} {
		for _, kind := range []string{"qr", "device", "card"} {
			dbtest.Insert(t, db, dbtest.Credentials, dbtest.Values{"community_id": f.ID, "id": uuid.New(), "kind": kind, "subject": "resident", "resident_id": r, "zones": 1})
		}
		hash := sha256.Sum256([]byte(r))
		dbtest.Insert(t, db, dbtest.Sessions, dbtest.Values{"community_id": f.ID, "token_hash": hash[:], "resident_id": r, "passkey_id": uuid.New(), "expires_at": dbtest.FromNow(24 * time.Hour)})
	}
	dbtest.Insert(t, db, dbtest.VisitorPasses, dbtest.Values{"community_id": f.ID, "id": pass, "host_resident_id": f.Resident, "label": "plumber",
		"token_hash": bytes.Repeat([]byte{9}, 32), "zones": 1, "valid_from": dbtest.Now(), "valid_until": dbtest.FromNow(24 * time.Hour), "max_entries": 2})
	dbtest.Insert(t, db, dbtest.Credentials, dbtest.Values{"community_id": f.ID, "id": uuid.New(), "kind": "visitor", "subject": "visitor", "visitor_pass_id": pass, "zones": 1})

	giveFaceConsent(t, h, f, f.Resident)

	out := h.Must(http.StatusOK, "POST", "/admin/v1/communities/"+f.ID+"/residents/"+f.Resident+"/move-out", f.Admin, nil)
	if out["face_data_purged"] != true {
		t.Errorf("move-out did not purge face data: %v", out)
	}
	if out["credentials_revoked"] != 4.0 || out["sessions_ended"] != 1.0 || out["visitor_passes_revoked"] != 1.0 {
		t.Fatalf("move-out result %v, want 4 credentials, 1 session, 1 pass", out)
	}
	count := func(tb dbtest.Table, conds ...dbtest.Cond) int { t.Helper(); return dbtest.Count(t, db, tb, conds...) }
	eq, null := dbtest.Eq, dbtest.Null
	checks := []struct {
		what string
		got  int
		want int
	}{
		{"live credentials of the resident", count(dbtest.Credentials, eq("resident_id", f.Resident), null("revoked_at")), 0},
		{"live visitor credentials", count(dbtest.Credentials, eq("visitor_pass_id", pass), null("revoked_at")), 0},
		{"live sessions", count(dbtest.Sessions, eq("resident_id", f.Resident), null("revoked_at")), 0},
		{"open residencies", count(dbtest.Residencies, eq("resident_id", f.Resident), null("valid_to")), 0},
		{"usable invites", count(dbtest.Invites, eq("resident_id", f.Resident), null("used_at"), dbtest.Gt("expires_at", time.Now())), 0},
		{"revocations for gates", count(dbtest.ChangeLog, eq("community_id", f.ID), eq("kind", "revocation")), 4},
		{"audit rows", count(dbtest.AuditLog, eq("community_id", f.ID), eq("action", "resident.move_out"), eq("target", "resident:"+f.Resident)), 1},
		{"face templates on the server", count(dbtest.FaceTemplates, eq("resident_id", f.Resident)), 0},
		{"live face consents", count(dbtest.Consents, eq("resident_id", f.Resident), null("withdrawn_at")), 0},
		{"gates asked to purge", count(dbtest.FacePurges, eq("resident_id", f.Resident), null("acked_at")), 1},
		{"neighbour's live credentials", count(dbtest.Credentials, eq("resident_id", neighbour), null("revoked_at")), 3},
		{"neighbour's live sessions", count(dbtest.Sessions, eq("resident_id", neighbour), null("revoked_at")), 1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %d, want %d", c.what, c.got, c.want)
		}
	}
	res := h.Must(http.StatusOK, "GET", "/admin/v1/communities/"+f.ID+"/residents/"+f.Resident, f.Guard, nil)
	if res["status"] != "moved_out" || res["ended_at"] == nil {
		t.Fatalf("resident after move-out: %v", res)
	}
	h.Must(http.StatusConflict, "POST", "/admin/v1/communities/"+f.ID+"/residents/"+f.Resident+"/move-out", f.Admin, nil)
	h.Must(http.StatusConflict, "POST", "/admin/v1/communities/"+f.ID+"/residents/"+f.Resident+"/invite", f.Admin, nil)
}

func TestResidentSearchAndPaging(t *testing.T) {
	h := newHarness(t)
	f := h.Community()
	base := "/admin/v1/communities/" + f.ID + "/residents"
	for _, n := range []string{"王芳", "王伟", "张伟", "Zhang_Wei", "Zhang%Li"} {
		h.Must(http.StatusCreated, "POST", base, f.Admin, map[string]any{"name": n, "unit_id": f.Unit, "role": "family"})
	}
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		out := h.Must(http.StatusOK, "GET", base+"?limit=2&cursor="+cursor, f.Guard, nil)
		for _, r := range out["residents"].([]any) {
			id := r.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("resident %s on two pages", id)
			}
			seen[id] = true
		}
		next, _ := out["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
		if pages > 10 {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != 6 { // five here and the servertest.Fixture's resident
		t.Fatalf("paged through %d residents, want 6", len(seen))
	}
	for q, want := range map[string]int{"伟": 2, "王": 2, "_": 1, "%": 1, "nobody": 0} {
		out := h.Must(http.StatusOK, "GET", base+"?q="+url.QueryEscape(q), f.Guard, nil)
		if got := len(out["residents"].([]any)); got != want {
			t.Errorf("q=%q found %d, want %d", q, got, want)
		}
	}
}

// giveFaceConsent gives a resident a live face consent with a template sealed to the
// servertest.Fixture's gate, through the store as the mobile app would.
func giveFaceConsent(t *testing.T, h *harness, f servertest.Fixture, resident string) {
	t.Helper()
	c, r, g := uuid.MustParse(f.ID), uuid.MustParse(resident), uuid.MustParse(f.Gate)
	gateKey, err := face.NewGateKey()
	if err != nil {
		t.Fatal(err)
	}
	dbtest.Set(t, h.DB.SQL(), dbtest.Gates, dbtest.Values{"box_public_key": gateKey.PublicKey().Bytes()}, dbtest.Eq("id", g))
	tmpl := face.NewSynthetic(1).Identity()
	sealed, err := face.Seal(tmpl, gateKey.PublicKey().Bytes(), face.Binding{Community: c, Gate: g, Resident: r, Model: tmpl.Model})
	if err != nil {
		t.Fatal(err)
	}
	dbtest.FaceConsent(t, h.DB, c, r, g, "en", tmpl.Model, sealed)
}
