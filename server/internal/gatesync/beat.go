package gatesync

import (
	"sync"
	"time"

	"gatepass/internal/gateapi"
)

// beat is the keepalive clock of the held long polls: one timer for all of them, not
// one ticker a poll (a thousand held polls were a thousand timers firing every second).
// next returns a channel closed at the next beat, gateapi.KeepaliveEvery apart; the
// clock runs only while someone waits for it.
type beat struct {
	mu sync.Mutex
	ch chan struct{}
}

func (b *beat) next() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch == nil {
		b.ch = make(chan struct{})
		time.AfterFunc(gateapi.KeepaliveEvery, b.fire)
	}
	return b.ch
}

func (b *beat) fire() {
	b.mu.Lock()
	ch := b.ch
	b.ch = nil
	b.mu.Unlock()
	close(ch)
}
