package agent

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/agent/uhppotefake"
	"gatepass/internal/gateapi"
)

// doorEvents are the queued door events (method door).
func doorEvents(t *testing.T, a *Agent) []gateapi.Event {
	t.Helper()
	var out []gateapi.Event
	for _, e := range queued(t, a) {
		if e.Method == gateapi.MethodDoor {
			out = append(out, e)
		}
	}
	return out
}

// What the controller answers to a granted opening: opened (no door event), or a door
// event beside the grant with the grant's credential and the answer as its reason.
func TestGrantedOpeningOutcome(t *testing.T) {
	cases := []struct {
		mode   string
		reason string // "" for opened
	}{
		{uhppotefake.OK, ""},
		{uhppotefake.Refuse, gateapi.DoorRefused},
		{uhppotefake.Silent, gateapi.DoorNoAnswer},
		{uhppotefake.Malformed, gateapi.DoorBadAnswer},
		{uhppotefake.WrongSerial, gateapi.DoorBadAnswer},
	}
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			c, d := fakeDoor(t)
			c.SetMode(tc.mode)
			a, mint := keyedAgent(t, Config{StateDir: t.TempDir(), Door: d})
			out, err := a.Scan("test", mint())
			if err != nil || out.Result != "granted" {
				t.Fatalf("scan: %+v %v", out, err)
			}
			if tc.reason == "" {
				waitUntil(t, func() bool { return c.Opens(2) == 1 })
				time.Sleep(50 * time.Millisecond)
				if evs := doorEvents(t, a); len(evs) != 0 {
					t.Fatalf("door events %+v for an opened door", evs)
				}
				return
			}
			waitUntil(t, func() bool { return len(doorEvents(t, a)) == 1 })
			ev := doorEvents(t, a)[0]
			want := uuid.NewSHA1(doorNamespace, append(out.EventID[:], "door"...))
			if ev.Reason != tc.reason || ev.Result != gateapi.ResultAlarm || ev.Credential == nil || *ev.Credential != *out.Credential ||
				ev.Subject != "resident" || ev.ID != want || ev.GateID != a.reg.Gate.ID {
				t.Fatalf("door event %+v, want %s for credential %s with id %s", ev, tc.reason, out.Credential, want)
			}
		})
	}
}

// Issue 19's fault: a controller that never answers does not slow the next decision (the
// door is asked off the decision's path), each unanswered opening is a door_no_answer
// event, and openings that would go out after the person has gone are not sent.
func TestSilentControllerDoesNotDelayDecisions(t *testing.T) {
	c, err := uhppotefake.Start(testSerial)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetMode(uhppotefake.Silent)
	spec, _ := ParseUHPPOTEDoor("405419896@" + c.Addr() + "/2")
	// Each opening costs the controller 2 x 300 ms of silence.
	d := NewUHPPOTEDoor(UHPPOTEConfig{Door: spec, Timeout: 300 * time.Millisecond, Attempts: 2})
	a, mint := keyedAgent(t, Config{StateDir: t.TempDir(), Door: d})
	const scans = 8
	var slowest time.Duration
	for i := 0; i < scans; i++ {
		start := time.Now()
		out, err := a.Scan("test", mint())
		slowest = max(slowest, time.Since(start))
		if err != nil || out.Result != "granted" {
			t.Fatalf("scan %d: %+v %v", i, out, err)
		}
	}
	// A decision is the disk commit (a few ms; fsync on a shared disk may take tens);
	// waiting for the door would be 600 ms each.
	if slowest > 250*time.Millisecond {
		t.Fatalf("slowest decision %v: the silent controller delayed it", slowest)
	}
	// Five openings of 600 ms each go through the worker one after the other.
	deadline := time.Now().Add(10 * time.Second)
	for len(doorEvents(t, a)) < scans && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	reasons := map[string]int{}
	for _, e := range doorEvents(t, a) {
		reasons[e.Reason]++
	}
	// One in flight and doorQueueLen waiting; the rest are not sent at all.
	if reasons[gateapi.DoorNoAnswer] != 1+doorQueueLen || reasons[gateapi.DoorNotSent] != scans-1-doorQueueLen {
		t.Fatalf("door events by reason %v", reasons)
	}
	// The controller answers again: the next grant opens, with no door event.
	c.SetMode(uhppotefake.OK)
	if _, err := a.Scan("test", mint()); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return c.Opens(2) == 1 })
	if n := len(doorEvents(t, a)); n != scans {
		t.Fatalf("%d door events after an opening that worked", n)
	}
}

// Manual release opens through the same driver as a grant.
func TestManualReleaseThroughController(t *testing.T) {
	c, d := fakeDoor(t)
	a := openTest(t, Config{StateDir: t.TempDir(), Door: d})
	defer a.Close()
	staff := uuid.New()
	cmd := gateapi.Command{ID: uuid.New(), Kind: "unlock", CreatedBy: &staff, CreatedAt: time.Now()}
	if res := a.command(context.Background(), cmd, time.Now()); res != gateapi.ResultExecuted {
		t.Fatalf("release: %s", res)
	}
	waitUntil(t, func() bool { return c.Opens(2) == 1 })
}

// eventServer is the gate API's event endpoint: it stores events by id, as the server
// does, and counts how often each id was sent.
type eventServer struct {
	mu     sync.Mutex
	stored map[uuid.UUID]gateapi.Event
	sent   map[uuid.UUID]int
}

func (s *eventServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/gate/v1/events" {
		http.NotFound(w, r)
		return
	}
	var in gateapi.Events
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	ack := gateapi.EventsAck{Acked: []uuid.UUID{}}
	for _, e := range in.Events {
		s.sent[e.ID]++
		if _, ok := s.stored[e.ID]; !ok {
			s.stored[e.ID] = e
		}
		ack.Acked = append(ack.Acked, e.ID)
	}
	s.mu.Unlock()
	_ = json.NewEncoder(w).Encode(ack)
}

// doors is the stored door events by reason, and whether any id was sent twice.
func (s *eventServer) doors() (map[string][]gateapi.Event, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]gateapi.Event{}
	twice := false
	for id, e := range s.stored {
		if e.Method == gateapi.MethodDoor {
			out[e.Reason] = append(out[e.Reason], e)
		}
		twice = twice || s.sent[id] > 1
	}
	return out, twice
}

func (s *eventServer) count() int {
	d, _ := s.doors()
	n := 0
	for _, evs := range d {
		n += len(evs)
	}
	return n
}

// freeUDP is a loopback UDP address free a moment ago (the controller's event listener).
func freeUDP(t *testing.T) string {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}

// The controller's events (forced open, held open, exit button) go through the listener
// and the log into door events that reach the server exactly once, across a restart of
// the agent (the controller sending them again, more logged while it was down) and a
// reset of the controller's log; history from before the agent, other doors' records and
// records not reported stay out. Their time is the controller's corrected by its drift.
func TestDoorEventsExactlyOnceAcrossRestart(t *testing.T) {
	c, err := uhppotefake.Start(testSerial)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetClock(-90 * time.Second) // the controller's clock is 90 s behind
	srv := &eventServer{stored: map[uuid.UUID]gateapi.Event{}, sent: map[uuid.UUID]int{}}
	api := httptest.NewServer(srv)
	defer api.Close()
	dir := t.TempDir()
	key, _ := ecdh.X25519().GenerateKey(rand.Reader)
	reg := Registration{Server: api.URL, Token: "gpg_x", Gate: gateapi.Gate{ID: uuid.New(), Community: uuid.New()}, BoxPrivateKey: key.Bytes()}
	if err := writePrivate(filepath.Join(dir, registrationFile), reg); err != nil {
		t.Fatal(err)
	}
	listen := freeUDP(t)
	spec, _ := ParseUHPPOTEDoor("405419896@" + c.Addr() + "/2")
	run := func(poll time.Duration) (stop func()) {
		d := NewUHPPOTEDoor(UHPPOTEConfig{Door: spec, Timeout: 200 * time.Millisecond, Listen: listen})
		a, err := Open(Config{StateDir: dir, Door: d, DoorPoll: poll, Wait: time.Second, MaxBackoff: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = a.Run(ctx); close(done) }()
		waitUntil(t, func() bool { _, ok, _ := a.local.DoorCursor(d.Controller()); return ok })
		return func() { cancel(); <-done; a.Close() }
	}
	// History the controller logged before this gate drove it.
	c.Append(uhppotefake.Record{Type: uhppotefake.TypeWarning, Door: 2, Reason: uhppotefake.ReasonForced})
	c.Append(uhppotefake.Record{Type: uhppotefake.TypeDoor, Door: 2, Reason: uhppotefake.ReasonButton})
	// Polled once at start (the cursor is set at the newest record: what came before is
	// not reported), then only what the controller pushes.
	stop := run(time.Hour)
	push := func(r uhppotefake.Record) uint32 {
		i := c.Append(r)
		if err := c.Push(listen, i); err != nil {
			t.Fatal(err)
		}
		return i
	}
	push(uhppotefake.Record{Type: uhppotefake.TypeWarning, Door: 2, Reason: uhppotefake.ReasonForced})
	push(uhppotefake.Record{Type: uhppotefake.TypeDoor, Door: 2, Reason: uhppotefake.ReasonDoorOpen})  // not reported
	push(uhppotefake.Record{Type: uhppotefake.TypeWarning, Door: 1, Reason: uhppotefake.ReasonForced}) // another door
	push(uhppotefake.Record{Type: uhppotefake.TypeWarning, Door: 2, Reason: uhppotefake.ReasonTooLong})
	last := push(uhppotefake.Record{Type: uhppotefake.TypeDoor, Door: 2, Reason: uhppotefake.ReasonButton})
	waitUntil(t, func() bool { return srv.count() == 3 })
	stop()

	// While the agent is down the controller logs a forced opening; after the restart it
	// sends its last events again.
	c.Append(uhppotefake.Record{Type: uhppotefake.TypeWarning, Door: 2, Reason: uhppotefake.ReasonForced})
	stop = run(100 * time.Millisecond)
	for i := uint32(3); i <= last; i++ {
		if err := c.Push(listen, i); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, func() bool { return srv.count() == 4 })
	time.Sleep(500 * time.Millisecond) // time for a duplicate to arrive, were there one

	// The controller's log is reset: index 1 again is a new fact with a new id.
	c.Reset()
	c.Append(uhppotefake.Record{Type: uhppotefake.TypeWarning, Door: 2, Reason: uhppotefake.ReasonTooLong})
	waitUntil(t, func() bool { return srv.count() == 5 })
	stop()

	doors, twice := srv.doors()
	if twice || len(doors[DoorForcedOpen]) != 2 || len(doors[DoorHeldOpen]) != 2 || len(doors[DoorExitButton]) != 1 {
		t.Fatalf("stored door events %v, an id sent twice: %v", doors, twice)
	}
	id := func(gen, index uint32) uuid.UUID {
		return uuid.NewSHA1(doorNamespace, binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32([]byte("uhppote:405419896/"), gen), index))
	}
	want := map[uuid.UUID]string{id(0, 3): DoorForcedOpen, id(0, 6): DoorHeldOpen, id(0, 7): DoorExitButton, id(0, 8): DoorForcedOpen, id(1, 1): DoorHeldOpen}
	for _, evs := range doors {
		for _, e := range evs {
			if want[e.ID] != e.Reason || e.Result != gateapi.DoorReasons[e.Reason] || e.GateID != reg.Gate.ID {
				t.Errorf("event %+v not one of %v", e, want)
			}
			// Logged on the controller's clock, 90 s behind, and corrected by the drift.
			if off := time.Since(e.OccurredAt); off < -time.Second || off > 5*time.Second {
				t.Errorf("event %s at %v, %v from now: the controller's drift is not corrected", e.Reason, e.OccurredAt, off)
			}
		}
	}
}
