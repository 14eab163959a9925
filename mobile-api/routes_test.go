package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/apitest"
	"gatepass/internal/dbtest"
	"gatepass/internal/store"
)

// shape is a path with every parameter, named or filled in with an id, as "*".
func shape(method, path string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if _, err := uuid.Parse(p); err == nil || strings.HasPrefix(p, ":") {
			parts[i] = "*"
		}
	}
	return method + " " + strings.Join(parts, "/")
}

// TestRouteNeeds holds the route table to its word: every route that needs a session is
// among residentRoutes (so TestNoSession shows it refuses without one), every route that
// needs a step-up refuses a stale one, and every route that needs residency refuses a
// resident who moved out; both before the body is read, so even a malformed request
// gets the refusal and changes nothing.
func TestRouteNeeds(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	m, gone := h.signUp(f), h.signUp(f)
	listed := map[string]bool{}
	for _, r := range residentRoutes {
		listed[shape(r.method, r.path)] = true
	}
	routes := h.api.apiRoutes(testLimits)
	concrete := func(r route) (string, any) {
		path := "/api/v1" + r.path
		for _, p := range strings.Split(r.path, "/") {
			if strings.HasPrefix(p, ":") {
				path = strings.Replace(path, p, uuid.NewString(), 1)
			}
		}
		if r.method == "GET" || r.method == "DELETE" {
			return path, nil
		}
		return path, "{" // malformed: the refusal must come first
	}

	if err := h.db.InTx(context.Background(), "test", func(tx *store.Tx) error {
		_, err := tx.MoveOut(context.Background(), f.id, gone.id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// A session that outlived the move-out (a race) still gets nothing that needs residency.
	dbtest.Set(t, h.sql, dbtest.Sessions, dbtest.Values{"revoked_at": nil}, dbtest.Eq("resident_id", gone.id))
	dbtest.Age(t, h.sql, dbtest.Sessions, "verified_at", 5*time.Minute+time.Second)
	before := h.snapshot()
	var stepUps, actives int
	for _, r := range routes {
		full := shape(r.method, "/api/v1"+r.path)
		if r.needs == access.NeedNone {
			if listed[full] {
				t.Errorf("%s needs nothing but is listed as needing a session", full)
			}
			continue
		}
		if !listed[full] {
			t.Errorf("%s needs a session but is not in residentRoutes", full)
		}
		path, body := concrete(r)
		if r.needs&access.NeedStepUp != 0 {
			stepUps++
			h.MustFail(403, "step_up_required", r.method, path, m.token, body)
		}
		if r.needs&access.NeedActive != 0 {
			actives++
			h.MustFail(403, "not_resident", r.method, path, gone.token, body)
		}
	}
	if stepUps != 3 || actives != 7 {
		t.Errorf("%d routes need a step-up and %d residency: the table changed, change this test with it", stepUps, actives)
	}
	h.unchanged(before, "requests refused by the route table")
}

// Every resident route is in docs/openapi-mobile.yaml (the WeChat ones included).
func TestEveryResidentRouteIsDocumented(t *testing.T) {
	ops := apitest.DocumentedOperations(t, "../docs/openapi-mobile.yaml")
	for _, r := range (&API{}).apiRoutes(testLimits) {
		if key := r.method + " /api/v1" + apitest.OpenAPIPath(r.path); !ops[key] {
			t.Errorf("%s is not in docs/openapi-mobile.yaml", key)
		}
	}
}
