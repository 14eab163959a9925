package gatesync_test

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/apitest"
	"gatepass/internal/dbtest"
	"gatepass/internal/gateapi"
	"gatepass/internal/store"
	"gatepass/server/internal/gatesync"
	"gatepass/server/internal/servertest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func TestGateEnrollment(t *testing.T) {
	h := servertest.New(t)
	f := h.Community()
	id, code := h.NewGateCode(f)
	bad := []struct {
		name string
		body any
		want int
	}{
		{"no body", nil, 400},
		{"unknown field", map[string]any{"code": code, "box_public_key": servertest.BoxKey(), "agent_version": "1", "x": 1}, 400},
		{"short box key", map[string]any{"code": code, "box_public_key": "AAAA", "agent_version": "1"}, 422},
		{"no version", map[string]any{"code": code, "box_public_key": servertest.BoxKey()}, 422},
		{"wrong code", map[string]any{"code": "gpe_" + strings.Repeat("A", 64), "box_public_key": servertest.BoxKey(), "agent_version": "1"}, 401},
		{"staff token as code", map[string]any{"code": f.Admin, "box_public_key": servertest.BoxKey(), "agent_version": "1"}, 401},
	}
	for _, b := range bad {
		if got, out := h.Do("POST", "/gate/v1/enroll", "", b.body); got != b.want {
			t.Fatalf("%s: %d %v, want %d", b.name, got, out, b.want)
		}
	}
	resp := apitest.Do(t, "POST", h.Base+"/gate/v1/enroll", "", map[string]any{"code": code, "box_public_key": servertest.BoxKey(), "agent_version": "1.0"})
	if resp.Status != http.StatusCreated || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("enroll: %d, Cache-Control %q; want 201, no-store (the answer holds the gate token)", resp.Status, resp.Header.Get("Cache-Control"))
	}
	out := resp.JSON(t)
	gate := out["gate"].(map[string]any)
	if gate["gate_id"] != id || gate["community_id"] != f.ID || gate["direction"] != "in" || !strings.HasPrefix(out["gate_token"].(string), "gpg_") {
		t.Fatalf("enroll answer %v", out)
	}
	if gate["settings"].(map[string]any)["skew_seconds"] != 30.0 {
		t.Fatalf("settings without defaults: %v", gate["settings"])
	}
	// One-time: the code is spent.
	h.Must(http.StatusUnauthorized, "POST", "/gate/v1/enroll", "", map[string]any{"code": code, "box_public_key": servertest.BoxKey(), "agent_version": "1.0"})
	tok := out["gate_token"].(string)
	h.Must(200, "GET", "/gate/v1/sync", tok, nil)
	// Staff tokens and garbage are not gate tokens.
	for _, bad := range []string{"", f.Admin, "gpg_xyz", tok + "x"} {
		h.Must(http.StatusUnauthorized, "GET", "/gate/v1/sync", bad, nil)
	}
	// A disabled gate's token fails at once.
	h.Must(200, "POST", "/admin/v1/gates/"+id+"/disable", f.Admin, nil)
	h.Must(http.StatusUnauthorized, "GET", "/gate/v1/sync", tok, nil)
	h.Must(http.StatusConflict, "POST", "/admin/v1/gates/"+id+"/unlock", f.Guard, map[string]any{"reason": "x"})
}

func TestGateSyncSnapshotDeltaAndLongPoll(t *testing.T) {
	h := servertest.New(t)
	f, other := h.Community(), h.Community()
	gateID, tok := h.EnrolledGate(f)
	// Printed before the snapshot: a new credential is a change too (its holder).
	card, otherCard := h.Card(f, f.Resident), h.Card(other, other.Resident)
	snap := h.Must(200, "GET", "/gate/v1/sync?cursor=0", tok, nil)
	if snap["full"] != true || len(snap["keys"].([]any)) != 1 || len(snap["revocations"].([]any)) != 0 || snap["server_time"] == nil {
		t.Fatalf("snapshot %v", snap)
	}
	cursor := int64(snap["cursor"].(float64))
	// Nothing new: a delta with wait=0 answers at once, unchanged.
	d := h.Must(200, "GET", fmt.Sprintf("/gate/v1/sync?cursor=%d", cursor), tok, nil)
	if d["full"] != false || int64(d["cursor"].(float64)) != cursor {
		t.Fatalf("empty delta %v", d)
	}
	// A long poll wakes on a revocation in this community, not on another community's.
	type result struct {
		body    map[string]any
		elapsed time.Duration
	}
	done := make(chan result, 1)
	go func() {
		start := time.Now()
		_, body := h.Do("GET", fmt.Sprintf("/gate/v1/sync?cursor=%d&wait=10s", cursor), tok, nil)
		done <- result{body, time.Since(start)}
	}()
	time.Sleep(300 * time.Millisecond)
	h.Must(200, "POST", "/admin/v1/residents/"+other.Resident+"/cards/"+otherCard+"/revoke", other.Admin, nil)
	time.Sleep(300 * time.Millisecond)
	h.Must(200, "POST", "/admin/v1/residents/"+f.Resident+"/cards/"+card+"/revoke", f.Guard, nil)
	r := <-done
	revs := r.body["revocations"].([]any)
	if len(revs) != 1 || revs[0].(map[string]any)["credential_id"] != card || r.elapsed > 3*time.Second || r.elapsed < 500*time.Millisecond {
		t.Fatalf("long poll after %v: %v", r.elapsed, r.body)
	}
	cursor = int64(r.body["cursor"].(float64))
	// A manual release reaches this gate's long poll, and only this gate's.
	_, otherTok := h.EnrolledGate(f)
	go func() {
		start := time.Now()
		_, body := h.Do("GET", fmt.Sprintf("/gate/v1/sync?cursor=%d&wait=10s", cursor), tok, nil)
		done <- result{body, time.Since(start)}
	}()
	time.Sleep(200 * time.Millisecond)
	rel := h.Must(201, "POST", "/admin/v1/gates/"+gateID+"/unlock", f.Guard, map[string]any{"reason": "forgot phone"})
	r = <-done
	cmds := r.body["commands"].([]any)
	if len(cmds) != 1 || cmds[0].(map[string]any)["id"] != rel["command_id"] || cmds[0].(map[string]any)["reason"] != "forgot phone" || r.elapsed > 2*time.Second {
		t.Fatalf("release after %v: %v", r.elapsed, r.body)
	}
	if o := h.Must(200, "GET", "/gate/v1/sync?cursor=0", otherTok, nil); len(o["commands"].([]any)) != 0 {
		t.Fatalf("another gate sees the release: %v", o["commands"])
	}
	// The ack removes it from the pending list; a second ack is harmless.
	cmdPath := "/gate/v1/commands/" + rel["command_id"].(string) + "/ack"
	h.Must(200, "POST", cmdPath, tok, map[string]any{"result": "executed"})
	h.Must(200, "POST", cmdPath, tok, map[string]any{"result": "duplicate"})
	h.Must(http.StatusNotFound, "POST", cmdPath, otherTok, map[string]any{"result": "executed"})
	h.Must(422, "POST", cmdPath, tok, map[string]any{"result": "maybe"})
	if s := h.Must(200, "GET", "/gate/v1/sync?cursor=0", tok, nil); len(s["commands"].([]any)) != 0 || len(s["revocations"].([]any)) != 1 {
		t.Fatalf("after ack: %v", s)
	}
	var acked sql.NullString
	if dbtest.Get(t, h.DB.SQL(), &acked, dbtest.GateCommands, "result", dbtest.Eq("id", rel["command_id"])); acked.String != "executed" {
		t.Fatalf("command result %q", acked.String)
	}
	// Bad sync parameters.
	for _, q := range []string{"cursor=-1", "cursor=x", "wait=31s", "wait=forever"} {
		h.Must(422, "GET", "/gate/v1/sync?"+q, tok, nil)
	}
	// A cursor past the end (a restored database) gets a snapshot.
	if s := h.Must(200, "GET", "/gate/v1/sync?cursor=999999999", tok, nil); s["full"] != true {
		t.Fatalf("cursor past end: %v", s["full"])
	}
}

// Pruning the change log loses nothing a gate needs: a gate whose cursor is older than
// what was kept gets a full snapshot with every live revocation; a current cursor
// continues as a delta; another community's log is untouched by this one's rows.
func TestGateSyncAfterChangeLogPruned(t *testing.T) {
	h := servertest.New(t)
	f, other := h.Community(), h.Community()
	_, tok := h.EnrolledGate(f)
	_, otherTok := h.EnrolledGate(other)
	revoke := func(f servertest.Fixture) {
		h.Must(200, "POST", "/admin/v1/residents/"+f.Resident+"/cards/"+h.Card(f, f.Resident)+"/revoke", f.Guard, nil)
	}
	cursorOf := func(tok string) int64 {
		return int64(h.Must(200, "GET", "/gate/v1/sync?cursor=0", tok, nil)["cursor"].(float64))
	}
	revoke(f)
	stale := cursorOf(tok) // a gate that synced here, then went offline
	revoke(f)
	revoke(f)
	otherCursor := cursorOf(otherTok)
	current := cursorOf(tok)
	dbtest.Age(t, h.DB.SQL(), dbtest.ChangeLog, "created_at", 40*24*time.Hour)
	n, err := h.DB.PruneChanges(context.Background(), time.Now().Add(-30*24*time.Hour))
	if err != nil || n == 0 {
		t.Fatalf("prune: %d rows, %v", n, err)
	}
	if kept := dbtest.Count(t, h.DB.SQL(), dbtest.ChangeLog, dbtest.Eq("community_id", f.ID)); kept != 1 {
		t.Fatalf("rows kept for the community: %d, want its newest", kept)
	}
	if s := h.Must(200, "GET", fmt.Sprintf("/gate/v1/sync?cursor=%d", stale), tok, nil); s["full"] != true || len(s["revocations"].([]any)) != 3 {
		t.Fatalf("stale cursor after prune: full %v, %d revocations", s["full"], len(s["revocations"].([]any)))
	}
	for _, c := range []struct {
		tok    string
		cursor int64
	}{{tok, current}, {otherTok, otherCursor}} {
		if s := h.Must(200, "GET", fmt.Sprintf("/gate/v1/sync?cursor=%d", c.cursor), c.tok, nil); s["full"] != false || int64(s["cursor"].(float64)) != c.cursor {
			t.Fatalf("current cursor %d after prune: %v", c.cursor, s)
		}
	}
	// New changes after the prune arrive as a delta.
	revoke(f)
	if s := h.Must(200, "GET", fmt.Sprintf("/gate/v1/sync?cursor=%d", current), tok, nil); s["full"] != false || len(s["revocations"].([]any)) != 1 {
		t.Fatalf("delta after prune: %v", s)
	}
}

func countEvents(t *testing.T, db *store.DB, gate string) int {
	t.Helper()
	return dbtest.Count(t, db.SQL(), dbtest.EntryEvents, dbtest.Eq("gate_id", gate))
}

func TestGateEventsIdempotentAndValidated(t *testing.T) {
	h := servertest.New(t)
	f := h.Community()
	gate, tok := h.EnrolledGate(f)
	otherGate, _ := h.EnrolledGate(f)
	batch := []any{}
	// 150 events fit the 64 KiB body limit; the agent sizes its batches by bytes too.
	for i := 0; i < 150; i++ {
		batch = append(batch, servertest.GateEvent(gate, []string{"granted", "denied"}[i%2]))
	}
	out := h.Must(200, "POST", "/gate/v1/events", tok, map[string]any{"events": batch})
	if len(out["acked"].([]any)) != 150 || countEvents(t, h.DB, gate) != 150 {
		t.Fatalf("acked %d, stored %d", len(out["acked"].([]any)), countEvents(t, h.DB, gate))
	}
	// The same batch again changes nothing and is acknowledged again.
	out = h.Must(200, "POST", "/gate/v1/events", tok, map[string]any{"events": batch})
	if len(out["acked"].([]any)) != 150 || countEvents(t, h.DB, gate) != 150 {
		t.Fatalf("resent batch: stored %d", countEvents(t, h.DB, gate))
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
		good, e := servertest.GateEvent(gate, "granted"), servertest.GateEvent(gate, "granted")
		b.edit(e)
		if got, body := h.Do("POST", "/gate/v1/events", tok, map[string]any{"events": []any{good, e}}); got != 422 {
			t.Fatalf("%s: %d %v", b.name, got, body)
		}
	}
	tooMany := make([]any, 1001)
	for i := range tooMany {
		tooMany[i] = map[string]any{}
	}
	h.Must(422, "POST", "/gate/v1/events", tok, map[string]any{"events": tooMany})
	h.Must(400, "POST", "/gate/v1/events", tok, `{"events": [}`)
	h.Must(401, "POST", "/gate/v1/events", "", map[string]any{"events": []any{}})
	if n := countEvents(t, h.DB, gate) + countEvents(t, h.DB, otherGate); n != 150 {
		t.Fatalf("bad batches stored events: %d", n)
	}
}

func TestGateHeartbeatShowsInGateList(t *testing.T) {
	h := servertest.New(t)
	f := h.Community()
	gate, tok := h.EnrolledGate(f)
	h.Must(422, "POST", "/gate/v1/heartbeat", tok, map[string]any{"agent_version": "2.0", "queue_depth": -1, "clock_offset_ms": 0})
	h.Must(422, "POST", "/gate/v1/heartbeat", tok, map[string]any{"agent_version": "2.0", "queue_depth": 1})
	// A gate that cannot store its decisions says so (issue 12 item 5).
	h.Must(422, "POST", "/gate/v1/heartbeat", tok, map[string]any{"agent_version": "2.0", "queue_depth": 1, "clock_offset_ms": 0, "store_failures": -1})
	h.Must(422, "POST", "/gate/v1/heartbeat", tok, map[string]any{"agent_version": "2.0", "queue_depth": 1, "clock_offset_ms": 0,
		"storage_error": strings.Repeat("x", 501)})
	h.Must(200, "POST", "/gate/v1/heartbeat", tok, map[string]any{"agent_version": "2.0", "queue_depth": 1, "clock_offset_ms": 0,
		"store_failures": 3, "storage_error": "write agent.db: no space left on device"})
	h.Must(200, "POST", "/gate/v1/heartbeat", tok, map[string]any{"agent_version": "2.0", "queue_depth": 7, "clock_offset_ms": -600000})
	for _, g := range h.Must(200, "GET", "/admin/v1/communities/"+f.ID+"/gates", f.Guard, nil)["gates"].([]any) {
		g := g.(map[string]any)
		if g["id"] == gate && (g["agent_version"] != "2.0" || g["queue_depth"] != 7.0 || g["clock_offset_ms"] != -600000.0 || g["last_seen_at"] == nil) {
			t.Fatalf("gate list %v", g)
		}
	}
}

// A gate sees only its own community: another community's revocations never reach it.
func TestGateSeesOnlyItsCommunity(t *testing.T) {
	h := servertest.New(t)
	f, other := h.Community(), h.Community()
	_, tok := h.EnrolledGate(f)
	_, otherTok := h.EnrolledGate(other)
	card := h.Card(f, f.Resident)
	h.Must(200, "POST", "/admin/v1/residents/"+f.Resident+"/cards/"+card+"/revoke", f.Admin, nil)
	mine := h.Must(200, "GET", "/gate/v1/sync?cursor=0", tok, nil)
	theirs := h.Must(200, "GET", "/gate/v1/sync?cursor=0", otherTok, nil)
	if len(mine["revocations"].([]any)) != 1 || len(theirs["revocations"].([]any)) != 0 {
		t.Fatalf("revocations: mine %v, theirs %v", mine["revocations"], theirs["revocations"])
	}
	if mine["keys"].([]any)[0].(map[string]any)["kid"] == theirs["keys"].([]any)[0].(map[string]any)["kid"] {
		t.Fatal("two communities share a key")
	}
	if theirs["gate"].(map[string]any)["community_id"] != other.ID {
		t.Fatalf("gate info %v", theirs["gate"])
	}
}

func TestEnrollmentIsRateLimited(t *testing.T) {
	h := servertest.New(t)
	limited := 0
	for i := 0; i < gatesync.EnrollPerMinute+5; i++ {
		got, _ := h.Do("POST", "/gate/v1/enroll", "", map[string]any{"code": "gpe_" + strings.Repeat("B", 64), "box_public_key": servertest.BoxKey(), "agent_version": "1"})
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
	h := servertest.New(t)
	f := h.Community()
	_, tok := h.EnrolledGate(f)
	h.Must(http.StatusNotFound, "POST", "/gate/v1/face-purges/"+uuid.NewString()+"/ack", tok, nil)
	h.Must(http.StatusNotFound, "POST", "/gate/v1/face-purges/nope/ack", tok, nil)
	h.Must(http.StatusUnauthorized, "POST", "/gate/v1/face-purges/"+uuid.NewString()+"/ack", f.Admin, nil)
	// Without a live one-gate consent for this gate, nothing is recorded.
	h.Must(http.StatusConflict, "POST", "/gate/v1/face-enrolments", tok, map[string]any{"resident_id": f.Resident, "model": "synthetic-512"})
	h.Must(422, "POST", "/gate/v1/face-enrolments", tok, map[string]any{"resident_id": "x", "model": "synthetic-512"})
	h.Must(400, "POST", "/gate/v1/face-enrolments", tok, map[string]any{"resident_id": f.Resident, "model": "m", "template": []int{1}})
	if n := dbtest.Count(t, h.DB.SQL(), dbtest.FaceTemplates, dbtest.Eq("community_id", f.ID)); n != 0 {
		t.Fatalf("face rows %d", n)
	}
	// Face fields are checked on events too.
	gate, tok2 := h.EnrolledGate(f)
	e := servertest.GateEvent(gate, "granted")
	e["method"], e["score"] = "face", 3.5
	h.Must(422, "POST", "/gate/v1/events", tok2, map[string]any{"events": []any{e}})
	e = servertest.GateEvent(gate, "granted")
	e["resident_id"] = f.Resident // a QR event names no resident
	h.Must(422, "POST", "/gate/v1/events", tok2, map[string]any{"events": []any{e}})
}

// A held sync asked with keepalive=1 sends its 200 at once and a newline every
// gateapi.KeepaliveEvery until the answer, which JSON still reads (not compressed, though
// the gate's client asks for gzip); a change in the meantime ends it as without keepalive.
func TestHeldSyncSendsKeepalives(t *testing.T) {
	h := servertest.New(t)
	f := h.Community()
	_, tok := h.EnrolledGate(f)
	cursor := int64(h.Must(200, "GET", "/gate/v1/sync?cursor=0", tok, nil)["cursor"].(float64))
	h.Must(422, "GET", "/gate/v1/sync?keepalive=yes", tok, nil)

	get := func(wait string) (*http.Response, time.Time) {
		t.Helper()
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/gate/v1/sync?cursor=%d&wait=%s&keepalive=1", h.Base, cursor, wait), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp, start
	}

	// Nothing changes: keepalives, then the unchanged sync when the wait runs out.
	resp, start := get("3s")
	// Held answers are not compressed: a compressed stream costs the server a gzip writer
	// and a goroutine per held gate for the whole hold (1.2 GB at 1,000 gates).
	if held := time.Since(start); resp.StatusCode != 200 || held > time.Second || resp.Uncompressed || resp.Header.Get("Content-Encoding") != "" {
		t.Fatalf("held sync: %d after %v (gzip %v %q), want 200 at once, not compressed", resp.StatusCode, held, resp.Uncompressed, resp.Header.Get("Content-Encoding"))
	}
	br := bufio.NewReader(resp.Body)
	var newlines []time.Duration
	for {
		b, err := br.ReadByte()
		if err != nil {
			t.Fatal(err)
		}
		if b != '\n' {
			_ = br.UnreadByte()
			break
		}
		newlines = append(newlines, time.Since(start))
	}
	var s gateapi.Sync
	if err := json.NewDecoder(br).Decode(&s); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(newlines) < 3 || newlines[0] > time.Second || s.Cursor != cursor || s.Full || s.Gate.Community.String() != f.ID {
		t.Fatalf("keepalives at %v, then %+v", newlines, s)
	}
	for i := 1; i < len(newlines); i++ {
		if gap := newlines[i] - newlines[i-1]; gap > 2*gateapi.KeepaliveEvery {
			t.Fatalf("keepalives at %v: a gap of %v", newlines, gap)
		}
	}

	// A revocation during the hold ends it with the change. The card is made first: its
	// creation is a change too (the gate learns its holder).
	card := h.Card(f, f.Resident)
	cursor = int64(h.Must(200, "GET", fmt.Sprintf("/gate/v1/sync?cursor=%d", cursor), tok, nil)["cursor"].(float64))
	resp, start = get("10s")
	time.Sleep(300 * time.Millisecond)
	h.Must(200, "POST", "/admin/v1/residents/"+f.Resident+"/cards/"+card+"/revoke", f.Guard, nil)
	s = gateapi.Sync{}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(s.Revocations) != 1 || s.Revocations[0].Credential.String() != card || time.Since(start) > 3*time.Second {
		t.Fatalf("after %v: %+v", time.Since(start), s)
	}
}
