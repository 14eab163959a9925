package admin_test

import (
	"bytes"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/apitest"
	"gatepass/internal/dbtest"
	"gatepass/server/internal/admin"
	"gatepass/server/internal/servertest"
)

// endpoint is one admin route as the matrix exercises it. The allowed roles are written
// out here, apart from the route table, so a change of policy has to change both.
type endpoint struct {
	// path uses {c} for the community and, for its objects, the keys of objects: {r} a
	// fresh resident, {card} a card of theirs, {g} a gate, {vp} a visitor pass, {s} a
	// staff member (a guard, never the caller), {t} a token of theirs, {w} a paused webhook
	// endpoint, {kid} the signing
	// key (a number: left out of TestObjectsOfAnotherCommunity, whose leak check looks for
	// ids in answers; TestCompromiseKey sends another community's). After "?" come
	// filters, with the same placeholders.
	method, path string
	allowed      []string
	body         func(ids objects) any // may use ids["building"] and ids["unit"]
	okStatus     int
}

// objects are the ids an endpoint's path, filters and body name, by placeholder.
type objects map[string]string

func (o objects) fill(s string) string {
	for k, v := range o {
		s = strings.ReplaceAll(s, "{"+k+"}", v)
	}
	return s
}

func endpoints() []endpoint {
	named := func(prefix string) func(objects) any {
		return func(objects) any { return map[string]any{"name": apitest.Unique(prefix)} }
	}
	all := []string{"admin", "guard", "auditor", "operator"}
	return []endpoint{
		{"POST", "/communities", []string{"operator"}, named("C"), 201},
		{"GET", "/communities", all, nil, 200},
		{"GET", "/communities/{c}", all, nil, 200},
		{"POST", "/communities/{c}/buildings", []string{"admin", "operator"}, named("B"), 201},
		{"GET", "/communities/{c}/buildings", all, nil, 200},
		{"POST", "/communities/{c}/units", []string{"admin", "operator"}, func(ids objects) any {
			return map[string]any{"building_id": ids["building"], "label": apitest.Unique("U")}
		}, 201},
		{"GET", "/communities/{c}/units?building_id={building}", all, nil, 200},
		{"PUT", "/communities/{c}/zones/5", []string{"admin", "operator"}, named("Z"), 200},
		{"GET", "/communities/{c}/zones", all, nil, 200},
		{"POST", "/communities/{c}/residents", []string{"admin", "operator"}, func(ids objects) any {
			return map[string]any{"name": apitest.Unique("R"), "unit_id": ids["unit"], "role": "tenant"}
		}, 201},
		{"GET", "/communities/{c}/residents", []string{"admin", "auditor", "guard", "operator"}, nil, 200},
		{"GET", "/communities/{c}/residents/{r}", []string{"admin", "auditor", "guard", "operator"}, nil, 200},
		{"POST", "/communities/{c}/residents/{r}/move-out", []string{"admin", "operator"}, nil, 200},
		{"POST", "/communities/{c}/residents/{r}/invite", []string{"admin", "operator"}, nil, 201},
		{"POST", "/communities/{c}/gates", []string{"admin", "operator"}, func(objects) any {
			return map[string]any{"name": apitest.Unique("G"), "zone": 0, "direction": "both"}
		}, 201},
		{"GET", "/communities/{c}/gates", all, nil, 200},
		{"POST", "/communities/{c}/staff", []string{"admin", "operator"}, func(objects) any {
			return map[string]any{"name": apitest.Unique("S"), "role": "guard"}
		}, 201},
		{"GET", "/communities/{c}/staff", []string{"admin", "operator"}, nil, 200},
		{"POST", "/communities/{c}/staff/{s}/disable", []string{"admin", "operator"}, nil, 200},
		{"POST", "/communities/{c}/staff/{s}/enable", []string{"admin", "operator"}, nil, 200},
		{"GET", "/communities/{c}/staff/{s}/tokens", []string{"admin", "operator"}, nil, 200},
		{"POST", "/communities/{c}/staff/{s}/tokens", []string{"admin", "operator"}, func(objects) any {
			return map[string]any{"kind": "integration", "label": "PMS", "ttl": "365d"}
		}, 201},
		{"DELETE", "/communities/{c}/staff/{s}/tokens/{t}", []string{"admin", "operator"}, nil, 200},
		{"POST", "/communities/{c}/staff/{s}/tokens/{t}/rotate", []string{"admin", "operator"}, nil, 201},
		{"GET", "/me", all, nil, 200},
		{"GET", "/communities/{c}/keys", all, nil, 200},
		{"POST", "/communities/{c}/keys/rotate", []string{"admin", "operator"}, nil, 201},
		{"POST", "/communities/{c}/keys/{kid}/compromise", []string{"admin", "operator"}, func(objects) any {
			return map[string]any{"reason": "laptop stolen"}
		}, 200},
		{"POST", "/residents/{r}/cards", []string{"admin", "guard", "operator"}, nil, 201},
		{"GET", "/residents/{r}/cards", []string{"admin", "guard", "operator"}, nil, 200},
		{"POST", "/residents/{r}/cards/{card}/revoke", []string{"admin", "guard", "operator"}, nil, 200},
		{"GET", "/audit", []string{"admin", "auditor", "operator"}, nil, 200},
		{"GET", "/gates/{g}", all, nil, 200},
		{"POST", "/gates/{g}/unlock", []string{"admin", "guard", "operator"}, func(objects) any {
			return map[string]any{"reason": "resident without phone"}
		}, 201},
		{"POST", "/gates/{g}/disable", []string{"admin", "operator"}, nil, 200},
		{"PUT", "/gates/{g}/settings", []string{"admin", "operator"}, func(objects) any {
			return map[string]any{"skew_seconds": 60}
		}, 200},
		{"GET", "/communities/{c}/events?gate_id={g}&credential_id={card}", []string{"admin", "auditor", "guard", "operator"}, nil, 200},
		{"GET", "/communities/{c}/events.csv?gate_id={g}&credential_id={card}", []string{"admin", "auditor", "guard", "operator"}, nil, 200},
		{"GET", "/communities/{c}/anomalies", []string{"admin", "auditor", "guard", "operator"}, nil, 200},
		{"GET", "/communities/{c}/visitor-passes", []string{"admin", "guard", "operator"}, nil, 200},
		{"POST", "/communities/{c}/visitor-passes/{vp}/revoke", []string{"admin", "guard", "operator"}, nil, 200},
		{"GET", "/communities/{c}/consent-report", []string{"admin", "auditor", "operator"}, nil, 200},
		{"GET", "/face-template-count", []string{"admin", "auditor", "operator"}, nil, 200},
		{"PUT", "/communities/{c}/face-operator", []string{"admin", "operator"}, func(objects) any {
			return map[string]any{"operator_name": apitest.Unique("Property Co"), "operator_contact": "privacy@example.com"}
		}, 200},
		{"DELETE", "/communities/{c}/face-operator", []string{"admin", "operator"}, nil, 200},
		{"POST", "/communities/{c}/webhooks", []string{"admin", "operator"}, func(objects) any {
			return map[string]any{"url": "https://hooks.example.com/gatepass", "events": []string{"entry.created"}}
		}, 201},
		{"GET", "/communities/{c}/webhooks", []string{"admin", "auditor", "operator"}, nil, 200},
		{"GET", "/communities/{c}/webhooks/{w}", []string{"admin", "auditor", "operator"}, nil, 200},
		{"PATCH", "/communities/{c}/webhooks/{w}", []string{"admin", "operator"}, func(objects) any {
			return map[string]any{"events": []string{"gate.offline", "gate.online"}}
		}, 200},
		{"DELETE", "/communities/{c}/webhooks/{w}", []string{"admin", "operator"}, nil, 204},
		{"POST", "/communities/{c}/webhooks/{w}/rotate-secret", []string{"admin", "operator"}, func(objects) any {
			return map[string]any{"overlap": "1h"}
		}, 200},
		{"POST", "/communities/{c}/webhooks/{w}/resume", []string{"admin", "operator"}, nil, 200},
		{"POST", "/communities/{c}/webhooks/{w}/ping", []string{"admin", "operator"}, nil, 202},
		{"GET", "/communities/{c}/webhooks/{w}/deliveries", []string{"admin", "auditor", "operator"}, nil, 200},
		// The console's additions (issue 17).
		{"POST", "/communities/{c}/staff/{s}/invite", []string{"admin", "operator"}, nil, 201},
		{"GET", "/gates/{g}/commands/{cmd}", []string{"admin", "guard", "operator"}, nil, 200},
		{"GET", "/communities/{c}/events/stream?wait=0s&gate_id={g}", []string{"admin", "auditor", "guard", "operator"}, nil, 200},
		{"GET", "/communities/{c}/residents/{r}/credentials", []string{"admin", "auditor", "guard", "operator"}, nil, 200},
		{"GET", "/communities/{c}/audit/verify", []string{"admin", "auditor", "operator"}, nil, 200},
		// Issue 16: admins change who may enter where and when; guards read it and start
		// or lift a lockdown (and print passholders' cards, as residents'); auditors read.
		{"GET", "/communities/{c}/access-settings", all, nil, 200},
		{"PUT", "/communities/{c}/access-settings", []string{"admin", "operator"}, func(objects) any {
			return map[string]any{"offline_limit_seconds": 7200, "offline_policy": "cards_and_device_passes_only"}
		}, 200},
		{"PUT", "/communities/{c}/buildings/{building}", []string{"admin", "operator"}, func(objects) any {
			return map[string]any{"zones": []int{0}}
		}, 200},
		{"GET", "/communities/{c}/access-groups", all, nil, 200},
		{"POST", "/communities/{c}/access-groups", []string{"admin", "operator"}, func(objects) any {
			return map[string]any{"name": apitest.Unique("保洁"), "zones": []int{0}, "schedule": map[string]any{"mon": []any{map[string]string{"start": "07:00", "end": "18:00"}}}}
		}, 201},
		{"GET", "/communities/{c}/access-groups/{grp}", all, nil, 200},
		{"PUT", "/communities/{c}/access-groups/{grp}", []string{"admin", "operator"}, func(objects) any {
			return map[string]any{"name": apitest.Unique("G"), "zones": []int{0}, "holidays": []any{map[string]any{"date": "2026-10-01"}}}
		}, 200},
		{"DELETE", "/communities/{c}/access-groups/{grp}", []string{"admin", "operator"}, nil, 200},
		{"GET", "/communities/{c}/access-policies", all, nil, 200},
		{"PUT", "/communities/{c}/access-policies/resident/{r}", []string{"admin", "operator"}, func(objects) any {
			return map[string]any{"group_ids": []string{}, "inherit": true}
		}, 200},
		{"DELETE", "/communities/{c}/access-policies/resident/{r}", []string{"admin", "operator"}, nil, 200},
		{"GET", "/communities/{c}/residents/{r}/access", all, nil, 200},
		{"GET", "/communities/{c}/passholders", all, nil, 200},
		{"POST", "/communities/{c}/passholders", []string{"admin", "operator"}, func(ids objects) any {
			return map[string]any{"name": apitest.Unique("P"), "kind": "cleaner", "group_id": ids["grp"]}
		}, 201},
		{"PUT", "/communities/{c}/passholders/{ph}", []string{"admin", "operator"}, func(objects) any {
			return map[string]any{"company": "Clean Co"}
		}, 200},
		{"POST", "/communities/{c}/passholders/{ph}/end", []string{"admin", "operator"}, nil, 200},
		{"POST", "/communities/{c}/passholders/{ph}/cards", []string{"admin", "guard", "operator"}, nil, 201},
		{"GET", "/communities/{c}/passholders/{ph}/cards", []string{"admin", "guard", "operator"}, nil, 200},
		{"POST", "/communities/{c}/passholders/{ph}/cards/{card}/revoke", []string{"admin", "guard", "operator"}, nil, 200},
		{"GET", "/communities/{c}/lockdowns", all, nil, 200},
		{"POST", "/communities/{c}/lockdowns", []string{"admin", "guard", "operator"}, func(objects) any {
			return map[string]any{"scope": "community", "reason": "drill", "duration_minutes": 30}
		}, 201},
		{"POST", "/communities/{c}/lockdowns/{ld}/lift", []string{"admin", "guard", "operator"}, nil, 200},
	}
}

// route is the endpoint's path as the route table writes it.
func (e endpoint) route() string {
	path, _, _ := strings.Cut(e.path, "?")
	return e.method + " " + path
}

func TestEveryAdminRouteIsInTheMatrix(t *testing.T) {
	known := map[string]bool{}
	for _, e := range endpoints() {
		known[e.route()] = true
	}
	replacer := strings.NewReplacer(":community", "{c}", ":resident", "{r}", ":zone", "5", ":card", "{card}", ":gate", "{g}",
		":visitor_pass", "{vp}", ":staff", "{s}", ":token", "{t}", ":kid", "{kid}", ":webhook", "{w}", ":command", "{cmd}",
		":building", "{building}", ":group", "{grp}", ":level", "resident", ":target", "{r}", ":passholder", "{ph}", ":lockdown", "{ld}")
	for _, r := range admin.Routes() {
		key := r.Method + " " + replacer.Replace(r.Path)
		if !known[key] {
			t.Errorf("admin route %s is not covered by the authorization matrix", key)
		}
	}
}

// objectsOf makes the objects of community f that path and body name: a fresh one of
// each, so that what one call changes does not decide the next.
func (h *harness) objectsOf(f servertest.Fixture, e endpoint) objects {
	h.T.Helper()
	ids := objects{"c": f.ID, "building": f.Building, "unit": f.Unit}
	uses := func(k string) bool { return strings.Contains(e.path, "{"+k+"}") }
	if uses("r") || uses("card") || uses("vp") {
		ids["r"] = h.NewResident(f)
	}
	if uses("grp") || uses("ph") || strings.Contains(e.path, "/passholders") {
		ids["grp"] = h.accessGroup(f)
	}
	if uses("ph") {
		ids["ph"] = h.passholder(f, ids["grp"])
	}
	switch {
	case uses("card") && uses("ph"):
		ids["card"] = h.passholderCard(f, ids["ph"])
	case uses("card"):
		ids["card"] = h.Card(f, ids["r"])
	}
	if uses("r") && strings.Contains(e.path, "/access-policies/") {
		h.Must(http.StatusOK, "PUT", "/admin/v1/communities/"+f.ID+"/access-policies/resident/"+ids["r"], f.Admin,
			map[string]any{"group_ids": []string{}, "inherit": true})
	}
	if uses("ld") {
		ids["ld"] = h.Must(http.StatusCreated, "POST", "/admin/v1/communities/"+f.ID+"/lockdowns", f.Admin,
			map[string]any{"scope": "community", "reason": "drill"})["id"].(string)
	}
	if uses("g") || uses("cmd") {
		ids["g"] = h.NewGate(f)
	}
	if uses("cmd") {
		ids["cmd"] = h.release(f, ids["g"])
	}
	if uses("vp") {
		ids["vp"] = h.visitorPass(f, ids["r"])
	}
	if uses("kid") {
		// Each allowed caller compromises the signing key, and a new one takes over.
		ids["kid"] = h.activeKID(f)
	}
	if uses("s") || uses("t") {
		m := h.Member(uuid.MustParse(f.ID), access.StaffGuard)
		ids["s"], ids["t"] = m.ID, m.TokenID
	}
	if uses("w") {
		ids["w"] = h.pausedWebhook(f)
	}
	return ids
}

// caller is who calls in the matrix.
type caller struct {
	name, token string
	role        string // "" for callers with no valid token
	community   bool   // false: staff of community B asking about A
}

func callersOf(h *harness, a, b servertest.Fixture) []caller {
	return []caller{
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
}

func TestAuthorizationMatrix(t *testing.T) {
	h := newHarness(t)
	a, b := h.Community(), h.Community()
	for _, e := range endpoints() {
		for _, c := range callersOf(h, a, b) {
			t.Run(e.method+" "+e.path+" as "+c.name, func(t *testing.T) {
				h.T = t
				ids := h.objectsOf(a, e)
				path := "/admin/v1" + ids.fill(e.path)
				var body any
				if e.body != nil {
					body = e.body(ids)
				}
				want := e.okStatus
				allowed := slices.Contains(e.allowed, c.role)
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

// fingerprint sums every row of community c, in every table that has a community_id,
// and its staff's tokens (less when they were last used): it changes if anything of c
// does.
func (h *harness) fingerprint(c string) string {
	h.T.Helper()
	return dbtest.CommunityDigest(h.T, h.DB.SQL(), c)
}

// Every route of community A, called with an object of community B in its place (in the
// path, a filter or the body), one object at a time: the caller finds nothing of B, B
// is unchanged, and a refused call changes nothing of A either. This is how one
// community's admin would reach into another with ids they learnt.
func TestObjectsOfAnotherCommunity(t *testing.T) {
	h := newHarness(t)
	a, b := h.Community(), h.Community()
	theirs := objects{"building": b.Building, "unit": b.Unit, "r": b.Resident}
	theirs["card"] = h.Card(b, b.Resident)
	// B's gate has let B's card in, so that a filter that leaked would show it.
	gate, gateToken := h.EnrolledGate(b)
	theirs["g"] = gate
	ev := servertest.GateEvent(gate, "granted")
	ev["credential_id"] = theirs["card"]
	h.Must(http.StatusOK, "POST", "/gate/v1/events", gateToken, map[string]any{"events": []any{ev}})
	theirs["vp"] = h.visitorPass(b, b.Resident)
	theirs["cmd"] = h.release(b, gate)
	theirs["grp"] = h.accessGroup(b)
	theirs["ph"] = h.passholder(b, theirs["grp"])
	theirs["ld"] = h.Must(http.StatusCreated, "POST", "/admin/v1/communities/"+b.ID+"/lockdowns", b.Admin,
		map[string]any{"scope": "community", "reason": "drill"})["id"].(string)
	m := h.Member(uuid.MustParse(b.ID), access.StaffGuard)
	theirs["s"], theirs["t"] = m.ID, m.TokenID
	theirs["w"] = h.pausedWebhook(b)
	leaks := append(slices.Collect(maps.Values(theirs)), b.ID)
	slices.Sort(leaks)
	covered := 0
	for _, e := range endpoints() {
		path, query, _ := strings.Cut(e.path, "?")
		for _, k := range slices.Sorted(maps.Keys(theirs)) {
			inPath, inQuery := strings.Contains(path, "{"+k+"}"), strings.Contains(query, "{"+k+"}")
			marker := "object-" + k
			inBody := e.body != nil && bytes.Contains(apitest.MustJSON(t, e.body(objects{k: marker})), []byte(marker))
			if !inPath && !inQuery && !inBody {
				continue
			}
			covered++
			// A path without {c} belongs to the community of its first object: swapping
			// that one is B's own path, which operators may use and the matrix covers.
			scoping := !strings.HasPrefix(path, "/communities/{c}") && strings.Index(path, "{"+k+"}") == strings.Index(path, "{")
			for _, c := range callersOf(h, a, b) {
				if c.role == "" || !c.community || (scoping && c.role == "operator") {
					continue
				}
				t.Run(e.method+" "+e.path+" with B's "+k+" as "+c.name, func(t *testing.T) {
					h.T = t
					ids := h.objectsOf(a, e)
					ids[k] = theirs[k]
					var body any
					if e.body != nil {
						body = e.body(ids)
					}
					beforeB, beforeA := h.fingerprint(b.ID), h.tableCounts()
					resp := apitest.Do(t, e.method, h.Base+"/admin/v1"+ids.fill(e.path), c.token, body)
					allowed := slices.Contains(e.allowed, c.role)
					switch {
					case !allowed:
						if resp.Status != http.StatusForbidden && resp.Status != http.StatusNotFound {
							t.Fatalf("a role without the grant got %d %s", resp.Status, resp.Body)
						}
					case inPath:
						if resp.Status != http.StatusNotFound {
							t.Fatalf("B's %s in the path: %d %s, want 404", k, resp.Status, resp.Body)
						}
					case inBody:
						if resp.Status != http.StatusUnprocessableEntity {
							t.Fatalf("B's %s in the body: %d %s, want 422", k, resp.Status, resp.Body)
						}
					case inQuery:
						if resp.Status != http.StatusOK {
							t.Fatalf("B's %s as a filter: %d %s, want 200 with nothing of B", k, resp.Status, resp.Body)
						}
					}
					for _, id := range leaks {
						// An error may echo the id it was asked about; an answer may not hold one.
						if bytes.Contains(resp.Body, []byte(id)) && (resp.Status < 300 || !strings.Contains(ids.fill(e.path), id)) {
							t.Fatalf("the answer names %s of community B: %s", id, resp.Body)
						}
					}
					if resp.Status >= 300 && !maps.Equal(beforeA, h.tableCounts()) {
						t.Fatalf("a refused call changed the database")
					}
					if after := h.fingerprint(b.ID); after != beforeB {
						t.Fatalf("community B changed:\nbefore %s\nafter  %s", beforeB, after)
					}
				})
			}
		}
	}
	if covered < 20 {
		t.Fatalf("only %d endpoint-object pairs crossed: the placeholders drifted from endpoints()", covered)
	}
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
