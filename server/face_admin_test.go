package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"gatepass/internal/consent"
	"gatepass/internal/face"
	"gatepass/internal/store"
)

// The authorization matrix and the OpenAPI check iterate the other route tables; these
// two keep the face routes under both.
func TestFaceRoutesInMatrixAndDocs(t *testing.T) {
	known := map[string]bool{}
	for _, e := range endpoints() {
		known[e.method+" "+e.path] = true
	}
	ops := documentedOperations(t)
	for _, r := range faceAdminRoutes(&Server{}) {
		if !known[r.method+" "+strings.ReplaceAll(r.path, ":community", "{c}")] {
			t.Errorf("%s %s is not in the authorization matrix", r.method, r.path)
		}
		if doc := r.method + " /admin/v1" + strings.ReplaceAll(r.path, ":community", "{community}"); !ops[doc] {
			t.Errorf("%s is not in docs/openapi*.yaml", doc)
		}
	}
}

// enrolFace gives a resident community-scope consent and uploads templates sealed to the
// community's gates, as the mobile API will, straight through the store.
func (h *harness) enrolFace(f fixture, resident string) {
	h.t.Helper()
	ctx := context.Background()
	c, r := uuid.MustParse(f.id), uuid.MustParse(resident)
	key, err := face.NewGateKey()
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.db.SQL().Exec(`UPDATE gates SET box_public_key = $2, enrolled_at = coalesce(enrolled_at, now())
		WHERE community_id = $1 AND box_public_key IS NULL`, c, key.PublicKey().Bytes()); err != nil {
		h.t.Fatal(err)
	}
	h.must(http.StatusOK, "PUT", "/admin/v1/communities/"+f.id+"/face-operator", f.admin,
		map[string]any{"operator_name": "Sunshine Property", "operator_contact": "privacy@example.com"})
	keys, err := h.db.FaceGateKeys(ctx, c)
	if err != nil || len(keys) == 0 {
		h.t.Fatalf("gate keys %v %v", keys, err)
	}
	n, _ := consent.Current("en")
	tmpl := face.NewSynthetic(uint64(len(resident))).Identity()
	err = h.db.InTx(ctx, "resident:"+resident, func(tx *store.Tx) error {
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
		h.t.Fatal(err)
	}
}

// faceCommunities makes two communities with face templates: two residents in a, one in b.
func (h *harness) faceCommunities() (a, b fixture) {
	a, b = h.community(), h.community()
	h.enrolFace(a, a.resident)
	h.enrolFace(a, h.newResident(a))
	h.enrolFace(b, b.resident)
	return a, b
}

func (h *harness) auditCount(community, action string) int {
	h.t.Helper()
	var n int
	if err := h.db.SQL().QueryRow(`SELECT count(*) FROM audit_log WHERE community_id = $1 AND action = $2`, community, action).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

func TestConsentReportEndpoint(t *testing.T) {
	h := newHarness(t)
	a, b := h.community(), h.community()
	h.enrolFace(a, a.resident)
	path := "/admin/v1/communities/" + a.id + "/consent-report"

	rep := h.must(http.StatusOK, "GET", path, a.auditor, nil)
	counts := rep["counts"].(map[string]any)
	if counts["live"] != 1.0 || counts["residents_with_templates"] != 1.0 || rep["current_notice_version"] != consent.CurrentVersion {
		t.Fatalf("report %v", rep)
	}
	res := rep["residents"].([]any)
	if len(res) != 1 || res[0].(map[string]any)["resident_id"] != a.resident || res[0].(map[string]any)["status"] != "live" {
		t.Fatalf("residents %v", res)
	}
	// No names or phone numbers: only ids, states and times.
	raw, _ := json.Marshal(rep)
	if strings.Contains(string(raw), "Resident ") {
		t.Fatalf("the report names a resident: %s", raw)
	}
	if n := h.auditCount(a.id, "consent.report"); n != 1 {
		t.Fatalf("%d audit rows for one view", n)
	}

	// Withdrawal shows up, with the gate that has not confirmed the purge.
	err := h.db.InTx(context.Background(), "resident:"+a.resident, func(tx *store.Tx) error {
		_, err := tx.WithdrawConsent(context.Background(), uuid.MustParse(a.id), uuid.MustParse(a.resident), uuid.MustParse(a.resident))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	rep = h.must(http.StatusOK, "GET", path, a.admin, nil)
	gates := rep["gates_with_unconfirmed_purges"].([]any)
	if len(gates) != 1 || gates[0].(map[string]any)["gate_id"] != a.gate || len(rep["withdrawals"].([]any)) != 1 {
		t.Fatalf("after withdrawal: %v", rep)
	}

	// Refusals change nothing and are not recorded as views.
	before := h.auditCount(a.id, "consent.report")
	for _, c := range []struct {
		token string
		path  string
		want  int
	}{
		{"", path, http.StatusUnauthorized},
		{a.guard, path, http.StatusForbidden},
		{b.auditor, path, http.StatusNotFound},
		{b.admin, path, http.StatusNotFound},
		{a.auditor, "/admin/v1/communities/not-a-uuid/consent-report", http.StatusNotFound},
		{h.operator, "/admin/v1/communities/" + uuid.NewString() + "/consent-report", http.StatusNotFound},
	} {
		if got, out := h.do("GET", c.path, c.token, nil); got != c.want {
			t.Fatalf("GET %s = %d %v, want %d", c.path, got, out, c.want)
		}
	}
	if after := h.auditCount(a.id, "consent.report"); after != before {
		t.Fatalf("refused requests wrote %d audit rows", after-before)
	}
}

// The report's resident list is paged by cursor (a community can have tens of thousands);
// the counts stay whole on every page, and bad paging parameters are refused.
func TestConsentReportPages(t *testing.T) {
	h := newHarness(t)
	a := h.community()
	want := map[string]bool{a.resident: true}
	h.enrolFace(a, a.resident)
	for range 4 {
		r := h.newResident(a)
		h.enrolFace(a, r)
		want[r] = true
	}
	path := "/admin/v1/communities/" + a.id + "/consent-report?limit=2"
	seen, pages := map[string]bool{}, 0
	for cursor := ""; ; pages++ {
		rep := h.must(http.StatusOK, "GET", path+"&cursor="+cursor, a.auditor, nil)
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
	before := h.auditCount(a.id, "consent.report")
	for _, q := range []string{"?cursor=not-a-uuid", "?limit=0", "?limit=501", "?limit=x"} {
		h.must(http.StatusUnprocessableEntity, "GET", "/admin/v1/communities/"+a.id+"/consent-report"+q, a.auditor, nil)
	}
	if after := h.auditCount(a.id, "consent.report"); after != before {
		t.Fatalf("refused pages wrote %d audit rows", after-before)
	}
}

func TestFaceTemplateCountEndpoint(t *testing.T) {
	h := newHarness(t)
	a, b := h.faceCommunities()

	own := h.must(http.StatusOK, "GET", "/admin/v1/face-template-count", a.auditor, nil)
	if own["scope"] != "community" || own["residents_with_templates"] != 2.0 || own["warning"] != false || own["filing_threshold"] != 100000.0 {
		t.Fatalf("community count %v", own)
	}
	if cs := own["communities"].([]any); len(cs) != 1 || cs[0].(map[string]any)["community_id"] != a.id {
		t.Fatalf("an auditor of A sees %v", cs)
	}
	if bc := h.must(http.StatusOK, "GET", "/admin/v1/face-template-count", b.admin, nil); bc["residents_with_templates"] != 1.0 {
		t.Fatalf("admin of B: %v", bc)
	}
	all := h.must(http.StatusOK, "GET", "/admin/v1/face-template-count", h.operator, nil)
	if all["scope"] != "deployment" || all["residents_with_templates"].(float64) < 3 {
		t.Fatalf("deployment count %v", all)
	}
	h.must(http.StatusForbidden, "GET", "/admin/v1/face-template-count", a.guard, nil)
	h.must(http.StatusUnauthorized, "GET", "/admin/v1/face-template-count", "", nil)
}

func TestPutFaceOperatorBadInput(t *testing.T) {
	h := newHarness(t)
	a := h.community()
	path := "/admin/v1/communities/" + a.id + "/face-operator"
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
		if got, out := h.do("PUT", path, a.admin, c.body); got != c.want {
			t.Fatalf("%s: %d %v, want %d", c.name, got, out, c.want)
		}
	}
	if _, err := h.db.FaceOperator(context.Background(), uuid.MustParse(a.id)); !errors.Is(err, store.ErrFaceOff) {
		t.Fatalf("refused requests set the operator: %v", err)
	}
	h.must(http.StatusOK, "PUT", path, a.admin, map[string]any{"operator_name": "Sunshine Property", "operator_contact": "400-000-0000"})
	if op, err := h.db.FaceOperator(context.Background(), uuid.MustParse(a.id)); err != nil || op.Contact != "400-000-0000" {
		t.Fatalf("operator %+v %v", op, err)
	}
}

// Switching face entry off ends every consent and purges every template of that
// community, on the server and (through sync) at its gates; other communities keep theirs.
func TestStopFaceEntry(t *testing.T) {
	h := newHarness(t)
	a, b := h.faceCommunities()
	path := "/admin/v1/communities/" + a.id + "/face-operator"
	h.must(http.StatusForbidden, "DELETE", path, a.guard, nil)
	h.must(http.StatusNotFound, "DELETE", path, b.admin, nil)

	out := h.must(http.StatusOK, "DELETE", path, a.admin, nil)
	if out["residents_purged"] != 2.0 || out["templates_deleted"] != 2.0 || out["gate_purges_requested"] != 2.0 {
		t.Fatalf("stop: %v", out)
	}
	rep := h.must(http.StatusOK, "GET", "/admin/v1/communities/"+a.id+"/consent-report", a.auditor, nil)
	counts := rep["counts"].(map[string]any)
	if counts["live"] != 0.0 || counts["ended_service_ended"] != 2.0 || counts["residents_with_templates"] != 0.0 || counts["unconfirmed_purges"] != 2.0 {
		t.Fatalf("report after stop: %v", counts)
	}
	var sealed int
	if err := h.db.SQL().QueryRow(`SELECT count(*) FROM change_log WHERE community_id = $1 AND data ? 'sealed'`, a.id).Scan(&sealed); err != nil || sealed != 0 {
		t.Fatalf("sealed blobs left in the sync log: %d %v", sealed, err)
	}
	if n := h.auditCount(a.id, "face.stop"); n != 1 {
		t.Fatalf("%d face.stop audit rows", n)
	}
	// Face entry is no longer offered: a new consent is refused.
	ctx := context.Background()
	n, _ := consent.Current("en")
	c, r := uuid.MustParse(a.id), uuid.MustParse(a.resident)
	err := h.db.InTx(ctx, "resident:"+a.resident, func(tx *store.Tx) error {
		_, err := tx.GiveConsent(ctx, store.GiveConsent{Community: c, Resident: r, GivenBy: r, NoticeVersion: n.Version,
			NoticeLang: n.Lang, NoticeHash: n.Hash[:], Scope: consent.ScopeCommunity, Channel: "h5"})
		return err
	})
	if !errors.Is(err, store.ErrFaceOff) {
		t.Fatalf("consent after stop: %v", err)
	}
	// Repeating purges nothing more and is not an error; the other community is untouched.
	if again := h.must(http.StatusOK, "DELETE", path, a.admin, nil); again["residents_purged"] != 0.0 {
		t.Fatalf("second stop: %v", again)
	}
	if other := h.must(http.StatusOK, "GET", "/admin/v1/communities/"+b.id+"/consent-report", b.auditor, nil)["counts"].(map[string]any); other["live"] != 1.0 || other["residents_with_templates"] != 1.0 {
		t.Fatalf("another community after the stop: %v", other)
	}
}
