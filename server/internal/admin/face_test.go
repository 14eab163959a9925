package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"gatepass/internal/consent"
	"gatepass/internal/dbtest"
	"gatepass/internal/face"
	"gatepass/internal/store"
	"gatepass/server/internal/servertest"
)

// enrolFace gives a resident community-scope consent and uploads templates sealed to the
// community's gates, as the mobile API will, straight through the store.
func (h *harness) enrolFace(f servertest.Fixture, resident string) {
	h.T.Helper()
	ctx := context.Background()
	c, r := uuid.MustParse(f.ID), uuid.MustParse(resident)
	key, err := face.NewGateKey()
	if err != nil {
		h.T.Fatal(err)
	}
	dbtest.Set(h.T, h.DB.SQL(), dbtest.Gates, dbtest.Values{"box_public_key": key.PublicKey().Bytes(), "enrolled_at": dbtest.Now()},
		dbtest.Eq("community_id", c), dbtest.Null("box_public_key"), dbtest.Null("enrolled_at"))
	dbtest.Set(h.T, h.DB.SQL(), dbtest.Gates, dbtest.Values{"box_public_key": key.PublicKey().Bytes()},
		dbtest.Eq("community_id", c), dbtest.Null("box_public_key"))
	h.Must(http.StatusOK, "PUT", "/admin/v1/communities/"+f.ID+"/face-operator", f.Admin,
		map[string]any{"operator_name": "Sunshine Property", "operator_contact": "privacy@example.com"})
	keys, err := h.DB.FaceGateKeys(ctx, c)
	if err != nil || len(keys) == 0 {
		h.T.Fatalf("gate keys %v %v", keys, err)
	}
	n, _ := consent.Current("en")
	tmpl := face.NewSynthetic(uint64(len(resident))).Identity()
	err = h.DB.InTx(ctx, "resident:"+resident, func(tx *store.Tx) error {
		if _, err := tx.GiveConsent(ctx, store.GiveConsent{Community: c, Resident: r, GivenBy: r, NoticeVersion: n.Version,
			NoticeLang: n.Lang, NoticeHash: n.Hash[:], Scope: consent.ScopeCommunity, Channel: "h5"}); err != nil {
			return err
		}
		var blobs []store.SealedTemplate
		for _, k := range keys {
			b, err := face.Seal(tmpl, k.PublicKey, face.Binding{Community: c, Gate: k.Gate, Resident: r, Model: tmpl.Model})
			if err != nil {
				return err
			}
			blobs = append(blobs, store.SealedTemplate{Gate: k.Gate, Model: tmpl.Model, Sealed: b})
		}
		_, err := tx.PutSealedTemplates(ctx, c, r, blobs)
		return err
	})
	if err != nil {
		h.T.Fatal(err)
	}
}

// faceCommunities makes two communities with face templates: two residents in a, one in b.
func (h *harness) faceCommunities() (a, b servertest.Fixture) {
	a, b = h.Community(), h.Community()
	h.enrolFace(a, a.Resident)
	h.enrolFace(a, h.NewResident(a))
	h.enrolFace(b, b.Resident)
	return a, b
}

func (h *harness) auditCount(community, action string) int {
	h.T.Helper()
	return dbtest.Count(h.T, h.DB.SQL(), dbtest.AuditLog, dbtest.Eq("community_id", community), dbtest.Eq("action", action))
}

func TestConsentReportEndpoint(t *testing.T) {
	h := newHarness(t)
	a, b := h.Community(), h.Community()
	h.enrolFace(a, a.Resident)
	path := "/admin/v1/communities/" + a.ID + "/consent-report"

	rep := h.Must(http.StatusOK, "GET", path, a.Auditor, nil)
	counts := rep["counts"].(map[string]any)
	if counts["live"] != 1.0 || counts["residents_with_templates"] != 1.0 || rep["current_notice_version"] != consent.CurrentVersion {
		t.Fatalf("report %v", rep)
	}
	res := rep["residents"].([]any)
	if len(res) != 1 || res[0].(map[string]any)["resident_id"] != a.Resident || res[0].(map[string]any)["status"] != "live" {
		t.Fatalf("residents %v", res)
	}
	// No names or phone numbers: only ids, states and times.
	raw, _ := json.Marshal(rep)
	if strings.Contains(string(raw), "Resident ") {
		t.Fatalf("the report names a resident: %s", raw)
	}
	if n := h.auditCount(a.ID, "consent.report"); n != 1 {
		t.Fatalf("%d audit rows for one view", n)
	}

	// Withdrawal shows up, with the gate that has not confirmed the purge.
	err := h.DB.InTx(context.Background(), "resident:"+a.Resident, func(tx *store.Tx) error {
		_, err := tx.WithdrawConsent(context.Background(), uuid.MustParse(a.ID), uuid.MustParse(a.Resident), uuid.MustParse(a.Resident))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	rep = h.Must(http.StatusOK, "GET", path, a.Admin, nil)
	gates := rep["gates_with_unconfirmed_purges"].([]any)
	if len(gates) != 1 || gates[0].(map[string]any)["gate_id"] != a.Gate || len(rep["withdrawals"].([]any)) != 1 {
		t.Fatalf("after withdrawal: %v", rep)
	}

	// Refusals change nothing and are not recorded as views.
	before := h.auditCount(a.ID, "consent.report")
	for _, c := range []struct {
		token string
		path  string
		want  int
	}{
		{"", path, http.StatusUnauthorized},
		{a.Guard, path, http.StatusForbidden},
		{b.Auditor, path, http.StatusNotFound},
		{b.Admin, path, http.StatusNotFound},
		{a.Auditor, "/admin/v1/communities/not-a-uuid/consent-report", http.StatusNotFound},
		{h.Operator, "/admin/v1/communities/" + uuid.NewString() + "/consent-report", http.StatusNotFound},
	} {
		if got, out := h.Do("GET", c.path, c.token, nil); got != c.want {
			t.Fatalf("GET %s = %d %v, want %d", c.path, got, out, c.want)
		}
	}
	if after := h.auditCount(a.ID, "consent.report"); after != before {
		t.Fatalf("refused requests wrote %d audit rows", after-before)
	}
}

// The report's resident list is paged by cursor (a community can have tens of thousands);
// the counts stay whole on every page, and bad paging parameters are refused.
func TestConsentReportPages(t *testing.T) {
	h := newHarness(t)
	a := h.Community()
	want := map[string]bool{a.Resident: true}
	h.enrolFace(a, a.Resident)
	for range 4 {
		r := h.NewResident(a)
		h.enrolFace(a, r)
		want[r] = true
	}
	path := "/admin/v1/communities/" + a.ID + "/consent-report?limit=2"
	seen, pages := map[string]bool{}, 0
	for cursor := ""; ; pages++ {
		rep := h.Must(http.StatusOK, "GET", path+"&cursor="+cursor, a.Auditor, nil)
		if rep["counts"].(map[string]any)["live"] != 5.0 {
			t.Fatalf("page %d counts %v", pages, rep["counts"])
		}
		for _, r := range rep["residents"].([]any) {
			id := r.(map[string]any)["resident_id"].(string)
			if seen[id] || !want[id] {
				t.Fatalf("page %d: resident %s repeated or unknown", pages, id)
			}
			seen[id] = true
		}
		next, _ := rep["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != 5 || pages != 2 {
		t.Fatalf("%d residents over %d pages, want 5 over 3", len(seen), pages+1)
	}
	before := h.auditCount(a.ID, "consent.report")
	for _, q := range []string{"?cursor=not-a-uuid", "?limit=0", "?limit=501", "?limit=x"} {
		h.Must(http.StatusUnprocessableEntity, "GET", "/admin/v1/communities/"+a.ID+"/consent-report"+q, a.Auditor, nil)
	}
	if after := h.auditCount(a.ID, "consent.report"); after != before {
		t.Fatalf("refused pages wrote %d audit rows", after-before)
	}
}

func TestFaceTemplateCountEndpoint(t *testing.T) {
	h := newHarness(t)
	a, b := h.faceCommunities()

	own := h.Must(http.StatusOK, "GET", "/admin/v1/face-template-count", a.Auditor, nil)
	if own["scope"] != "community" || own["residents_with_templates"] != 2.0 || own["warning"] != false || own["filing_threshold"] != 100000.0 {
		t.Fatalf("community count %v", own)
	}
	if cs := own["communities"].([]any); len(cs) != 1 || cs[0].(map[string]any)["community_id"] != a.ID {
		t.Fatalf("an auditor of A sees %v", cs)
	}
	if bc := h.Must(http.StatusOK, "GET", "/admin/v1/face-template-count", b.Admin, nil); bc["residents_with_templates"] != 1.0 {
		t.Fatalf("admin of B: %v", bc)
	}
	all := h.Must(http.StatusOK, "GET", "/admin/v1/face-template-count", h.Operator, nil)
	if all["scope"] != "deployment" || all["residents_with_templates"].(float64) < 3 {
		t.Fatalf("deployment count %v", all)
	}
	h.Must(http.StatusForbidden, "GET", "/admin/v1/face-template-count", a.Guard, nil)
	h.Must(http.StatusUnauthorized, "GET", "/admin/v1/face-template-count", "", nil)
}

func TestPutFaceOperatorBadInput(t *testing.T) {
	h := newHarness(t)
	a := h.Community()
	path := "/admin/v1/communities/" + a.ID + "/face-operator"
	for _, c := range []struct {
		name string
		body any
		want int
	}{
		{"not JSON", "{", http.StatusBadRequest},
		{"unknown field", map[string]any{"operator_name": "x", "operator_contact": "y", "photo": "z"}, http.StatusBadRequest},
		{"wrong type", map[string]any{"operator_name": 1, "operator_contact": "y"}, http.StatusBadRequest},
		{"no contact", map[string]any{"operator_name": "x"}, http.StatusUnprocessableEntity},
		{"empty name", map[string]any{"operator_name": "", "operator_contact": "y"}, http.StatusUnprocessableEntity},
		{"long contact", map[string]any{"operator_name": "x", "operator_contact": strings.Repeat("y", 201)}, http.StatusUnprocessableEntity},
	} {
		if got, out := h.Do("PUT", path, a.Admin, c.body); got != c.want {
			t.Fatalf("%s: %d %v, want %d", c.name, got, out, c.want)
		}
	}
	if _, err := h.DB.FaceOperator(context.Background(), uuid.MustParse(a.ID)); !errors.Is(err, store.ErrFaceOff) {
		t.Fatalf("refused requests set the operator: %v", err)
	}
	h.Must(http.StatusOK, "PUT", path, a.Admin, map[string]any{"operator_name": "Sunshine Property", "operator_contact": "400-000-0000"})
	if op, err := h.DB.FaceOperator(context.Background(), uuid.MustParse(a.ID)); err != nil || op.Contact != "400-000-0000" {
		t.Fatalf("operator %+v %v", op, err)
	}
}

// Switching face entry off ends every consent and purges every template of that
// community, on the server and (through sync) at its gates; other communities keep theirs.
func TestStopFaceEntry(t *testing.T) {
	h := newHarness(t)
	a, b := h.faceCommunities()
	path := "/admin/v1/communities/" + a.ID + "/face-operator"
	h.Must(http.StatusForbidden, "DELETE", path, a.Guard, nil)
	h.Must(http.StatusNotFound, "DELETE", path, b.Admin, nil)

	out := h.Must(http.StatusOK, "DELETE", path, a.Admin, nil)
	if out["residents_purged"] != 2.0 || out["templates_deleted"] != 2.0 || out["gate_purges_requested"] != 2.0 {
		t.Fatalf("stop: %v", out)
	}
	rep := h.Must(http.StatusOK, "GET", "/admin/v1/communities/"+a.ID+"/consent-report", a.Auditor, nil)
	counts := rep["counts"].(map[string]any)
	if counts["live"] != 0.0 || counts["ended_service_ended"] != 2.0 || counts["residents_with_templates"] != 0.0 || counts["unconfirmed_purges"] != 2.0 {
		t.Fatalf("report after stop: %v", counts)
	}
	if sealed := dbtest.Count(t, h.DB.SQL(), dbtest.ChangeLog, dbtest.Eq("community_id", a.ID), dbtest.HasKey("data", "sealed")); sealed != 0 {
		t.Fatalf("sealed blobs left in the sync log: %d", sealed)
	}
	if n := h.auditCount(a.ID, "face.stop"); n != 1 {
		t.Fatalf("%d face.stop audit rows", n)
	}
	// Face entry is no longer offered: a new consent is refused.
	ctx := context.Background()
	n, _ := consent.Current("en")
	c, r := uuid.MustParse(a.ID), uuid.MustParse(a.Resident)
	err := h.DB.InTx(ctx, "resident:"+a.Resident, func(tx *store.Tx) error {
		_, err := tx.GiveConsent(ctx, store.GiveConsent{Community: c, Resident: r, GivenBy: r, NoticeVersion: n.Version,
			NoticeLang: n.Lang, NoticeHash: n.Hash[:], Scope: consent.ScopeCommunity, Channel: "h5"})
		return err
	})
	if !errors.Is(err, store.ErrFaceOff) {
		t.Fatalf("consent after stop: %v", err)
	}
	// Repeating purges nothing more and is not an error; the other community is untouched.
	if again := h.Must(http.StatusOK, "DELETE", path, a.Admin, nil); again["residents_purged"] != 0.0 {
		t.Fatalf("second stop: %v", again)
	}
	if other := h.Must(http.StatusOK, "GET", "/admin/v1/communities/"+b.ID+"/consent-report", b.Auditor, nil)["counts"].(map[string]any); other["live"] != 1.0 || other["residents_with_templates"] != 1.0 {
		t.Fatalf("another community after the stop: %v", other)
	}
}
