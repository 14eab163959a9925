package admin_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/dbtest"
	"gatepass/internal/store"
	"gatepass/server/internal/servertest"
)

// visitorPass makes a visitor pass of a resident through the store (residents make
// them in mobile-api) and returns its id.
func (h *harness) visitorPass(f servertest.Fixture, resident string) string {
	h.T.Helper()
	var p store.VisitorPass
	now := time.Now()
	err := h.DB.InTx(context.Background(), "test", func(tx *store.Tx) (err error) {
		p, _, err = tx.CreateVisitorPass(context.Background(), store.NewVisitorPass{
			Community: uuid.MustParse(f.ID), Host: uuid.MustParse(resident), Label: "guest", Zones: access.ZoneMask(1),
			ValidFrom: now, ValidUntil: now.Add(time.Hour), MaxEntries: 1,
		})
		return err
	})
	if err != nil {
		h.T.Fatal(err)
	}
	return p.ID.String()
}

func TestStaffVisitorPasses(t *testing.T) {
	h := newHarness(t)
	f, other := h.Community(), h.Community()
	pass := h.visitorPass(f, f.Resident)
	base := "/admin/v1/communities/" + f.ID + "/visitor-passes"
	list := h.Must(http.StatusOK, "GET", base, f.Guard, nil)["visitor_passes"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["id"] != pass || list[0].(map[string]any)["host_resident_id"] != f.Resident ||
		list[0].(map[string]any)["state"] != "active" {
		t.Fatalf("guard lists %v", list)
	}
	if n := len(h.Must(http.StatusOK, "GET", "/admin/v1/communities/"+other.ID+"/visitor-passes", other.Guard, nil)["visitor_passes"].([]any)); n != 0 {
		t.Fatalf("another community lists %d passes", n)
	}
	// Staff of another community learn nothing; an unknown pass is not found.
	h.Must(http.StatusNotFound, "POST", base+"/"+pass+"/revoke", other.Admin, nil)
	h.Must(http.StatusNotFound, "POST", "/admin/v1/communities/"+other.ID+"/visitor-passes/"+pass+"/revoke", other.Admin, nil)
	h.Must(http.StatusNotFound, "POST", base+"/"+uuid.NewString()+"/revoke", f.Guard, nil)
	h.Must(http.StatusNotFound, "POST", base+"/not-a-uuid/revoke", f.Guard, nil)

	h.Must(http.StatusOK, "POST", base+"/"+pass+"/revoke", f.Guard, nil)
	h.Must(http.StatusConflict, "POST", base+"/"+pass+"/revoke", f.Guard, nil)
	list = h.Must(http.StatusOK, "GET", base, f.Admin, nil)["visitor_passes"].([]any)
	if list[0].(map[string]any)["revoked_at"] == nil || list[0].(map[string]any)["state"] != "revoked" {
		t.Fatalf("pass not revoked: %v", list[0])
	}
	cred := list[0].(map[string]any)["credential_id"].(string)
	audit := h.Must(http.StatusOK, "GET", "/admin/v1/audit", f.Admin, nil)["entries"].([]any)
	found := false
	for _, e := range audit {
		found = found || (e.(map[string]any)["action"] == "visitor_pass.revoke" && e.(map[string]any)["target"] == "visitor_pass:"+pass)
	}
	if !found {
		t.Fatal("the revocation is not audited")
	}
	if revocations := dbtest.Count(t, h.DB.SQL(), dbtest.ChangeLog, dbtest.Eq("kind", "revocation"), dbtest.Eq("entity_id", cred)); revocations != 1 {
		t.Fatalf("gates told %d times", revocations)
	}
}
