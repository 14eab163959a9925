package admin_test

import (
	"net/http"
	"strings"
	"testing"

	"gatepass/internal/apitest"
	"gatepass/server/internal/admin"
	"gatepass/server/internal/servertest"
)

// endpoint is one admin route as the matrix exercises it ({g}: a fresh gate of A). The allowed roles are written
// out here, apart from the route table, so a change of policy has to change both.
type endpoint struct {
	method, path string // path uses {c} for the community and {r} for a fresh resident
	allowed      []string
	body         func(f servertest.Fixture) any
	okStatus     int
}

func endpoints() []endpoint {
	named := func(prefix string) func(servertest.Fixture) any {
		return func(servertest.Fixture) any { return map[string]any{"name": apitest.Unique(prefix)} }
	}
	return []endpoint{
		{"POST", "/communities", []string{"operator"}, named("C"), 201},
		{"GET", "/communities", []string{"admin", "guard", "auditor", "operator"}, nil, 200},
		{"GET", "/communities/{c}", []string{"admin", "guard", "auditor", "operator"}, nil, 200},
		{"POST", "/communities/{c}/buildings", []string{"admin", "operator"}, named("B"), 201},
		{"GET", "/communities/{c}/buildings", []string{"admin", "guard", "auditor", "operator"}, nil, 200},
		{"POST", "/communities/{c}/units", []string{"admin", "operator"}, func(f servertest.Fixture) any {
			return map[string]any{"building_id": f.Building, "label": apitest.Unique("U")}
		}, 201},
		{"GET", "/communities/{c}/units", []string{"admin", "guard", "auditor", "operator"}, nil, 200},
		{"PUT", "/communities/{c}/zones/5", []string{"admin", "operator"}, named("Z"), 200},
		{"GET", "/communities/{c}/zones", []string{"admin", "guard", "auditor", "operator"}, nil, 200},
		{"POST", "/communities/{c}/residents", []string{"admin", "operator"}, func(f servertest.Fixture) any {
			return map[string]any{"name": apitest.Unique("R"), "unit_id": f.Unit, "role": "tenant"}
		}, 201},
		{"GET", "/communities/{c}/residents", []string{"admin", "guard", "operator"}, nil, 200},
		{"GET", "/communities/{c}/residents/{r}", []string{"admin", "guard", "operator"}, nil, 200},
		{"POST", "/communities/{c}/residents/{r}/move-out", []string{"admin", "operator"}, nil, 200},
		{"POST", "/communities/{c}/residents/{r}/invite", []string{"admin", "operator"}, nil, 201},
		{"POST", "/communities/{c}/gates", []string{"admin", "operator"}, func(servertest.Fixture) any {
			return map[string]any{"name": apitest.Unique("G"), "zone": 0, "direction": "both"}
		}, 201},
		{"GET", "/communities/{c}/gates", []string{"admin", "guard", "auditor", "operator"}, nil, 200},
		{"POST", "/communities/{c}/staff", []string{"admin", "operator"}, func(servertest.Fixture) any {
			return map[string]any{"name": apitest.Unique("S"), "role": "guard"}
		}, 201},
		{"GET", "/communities/{c}/staff", []string{"admin", "operator"}, nil, 200},
		{"GET", "/communities/{c}/keys", []string{"admin", "guard", "auditor", "operator"}, nil, 200},
		{"POST", "/communities/{c}/keys/rotate", []string{"admin", "operator"}, nil, 201},
		{"POST", "/communities/{c}/keys/{kid}/compromise", []string{"admin", "operator"}, func(servertest.Fixture) any {
			return map[string]any{"reason": "laptop stolen"}
		}, 200},
		{"POST", "/residents/{r}/cards", []string{"admin", "guard", "operator"}, nil, 201},
		{"GET", "/residents/{r}/cards", []string{"admin", "guard", "operator"}, nil, 200},
		{"POST", "/residents/{r}/cards/{card}/revoke", []string{"admin", "guard", "operator"}, nil, 200},
		{"GET", "/audit", []string{"admin", "auditor", "operator"}, nil, 200},
		{"GET", "/gates/{g}", []string{"admin", "guard", "auditor", "operator"}, nil, 200},
		{"POST", "/gates/{g}/unlock", []string{"admin", "guard", "operator"}, func(servertest.Fixture) any {
			return map[string]any{"reason": "resident without phone"}
		}, 201},
		{"POST", "/gates/{g}/disable", []string{"admin", "operator"}, nil, 200},
		{"PUT", "/gates/{g}/settings", []string{"admin", "operator"}, func(servertest.Fixture) any {
			return map[string]any{"skew_seconds": 60}
		}, 200},
		{"GET", "/communities/{c}/events", []string{"admin", "guard", "operator"}, nil, 200},
		{"GET", "/communities/{c}/events.csv", []string{"admin", "guard", "operator"}, nil, 200},
		{"GET", "/communities/{c}/anomalies", []string{"admin", "guard", "operator"}, nil, 200},
		{"GET", "/communities/{c}/visitor-passes", []string{"admin", "guard", "operator"}, nil, 200},
		{"POST", "/communities/{c}/visitor-passes/{vp}/revoke", []string{"admin", "guard", "operator"}, nil, 200},
		{"GET", "/communities/{c}/consent-report", []string{"admin", "auditor", "operator"}, nil, 200},
		{"GET", "/face-template-count", []string{"admin", "auditor", "operator"}, nil, 200},
		{"PUT", "/communities/{c}/face-operator", []string{"admin", "operator"}, func(servertest.Fixture) any {
			return map[string]any{"operator_name": apitest.Unique("Property Co"), "operator_contact": "privacy@example.com"}
		}, 200},
		{"DELETE", "/communities/{c}/face-operator", []string{"admin", "operator"}, nil, 200},
	}
}

func TestEveryAdminRouteIsInTheMatrix(t *testing.T) {
	known := map[string]bool{}
	for _, e := range endpoints() {
		known[e.method+" "+e.path] = true
	}
	replacer := strings.NewReplacer(":community", "{c}", ":resident", "{r}", ":zone", "5", ":card", "{card}", ":gate", "{g}", ":visitor_pass", "{vp}", ":kid", "{kid}")
	for _, r := range admin.Routes() {
		key := r.Method + " " + replacer.Replace(r.Path)
		if !known[key] {
			t.Errorf("admin route %s is not covered by the authorization matrix", key)
		}
	}
}

func TestAuthorizationMatrix(t *testing.T) {
	h := newHarness(t)
	a, b := h.Community(), h.Community()
	callers := []struct {
		name, token string
		role        string // "" for callers with no valid token
		community   bool   // false: staff of community B asking about A
	}{
		{"no token", "", "", true},
		{"bad token", "gps_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "", true},
		{"garbage token", "not-a-token", "", true},
		{"admin", a.Admin, "admin", true},
		{"guard", a.Guard, "guard", true},
		{"auditor", a.Auditor, "auditor", true},
		{"operator", h.Operator, "operator", true},
		{"admin of B", b.Admin, "admin", false},
		{"guard of B", b.Guard, "guard", false},
		{"auditor of B", b.Auditor, "auditor", false},
	}
	for _, e := range endpoints() {
		for _, c := range callers {
			t.Run(e.method+" "+e.path+" as "+c.name, func(t *testing.T) {
				h.T = t
				resident := h.NewResident(a)
				card := ""
				if strings.Contains(e.path, "{card}") {
					card = h.Card(a, resident)
				}
				gate := ""
				if strings.Contains(e.path, "{g}") {
					gate = h.NewGate(a)
				}
				visitorPass := ""
				if strings.Contains(e.path, "{vp}") {
					visitorPass = h.visitorPass(a, resident)
				}
				kid := ""
				if strings.Contains(e.path, "{kid}") {
					kid = h.activeKID(a)
				}
				path := "/admin/v1" + strings.NewReplacer("{c}", a.ID, "{r}", resident, "{card}", card, "{g}", gate, "{vp}", visitorPass, "{kid}", kid).Replace(e.path)
				var body any
				if e.body != nil {
					body = e.body(a)
				}
				want := e.okStatus
				allowed := contains(e.allowed, c.role)
				switch {
				case c.role == "":
					want = http.StatusUnauthorized
				case !c.community && strings.ContainsAny(e.path, "{"):
					want = http.StatusNotFound // another community's staff learn nothing
				case !allowed:
					want = http.StatusForbidden
				}
				got, out := h.Do(e.method, path, c.token, body)
				if got != want {
					t.Fatalf("%s %s as %s = %d %v, want %d", e.method, path, c.name, got, out, want)
				}
			})
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Lists without a community in the path show only the caller's communities.
func TestStaffSeeOnlyTheirCommunities(t *testing.T) {
	h := newHarness(t)
	a, b := h.Community(), h.Community()
	list := h.Must(200, "GET", "/admin/v1/communities", a.Admin, nil)["communities"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["id"] != a.ID {
		t.Fatalf("admin of A sees %v", list)
	}
	for _, e := range h.Must(200, "GET", "/admin/v1/audit?limit=500", a.Auditor, nil)["entries"].([]any) {
		if e.(map[string]any)["community_id"] != a.ID {
			t.Fatalf("auditor of A sees an audit row of %v", e.(map[string]any)["community_id"])
		}
	}
	h.Must(http.StatusNotFound, "GET", "/admin/v1/audit?community_id="+b.ID, a.Auditor, nil)
	all := h.Must(200, "GET", "/admin/v1/communities", h.Operator, nil)["communities"].([]any)
	if len(all) < 2 {
		t.Fatalf("operator sees %d communities", len(all))
	}
	// A guard cannot make staff, and an admin cannot make an operator through the API.
	h.Must(http.StatusForbidden, "POST", "/admin/v1/communities/"+a.ID+"/staff", a.Guard, map[string]any{"name": "x", "role": "admin"})
}
