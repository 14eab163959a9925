package store

import (
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
)

// ChangeHub fans the 'gatepass_changes' notifications of one PostgreSQL LISTEN
// connection out to the gates long-polling in this process: one connection per server
// process, not one per waiting gate.
type ChangeHub struct {
	log     *slog.Logger
	mu      sync.Mutex
	waiters map[uuid.UUID]map[chan struct{}]struct{}
	l       *pq.Listener
}

// NewChangeHub listens on db's server. If the listener cannot be set up the hub still
// works: waiters then wake on their poll interval (see Wait).
func (db *DB) NewChangeHub(log *slog.Logger) *ChangeHub {
	h := &ChangeHub{log: log, waiters: map[uuid.UUID]map[chan struct{}]struct{}{}}
	// Reconnect attempts back off from 100 ms to at most 1 s: one connection per process
	// costs nothing to retry, and until it is back every long poll waits for its poll
	// interval (5 s) instead of a notification. With 10 s, revocations after a database
	// restart reached gates seconds late (issue 12 item 2).
	h.l = pq.NewListener(db.url, 100*time.Millisecond, time.Second, func(ev pq.ListenerEventType, err error) {
		if err != nil {
			log.Warn("change listener", "event", ev, "err", err)
		}
	})
	if err := h.l.Listen("gatepass_changes"); err != nil {
		log.Error("change listener: listen", "err", err)
	}
	go h.run()
	return h
}

func (h *ChangeHub) run() {
	for n := range h.l.Notify {
		if n == nil {
			// The connection was re-established and notifications may have been lost:
			// wake everyone to re-read the change log.
			h.wakeAll()
			continue
		}
		c, err := uuid.Parse(n.Extra)
		if err != nil {
			continue
		}
		h.mu.Lock()
		for ch := range h.waiters[c] {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
		h.mu.Unlock()
	}
}

func (h *ChangeHub) wakeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, set := range h.waiters {
		for ch := range set {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

// Subscribe registers interest in community c's changes. Subscribe before reading the
// change log, so that a change committed between the read and the wait is not missed.
// Call the returned cancel when done.
func (h *ChangeHub) Subscribe(c uuid.UUID) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	if h.waiters[c] == nil {
		h.waiters[c] = map[chan struct{}]struct{}{}
	}
	h.waiters[c][ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.waiters[c], ch)
		if len(h.waiters[c]) == 0 {
			delete(h.waiters, c)
		}
		h.mu.Unlock()
	}
}

// Close stops listening.
func (h *ChangeHub) Close() error { return h.l.Close() }
