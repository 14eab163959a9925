package admin_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/apitest"
	"gatepass/internal/dbtest"
	"gatepass/server/internal/servertest"
)

func TestEntryLogFiltersPagesExportsAndAnomalies(t *testing.T) {
	h := newHarness(t)
	f, other := h.Community(), h.Community()
	g1, t1 := h.EnrolledGate(f)
	g2, t2 := h.EnrolledGate(f)
	og, ot := h.EnrolledGate(other)
	cred := uuid.NewString()
	replay := base64.StdEncoding.EncodeToString(append([]byte{1}, make([]byte, 24)...))
	evs1 := []any{}
	for i := 0; i < 7; i++ {
		evs1 = append(evs1, servertest.GateEvent(g1, "granted"))
	}
	shared := servertest.GateEvent(g1, "granted")
	shared["credential_id"], shared["replay_key"] = cred, replay
	again := servertest.GateEvent(g2, "granted")
	again["credential_id"], again["replay_key"] = cred, replay
	h.Must(200, "POST", "/gate/v1/events", t1, map[string]any{"events": append(evs1, shared)})
	h.Must(200, "POST", "/gate/v1/events", t2, map[string]any{"events": []any{again, servertest.GateEvent(g2, "denied")}})
	h.Must(200, "POST", "/gate/v1/events", ot, map[string]any{"events": []any{servertest.GateEvent(og, "granted")}})

	base := "/admin/v1/communities/" + f.ID
	seen := map[string]bool{}
	path := base + "/events?limit=3"
	for pages := 0; path != ""; pages++ {
		page := h.Must(200, "GET", path, f.Guard, nil)
		for _, e := range page["events"].([]any) {
			id := e.(map[string]any)["id"].(string)
			if seen[id] || e.(map[string]any)["gate_id"] == og {
				t.Fatalf("event %s twice or from another community", id)
			}
			seen[id] = true
		}
		path = ""
		if next, ok := page["next_cursor"].(string); ok {
			path = base + "/events?limit=3&cursor=" + next
		}
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
	}
	if len(seen) != 10 {
		t.Fatalf("paged through %d events, want 10", len(seen))
	}
	count := func(q string) int {
		return len(h.Must(200, "GET", base+"/events?"+q, f.Admin, nil)["events"].([]any))
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	for q, want := range map[string]int{"gate_id=" + g2: 2, "result=denied": 1, "credential_id=" + cred: 2, "from=" + future: 0, "to=" + future: 10} {
		if got := count(q); got != want {
			t.Fatalf("events?%s: %d, want %d", q, got, want)
		}
	}
	for _, q := range []string{"from=yesterday", "gate_id=nope", "result=maybe", "cursor=!!", "limit=0"} {
		h.Must(422, "GET", base+"/events?"+q, f.Admin, nil)
	}
	an := h.Must(200, "GET", base+"/anomalies", f.Guard, nil)["anomalies"].([]any)
	if len(an) != 1 || an[0].(map[string]any)["credential_id"] != cred || len(an[0].(map[string]any)["gate_ids"].([]any)) != 2 {
		t.Fatalf("anomalies %v", an)
	}
	// CSV export: every row, and an audit row saying who exported.
	resp := apitest.Do(t, "GET", h.Base+base+"/events.csv?result=granted", f.Guard, nil)
	lines := strings.Split(strings.TrimSpace(string(resp.Body)), "\n")
	if resp.Status != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") || len(lines) != 1+9 {
		t.Fatalf("csv %d %q: %d lines", resp.Status, resp.Header.Get("Content-Type"), len(lines))
	}
	if audited := dbtest.Count(t, h.DB.SQL(), dbtest.AuditLog, dbtest.Eq("community_id", f.ID), dbtest.Eq("action", "events.export")); audited != 1 {
		t.Fatalf("export audit rows %d", audited)
	}
}

func TestUnlockBadInputChangesNothingAndIsAudited(t *testing.T) {
	h := newHarness(t)
	f, other := h.Community(), h.Community()
	gate, _ := h.EnrolledGate(f)
	path := "/admin/v1/gates/" + gate + "/unlock"
	commands := func() int { return dbtest.Count(t, h.DB.SQL(), dbtest.GateCommands, dbtest.Eq("gate_id", gate)) }
	bad := []struct {
		name, token, path string
		body              any
		want              int
	}{
		{"no reason", f.Guard, path, map[string]any{}, 422},
		{"empty reason", f.Guard, path, map[string]any{"reason": ""}, 422},
		{"long reason", f.Guard, path, map[string]any{"reason": strings.Repeat("x", 201)}, 422},
		{"unknown field", f.Guard, path, map[string]any{"reason": "x", "force": true}, 400},
		{"not JSON", f.Guard, path, "reason=x", 400},
		{"bad gate id", f.Guard, "/admin/v1/gates/nope/unlock", map[string]any{"reason": "x"}, 404},
		{"unknown gate", f.Guard, "/admin/v1/gates/" + uuid.NewString() + "/unlock", map[string]any{"reason": "x"}, 404},
		{"guard of another community", other.Guard, path, map[string]any{"reason": "x"}, 404},
		{"auditor", f.Auditor, path, map[string]any{"reason": "x"}, 403},
		{"no token", "", path, map[string]any{"reason": "x"}, 401},
	}
	for _, b := range bad {
		if got, out := h.Do("POST", b.path, b.token, b.body); got != b.want {
			t.Fatalf("%s: %d %v, want %d", b.name, got, out, b.want)
		}
	}
	for _, b := range []map[string]any{{"skew_seconds": -1}, {"stale_policy": "panic"}, {"pulse_ms": 999999}, {"nope": 1}} {
		if got, _ := h.Do("PUT", "/admin/v1/gates/"+gate+"/settings", f.Admin, b); got != 422 && got != 400 {
			t.Fatalf("settings %v: %d", b, got)
		}
	}
	if n := commands(); n != 0 {
		t.Fatalf("bad requests made %d commands", n)
	}
	audits := func() int {
		return dbtest.Count(t, h.DB.SQL(), dbtest.AuditLog, dbtest.Eq("action", "gate.unlock"), dbtest.Eq("target", "gate:"+gate))
	}
	h.Must(201, "POST", path, f.Guard, map[string]any{"reason": "elderly resident, no card"})
	if commands() != 1 || audits() != 1 {
		t.Fatalf("unlock: %d commands, %d audit rows", commands(), audits())
	}
}
