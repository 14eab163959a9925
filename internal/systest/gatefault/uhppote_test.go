package gatefault

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gatepass/internal/agent/uhppotefake"
	"gatepass/internal/dbtest"

	"github.com/google/uuid"
)

const uhppoteSerial = 405419896

// uhppoteGate is a gate whose door is door 1 of a fake UHPPOTE controller (a UDP
// responder in this process that decodes each request with uhppote-core's codecs),
// which sends its events to the agent's listener.
func (e *env) uhppoteGate(extra ...string) (*gateAgent, *uhppotefake.Controller, string) {
	e.t.Helper()
	c, err := uhppotefake.Start(uhppoteSerial)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(c.Close)
	ln, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		e.t.Fatal(err)
	}
	listen := ln.LocalAddr().String()
	ln.Close()
	// A later --door replaces the harness's command door.
	g := e.newGate(append([]string{"--door", "uhppote:" + strconv.Itoa(uhppoteSerial) + "@" + c.Addr() + "/1",
		"--door-events", listen, "--door-timeout", "200ms"}, extra...)...)
	return g, c, listen
}

// doorRows counts the gate's door events on the server by reason, with the distinct ids.
func (e *env) doorRows(gate string) (byReason map[string]int, rows, distinct int) {
	e.t.Helper()
	byReason = map[string]int{}
	door := []dbtest.Cond{dbtest.Eq("gate_id", gate), dbtest.Eq("method", "door")}
	var reasons []string
	dbtest.List(e.t, e.db.SQL(), &reasons, dbtest.EntryEvents, "reason", door...)
	for _, reason := range reasons {
		if _, seen := byReason[reason]; !seen {
			of := append(slices.Clone(door), dbtest.Eq("reason", reason))
			n, d := dbtest.Count(e.t, e.db.SQL(), dbtest.EntryEvents, of...), dbtest.Distinct(e.t, e.db.SQL(), dbtest.EntryEvents, "id", of...)
			byReason[reason], rows, distinct = n, rows+n, distinct+d
		}
	}
	return byReason, rows, distinct
}

// Issue 19: the real processes with the UHPPOTE driver in place of the log door. A
// granted code and a staff release open door 1 through the controller; a refused code
// does not; the controller's forced-open, held-open and exit-button events reach the
// server's entry log as door events exactly once, across a SIGKILL of the agent after
// which the controller sends them again; the controller's clock drift is in status.
func TestUHPPOTEGate(t *testing.T) {
	e := newEnv(t)
	g, c, listen := e.uhppoteGate()
	c.SetClock(-2 * time.Minute)
	g.start()
	g.waitOnline(true)
	if o := g.scan(e.token(1)); o.Result != "granted" {
		t.Fatalf("scan: %+v", o)
	}
	waitFor(t, 5*time.Second, "the controller opens door 1", func() bool { return c.Opens(1) == 1 })
	if o := g.scan("GA1:garbage"); o.Result != "denied" {
		t.Fatalf("garbage: %+v", o)
	}
	e.must(201, "POST", "/admin/v1/gates/"+g.id+"/unlock", e.guard, map[string]any{"reason": "resident without phone"})
	waitFor(t, 5*time.Second, "the release opens door 1", func() bool { return c.Opens(1) == 2 })

	push := func(r uhppotefake.Record) uint32 {
		i := c.Append(r)
		if err := c.Push(listen, i); err != nil {
			t.Fatal(err)
		}
		return i
	}
	first := push(uhppotefake.Record{Type: uhppotefake.TypeWarning, Door: 1, Reason: uhppotefake.ReasonForced})
	push(uhppotefake.Record{Type: uhppotefake.TypeWarning, Door: 1, Reason: uhppotefake.ReasonTooLong})
	last := push(uhppotefake.Record{Type: uhppotefake.TypeDoor, Door: 1, Reason: uhppotefake.ReasonButton})
	waitFor(t, 10*time.Second, "three door events on the server", func() bool { _, rows, _ := e.doorRows(g.id); return rows == 3 })

	g.kill()
	c.Append(uhppotefake.Record{Type: uhppotefake.TypeWarning, Door: 1, Reason: uhppotefake.ReasonForced}) // while it is down
	g.start()
	for i := first; i <= last; i++ {
		if err := c.Push(listen, i); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "the forced opening logged while the agent was down", func() bool {
		_, rows, _ := e.doorRows(g.id)
		return rows == 4
	})
	g.waitDrained()
	time.Sleep(500 * time.Millisecond)
	byReason, rows, distinct := e.doorRows(g.id)
	if rows != 4 || distinct != 4 || byReason["door_forced_open"] != 2 || byReason["door_held_open"] != 1 || byReason["door_exit_button"] != 1 {
		t.Fatalf("door events on the server %v (%d rows, %d ids)", byReason, rows, distinct)
	}
	// Staff see the alarms in the entry log.
	alarms := e.must(200, "GET", "/admin/v1/communities/"+e.community+"/events?result=alarm&gate_id="+g.id, e.guard, nil)["events"].([]any)
	if len(alarms) != 3 {
		t.Fatalf("entry log alarms %v", alarms)
	}
	// The decisions: one grant, one denial, one release; no door failure.
	if decisions := dbtest.Count(t, e.db.SQL(), dbtest.EntryEvents, dbtest.Eq("gate_id", g.id), dbtest.Ne("method", "door")); decisions != 3 {
		t.Fatalf("%d decisions", decisions)
	}
	// The controller's clock, 2 minutes behind, is reported beside the gate's offset.
	waitFor(t, 5*time.Second, "door clock drift in status", func() bool {
		raw, err := os.ReadFile(filepath.Join(g.state, "status.json"))
		var s struct {
			Drift *int64 `json:"door_clock_drift_ms"`
		}
		return err == nil && json.Unmarshal(raw, &s) == nil && s.Drift != nil && *s.Drift < -118_000 && *s.Drift > -122_000
	})
}

// Issue 19's fault: a controller that never answers does not slow the next decision,
// and the server learns from a door event that the granted door did not open.
func TestSilentUHPPOTEControllerDoesNotSlowDecisions(t *testing.T) {
	e := newEnv(t)
	g, c, _ := e.uhppoteGate()
	c.SetMode(uhppotefake.Silent) // from the start: the agent warns and runs
	g.start()
	g.waitOnline(true)
	var slowest time.Duration
	for i := 0; i < 3; i++ {
		start := time.Now()
		if o := g.scan(e.token(1)); o.Result != "granted" {
			t.Fatalf("scan %d: %+v", i, o)
		}
		slowest = max(slowest, time.Since(start))
	}
	// Each opening waits 2 x 200 ms for the silent controller; a decision waits for none.
	if slowest > 300*time.Millisecond {
		t.Fatalf("slowest decision %v behind a silent controller", slowest)
	}
	waitFor(t, 15*time.Second, "door_no_answer events on the server", func() bool {
		byReason, _, _ := e.doorRows(g.id)
		return byReason["door_no_answer"] == 3
	})
	// Each alarm carries the credential of a grant: count alarm and grant pairs.
	var alarms []*uuid.UUID
	dbtest.List(t, e.db.SQL(), &alarms, dbtest.EntryEvents, "credential_id", dbtest.Eq("community_id", e.community), dbtest.Eq("gate_id", g.id),
		dbtest.Eq("method", "door"), dbtest.Eq("result", "alarm"))
	linked := 0
	for _, cred := range alarms {
		if cred != nil {
			linked += dbtest.Count(t, e.db.SQL(), dbtest.EntryEvents, dbtest.Eq("community_id", e.community), dbtest.Eq("credential_id", *cred),
				dbtest.Eq("method", "qr"), dbtest.Eq("result", "granted"))
		}
	}
	if linked != 3 {
		t.Fatalf("%d door events carry their grant's credential", linked)
	}
	if !g.alive() {
		t.Fatal("the agent died")
	}
}

// The controller's address and serial number are checked at start: a malformed door, or
// a controller at the address that answers as another serial number, stops the agent
// with the reason (exit 1); one that does not answer yet lets it run.
func TestUHPPOTEDoorCheckedAtStart(t *testing.T) {
	_, agentBin := binaries(t)
	c, err := uhppotefake.Start(uhppoteSerial + 1) // the controller at the address is another
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cases := []struct{ door, want string }{
		{"uhppote:0@192.168.1.10:60000/1", "serial number must be the controller's"},
		{"uhppote:405419896@192.168.1.10:60000/9", "door must be 1 to 4"},
		{"uhppote:405419896@192.168.1.255.1:60000/1", "address"},
		{"uhppote:405419896@" + c.Addr() + "/1", "405419897"},
	}
	for _, tc := range cases {
		cmd := exec.Command(agentBin, "run", "--state", t.TempDir(), "--door", tc.door, "--door-timeout", "100ms")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), tc.want) {
			t.Errorf("%s: %v %s, want exit 1 saying %q", tc.door, err, out, tc.want)
		}
	}
}
