package admin_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"net/http"
	"net/url"
	"testing"

	"github.com/google/uuid"

	"gatepass/internal/consent"
	"gatepass/internal/face"
	"gatepass/internal/store"
	"gatepass/server/internal/servertest"
)

// TestMoveOutRevokesEverything gives a resident a credential of every kind, a session and
// a visitor pass with its own credential, then moves them out.
func TestMoveOutRevokesEverything(t *testing.T) {
	h := newHarness(t)
	f := h.Community()
	neighbour := h.NewResident(f)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := h.DB.SQL().Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	pass := uuid.New()
	for _, r := range []string{f.Resident, neighbour} {
		for _, kind := range []string{"qr", "device", "card"} {
			exec(`INSERT INTO credentials (community_id, id, kind, subject, resident_id, zones) VALUES ($1, $2, $3, 'resident', $4, 1)`, f.ID, uuid.New(), kind, r)
		}
		hash := sha256.Sum256([]byte(r))
		exec(`INSERT INTO sessions (community_id, token_hash, resident_id, passkey_id, expires_at) VALUES ($1, $2, $3, $4, now() + interval '1 day')`,
			f.ID, hash[:], r, uuid.New())
	}
	exec(`INSERT INTO visitor_passes (community_id, id, host_resident_id, label, token_hash, zones, valid_from, valid_until, max_entries)
		VALUES ($1, $2, $3, 'plumber', $4, 1, now(), now() + interval '1 day', 2)`, f.ID, pass, f.Resident, bytes.Repeat([]byte{9}, 32))
	exec(`INSERT INTO credentials (community_id, id, kind, subject, visitor_pass_id, zones) VALUES ($1, $2, 'visitor', 'visitor', $3, 1)`, f.ID, uuid.New(), pass)

	giveFaceConsent(t, h, f, f.Resident)

	out := h.Must(http.StatusOK, "POST", "/admin/v1/communities/"+f.ID+"/residents/"+f.Resident+"/move-out", f.Admin, nil)
	if out["face_data_purged"] != true {
		t.Errorf("move-out did not purge face data: %v", out)
	}
	if out["credentials_revoked"] != 4.0 || out["sessions_ended"] != 1.0 || out["visitor_passes_revoked"] != 1.0 {
		t.Fatalf("move-out result %v, want 4 credentials, 1 session, 1 pass", out)
	}
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := h.DB.SQL().QueryRow(q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	checks := []struct {
		what string
		got  int
		want int
	}{
		{"live credentials of the resident", count(`SELECT count(*) FROM credentials WHERE resident_id = $1 AND revoked_at IS NULL`, f.Resident), 0},
		{"live visitor credentials", count(`SELECT count(*) FROM credentials WHERE visitor_pass_id = $1 AND revoked_at IS NULL`, pass), 0},
		{"live sessions", count(`SELECT count(*) FROM sessions WHERE resident_id = $1 AND revoked_at IS NULL`, f.Resident), 0},
		{"open residencies", count(`SELECT count(*) FROM residencies WHERE resident_id = $1 AND valid_to IS NULL`, f.Resident), 0},
		{"usable invites", count(`SELECT count(*) FROM invites WHERE resident_id = $1 AND used_at IS NULL AND expires_at > now()`, f.Resident), 0},
		{"revocations for gates", count(`SELECT count(*) FROM change_log WHERE community_id = $1 AND kind = 'revocation'`, f.ID), 4},
		{"audit rows", count(`SELECT count(*) FROM audit_log WHERE community_id = $1 AND action = 'resident.move_out' AND target = $2`, f.ID, "resident:"+f.Resident), 1},
		{"face templates on the server", count(`SELECT count(*) FROM face_templates WHERE resident_id = $1`, f.Resident), 0},
		{"live face consents", count(`SELECT count(*) FROM consents WHERE resident_id = $1 AND withdrawn_at IS NULL`, f.Resident), 0},
		{"gates asked to purge", count(`SELECT count(*) FROM face_purges WHERE resident_id = $1 AND acked_at IS NULL`, f.Resident), 1},
		{"neighbour's live credentials", count(`SELECT count(*) FROM credentials WHERE resident_id = $1 AND revoked_at IS NULL`, neighbour), 3},
		{"neighbour's live sessions", count(`SELECT count(*) FROM sessions WHERE resident_id = $1 AND revoked_at IS NULL`, neighbour), 1},
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
	ctx := context.Background()
	c, r, g := uuid.MustParse(f.ID), uuid.MustParse(resident), uuid.MustParse(f.Gate)
	gateKey, err := face.NewGateKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.DB.SQL().Exec(`UPDATE gates SET box_public_key = $1 WHERE id = $2`, gateKey.PublicKey().Bytes(), g); err != nil {
		t.Fatal(err)
	}
	tmpl := face.NewSynthetic(1).Identity()
	sealed, err := face.Seal(tmpl, gateKey.PublicKey().Bytes(), face.Binding{Community: c, Gate: g, Resident: r, Model: tmpl.Model})
	if err != nil {
		t.Fatal(err)
	}
	notice, err := consent.Current("en")
	if err != nil {
		t.Fatal(err)
	}
	err = h.DB.InTx(ctx, "resident:"+resident, func(tx *store.Tx) error {
		if err := tx.SetFaceOperator(ctx, c, consent.Operator{Name: "Demo Property Co.", Contact: "400-000-0000"}); err != nil {
			return err
		}
		if _, err := tx.GiveConsent(ctx, store.GiveConsent{Community: c, Resident: r, GivenBy: r, NoticeVersion: notice.Version,
			NoticeLang: notice.Lang, NoticeHash: notice.Hash[:], Scope: consent.ScopeCommunity, Channel: "h5"}); err != nil {
			return err
		}
		_, err := tx.PutSealedTemplates(ctx, c, r, []store.SealedTemplate{{Gate: g, Model: tmpl.Model, Sealed: sealed}})
		return err
	})
	if err != nil {
		t.Fatalf("face consent and template: %v", err)
	}
}
