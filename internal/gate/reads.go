package gate

import (
	"sync"
	"time"
)

// DuplicateRead is the answer to a read that repeats the one just before it from the same
// input. It makes no event: scanners send the code in front of them several times, and
// counting those as replays would refuse a resident on their own first scan.
const DuplicateRead Reason = "duplicate_read"

// maxSources is how many inputs Reads keeps before forgetting those idle longer than the
// window: each TCP connection is its own source, so the map would otherwise only grow.
const maxSources = 64

// Reads tells a repeated read from a new one, per input source. It is safe for
// concurrent use.
type Reads struct {
	window time.Duration
	mu     sync.Mutex
	last   map[string]read
}

type read struct {
	text string
	at   time.Time
}

// NewReads makes a Reads in which the same text from one source within window is one read.
func NewReads(window time.Duration) *Reads {
	return &Reads{window: window, last: map[string]read{}}
}

// Repeat reports whether text from source at now repeats that source's last read within
// the window; if it does not, it becomes the source's last read. A clock that stepped
// back makes no repeat: a read is never ignored on a time that cannot be trusted.
func (r *Reads) Repeat(source, text string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if last, ok := r.last[source]; ok && last.text == text && now.Sub(last.at) < r.window && now.Sub(last.at) >= 0 {
		return true
	}
	if len(r.last) > maxSources {
		for k, last := range r.last {
			if now.Sub(last.at) >= r.window {
				delete(r.last, k)
			}
		}
	}
	r.last[source] = read{text: text, at: now}
	return false
}
