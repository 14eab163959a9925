package gate

import (
	"sort"
	"sync"
	"time"
)

// A flood of garbage at a scanner input must not become a flood of fsynced events (each
// costs a disk commit and an upload: 10,000 garbage lines made 8,400 rows on the server)
// nor slow the good scans in between. Denied reads are therefore rate limited per source:
// each source may record a burst of denials, refilled at a steady rate; the denials past
// it are decided and answered as usual but not recorded one by one. What was dropped is
// summarised in one event per flood (FloodSuppressed, with the count), once the source
// has been quiet for a while or at the latest every FloodMaxSpan. Grants are never
// limited, so a good scan during a flood is recorded and opens the door as always.

// FloodSuppressed is the reason of the event that summarises a source's dropped denials.
const FloodSuppressed Reason = "flood_suppressed"

// Flood limits: a scanner reading a damaged code, or a resident trying an expired one a
// few times, stays far below them; a stuck or hostile input passes them in a second.
const (
	FloodBurst   = 20               // denials a source records before the limit applies
	FloodRefill  = time.Second      // one more denial may be recorded per this much time
	FloodQuiet   = 2 * time.Second  // a flood ends when its source dropped nothing for this long
	FloodMaxSpan = 60 * time.Second // a long flood is summarised at least this often
	// maxFloodSources bounds the table: past it, sources with nothing to summarise and
	// a full bucket are forgotten (they are as good as new).
	maxFloodSources = 256
)

// Flood is the per-source limit of recorded denials. It is safe for concurrent use.
type Flood struct {
	mu      sync.Mutex
	sources map[string]*floodSource
}

type floodSource struct {
	tokens  float64   // denials the source may still record
	at      time.Time // when tokens was last refilled
	dropped int       // denials not recorded since the last summary
	first   time.Time // the first of them
	last    time.Time // the last of them
}

// Dropped summarises one source's denials that were not recorded one by one.
type Dropped struct {
	Source      string
	Count       int
	First, Last time.Time
}

// NewFlood makes an empty limit table.
func NewFlood() *Flood { return &Flood{sources: map[string]*floodSource{}} }

// Record reports whether a denied read from source at now is recorded as its own event;
// when it is not, it is counted for the source's summary. A clock that stepped back
// refills nothing and drops nothing more than the burst allows.
func (f *Flood) Record(source string, now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sources[source]
	if !ok {
		if len(f.sources) >= maxFloodSources {
			f.forgetIdle(now)
		}
		s = &floodSource{tokens: FloodBurst, at: now}
		f.sources[source] = s
	}
	if el := now.Sub(s.at); el > 0 {
		s.tokens = min(FloodBurst, s.tokens+float64(el)/float64(FloodRefill))
		s.at = now
	}
	if s.tokens >= 1 {
		s.tokens--
		return true
	}
	if s.dropped == 0 {
		s.first = now
	}
	s.dropped++
	s.last = now
	return false
}

// Due returns the summaries to record at now, and forgets them: a source whose flood has
// been quiet for FloodQuiet, or whose summary spans FloodMaxSpan already; all of them
// when final (the agent is stopping). Sorted by source, for a stable order.
func (f *Flood) Due(now time.Time, final bool) []Dropped {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Dropped
	for name, s := range f.sources {
		if s.dropped == 0 || !(final || now.Sub(s.last) >= FloodQuiet || now.Sub(s.first) >= FloodMaxSpan) {
			continue
		}
		out = append(out, Dropped{Source: name, Count: s.dropped, First: s.first, Last: s.last})
		s.dropped = 0
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Source < out[j].Source })
	f.forgetIdle(now)
	return out
}

// Sources is how many sources the table holds (for tests: it must not only grow).
func (f *Flood) Sources() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sources)
}

// forgetIdle drops sources with nothing to summarise whose bucket has refilled.
func (f *Flood) forgetIdle(now time.Time) {
	for name, s := range f.sources {
		if s.dropped == 0 && now.Sub(s.at) >= FloodBurst*FloodRefill {
			delete(f.sources, name)
		}
	}
}
