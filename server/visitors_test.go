package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/store"
)

// visitorPass makes a visitor pass of a resident through the store (residents make
// them in mobile-api) and returns its id.
func (h *harness) visitorPass(f fixture, resident string) string {
	h.t.Helper()
	var p store.VisitorPass
	now := time.Now()
	err := h.db.InTx(context.Background(), "test", func(tx *store.Tx) (err error) {
		p, _, err = tx.CreateVisitorPass(context.Background(), store.NewVisitorPass{
			Community: uuid.MustParse(f.id), Host: uuid.MustParse(resident), Label: "guest", Zones: access.ZoneMask(1),
			ValidFrom: now, ValidUntil: now.Add(time.Hour), MaxEntries: 1,
		})
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return p.ID.String()
}

func TestStaffVisitorPasses(t *testing.T) {
	h := newHarness(t)
	f, other := h.community(), h.community()
	pass := h.visitorPass(f, f.resident)
	base := "/admin/v1/communities/" + f.id + "/visitor-passes"
	list := h.must(http.StatusOK, "GET", base, f.guard, nil)["visitor_passes"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["id"] != pass || list[0].(map[string]any)["host_resident_id"] != f.resident {
		t.Fatalf("guard lists %v", list)
	}
	if n := len(h.must(http.StatusOK, "GET", "/admin/v1/communities/"+other.id+"/visitor-passes", other.guard, nil)["visitor_passes"].([]any)); n != 0 {
		t.Fatalf("another community lists %d passes", n)
	}
	// Staff of another community learn nothing; an unknown pass is not found.
	h.must(http.StatusNotFound, "POST", base+"/"+pass+"/revoke", other.admin, nil)
	h.must(http.StatusNotFound, "POST", "/admin/v1/communities/"+other.id+"/visitor-passes/"+pass+"/revoke", other.admin, nil)
	h.must(http.StatusNotFound, "POST", base+"/"+uuid.NewString()+"/revoke", f.guard, nil)
	h.must(http.StatusNotFound, "POST", base+"/not-a-uuid/revoke", f.guard, nil)

	h.must(http.StatusOK, "POST", base+"/"+pass+"/revoke", f.guard, nil)
	h.must(http.StatusConflict, "POST", base+"/"+pass+"/revoke", f.guard, nil)
	list = h.must(http.StatusOK, "GET", base, f.admin, nil)["visitor_passes"].([]any)
	if list[0].(map[string]any)["revoked_at"] == nil {
		t.Fatalf("pass not revoked: %v", list[0])
	}
	cred := list[0].(map[string]any)["credential_id"].(string)
	audit := h.must(http.StatusOK, "GET", "/admin/v1/audit", f.admin, nil)["entries"].([]any)
	found := false
	for _, e := range audit {
		found = found || (e.(map[string]any)["action"] == "visitor_pass.revoke" && e.(map[string]any)["target"] == "visitor_pass:"+pass)
	}
	if !found {
		t.Fatal("the revocation is not audited")
	}
	var revocations int
	if err := h.db.SQL().QueryRow(`SELECT count(*) FROM change_log WHERE kind = 'revocation' AND entity_id = $1`, cred).Scan(&revocations); err != nil || revocations != 1 {
		t.Fatalf("gates told %d times (%v)", revocations, err)
	}
}
