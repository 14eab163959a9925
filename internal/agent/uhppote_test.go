package agent

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/uhppoted/uhppote-core/messages"
	"github.com/uhppoted/uhppote-core/types"

	"gatepass/internal/agent/uhppotefake"
)

const testSerial = 405419896

func TestParseUHPPOTEDoor(t *testing.T) {
	cases := []struct {
		in   string
		want UHPPOTEDoorSpec
		err  string // part of the error; "" for valid
	}{
		{"405419896@192.168.1.100:60000/1", UHPPOTEDoorSpec{405419896, netip.MustParseAddrPort("192.168.1.100:60000"), 1}, ""},
		{"1@10.0.0.2:60001/4", UHPPOTEDoorSpec{1, netip.MustParseAddrPort("10.0.0.2:60001"), 4}, ""},
		{"192.168.1.100:60000/1", UHPPOTEDoorSpec{}, "want uhppote:SERIAL@ADDR:PORT/DOOR"},
		{"405419896@192.168.1.100:60000", UHPPOTEDoorSpec{}, "want uhppote:SERIAL@ADDR:PORT/DOOR"},
		{"0@192.168.1.100:60000/1", UHPPOTEDoorSpec{}, "serial number"},
		{"abc@192.168.1.100:60000/1", UHPPOTEDoorSpec{}, "serial number"},
		{"4294967296@192.168.1.100:60000/1", UHPPOTEDoorSpec{}, "serial number"},
		{"405419896@controller.lan:60000/1", UHPPOTEDoorSpec{}, "address"},
		{"405419896@192.168.1.100/1", UHPPOTEDoorSpec{}, "address"},
		{"405419896@[fe80::1]:60000/1", UHPPOTEDoorSpec{}, "IPv4"},
		{"405419896@255.255.255.255:60000/1", UHPPOTEDoorSpec{}, "no broadcast"},
		{"405419896@0.0.0.0:60000/1", UHPPOTEDoorSpec{}, "no broadcast"},
		{"405419896@192.168.1.100:0/1", UHPPOTEDoorSpec{}, "port"},
		{"405419896@192.168.1.100:60000/0", UHPPOTEDoorSpec{}, "door must be 1 to 4"},
		{"405419896@192.168.1.100:60000/5", UHPPOTEDoorSpec{}, "door must be 1 to 4"},
		{"405419896@192.168.1.100:60000/", UHPPOTEDoorSpec{}, "door must be 1 to 4"},
	}
	for _, c := range cases {
		got, err := ParseUHPPOTEDoor(c.in)
		switch {
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("%s: %+v %v, want %+v", c.in, got, err, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err) || !errors.Is(err, ErrUHPPOTESpec)):
			t.Errorf("%s: error %v, want one saying %q", c.in, err, c.err)
		}
	}
}

// fakeDoor is a driver for door 2 of a fake controller, answering within 100 ms.
func fakeDoor(t *testing.T) (*uhppotefake.Controller, *UHPPOTEDoor) {
	t.Helper()
	c, err := uhppotefake.Start(testSerial)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	spec, err := ParseUHPPOTEDoor("405419896@" + c.Addr() + "/2")
	if err != nil {
		t.Fatal(err)
	}
	return c, NewUHPPOTEDoor(UHPPOTEConfig{Door: spec, Timeout: 100 * time.Millisecond, Attempts: 2})
}

// An opening is the controller's open-door request for the door, checked against its
// answer; a silent controller costs at most Attempts x Timeout, a refusal or a bad answer
// one request.
func TestUHPPOTEDoorOpen(t *testing.T) {
	cases := []struct {
		mode     string
		want     error
		requests int
	}{
		{uhppotefake.OK, nil, 1},
		{uhppotefake.Refuse, ErrDoorRefused, 1},
		{uhppotefake.Silent, ErrDoorNoAnswer, 2},
		{uhppotefake.Malformed, ErrDoorBadAnswer, 1},
		{uhppotefake.WrongSerial, ErrDoorBadAnswer, 1},
	}
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			c, d := fakeDoor(t)
			c.SetMode(tc.mode)
			start := time.Now()
			err := d.Open(context.Background(), time.Second)
			took := time.Since(start)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("open: %v, want %v", err, tc.want)
			}
			reqs := c.Requests()
			if len(reqs) != tc.requests {
				t.Fatalf("%d requests, want %d", len(reqs), tc.requests)
			}
			for _, r := range reqs {
				if o, ok := r.(*messages.OpenDoorRequest); !ok || uint32(o.SerialNumber) != testSerial || o.Door != 2 {
					t.Fatalf("request %#v, want an open-door request for %d door 2", r, testSerial)
				}
			}
			if took > 2*100*time.Millisecond+150*time.Millisecond {
				t.Fatalf("open took %v: retries are not bounded", took)
			}
			if wantOpens := map[bool]int{true: 1, false: 0}[tc.want == nil]; c.Opens(2) != wantOpens {
				t.Fatalf("controller opened door 2 %d times, want %d", c.Opens(2), wantOpens)
			}
		})
	}
}

// At start the driver checks that the controller at the address has the serial number,
// and reads the door's open time for after a lockdown.
func TestUHPPOTEProbe(t *testing.T) {
	for _, tc := range []struct {
		mode string
		want error
	}{{uhppotefake.OK, nil}, {uhppotefake.WrongSerial, ErrDoorBadAnswer}, {uhppotefake.Silent, ErrDoorNoAnswer}, {uhppotefake.Malformed, ErrDoorBadAnswer}} {
		c, d := fakeDoor(t)
		c.SetMode(tc.mode)
		err := d.Probe(context.Background())
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Fatalf("%s: probe %v, want %v", tc.mode, err, tc.want)
		}
		if tc.want == nil && d.delay.Load() != 3 {
			t.Fatalf("delay read %d, want the controller's 3 s", d.delay.Load())
		}
		if tc.mode == uhppotefake.WrongSerial && !strings.Contains(err.Error(), "405419897") {
			t.Fatalf("the error does not name the serial that answered: %v", err)
		}
	}
}

// Lockdown holds the door normally closed (an opening is then refused) and restores
// controlled mode with the open time read at start; a controller that does not take the
// mode is a refusal.
func TestUHPPOTELockdown(t *testing.T) {
	c, d := fakeDoor(t)
	ctx := context.Background()
	if err := d.Probe(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Lockdown(ctx, true); err != nil {
		t.Fatal(err)
	}
	if mode, _ := c.State(2); mode != types.NormallyClosed {
		t.Fatalf("door 2 is %s during a lockdown", mode)
	}
	if err := d.Open(ctx, time.Second); !errors.Is(err, ErrDoorRefused) {
		t.Fatalf("open during lockdown: %v", err)
	}
	if err := d.Lockdown(ctx, false); err != nil {
		t.Fatal(err)
	}
	if mode, delay := c.State(2); mode != types.Controlled || delay != 3 {
		t.Fatalf("door 2 is %s with delay %d after the lockdown", mode, delay)
	}
	var set int
	for _, r := range c.Requests() {
		if s, ok := r.(*messages.SetDoorControlStateRequest); ok && s.Door == 2 && uint32(s.SerialNumber) == testSerial {
			set++
		}
	}
	if set != 2 {
		t.Fatalf("%d set-door-control requests, want 2", set)
	}
	c.SetMode(uhppotefake.Refuse)
	if err := d.Lockdown(ctx, true); !errors.Is(err, ErrDoorRefused) {
		t.Fatalf("a controller that keeps its mode: %v", err)
	}
}

// The log and the clock: records are read by index with the kind the agent reports, an
// overwritten one comes back Gone, and the clock is the controller's.
func TestUHPPOTELogAndClock(t *testing.T) {
	c, d := fakeDoor(t)
	ctx := context.Background()
	c.SetClock(-90 * time.Second)
	at := time.Date(2026, 3, 1, 23, 40, 5, 0, time.Local)
	records := []struct {
		rec  uhppotefake.Record
		kind string
		gone bool
	}{
		{uhppotefake.Record{Type: uhppotefake.TypeWarning, Door: 2, Reason: uhppotefake.ReasonForced, At: at}, DoorForcedOpen, false},
		{uhppotefake.Record{Type: uhppotefake.TypeWarning, Door: 2, Reason: uhppotefake.ReasonTooLong, At: at}, DoorHeldOpen, false},
		{uhppotefake.Record{Type: uhppotefake.TypeDoor, Door: 2, Reason: uhppotefake.ReasonButton, At: at}, DoorExitButton, false},
		{uhppotefake.Record{Type: uhppotefake.TypeSwipe, Granted: true, Door: 2, Reason: uhppotefake.ReasonSwipe, At: at}, DoorLocalCard, false},
		{uhppotefake.Record{Type: uhppotefake.TypeSwipe, Granted: false, Door: 2, Reason: 6, At: at}, "", false},
		{uhppotefake.Record{Type: uhppotefake.TypeDoor, Door: 2, Reason: uhppotefake.ReasonDoorOpen, At: at}, "", false},
		{uhppotefake.Record{Type: uhppotefake.TypeOverwrite, At: at}, "", true},
	}
	for _, r := range records {
		c.Append(r.rec)
	}
	latest, err := d.Latest(ctx)
	if err != nil || latest != uint32(len(records)) {
		t.Fatalf("latest %d %v", latest, err)
	}
	for i, r := range records {
		got, err := d.Record(ctx, uint32(i+1))
		if err != nil || got.Index != uint32(i+1) || got.Kind != r.kind || got.Gone != r.gone || (!r.gone && (!got.At.Equal(at) || got.Door != 2)) {
			t.Fatalf("record %d: %+v %v, want kind %q gone %v", i+1, got, err, r.kind, r.gone)
		}
	}
	if got, err := d.Record(ctx, 99); err != nil || !got.Gone {
		t.Fatalf("record past the newest: %+v %v", got, err)
	}
	clock, err := d.Clock(ctx)
	if drift := time.Until(clock); err != nil || drift > -88*time.Second || drift < -92*time.Second {
		t.Fatalf("clock %v (%v from now) %v, want 90 s behind", clock, drift, err)
	}
}

// Pushed events go through uhppote-core's codec to the agent; another controller's, a
// status without an event and garbage are dropped.
func TestUHPPOTEWatch(t *testing.T) {
	c, d := fakeDoor(t)
	other, err := uhppotefake.Start(testSerial + 7)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan DoorRecord, 8)
	done := make(chan error, 1)
	go func() { done <- d.watch(ctx, conn, out) }()
	to := conn.LocalAddr().String()
	i := other.Append(uhppotefake.Record{Type: uhppotefake.TypeWarning, Door: 2, Reason: uhppotefake.ReasonForced})
	if err := other.Push(to, i); err != nil {
		t.Fatal(err)
	}
	if g, err := net.Dial("udp4", to); err == nil {
		_, _ = g.Write([]byte("not a controller"))
		g.Close()
	}
	c.Append(uhppotefake.Record{Type: uhppotefake.TypeDoor, Door: 2, Reason: uhppotefake.ReasonButton})
	i = c.Append(uhppotefake.Record{Type: uhppotefake.TypeWarning, Door: 2, Reason: uhppotefake.ReasonTooLong})
	if err := c.Push(to, i); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-out:
		if r.Index != 2 || r.Kind != DoorHeldOpen || r.Door != 2 {
			t.Fatalf("pushed record %+v", r)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the pushed event did not arrive")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("watch ended with %v", err)
	}
	if len(out) != 0 {
		t.Fatalf("%d more records: another controller's or garbage passed", len(out))
	}
}
