package gatefault

import (
	"gatepass/internal/dbtest"
	"syscall"
	"testing"
	"time"
)

// Issue 12 item 1: an event says offline exactly when the gate was out of touch with
// the server (docs/gate-agent.md, "Online and offline"), whatever the long poll is
// doing. Before the keepalive, online turned true only when a sync returned: after a
// restart every event for the long poll's 25 s was flagged offline, and during a hung
// server the gate stayed online until its request timed out.
func TestOfflineFlagFollowsContact(t *testing.T) {
	e := newEnv(t)
	g := e.newGate("--wait", "25s") // the production long poll: a quiet gate's sync is held 25 s
	g.start()
	g.waitOnline(true) // the first start syncs a snapshot, answered at once
	type scanned struct {
		step    string
		id      string
		offline bool // what the event must say
	}
	var scans []scanned
	scan := func(step string, offline bool) {
		t.Helper()
		o := g.scan(e.token(1))
		if o.Result != "granted" {
			t.Fatalf("%s: %+v", step, o)
		}
		scans = append(scans, scanned{step, o.EventID, offline})
	}

	// A restart: the agent's long poll has nothing to answer for 25 s, yet the server
	// has answered it.
	g.kill()
	g.start()
	d, ok := g.onlineWithin(true, 5*time.Second)
	t.Logf("online %v after the agent's restart", d)
	if !ok || d > 2*time.Second {
		t.Errorf("after a restart the agent said online after %v (ok %v), want within 2 s", d, ok)
	}
	scan("after restart", false)

	// A hung server (SIGSTOP): it keeps the connection open and answers nothing. (The
	// gate is online first, however long that took, so that this step tests the hang.)
	if _, ok := g.onlineWithin(true, 30*time.Second); !ok {
		t.Fatal("the agent never came online")
	}
	if err := e.server.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	server := e.server.Process
	t.Cleanup(func() { _ = server.Signal(syscall.SIGCONT) })
	d, ok = g.onlineWithin(false, 10*time.Second)
	t.Logf("offline %v after the server hung", d)
	if !ok || d > 5*time.Second {
		t.Errorf("with the server hung the agent said offline after %v (ok %v), want within 5 s", d, ok)
	}
	scan("server hung", true)
	if err := e.server.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	d, ok = g.onlineWithin(true, 10*time.Second)
	t.Logf("online %v after the server resumed", d)
	if !ok || d > 3*time.Second {
		t.Errorf("after the server resumed the agent said online after %v (ok %v), want within 3 s", d, ok)
	}
	scan("server resumed", false)

	// A server that died and came back (the agent retries every 500 ms at most here).
	e.killServer()
	g.waitOnline(false)
	e.startServer()
	d, ok = g.onlineWithin(true, 10*time.Second)
	t.Logf("online %v after the server came back", d)
	if !ok || d > 3*time.Second {
		t.Errorf("after the server came back the agent said online after %v (ok %v), want within 3 s", d, ok)
	}
	scan("server back", false)

	waitFor(t, 20*time.Second, "every event uploaded", func() bool { rows, _ := e.serverEvents(g.id); return rows >= len(scans) })
	for _, s := range scans {
		var offline bool
		dbtest.Get(t, e.db.SQL(), &offline, dbtest.EntryEvents, "offline", dbtest.Eq("id", s.id)) // fails if the event is missing
		if offline != s.offline {
			t.Errorf("%s: event flagged offline=%v, want %v", s.step, offline, s.offline)
		}
	}
}

// onlineWithin waits up to limit for the agent's local status to say online=want; it
// returns how long that took and whether it happened.
func (g *gateAgent) onlineWithin(want bool, limit time.Duration) (time.Duration, bool) {
	start := time.Now()
	for time.Since(start) < limit {
		if g.localStatus()["online"] == want {
			return time.Since(start), true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start), false
}
