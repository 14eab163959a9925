package webhook

import (
	"math/rand/v2"
	"time"
)

// Schedule is when a failed delivery is tried again: exponential backoff from Base,
// doubling up to Max, each wait jittered (half of it random, so that the retries of a
// burst of events spread out), until Window after the event, when it is given up. An
// endpoint whose attempts have failed for PauseAfter without a success is paused.
type Schedule struct {
	Base, Max, Window, PauseAfter time.Duration
}

// DefaultSchedule retries after about 10 s, 20 s, 40 s ... then hourly, for 24 hours:
// about 30 attempts.
var DefaultSchedule = Schedule{Base: 10 * time.Second, Max: time.Hour, Window: 24 * time.Hour, PauseAfter: 24 * time.Hour}

// WithDefaults fills zero fields from DefaultSchedule.
func (s Schedule) WithDefaults() Schedule {
	if s.Base <= 0 {
		s.Base = DefaultSchedule.Base
	}
	if s.Max <= 0 {
		s.Max = DefaultSchedule.Max
	}
	if s.Max < s.Base {
		s.Max = s.Base
	}
	if s.Window <= 0 {
		s.Window = DefaultSchedule.Window
	}
	if s.PauseAfter <= 0 {
		s.PauseAfter = DefaultSchedule.PauseAfter
	}
	return s
}

// Backoff is the wait after failed attempt n (1 for the first): from half to all of
// min(Base·2ⁿ⁻¹, Max). jitter gives a number in [0, 1); nil is math/rand.
func (s Schedule) Backoff(n int, jitter func() float64) time.Duration {
	if jitter == nil {
		jitter = rand.Float64
	}
	d := s.Max
	if n < 1 {
		n = 1
	}
	if n <= 40 {
		if e := s.Base << (n - 1); e > 0 && e < s.Max {
			d = e
		}
	}
	return d/2 + time.Duration(jitter()*float64(d/2))
}

// Next says what follows failed attempt n, made at now, of an event created at created:
// the time of the next attempt, or false when the window is over and it is given up.
func (s Schedule) Next(n int, created, now time.Time, jitter func() float64) (time.Time, bool) {
	next := now.Add(s.Backoff(n, jitter))
	end := created.Add(s.Window)
	if !now.Before(end) {
		return time.Time{}, false
	}
	if next.After(end) {
		next = end // one last try at the end of the window
	}
	return next, true
}

// pauseSlack is how long after an event its endpoint may have started failing and its
// giving-up still count as a day of failure: the first attempt comes a poll after the
// event, not at its very instant.
const pauseSlack = 5 * time.Minute

// ShouldPause decides, after a failed attempt at at, whether the endpoint is paused: its
// attempts have all failed since failingSince for PauseAfter, or the delivery of an
// event created at created has just been given up (givenUp) and the endpoint has failed
// ever since that event (so it failed for the delivery's whole window). An endpoint that
// succeeds now and then is not paused because one delivery was given up.
func (s Schedule) ShouldPause(failingSince, created, at time.Time, givenUp bool) bool {
	if at.Sub(failingSince) >= s.PauseAfter {
		return true
	}
	return givenUp && !failingSince.After(created.Add(pauseSlack))
}
