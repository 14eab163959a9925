package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/apitest"
	"gatepass/internal/store"
)

// newGate makes a gate in zone 0 of f through the admin API and returns its id.
func (h *harness) newGate(f fixture) string {
	h.t.Helper()
	id, _ := h.newGateCode(f)
	return id
}

func (h *harness) newGateCode(f fixture) (id, code string) {
	h.t.Helper()
	out := h.must(http.StatusCreated, "POST", "/admin/v1/communities/"+f.id+"/gates", f.admin,
		map[string]any{"name": unique("Gate"), "zone": 0, "direction": "in"})
	return out["id"].(string), out["enrollment_code"].(string)
}

func boxKey() string {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}

// enrolledGate makes and enrolls a gate, returning its id and token.
func (h *harness) enrolledGate(f fixture) (id, token string) {
	h.t.Helper()
	id, code := h.newGateCode(f)
	out := h.must(http.StatusCreated, "POST", "/gate/v1/enroll", "", map[string]any{"code": code, "box_public_key": boxKey(), "agent_version": "test"})
	return id, out["gate_token"].(string)
}

func TestGateEnrollment(t *testing.T) {
	h := newHarness(t)
	f := h.community()
	id, code := h.newGateCode(f)
	bad := []struct {
		name string
		body any
		want int
	}{
		{"no body", nil, 400},
		{"unknown field", map[string]any{"code": code, "box_public_key": boxKey(), "agent_version": "1", "x": 1}, 400},
		{"short box key", map[string]any{"code": code, "box_public_key": "AAAA", "agent_version": "1"}, 422},
		{"no version", map[string]any{"code": code, "box_public_key": boxKey()}, 422},
		{"wrong code", map[string]any{"code": "gpe_" + strings.Repeat("A", 64), "box_public_key": boxKey(), "agent_version": "1"}, 401},
		{"staff token as code", map[string]any{"code": f.admin, "box_public_key": boxKey(), "agent_version": "1"}, 401},
	}
	for _, b := range bad {
		if got, out := h.do("POST", "/gate/v1/enroll", "", b.body); got != b.want {
			t.Fatalf("%s: %d %v, want %d", b.name, got, out, b.want)
		}
	}
	out := h.must(http.StatusCreated, "POST", "/gate/v1/enroll", "", map[string]any{"code": code, "box_public_key": boxKey(), "agent_version": "1.0"})
	gate := out["gate"].(map[string]any)
	if gate["gate_id"] != id || gate["community_id"] != f.id || gate["direction"] != "in" || !strings.HasPrefix(out["gate_token"].(string), "gpg_") {
		t.Fatalf("enroll answer %v", out)
	}
	if gate["settings"].(map[string]any)["skew_seconds"] != 30.0 {
		t.Fatalf("settings without defaults: %v", gate["settings"])
	}
	// One-time: the code is spent.
	h.must(http.StatusUnauthorized, "POST", "/gate/v1/enroll", "", map[string]any{"code": code, "box_public_key": boxKey(), "agent_version": "1.0"})
	tok := out["gate_token"].(string)
	h.must(200, "GET", "/gate/v1/sync", tok, nil)
	// Staff tokens and garbage are not gate tokens.
	for _, bad := range []string{"", f.admin, "gpg_xyz", tok + "x"} {
		h.must(http.StatusUnauthorized, "GET", "/gate/v1/sync", bad, nil)
	}
	// A disabled gate's token fails at once.
	h.must(200, "POST", "/admin/v1/gates/"+id+"/disable", f.admin, nil)
	h.must(http.StatusUnauthorized, "GET", "/gate/v1/sync", tok, nil)
	h.must(http.StatusConflict, "POST", "/admin/v1/gates/"+id+"/unlock", f.guard, map[string]any{"reason": "x"})
}

func TestGateSyncSnapshotDeltaAndLongPoll(t *testing.T) {
	h := newHarness(t)
	f, other := h.community(), h.community()
	gateID, tok := h.enrolledGate(f)
	snap := h.must(200, "GET", "/gate/v1/sync?cursor=0", tok, nil)
	if snap["full"] != true || len(snap["keys"].([]any)) != 1 || len(snap["revocations"].([]any)) != 0 || snap["server_time"] == nil {
		t.Fatalf("snapshot %v", snap)
	}
	cursor := int64(snap["cursor"].(float64))
	// Nothing new: a delta with wait=0 answers at once, unchanged.
	d := h.must(200, "GET", fmt.Sprintf("/gate/v1/sync?cursor=%d", cursor), tok, nil)
	if d["full"] != false || int64(d["cursor"].(float64)) != cursor {
		t.Fatalf("empty delta %v", d)
	}
	// A long poll wakes on a revocation in this community, not on another community's.
	card := h.card(f, f.resident)
	type result struct {
		body    map[string]any
		elapsed time.Duration
	}
	done := make(chan result, 1)
	go func() {
		start := time.Now()
		_, body := h.do("GET", fmt.Sprintf("/gate/v1/sync?cursor=%d&wait=10s", cursor), tok, nil)
		done <- result{body, time.Since(start)}
	}()
	time.Sleep(300 * time.Millisecond)
	h.must(200, "POST", "/admin/v1/residents/"+other.resident+"/cards/"+h.card(other, other.resident)+"/revoke", other.admin, nil)
	time.Sleep(300 * time.Millisecond)
	h.must(200, "POST", "/admin/v1/residents/"+f.resident+"/cards/"+card+"/revoke", f.guard, nil)
	r := <-done
	revs := r.body["revocations"].([]any)
	if len(revs) != 1 || revs[0].(map[string]any)["credential_id"] != card || r.elapsed > 3*time.Second || r.elapsed < 500*time.Millisecond {
		t.Fatalf("long poll after %v: %v", r.elapsed, r.body)
	}
	cursor = int64(r.body["cursor"].(float64))
	// A manual release reaches this gate's long poll, and only this gate's.
	_, otherTok := h.enrolledGate(f)
	go func() {
		start := time.Now()
		_, body := h.do("GET", fmt.Sprintf("/gate/v1/sync?cursor=%d&wait=10s", cursor), tok, nil)
		done <- result{body, time.Since(start)}
	}()
	time.Sleep(200 * time.Millisecond)
	rel := h.must(201, "POST", "/admin/v1/gates/"+gateID+"/unlock", f.guard, map[string]any{"reason": "forgot phone"})
	r = <-done
	cmds := r.body["commands"].([]any)
	if len(cmds) != 1 || cmds[0].(map[string]any)["id"] != rel["command_id"] || cmds[0].(map[string]any)["reason"] != "forgot phone" || r.elapsed > 2*time.Second {
		t.Fatalf("release after %v: %v", r.elapsed, r.body)
	}
	if o := h.must(200, "GET", "/gate/v1/sync?cursor=0", otherTok, nil); len(o["commands"].([]any)) != 0 {
		t.Fatalf("another gate sees the release: %v", o["commands"])
	}
	// The ack removes it from the pending list; a second ack is harmless.
	cmdPath := "/gate/v1/commands/" + rel["command_id"].(string) + "/ack"
	h.must(200, "POST", cmdPath, tok, map[string]any{"result": "executed"})
	h.must(200, "POST", cmdPath, tok, map[string]any{"result": "duplicate"})
	h.must(http.StatusNotFound, "POST", cmdPath, otherTok, map[string]any{"result": "executed"})
	h.must(422, "POST", cmdPath, tok, map[string]any{"result": "maybe"})
	if s := h.must(200, "GET", "/gate/v1/sync?cursor=0", tok, nil); len(s["commands"].([]any)) != 0 || len(s["revocations"].([]any)) != 1 {
		t.Fatalf("after ack: %v", s)
	}
	var acked string
	if err := h.db.SQL().QueryRow(`SELECT result FROM gate_commands WHERE id = $1`, rel["command_id"]).Scan(&acked); err != nil || acked != "executed" {
		t.Fatalf("command result %q %v", acked, err)
	}
	// Bad sync parameters.
	for _, q := range []string{"cursor=-1", "cursor=x", "wait=31s", "wait=forever"} {
		h.must(422, "GET", "/gate/v1/sync?"+q, tok, nil)
	}
	// A cursor past the end (a restored database) gets a snapshot.
	if s := h.must(200, "GET", "/gate/v1/sync?cursor=999999999", tok, nil); s["full"] != true {
		t.Fatalf("cursor past end: %v", s["full"])
	}
}

// Pruning the change log loses nothing a gate needs: a gate whose cursor is older than
// what was kept gets a full snapshot with every live revocation; a current cursor
// continues as a delta; another community's log is untouched by this one's rows.
func TestGateSyncAfterChangeLogPruned(t *testing.T) {
	h := newHarness(t)
	f, other := h.community(), h.community()
	_, tok := h.enrolledGate(f)
	_, otherTok := h.enrolledGate(other)
	revoke := func(f fixture) {
		h.must(200, "POST", "/admin/v1/residents/"+f.resident+"/cards/"+h.card(f, f.resident)+"/revoke", f.guard, nil)
	}
	cursorOf := func(tok string) int64 {
		return int64(h.must(200, "GET", "/gate/v1/sync?cursor=0", tok, nil)["cursor"].(float64))
	}
	revoke(f)
	stale := cursorOf(tok) // a gate that synced here, then went offline
	revoke(f)
	revoke(f)
	otherCursor := cursorOf(otherTok)
	current := cursorOf(tok)
	if _, err := h.db.SQL().Exec(`UPDATE change_log SET created_at = now() - interval '40 days'`); err != nil {
		t.Fatal(err)
	}
	n, err := h.db.PruneChanges(context.Background(), time.Now().Add(-30*24*time.Hour))
	if err != nil || n == 0 {
		t.Fatalf("prune: %d rows, %v", n, err)
	}
	var kept int
	if err := h.db.SQL().QueryRow(`SELECT count(*) FROM change_log WHERE community_id = $1`, f.id).Scan(&kept); err != nil || kept != 1 {
		t.Fatalf("rows kept for the community: %d %v, want its newest", kept, err)
	}
	if s := h.must(200, "GET", fmt.Sprintf("/gate/v1/sync?cursor=%d", stale), tok, nil); s["full"] != true || len(s["revocations"].([]any)) != 3 {
		t.Fatalf("stale cursor after prune: full %v, %d revocations", s["full"], len(s["revocations"].([]any)))
	}
	for _, c := range []struct {
		tok    string
		cursor int64
	}{{tok, current}, {otherTok, otherCursor}} {
		if s := h.must(200, "GET", fmt.Sprintf("/gate/v1/sync?cursor=%d", c.cursor), c.tok, nil); s["full"] != false || int64(s["cursor"].(float64)) != c.cursor {
			t.Fatalf("current cursor %d after prune: %v", c.cursor, s)
		}
	}
	// New changes after the prune arrive as a delta.
	revoke(f)
	if s := h.must(200, "GET", fmt.Sprintf("/gate/v1/sync?cursor=%d", current), tok, nil); s["full"] != false || len(s["revocations"].([]any)) != 1 {
		t.Fatalf("delta after prune: %v", s)
	}
}

func gateEvent(gate string, result string) map[string]any {
	return map[string]any{"id": uuid.NewString(), "occurred_at": time.Now().UTC().Format(time.RFC3339Nano), "gate_id": gate,
		"credential_id": uuid.NewString(), "subject": "resident", "method": "qr", "result": result, "reason": "ok", "offline": true}
}

func countEvents(t *testing.T, db *store.DB, gate string) int {
	t.Helper()
	var n int
	if err := db.SQL().QueryRow(`SELECT count(*) FROM entry_events WHERE gate_id = $1`, gate).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestGateEventsIdempotentAndValidated(t *testing.T) {
	h := newHarness(t)
	f := h.community()
	gate, tok := h.enrolledGate(f)
	otherGate, _ := h.enrolledGate(f)
	batch := []any{}
	// 150 events fit the 64 KiB body limit; the agent sizes its batches by bytes too.
	for i := 0; i < 150; i++ {
		batch = append(batch, gateEvent(gate, []string{"granted", "denied"}[i%2]))
	}
	out := h.must(200, "POST", "/gate/v1/events", tok, map[string]any{"events": batch})
	if len(out["acked"].([]any)) != 150 || countEvents(t, h.db, gate) != 150 {
		t.Fatalf("acked %d, stored %d", len(out["acked"].([]any)), countEvents(t, h.db, gate))
	}
	// The same batch again changes nothing and is acknowledged again.
	out = h.must(200, "POST", "/gate/v1/events", tok, map[string]any{"events": batch})
	if len(out["acked"].([]any)) != 150 || countEvents(t, h.db, gate) != 150 {
		t.Fatalf("resent batch: stored %d", countEvents(t, h.db, gate))
	}
	bad := []struct {
		name string
		edit func(e map[string]any)
	}{
		{"another gate", func(e map[string]any) { e["gate_id"] = otherGate }},
		{"no id", func(e map[string]any) { delete(e, "id") }},
		{"bad method", func(e map[string]any) { e["method"] = "telepathy" }},
		{"bad result", func(e map[string]any) { e["result"] = "maybe" }},
		{"bad subject", func(e map[string]any) { e["subject"] = "cat" }},
		{"long reason", func(e map[string]any) { e["reason"] = strings.Repeat("r", 65) }},
		{"no time", func(e map[string]any) { delete(e, "occurred_at") }},
	}
	for _, b := range bad {
		good, e := gateEvent(gate, "granted"), gateEvent(gate, "granted")
		b.edit(e)
		if got, body := h.do("POST", "/gate/v1/events", tok, map[string]any{"events": []any{good, e}}); got != 422 {
			t.Fatalf("%s: %d %v", b.name, got, body)
		}
	}
	tooMany := make([]any, 1001)
	for i := range tooMany {
		tooMany[i] = map[string]any{}
	}
	h.must(422, "POST", "/gate/v1/events", tok, map[string]any{"events": tooMany})
	h.must(400, "POST", "/gate/v1/events", tok, `{"events": [}`)
	h.must(401, "POST", "/gate/v1/events", "", map[string]any{"events": []any{}})
	if n := countEvents(t, h.db, gate) + countEvents(t, h.db, otherGate); n != 150 {
		t.Fatalf("bad batches stored events: %d", n)
	}
}

func TestGateHeartbeatShowsInGateList(t *testing.T) {
	h := newHarness(t)
	f := h.community()
	gate, tok := h.enrolledGate(f)
	h.must(422, "POST", "/gate/v1/heartbeat", tok, map[string]any{"agent_version": "2.0", "queue_depth": -1, "clock_offset_ms": 0})
	h.must(422, "POST", "/gate/v1/heartbeat", tok, map[string]any{"agent_version": "2.0", "queue_depth": 1})
	h.must(200, "POST", "/gate/v1/heartbeat", tok, map[string]any{"agent_version": "2.0", "queue_depth": 7, "clock_offset_ms": -600000})
	for _, g := range h.must(200, "GET", "/admin/v1/communities/"+f.id+"/gates", f.guard, nil)["gates"].([]any) {
		g := g.(map[string]any)
		if g["id"] == gate && (g["agent_version"] != "2.0" || g["queue_depth"] != 7.0 || g["clock_offset_ms"] != -600000.0 || g["last_seen_at"] == nil) {
			t.Fatalf("gate list %v", g)
		}
	}
}

func TestEntryLogFiltersPagesExportsAndAnomalies(t *testing.T) {
	h := newHarness(t)
	f, other := h.community(), h.community()
	g1, t1 := h.enrolledGate(f)
	g2, t2 := h.enrolledGate(f)
	og, ot := h.enrolledGate(other)
	cred := uuid.NewString()
	replay := base64.StdEncoding.EncodeToString(append([]byte{1}, make([]byte, 24)...))
	evs1 := []any{}
	for i := 0; i < 7; i++ {
		evs1 = append(evs1, gateEvent(g1, "granted"))
	}
	shared := gateEvent(g1, "granted")
	shared["credential_id"], shared["replay_key"] = cred, replay
	again := gateEvent(g2, "granted")
	again["credential_id"], again["replay_key"] = cred, replay
	h.must(200, "POST", "/gate/v1/events", t1, map[string]any{"events": append(evs1, shared)})
	h.must(200, "POST", "/gate/v1/events", t2, map[string]any{"events": []any{again, gateEvent(g2, "denied")}})
	h.must(200, "POST", "/gate/v1/events", ot, map[string]any{"events": []any{gateEvent(og, "granted")}})

	base := "/admin/v1/communities/" + f.id
	seen := map[string]bool{}
	path := base + "/events?limit=3"
	for pages := 0; path != ""; pages++ {
		page := h.must(200, "GET", path, f.guard, nil)
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
		return len(h.must(200, "GET", base+"/events?"+q, f.admin, nil)["events"].([]any))
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	for q, want := range map[string]int{"gate_id=" + g2: 2, "result=denied": 1, "credential_id=" + cred: 2, "from=" + future: 0, "to=" + future: 10} {
		if got := count(q); got != want {
			t.Fatalf("events?%s: %d, want %d", q, got, want)
		}
	}
	for _, q := range []string{"from=yesterday", "gate_id=nope", "result=maybe", "cursor=!!", "limit=0"} {
		h.must(422, "GET", base+"/events?"+q, f.admin, nil)
	}
	an := h.must(200, "GET", base+"/anomalies", f.guard, nil)["anomalies"].([]any)
	if len(an) != 1 || an[0].(map[string]any)["credential_id"] != cred || len(an[0].(map[string]any)["gate_ids"].([]any)) != 2 {
		t.Fatalf("anomalies %v", an)
	}
	// CSV export: every row, and an audit row saying who exported.
	resp := apitest.Do(t, "GET", h.base+base+"/events.csv?result=granted", f.guard, nil)
	lines := strings.Split(strings.TrimSpace(string(resp.Body)), "\n")
	if resp.Status != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") || len(lines) != 1+9 {
		t.Fatalf("csv %d %q: %d lines", resp.Status, resp.Header.Get("Content-Type"), len(lines))
	}
	var audited int
	if err := h.db.SQL().QueryRowContext(context.Background(), `SELECT count(*) FROM audit_log WHERE community_id = $1 AND action = 'events.export'`, f.id).Scan(&audited); err != nil || audited != 1 {
		t.Fatalf("export audit rows %d %v", audited, err)
	}
}

func TestUnlockBadInputChangesNothingAndIsAudited(t *testing.T) {
	h := newHarness(t)
	f, other := h.community(), h.community()
	gate, _ := h.enrolledGate(f)
	path := "/admin/v1/gates/" + gate + "/unlock"
	count := func(q string, args ...any) int {
		var n int
		if err := h.db.SQL().QueryRow(q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	commands := func() int { return count(`SELECT count(*) FROM gate_commands WHERE gate_id = $1`, gate) }
	bad := []struct {
		name, token, path string
		body              any
		want              int
	}{
		{"no reason", f.guard, path, map[string]any{}, 422},
		{"empty reason", f.guard, path, map[string]any{"reason": ""}, 422},
		{"long reason", f.guard, path, map[string]any{"reason": strings.Repeat("x", 201)}, 422},
		{"unknown field", f.guard, path, map[string]any{"reason": "x", "force": true}, 400},
		{"not JSON", f.guard, path, "reason=x", 400},
		{"bad gate id", f.guard, "/admin/v1/gates/nope/unlock", map[string]any{"reason": "x"}, 404},
		{"unknown gate", f.guard, "/admin/v1/gates/" + uuid.NewString() + "/unlock", map[string]any{"reason": "x"}, 404},
		{"guard of another community", other.guard, path, map[string]any{"reason": "x"}, 404},
		{"auditor", f.auditor, path, map[string]any{"reason": "x"}, 403},
		{"no token", "", path, map[string]any{"reason": "x"}, 401},
	}
	for _, b := range bad {
		if got, out := h.do("POST", b.path, b.token, b.body); got != b.want {
			t.Fatalf("%s: %d %v, want %d", b.name, got, out, b.want)
		}
	}
	for _, b := range []map[string]any{{"skew_seconds": -1}, {"stale_policy": "panic"}, {"pulse_ms": 999999}, {"nope": 1}} {
		if got, _ := h.do("PUT", "/admin/v1/gates/"+gate+"/settings", f.admin, b); got != 422 && got != 400 {
			t.Fatalf("settings %v: %d", b, got)
		}
	}
	if n := commands(); n != 0 {
		t.Fatalf("bad requests made %d commands", n)
	}
	audits := func() int {
		return count(`SELECT count(*) FROM audit_log WHERE action = 'gate.unlock' AND target = $1`, "gate:"+gate)
	}
	h.must(201, "POST", path, f.guard, map[string]any{"reason": "elderly resident, no card"})
	if commands() != 1 || audits() != 1 {
		t.Fatalf("unlock: %d commands, %d audit rows", commands(), audits())
	}
}

// A gate sees only its own community: another community's revocations never reach it.
func TestGateSeesOnlyItsCommunity(t *testing.T) {
	h := newHarness(t)
	f, other := h.community(), h.community()
	_, tok := h.enrolledGate(f)
	_, otherTok := h.enrolledGate(other)
	card := h.card(f, f.resident)
	h.must(200, "POST", "/admin/v1/residents/"+f.resident+"/cards/"+card+"/revoke", f.admin, nil)
	mine := h.must(200, "GET", "/gate/v1/sync?cursor=0", tok, nil)
	theirs := h.must(200, "GET", "/gate/v1/sync?cursor=0", otherTok, nil)
	if len(mine["revocations"].([]any)) != 1 || len(theirs["revocations"].([]any)) != 0 {
		t.Fatalf("revocations: mine %v, theirs %v", mine["revocations"], theirs["revocations"])
	}
	if mine["keys"].([]any)[0].(map[string]any)["kid"] == theirs["keys"].([]any)[0].(map[string]any)["kid"] {
		t.Fatal("two communities share a key")
	}
	if theirs["gate"].(map[string]any)["community_id"] != other.id {
		t.Fatalf("gate info %v", theirs["gate"])
	}
}

func TestEnrollmentIsRateLimited(t *testing.T) {
	h := newHarness(t)
	limited := 0
	for i := 0; i < enrollPerMinute+5; i++ {
		got, _ := h.do("POST", "/gate/v1/enroll", "", map[string]any{"code": "gpe_" + strings.Repeat("B", 64), "box_public_key": boxKey(), "agent_version": "1"})
		switch got {
		case http.StatusTooManyRequests:
			limited++
		case http.StatusUnauthorized:
		default:
			t.Fatalf("attempt %d: %d", i, got)
		}
	}
	if limited != 5 {
		t.Fatalf("%d attempts limited, want 5", limited)
	}
}

func TestGateFaceEndpointsRefuseBadInput(t *testing.T) {
	h := newHarness(t)
	f := h.community()
	_, tok := h.enrolledGate(f)
	h.must(http.StatusNotFound, "POST", "/gate/v1/face-purges/"+uuid.NewString()+"/ack", tok, nil)
	h.must(http.StatusNotFound, "POST", "/gate/v1/face-purges/nope/ack", tok, nil)
	h.must(http.StatusUnauthorized, "POST", "/gate/v1/face-purges/"+uuid.NewString()+"/ack", f.admin, nil)
	// Without a live one-gate consent for this gate, nothing is recorded.
	h.must(http.StatusConflict, "POST", "/gate/v1/face-enrolments", tok, map[string]any{"resident_id": f.resident, "model": "synthetic-512"})
	h.must(422, "POST", "/gate/v1/face-enrolments", tok, map[string]any{"resident_id": "x", "model": "synthetic-512"})
	h.must(400, "POST", "/gate/v1/face-enrolments", tok, map[string]any{"resident_id": f.resident, "model": "m", "template": []int{1}})
	var n int
	if err := h.db.SQL().QueryRow(`SELECT count(*) FROM face_templates WHERE community_id = $1`, f.id).Scan(&n); err != nil || n != 0 {
		t.Fatalf("face rows %d %v", n, err)
	}
	// Face fields are checked on events too.
	gate, tok2 := h.enrolledGate(f)
	e := gateEvent(gate, "granted")
	e["method"], e["score"] = "face", 3.5
	h.must(422, "POST", "/gate/v1/events", tok2, map[string]any{"events": []any{e}})
	e = gateEvent(gate, "granted")
	e["resident_id"] = f.resident // a QR event names no resident
	h.must(422, "POST", "/gate/v1/events", tok2, map[string]any{"events": []any{e}})
}
