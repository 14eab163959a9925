package gate

import (
	"fmt"
	"testing"
	"time"
)

func TestFlood(t *testing.T) {
	steps := []struct {
		name   string
		source string
		at     time.Duration // after t0
		reads  int
		record int // how many of the reads are recorded one by one
	}{
		{"a burst is recorded", "tcp:a", 0, FloodBurst, FloodBurst},
		{"past it, dropped", "tcp:a", 0, 10000, 0},
		{"another source has its own burst", "tcp:b", 0, 5, 5},
		{"one refilled per second", "tcp:a", 3 * time.Second, 5, 3},
		{"after a quiet minute, a full burst again", "tcp:a", 2 * time.Minute, FloodBurst + 1, FloodBurst},
	}
	f := NewFlood()
	for _, s := range steps {
		got := 0
		for i := 0; i < s.reads; i++ {
			if f.Record(s.source, t0.Add(s.at)) {
				got++
			}
		}
		if got != s.record {
			t.Errorf("%s: %d of %d recorded, want %d", s.name, got, s.reads, s.record)
		}
	}
	// Summaries: a (10,000 + 2, then 1 more at 2 min) is due when quiet, not before.
	if d := f.Due(t0.Add(2*time.Minute), false); len(d) != 1 || d[0].Source != "tcp:a" || d[0].Count != 10002+1 {
		t.Fatalf("due after quiet: %+v", d)
	}
	if d := f.Due(t0.Add(3*time.Minute), true); len(d) != 0 {
		t.Fatalf("summarised twice: %+v", d)
	}
}

func TestFloodSummaryTiming(t *testing.T) {
	f := NewFlood()
	for i := 0; i < FloodBurst+3; i++ {
		f.Record("x", t0)
	}
	cases := []struct {
		name  string
		at    time.Duration
		final bool
		want  int
	}{
		{"still flooding", FloodQuiet - time.Millisecond, false, 0},
		{"final: the agent stops", time.Millisecond, true, 3},
	}
	for _, c := range cases {
		if d := f.Due(t0.Add(c.at), c.final); (len(d) == 1 && d[0].Count == c.want) != (c.want > 0) || (c.want == 0 && len(d) != 0) {
			t.Errorf("%s: %+v", c.name, d)
		}
	}
	// A flood that never pauses is summarised at least every FloodMaxSpan.
	g := NewFlood()
	summaries := 0
	for ms := 0; ms <= int(3*FloodMaxSpan/time.Millisecond); ms += 100 {
		now := t0.Add(time.Duration(ms) * time.Millisecond)
		g.Record("y", now)
		summaries += len(g.Due(now, false))
	}
	if summaries < 2 || summaries > 4 {
		t.Errorf("a 3-minute flood made %d summaries", summaries)
	}
}

// The table does not only grow: sources that went quiet with nothing to report go.
func TestFloodSourcesBounded(t *testing.T) {
	f := NewFlood()
	for i := 0; i < 10*maxFloodSources; i++ {
		f.Record(fmt.Sprint("tcp:", i), t0.Add(time.Duration(i)*time.Second))
	}
	if n := f.Sources(); n > maxFloodSources {
		t.Fatalf("%d sources held", n)
	}
	f.Due(t0.Add(24*time.Hour), true)
	if n := f.Sources(); n != 0 {
		t.Fatalf("%d sources after a quiet day", n)
	}
}
