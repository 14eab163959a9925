package gate

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestServerClock(t *testing.T) {
	base := time.Now() // with a monotonic reading
	srv := t0
	cases := []struct {
		name string
		c    ServerClock
		now  time.Time
		want time.Time
	}{
		{"never synced", ServerClock{}, base, time.Time{}},
		{"after a restart: the last server time", ServerClock{Server: srv}, base.Add(48 * time.Hour), srv},
		{"elapsed on the gate", ServerClock{Server: srv, At: base}, base.Add(90 * time.Second), srv.Add(90 * time.Second)},
		{"a gate clock behind its reading moves nothing back", ServerClock{Server: srv, At: base}, base.Add(-time.Hour), srv},
	}
	for _, c := range cases {
		if got := c.c.Now(c.now); !got.Equal(c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestForget(t *testing.T) {
	f := t0.Unix()
	cases := []struct {
		name   string
		server time.Time
		want   bool
	}{
		{"no server time: never", time.Time{}, false},
		{"before forget_after", t0.Add(-time.Second), false},
		{"at forget_after", t0, true},
		{"after", t0.Add(time.Hour), true},
	}
	for _, c := range cases {
		if got := Forget(f, c.server); got != c.want {
			t.Errorf("%s: %v", c.name, got)
		}
	}
	keep, drop := uuid.New(), uuid.New()
	s := &State{Revoked: map[uuid.UUID]int64{keep: t0.Add(time.Hour).Unix(), drop: t0.Unix()}}
	if s.Forgetting(time.Time{}) != s || s.Forgetting(t0.Add(-time.Minute)) != s {
		t.Error("nothing to forget must return the same state")
	}
	next := s.Forgetting(t0)
	if len(next.Revoked) != 1 || next.Revoked[keep] == 0 || len(s.Revoked) != 2 {
		t.Errorf("forgetting: %v (old %v)", next.Revoked, s.Revoked)
	}
}

func TestClockJumpsAndAlarm(t *testing.T) {
	jumps := []struct {
		name       string
		wall, mono time.Duration
		want       bool
	}{
		{"in step", 2 * time.Second, 2 * time.Second, false},
		{"NTP slew", 2*time.Second + 300*time.Millisecond, 2 * time.Second, false},
		{"stepped ahead a day", 25 * time.Hour, 2 * time.Second, true},
		{"stepped back", -10 * time.Second, 2 * time.Second, true},
	}
	for _, c := range jumps {
		if got := ClockJumped(c.wall, c.mono); got != c.want {
			t.Errorf("ClockJumped %s: %v", c.name, got)
		}
	}
	if OffsetJumped(100*time.Millisecond, 2*time.Second) || !OffsetJumped(0, 25*time.Hour) || !OffsetJumped(25*time.Hour, 0) {
		t.Error("OffsetJumped")
	}
	alarms := []struct {
		name         string
		offset, skew time.Duration
		want         bool
	}{
		{"in step", 300 * time.Millisecond, 30 * time.Second, false},
		{"within the skew", 20 * time.Second, 30 * time.Second, false},
		{"past the skew", -31 * time.Second, 30 * time.Second, true},
		{"small skew: past it", 6 * time.Second, 5 * time.Second, true},
		{"skew 0: the floor, not every millisecond", time.Second, 0, false},
		{"skew 0: past the floor", 3 * time.Second, 0, true},
		{"large skew: capped at 30 s", 10 * time.Minute, 15 * time.Minute, true},
		{"a day ahead", 25 * time.Hour, 30 * time.Second, true},
	}
	for _, c := range alarms {
		if got := ClockAlarm(c.offset, c.skew); got != c.want {
			t.Errorf("ClockAlarm %s: %v", c.name, got)
		}
	}
}

func TestPruneTime(t *testing.T) {
	cases := []struct {
		name           string
		now, serverNow time.Time
		want           time.Time
	}{
		{"never synced: the gate's clock", t0, time.Time{}, t0},
		{"gate ahead: the server's time", t0.Add(25 * time.Hour), t0, t0},
		{"gate behind: its own clock", t0, t0.Add(time.Minute), t0},
	}
	for _, c := range cases {
		if got := PruneTime(c.now, c.serverNow); !got.Equal(c.want) {
			t.Errorf("%s: %v", c.name, got)
		}
	}
}
