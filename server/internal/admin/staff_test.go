package admin_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/apitest"
	"gatepass/internal/dbtest"
)

// Issue 13 item 2: an admin takes a member's access away, token by token or all at
// once, and every change is audited without the secret.
func TestStaffAccessCanBeTakenAway(t *testing.T) {
	h := newHarness(t)
	f := h.Community()
	base := "/admin/v1/communities/" + f.ID + "/staff/"
	g := h.Member(uuid.MustParse(f.ID), access.StaffGuard)
	works := func(token string, want int) {
		t.Helper()
		h.Must(want, "GET", "/admin/v1/communities/"+f.ID+"/gates", token, nil)
	}
	works(g.Token, http.StatusOK)

	// Disabled: every token fails at once; enabled: they work again.
	second := h.Must(http.StatusCreated, "POST", base+g.ID+"/tokens", f.Admin, map[string]any{"kind": "integration", "label": "desk PC", "ttl": "365d"})
	h.Must(http.StatusOK, "POST", base+g.ID+"/disable", f.Admin, nil)
	works(g.Token, http.StatusUnauthorized)
	works(second["token"].(string), http.StatusUnauthorized)
	h.Must(http.StatusOK, "POST", base+g.ID+"/enable", f.Admin, nil)
	works(g.Token, http.StatusOK)
	works(second["token"].(string), http.StatusOK)

	// Listed with when they were made, last used and expire; never a secret.
	resp := apitest.Do(t, "GET", h.Base+"/admin/v1/communities/"+f.ID+"/staff/"+g.ID+"/tokens", f.Admin, nil)
	if strings.Contains(string(resp.Body), "gps_") || strings.Contains(string(resp.Body), `"token"`) {
		t.Fatalf("the token list shows a secret: %s", resp.Body)
	}
	tokens := resp.JSON(t)["tokens"].([]any)
	if len(tokens) != 2 {
		t.Fatalf("tokens %v", tokens)
	}
	for _, tok := range tokens {
		m := tok.(map[string]any)
		exp, err := time.Parse(time.RFC3339, m["expires_at"].(string))
		if err != nil || m["created_at"] == nil || m["last_used_at"] == nil {
			t.Fatalf("token %v", m)
		}
		want := 90 * 24 * time.Hour
		if m["kind"] == "integration" {
			want = 365 * 24 * time.Hour
		}
		if d := time.Until(exp); d > want || d < want-time.Hour {
			t.Errorf("%v token expires in %v, want %v", m["kind"], d, want)
		}
	}

	// Revoked: that token fails at once, the other goes on.
	h.Must(http.StatusOK, "DELETE", base+g.ID+"/tokens/"+g.TokenID, f.Admin, nil)
	works(g.Token, http.StatusUnauthorized)
	works(second["token"].(string), http.StatusOK)

	// Rotated: the new token works, the old one does not.
	rotated := h.Must(http.StatusCreated, "POST", base+g.ID+"/tokens/"+second["id"].(string)+"/rotate", f.Admin, nil)
	if rotated["kind"] != "integration" || rotated["label"] != "desk PC" {
		t.Fatalf("rotation changed the kind or label: %v", rotated)
	}
	works(second["token"].(string), http.StatusUnauthorized)
	works(rotated["token"].(string), http.StatusOK)

	// Expired: fails at once.
	dbtest.Set(t, h.DB.SQL(), dbtest.StaffTokens, dbtest.Values{"created_at": dbtest.Ago(48 * time.Hour), "expires_at": dbtest.Ago(time.Second)}, dbtest.Eq("id", rotated["id"]))
	works(rotated["token"].(string), http.StatusUnauthorized)

	// Every change is audited: who did it, to whom, never the secret.
	entries := h.Must(http.StatusOK, "GET", "/admin/v1/audit?limit=500", f.Auditor, nil)["entries"].([]any)
	seen := map[string]int{}
	for _, e := range entries {
		m := e.(map[string]any)
		if strings.Contains(string(apitest.MustJSON(t, m)), "gps_") {
			t.Fatalf("a staff token is in the audit log: %v", m)
		}
		if m["target"] == "staff:"+g.ID && strings.HasPrefix(m["actor"].(string), "staff:") {
			seen[m["action"].(string)]++
		}
	}
	for _, a := range []string{"staff.token_issue", "staff.disable", "staff.enable", "staff.token_revoke", "staff.token_rotate"} {
		if seen[a] != 1 {
			t.Errorf("%d audit rows for %s, want 1 (have %v)", seen[a], a, seen)
		}
	}
}

// Every role lists, rotates and revokes its own tokens, and only an admin another's.
func TestOwnTokens(t *testing.T) {
	h := newHarness(t)
	f := h.Community()
	for _, role := range []access.StaffRole{access.StaffAdmin, access.StaffGuard, access.StaffAuditor} {
		t.Run(string(role), func(t *testing.T) {
			h.T = t
			cid := uuid.MustParse(f.ID)
			me := h.Member(cid, role)
			peer := h.Member(cid, access.StaffGuard)
			who := h.Must(http.StatusOK, "GET", "/admin/v1/me", me.Token, nil)
			if who["id"] != me.ID || who["token_id"] != me.TokenID || who["community_id"] != f.ID || who["role"] != string(role) {
				t.Fatalf("me = %v", who)
			}
			mine := "/admin/v1/communities/" + f.ID + "/staff/" + me.ID + "/tokens"
			if list := h.Must(http.StatusOK, "GET", mine, me.Token, nil)["tokens"].([]any); len(list) != 1 {
				t.Fatalf("own tokens %v", list)
			}
			rotated := h.Must(http.StatusCreated, "POST", mine+"/"+me.TokenID+"/rotate", me.Token, map[string]any{"ttl": "7d"})
			h.Must(http.StatusUnauthorized, "GET", "/admin/v1/me", me.Token, nil)
			next := rotated["token"].(string)
			if exp, _ := time.Parse(time.RFC3339, rotated["expires_at"].(string)); time.Until(exp) > 7*24*time.Hour {
				t.Fatalf("asked for 7 days, got until %v", exp)
			}
			// Another member's tokens, and issuing new ones (even to oneself), are an admin's.
			theirs := "/admin/v1/communities/" + f.ID + "/staff/" + peer.ID + "/tokens"
			admin := role == access.StaffAdmin
			for _, c := range []struct {
				method, path string
				ok           int
			}{
				{"GET", theirs, http.StatusOK},
				{"POST", theirs + "/" + peer.TokenID + "/rotate", http.StatusCreated},
				{"POST", mine, http.StatusCreated},
			} {
				want := http.StatusForbidden
				if admin {
					want = c.ok
				}
				h.Must(want, c.method, c.path, next, nil)
			}
			h.Must(http.StatusOK, "DELETE", mine+"/"+rotated["id"].(string), next, nil)
			h.Must(http.StatusUnauthorized, "GET", "/admin/v1/me", next, nil)
		})
	}
}

// Issue 13 item 9: guards see residents' names and units, and only the outer digits of
// their phone numbers; admins and operators see them whole.
func TestGuardsSeeMaskedPhones(t *testing.T) {
	h := newHarness(t)
	f := h.Community()
	base := "/admin/v1/communities/" + f.ID + "/residents"
	r := h.Must(http.StatusCreated, "POST", base, f.Admin,
		map[string]any{"name": "王芳", "unit_id": f.Unit, "role": "owner", "phone": "13812345678"})["id"].(string)
	cases := []struct {
		name, token, want string
	}{
		{"admin", f.Admin, "13812345678"},
		{"operator", h.Operator, "13812345678"},
		{"guard", f.Guard, "138****5678"},
	}
	for _, c := range cases {
		one := h.Must(http.StatusOK, "GET", base+"/"+r, c.token, nil)
		if one["phone"] != c.want || one["name"] != "王芳" || one["unit_label"] == nil {
			t.Errorf("%s: resident %v, want phone %s with name and unit", c.name, one, c.want)
		}
		resp := apitest.Do(t, "GET", h.Base+base+"?q=王芳", c.token, nil)
		list := resp.JSON(t)["residents"].([]any)
		if len(list) != 1 || list[0].(map[string]any)["phone"] != c.want {
			t.Errorf("%s: list %v, want phone %s", c.name, list, c.want)
		}
		if c.want != "13812345678" && strings.Contains(string(resp.Body), "1234") {
			t.Errorf("%s: the hidden digits are in the answer: %s", c.name, resp.Body)
		}
	}
}

// Issue 13 item 8: every answer of the server that carries a secret tells caches not to
// keep it.
func TestSecretsAreNotCached(t *testing.T) {
	h := newHarness(t)
	f := h.Community()
	base := "/admin/v1/communities/" + f.ID
	g := h.Member(uuid.MustParse(f.ID), access.StaffGuard)
	cases := []struct {
		what, method, path string
		body               any
		status             int
	}{
		{"staff token (create)", "POST", base + "/staff", map[string]any{"name": "desk", "role": "guard"}, 201},
		{"staff token (issue)", "POST", base + "/staff/" + g.ID + "/tokens", nil, 201},
		{"staff token (rotate)", "POST", base + "/staff/" + g.ID + "/tokens/" + g.TokenID + "/rotate", nil, 201},
		{"invite code (new resident)", "POST", base + "/residents", map[string]any{"name": "x", "unit_id": f.Unit, "role": "tenant"}, 201},
		{"invite code (reissued)", "POST", base + "/residents/" + f.Resident + "/invite", nil, 201},
		{"enrollment code", "POST", base + "/gates", map[string]any{"name": "East", "zone": 0, "direction": "in"}, 201},
		{"card", "POST", "/admin/v1/residents/" + f.Resident + "/cards", nil, 201},
	}
	for _, c := range cases {
		resp := apitest.Do(t, c.method, h.Base+c.path, f.Admin, c.body)
		if resp.Status != c.status || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: %d, Cache-Control %q; want %d, no-store", c.what, resp.Status, resp.Header.Get("Cache-Control"), c.status)
		}
	}
}
