package admin_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/dbtest"
)

// tableCounts is a fingerprint of the database: every table's row count.
func (h *harness) tableCounts() map[string]int {
	h.T.Helper()
	return dbtest.Fingerprint(h.T, h.DB.SQL())
}

func TestBadInputChangesNothing(t *testing.T) {
	h := newHarness(t)
	f := h.Community()
	other := h.Community()
	base := "/admin/v1/communities/" + f.ID
	long := strings.Repeat("長", 201)
	// Staff to act on: a guard, a disabled guard, a guard whose token is revoked, another
	// community's guard and an operator.
	cid := uuid.MustParse(f.ID)
	guard, disabled, revoked := h.Member(cid, access.StaffGuard), h.Member(cid, access.StaffGuard), h.Member(cid, access.StaffGuard)
	h.Must(http.StatusOK, "POST", base+"/staff/"+disabled.ID+"/disable", f.Admin, nil)
	h.Must(http.StatusOK, "DELETE", base+"/staff/"+revoked.ID+"/tokens/"+revoked.TokenID, f.Admin, nil)
	operator := h.Must(http.StatusOK, "GET", "/admin/v1/me", h.Operator, nil)["id"].(string)
	foreign := other.Staff[access.StaffGuard]
	self := f.Staff[access.StaffAdmin] // the community's only admin
	staff := base + "/staff/"
	cases := []struct {
		name, method, path, body string
		status                   int
		code, field              string
	}{
		{"empty body", "POST", base + "/buildings", "", 400, "malformed_json", ""},
		{"not JSON", "POST", base + "/buildings", "name=x", 400, "malformed_json", ""},
		{"truncated JSON", "POST", base + "/buildings", `{"name": "x"`, 400, "malformed_json", ""},
		{"JSON array", "POST", base + "/buildings", `[{"name": "x"}]`, 400, "malformed_json", ""},
		{"two objects", "POST", base + "/buildings", `{"name": "x"} {"name": "y"}`, 400, "malformed_json", ""},
		{"unknown field", "POST", base + "/buildings", `{"name": "x", "admin": true}`, 400, "unknown_field", "admin"},
		{"wrong type", "POST", base + "/buildings", `{"name": 7}`, 400, "wrong_type", "name"},
		{"missing name", "POST", base + "/buildings", `{}`, 422, "invalid_field", "name"},
		{"blank name", "POST", base + "/buildings", `{"name": "   "}`, 422, "invalid_field", "name"},
		{"over-long name", "POST", base + "/buildings", `{"name": "` + long + `"}`, 422, "invalid_field", "name"},
		{"control chars", "POST", base + "/buildings", `{"name": "a\u0000b"}`, 422, "invalid_field", "name"},
		{"bad building uuid", "POST", base + "/units", `{"building_id": "nope", "label": "1"}`, 422, "invalid_field", "building_id"},
		{"building of another community", "POST", base + "/units", `{"building_id": "` + other.Building + `", "label": "1"}`, 422, "invalid_field", "building_id"},
		{"unknown role", "POST", base + "/residents", `{"name": "a", "unit_id": "` + f.Unit + `", "role": "landlord"}`, 422, "invalid_field", "role"},
		{"missing unit", "POST", base + "/residents", `{"name": "a", "role": "owner"}`, 422, "invalid_field", "unit_id"},
		{"uppercase-free uuid with braces", "POST", base + "/residents", `{"name": "a", "unit_id": "{` + f.Unit + `}", "role": "owner"}`, 422, "invalid_field", "unit_id"},
		{"unit of another community", "POST", base + "/residents", `{"name": "a", "unit_id": "` + other.Unit + `", "role": "owner"}`, 422, "invalid_field", "unit_id"},
		{"over-long phone", "POST", base + "/residents", `{"name": "a", "unit_id": "` + f.Unit + `", "role": "owner", "phone": "` + strings.Repeat("1", 41) + `"}`, 422, "invalid_field", "phone"},
		{"unknown direction", "POST", base + "/gates", `{"name": "g", "zone": 0, "direction": "sideways"}`, 422, "invalid_field", "direction"},
		{"zone out of range", "POST", base + "/gates", `{"name": "g", "zone": 64, "direction": "in"}`, 422, "invalid_field", "zone"},
		{"zone that does not exist", "POST", base + "/gates", `{"name": "g", "zone": 9, "direction": "in"}`, 422, "invalid_field", "zone"},
		{"fractional zone", "POST", base + "/gates", `{"name": "g", "zone": 1.5, "direction": "in"}`, 400, "wrong_type", "zone"},
		{"zone path not a number", "PUT", base + "/zones/x", `{"name": "z"}`, 422, "invalid_field", "zone"},
		{"zone path out of range", "PUT", base + "/zones/70", `{"name": "z"}`, 422, "invalid_field", "zone"},
		{"duplicate building", "POST", base + "/buildings", `{"name": "DUP"}`, 422, "invalid_field", "name"},
		{"unknown staff role", "POST", base + "/staff", `{"name": "s", "role": "root"}`, 422, "invalid_field", "role"},
		{"unknown token kind", "POST", base + "/staff", `{"name": "s", "role": "guard", "kind": "root"}`, 422, "invalid_field", "kind"},
		{"ttl not a lifetime", "POST", base + "/staff", `{"name": "s", "role": "guard", "ttl": "forever"}`, 422, "invalid_field", "ttl"},
		{"ttl as a number", "POST", base + "/staff", `{"name": "s", "role": "guard", "ttl": 90}`, 400, "wrong_type", "ttl"},
		{"console token past 180 days", "POST", base + "/staff", `{"name": "s", "role": "guard", "ttl": "181d"}`, 422, "invalid_field", "ttl"},
		{"integration token past a year", "POST", base + "/staff", `{"name": "s", "role": "guard", "kind": "integration", "ttl": "366d"}`, 422, "invalid_field", "ttl"},
		{"token for no time", "POST", base + "/staff", `{"name": "s", "role": "guard", "ttl": "0d"}`, 422, "invalid_field", "ttl"},
		{"token for a minute", "POST", base + "/staff", `{"name": "s", "role": "guard", "ttl": "1m"}`, 422, "invalid_field", "ttl"},
		{"over-long label", "POST", staff + guard.ID + "/tokens", `{"label": "` + strings.Repeat("l", 101) + `"}`, 422, "invalid_field", "label"},
		{"label with controls", "POST", staff + guard.ID + "/tokens", `{"label": "a\u202eb"}`, 422, "invalid_field", "label"},
		{"unknown token field", "POST", staff + guard.ID + "/tokens", `{"scope": "all"}`, 400, "unknown_field", "scope"},
		{"token for a disabled member", "POST", staff + disabled.ID + "/tokens", "", 409, "conflict", ""},
		{"bad staff uuid", "POST", staff + "nope/disable", "", 404, "not_found", ""},
		{"unknown staff member", "POST", staff + "00000000-0000-4000-8000-000000000000/disable", "", 404, "not_found", ""},
		{"staff of another community", "POST", staff + foreign.ID + "/disable", "", 404, "not_found", ""},
		{"an operator under a community", "POST", staff + operator + "/disable", "", 404, "not_found", ""},
		{"the last admin disables themselves", "POST", staff + self.ID + "/disable", "", 409, "conflict", ""},
		{"bad token uuid", "DELETE", staff + guard.ID + "/tokens/nope", "", 404, "not_found", ""},
		{"unknown token", "DELETE", staff + guard.ID + "/tokens/00000000-0000-4000-8000-000000000000", "", 404, "not_found", ""},
		{"another member's token", "DELETE", staff + guard.ID + "/tokens/" + revoked.TokenID, "", 404, "not_found", ""},
		{"another community's token", "DELETE", staff + guard.ID + "/tokens/" + foreign.TokenID, "", 404, "not_found", ""},
		{"rotating a revoked token", "POST", staff + revoked.ID + "/tokens/" + revoked.TokenID + "/rotate", "", 409, "conflict", ""},
		{"rotating past the kind's lifetime", "POST", staff + guard.ID + "/tokens/" + guard.TokenID + "/rotate", `{"ttl": "200d"}`, 422, "invalid_field", "ttl"},
		{"rotating with a kind", "POST", staff + guard.ID + "/tokens/" + guard.TokenID + "/rotate", `{"kind": "integration"}`, 400, "unknown_field", "kind"},
		{"bad community uuid", "POST", "/admin/v1/communities/xyz/buildings", `{"name": "x"}`, 404, "not_found", ""},
		{"unknown community", "POST", "/admin/v1/communities/00000000-0000-4000-8000-000000000000/buildings", `{"name": "x"}`, 404, "not_found", ""},
		{"unknown resident", "POST", base + "/residents/00000000-0000-4000-8000-000000000000/move-out", "", 404, "not_found", ""},
		{"bad resident uuid", "POST", base + "/residents/123/move-out", "", 404, "not_found", ""},
		{"resident of another community", "POST", base + "/residents/" + other.Resident + "/move-out", "", 404, "not_found", ""},
		{"oversize body", "POST", base + "/buildings", `{"name": "` + strings.Repeat("a", 70<<10) + `"}`, 413, "body_too_large", ""},
		{"bad limit", "GET", base + "/residents?limit=0", "", 422, "invalid_field", "limit"},
		{"huge limit", "GET", base + "/residents?limit=100000", "", 422, "invalid_field", "limit"},
		{"forged cursor", "GET", base + "/residents?cursor=eyJmb28iOjF9", "", 422, "invalid_field", "cursor"},
		{"bad status filter", "GET", base + "/residents?status=gone", "", 422, "invalid_field", "status"},
		{"unknown route", "GET", "/admin/v1/nothing-here", "", 404, "not_found", ""},
		{"wrong method", "DELETE", base + "/buildings", "", 404, "not_found", ""},
	}
	h.Must(http.StatusCreated, "POST", base+"/buildings", f.Admin, map[string]any{"name": "DUP"})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h.T = t
			before, sum := h.tableCounts(), h.fingerprint(f.ID)
			var body any
			if c.body != "" {
				body = c.body
			}
			got, out := h.Do(c.method, c.path, f.Admin, body)
			if got != c.status {
				t.Fatalf("status %d %v, want %d", got, out, c.status)
			}
			e := out["error"].(map[string]any)
			if e["code"] != c.code {
				t.Errorf("code %v, want %s (%v)", e["code"], c.code, e["message"])
			}
			if c.field != "" && (e["field"] != c.field || !strings.Contains(e["message"].(string), c.field)) {
				t.Errorf("error %v does not name field %s", e, c.field)
			}
			if after := h.tableCounts(); !equalCounts(before, after) {
				b, _ := json.Marshal(before)
				a, _ := json.Marshal(after)
				t.Fatalf("database changed:\nbefore %s\nafter  %s", b, a)
			}
			if after := h.fingerprint(f.ID); after != sum { // an update changes no count
				t.Fatalf("community changed:\nbefore %s\nafter  %s", sum, after)
			}
		})
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
