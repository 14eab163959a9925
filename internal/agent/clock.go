package agent

import (
	"log/slog"
	"sync"
	"time"

	"gatepass/internal/gate"
)

// clockState is what the agent knows of its clock against the server's: the estimate of
// the server's time by which revocations are forgotten (gate.ServerClock), the offset it
// reports (status, heartbeat) with its alarm, and the last offset a jump is measured from.
type clockState struct {
	mu     sync.Mutex
	server gate.ServerClock
	// offset is the last measurement of this run (gate minus server); measured says
	// there is one: before it, the gate does not know its offset.
	offset   time.Duration
	measured bool
	alarm    bool
	// jumpBase is the last offset good enough to tell a jump from (a heartbeat's or a
	// delta's, or the last run's from disk), and haveBase says there is one.
	jumpBase time.Duration
	haveBase bool
}

// load starts from what the last sync left on disk: its server time (so that nothing is
// forgotten before the next sync says so) and its offset (so that a clock changed while
// the agent was stopped shows as a jump).
func (c *clockState) load(st *LocalDB) error {
	_, server, offset, err := st.LastSync()
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.server = gate.ServerClock{Server: server}
	if offset != nil {
		c.jumpBase, c.haveBase = *offset, true
	}
	return nil
}

// synced records a sync answer's server time, which arrived at the gate's time at.
func (c *clockState) synced(server, at time.Time) {
	c.mu.Lock()
	c.server = gate.ServerClock{Server: server, At: at}
	c.mu.Unlock()
}

// serverNow is the estimate of the server's time at the gate's time now (zero: never
// synced).
func (c *clockState) serverNow(now time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.server.Now(now)
}

// measure records an offset measurement. precise says it can tell a jump (a heartbeat's
// round-trip midpoint, or a small delta answer; a big snapshot's transfer time would read
// as one); it returns whether the offset jumped since the last precise one. A change of
// the alarm is logged: a wrong clock must be seen, not only silently survived.
func (c *clockState) measure(log *slog.Logger, offset, skew time.Duration, precise bool) (jumped bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset, c.measured = offset, true
	prev := c.jumpBase
	if precise {
		jumped = c.haveBase && gate.OffsetJumped(prev, offset)
		c.jumpBase, c.haveBase = offset, true
	}
	alarm := gate.ClockAlarm(offset, skew)
	switch {
	case alarm && !c.alarm:
		log.Warn("gate clock is off: fix its time source (NTP)", "clock_offset", offset.Round(time.Millisecond), "limit", min(max(skew, gate.ClockAlarmFloor), gate.ClockAlarmCeiling))
	case !alarm && c.alarm:
		log.Info("gate clock back in step with the server", "clock_offset", offset.Round(time.Millisecond))
	}
	c.alarm = alarm
	if jumped {
		log.Warn("gate clock jumped against the server's; next sync is a full snapshot", "from", prev.Round(time.Millisecond), "to", offset.Round(time.Millisecond))
	}
	return jumped
}

// preciseBase is the offset to persist with a sync (nil: none yet).
func (c *clockState) preciseBase() *time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.haveBase {
		return nil
	}
	d := c.jumpBase
	return &d
}

// report is the offset and alarm as status and heartbeat show them.
func (c *clockState) report() (offset time.Duration, measured, alarm bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset, c.measured, c.alarm
}

// wallWatch tells a stepped wall clock from the monotonic one between housekeeping ticks.
type wallWatch struct{ last time.Time }

// stepped reports whether the wall clock jumped since the last call.
func (w *wallWatch) stepped(now time.Time) bool {
	last := w.last
	w.last = now
	if last.IsZero() {
		return false
	}
	// Round(0) strips the monotonic reading, so the first difference is of wall clocks.
	return gate.ClockJumped(now.Round(0).Sub(last.Round(0)), now.Sub(last))
}
