package agent

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/gate"
	"gatepass/internal/gateapi"
)

func TestLocalDBQueueAndPrune(t *testing.T) {
	st, err := OpenLocalDB(filepath.Join(t.TempDir(), "agent.db"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	var ids []uuid.UUID
	for i := 0; i < 50; i++ {
		ev := gateapi.Event{ID: uuid.Must(uuid.NewV7()), OccurredAt: now, Method: "qr", Result: "denied", Reason: strings.Repeat("r", 60)}
		if err := st.Commit(ev, gate.Decision{}, time.Time{}, nil); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.ID)
	}
	batch, got, err := st.Pending(1000, 2000)
	if err != nil || len(batch) == 0 || len(batch) >= 50 || got[0] != ids[0] {
		t.Fatalf("pending by bytes: %d %v", len(batch), err)
	}
	if err := st.Delete(got); err != nil || st.QueueDepth() != 50-len(got) {
		t.Fatalf("after delete: %d %v", st.QueueDepth(), err)
	}
	sync := &gateapi.Sync{Full: true, Cursor: 9, ServerTime: now, Revocations: []gateapi.Revocation{
		{Credential: uuid.New(), ForgetAfter: now.Add(-time.Minute)}, {Credential: uuid.New(), ForgetAfter: now.Add(time.Hour)}}}
	if err := st.ApplySync(sync, now, nil, false); err != nil {
		t.Fatal(err)
	}
	if err := st.Prune(now, now); err != nil || st.RevocationCount() != 1 {
		t.Fatalf("revocations after prune: %d %v", st.RevocationCount(), err)
	}
	if c, _ := st.Cursor(); c != 9 {
		t.Fatalf("cursor %d", c)
	}
}

func TestLocalDBRejectSetsAside(t *testing.T) {
	st, err := OpenLocalDB(filepath.Join(t.TempDir(), "agent.db"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ev := gateapi.Event{ID: uuid.Must(uuid.NewV7()), Method: "qr", Result: "denied", Reason: "x"}
	if err := st.Commit(ev, gate.Decision{}, time.Time{}, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.Reject(ev.ID); err != nil || st.QueueDepth() != 0 {
		t.Fatalf("after reject: depth %d %v", st.QueueDepth(), err)
	}
}

// Issue 11, item 1: revocations are forgotten by the server's time only. A gate clock a
// day ahead (at start, at a sync, at housekeeping) forgets nothing; the server's time
// does. Before the fix, LoadState and Prune went by the gate's clock.
func TestRevocationsForgottenByServerTimeOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.db")
	st, err := OpenLocalDB(path, false)
	if err != nil {
		t.Fatal(err)
	}
	server := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	wrong := server.Add(25 * time.Hour) // the gate's clock
	card := uuid.New()
	sync := &gateapi.Sync{Full: true, Cursor: 3, ServerTime: server, Gate: gateapi.Gate{ID: uuid.New(), Community: uuid.New()},
		Revocations: []gateapi.Revocation{{Credential: card, ForgetAfter: server.Add(24 * time.Hour)}},
		Holders:     []gateapi.Holder{{Credential: card, Holder: uuid.New()}}}
	if err := st.ApplySync(sync, wrong, nil, false); err != nil {
		t.Fatal(err)
	}
	state, err := st.LoadStateFrom(sync, nil, wrong)
	if err != nil || len(state.Revoked) != 1 {
		t.Fatalf("state from a sync read on a wrong clock: %v %v", state.Revoked, err)
	}
	if state = state.Forgetting(gate.ServerClock{Server: server}.Now(wrong)); len(state.Revoked) != 1 {
		t.Fatal("in-memory state forgot by the gate's clock")
	}
	if err := st.Prune(wrong, time.Time{}); err != nil || st.RevocationCount() != 1 {
		t.Fatalf("prune without a server time: %d %v", st.RevocationCount(), err)
	}
	if err := st.Prune(wrong, server.Add(time.Hour)); err != nil || st.RevocationCount() != 1 {
		t.Fatalf("prune by a wrong gate clock: %d %v", st.RevocationCount(), err)
	}
	st.Close()
	// Restarted (with whatever clock): the revocation is loaded, the last server time kept.
	if st, err = OpenLocalDB(path, false); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if state, err = st.LoadState(sync.Gate); err != nil || state.Revoked[card] == 0 {
		t.Fatalf("after restart: %v %v", state.Revoked, err)
	}
	if _, srv, _, err := st.LastSync(); err != nil || !srv.Equal(server) {
		t.Fatalf("server time kept %v %v", srv, err)
	}
	// The server's word: its time past forget_after.
	if err := st.Prune(wrong, server.Add(24*time.Hour)); err != nil || st.RevocationCount() != 0 {
		t.Fatalf("prune by the server's time: %d %v", st.RevocationCount(), err)
	}
	// The holder of a credential whose revocation is forgotten goes with it.
	if state, err = st.LoadState(sync.Gate); err != nil || len(state.Holders) != 0 {
		t.Fatalf("holders after the revocation was forgotten: %v %v", state.Holders, err)
	}
}

// A clock jump, measured against the server's time, makes the next sync a full snapshot
// (cursor 0) until one arrives; the offset is kept across restarts so that a clock changed
// while the agent was stopped is seen too.
func TestClockJumpForcesFullSnapshot(t *testing.T) {
	st, err := OpenLocalDB(filepath.Join(t.TempDir(), "agent.db"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	off := 3 * time.Second
	if err := st.ApplySync(&gateapi.Sync{Full: true, Cursor: 7, ServerTime: now}, now, &off, false); err != nil {
		t.Fatal(err)
	}
	if c, _, o, err := st.LastSync(); c != 7 || o == nil || *o != off || err != nil {
		t.Fatalf("after a full sync: cursor %d offset %v %v", c, o, err)
	}
	if err := st.ApplySync(&gateapi.Sync{Cursor: 8, ServerTime: now}, now, nil, true); err != nil {
		t.Fatal(err)
	}
	if c, _, o, _ := st.LastSync(); c != 0 || o == nil || *o != off {
		t.Fatalf("after a jump: cursor %d (want 0: full), offset %v kept", c, o)
	}
	if err := st.ApplySync(&gateapi.Sync{Cursor: 9, ServerTime: now}, now, nil, false); err != nil {
		t.Fatal(err)
	}
	if c, _, _, _ := st.LastSync(); c != 0 {
		t.Fatalf("a delta cleared the pending full snapshot: cursor %d", c)
	}
	if err := st.ApplySync(&gateapi.Sync{Full: true, Cursor: 10, ServerTime: now}, now, nil, false); err != nil {
		t.Fatal(err)
	}
	if c, _, _, _ := st.LastSync(); c != 10 {
		t.Fatalf("after the snapshot: cursor %d", c)
	}
	if err := st.NeedFull(); err != nil {
		t.Fatal(err)
	}
	if c, _, _, _ := st.LastSync(); c != 0 {
		t.Fatalf("NeedFull: cursor %d", c)
	}
}

// Issue 11, item 8: settings of 0 reach the decision as 0 (skew 0: the exact window; no
// card interval; no passback), unset ones as the defaults.
func TestPolicyHonoursZeroSettings(t *testing.T) {
	var g gateapi.Gate
	if err := json.Unmarshal([]byte(`{"settings": {"skew_seconds": 0, "card_min_interval_seconds": 0, "passback_seconds": 0}}`), &g); err != nil {
		t.Fatal(err)
	}
	p := policy(g, nil)
	if p.Skew != 0 || p.CardMinInterval != 0 || p.Passback != 0 || p.StaleAfter != time.Hour {
		t.Fatalf("policy %+v", p)
	}
	if p = policy(gateapi.Gate{}, nil); p.Skew != 30*time.Second || p.Passback != 5*time.Minute || p.CardMinInterval != 5*time.Second {
		t.Fatalf("defaults %+v", p)
	}
}
