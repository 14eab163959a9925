package gate

import (
	"time"

	"github.com/google/uuid"
)

// The gate decides on its own clock (a scanned code never moves it, a lying server cannot
// make an old code valid), but what it forgets is the server's to say: a revocation's
// forget_after is a time on the server's clock, so the gate drops a revocation only when
// its estimate of the server's time has passed it. A gate clock set a day ahead, even for
// a few seconds, must not empty the revocation list (issue 11: a revoked card opened the
// door again after such a run).

// ServerClock is the gate's estimate of the server's time: the server_time of the last
// sync answer plus the time elapsed since on the gate's monotonic clock, which a wrong
// or stepped wall clock does not move.
type ServerClock struct {
	// Server is the server's time in the last sync answer; zero: the gate never synced.
	Server time.Time
	// At is the gate's clock reading when that answer arrived, with its monotonic part.
	// It is zero after a restart (a reading kept on disk has no monotonic part): the
	// estimate is then Server itself until the next sync, which only delays forgetting.
	At time.Time
}

// Now is the estimate of the server's time when the gate's clock reads now (a reading
// with its monotonic part), or the zero time when the gate never synced.
func (c ServerClock) Now(now time.Time) time.Time {
	if c.Server.IsZero() || c.At.IsZero() {
		return c.Server
	}
	return c.Server.Add(max(now.Sub(c.At), 0))
}

// Forget reports whether a revocation whose forget_after is forgetAfter (unix seconds)
// may be dropped when the server's time is serverNow: never without a server time.
func Forget(forgetAfter int64, serverNow time.Time) bool {
	return !serverNow.IsZero() && forgetAfter <= serverNow.Unix()
}

// PruneTime is the time by which the gate's own entries (replay, passback) are pruned:
// the earlier of its clock now and its estimate of the server's time. A gate clock set
// ahead for a moment must not empty the replay cache either (a screenshot granted before
// would open again once the clock is right); a replay entry's end is mostly a token's
// expiry, a server time, so the server's estimate is a fair bound. Without one (never
// synced: no key, no grant), the gate's clock.
func PruneTime(now, serverNow time.Time) time.Time {
	if !serverNow.IsZero() && serverNow.Before(now) {
		return serverNow
	}
	return now
}

// ClockJumpTolerance is how far the wall clock may drift from the monotonic clock between
// two readings, or the gate's offset from the server between two measurements, before
// the gate counts it as a jump: more than NTP slews, less than any real mis-set clock,
// and above the noise of a measurement over a loaded network.
const ClockJumpTolerance = 5 * time.Second

// ClockJumped reports whether the wall clock stepped while wall of it passed against
// mono of the monotonic clock. After a jump the gate asks the server for a full snapshot:
// whatever it pruned or judged on the old clock is replaced by the server's view.
func ClockJumped(wall, mono time.Duration) bool {
	return abs(wall-mono) > ClockJumpTolerance
}

// OffsetJumped reports whether the gate's offset from the server moved from prev to now
// by more than the tolerance: the gate's clock (or the server's) stepped between them.
func OffsetJumped(prev, now time.Duration) bool {
	return abs(now-prev) > ClockJumpTolerance
}

// Clock alarm limits: an offset above the skew starts refusing good codes (a gate behind
// the server calls new codes not yet valid), so the skew is the limit, but never below
// what a measurement over the network can tell apart from zero, and never above 30 s, past
// which a gate's clock is simply wrong whatever the skew hides.
const (
	ClockAlarmFloor   = 2 * time.Second
	ClockAlarmCeiling = 30 * time.Second
)

// ClockAlarm reports whether a gate clock offset (gate minus server) is large enough to
// raise the alarm staff see, with the gate's configured skew.
func ClockAlarm(offset, skew time.Duration) bool {
	return abs(offset) > min(max(skew, ClockAlarmFloor), ClockAlarmCeiling)
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// Forgetting returns the state without the revocations the server's time serverNow lets
// the gate forget, and without those credentials' holders, or s itself when there are
// none (states are immutable: the caller swaps the result in).
func (s *State) Forgetting(serverNow time.Time) *State {
	n := 0
	for _, f := range s.Revoked {
		if Forget(f, serverNow) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	next := *s
	next.Revoked = make(map[uuid.UUID]int64, len(s.Revoked)-n)
	next.Holders = make(map[uuid.UUID]uuid.UUID, len(s.Holders))
	for k, h := range s.Holders {
		next.Holders[k] = h
	}
	for k, f := range s.Revoked {
		if Forget(f, serverNow) {
			delete(next.Holders, k)
		} else {
			next.Revoked[k] = f
		}
	}
	return &next
}
