package agent

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"gatepass/internal/gateapi"
)

// reasonStoreFailed answers a decision whose event the disk refused: the door stayed
// shut, whatever was decided. It is no decision of package gate's.
const reasonStoreFailed = "store_failed"

// maxRefused bounds the refused attempts held in memory for the server; past it only
// the count grows (the heartbeat reports it).
const maxRefused = 1000

// storageHealth is what the gate tells of its own disk: how many decisions since start
// it could not store (the door stayed shut for each), the error while storing still
// fails, and the refused attempts themselves. Those are held in memory, since the disk
// refused them, until the uploader has reported them to the server (lost if the agent
// stops first: the count in the heartbeats says how many there were).
type storageHealth struct {
	mu      sync.Mutex
	fails   int64
	lastErr string // "" once a decision is stored again
	refused []gateapi.Event
}

// failed records a decision or summary whose event the disk refused, and what to report
// of it (nil: nothing beyond the count).
func (s *storageHealth) failed(err error, report *gateapi.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fails++
	s.lastErr = err.Error()
	if report != nil && len(s.refused) < maxRefused {
		s.refused = append(s.refused, *report)
	}
}

// stored records that the disk took an event: storing works again.
func (s *storageHealth) stored() {
	s.mu.Lock()
	s.lastErr = ""
	s.mu.Unlock()
}

// report is the count since start and the error while it lasts ("" when storing works),
// cleaned for the wire (no control characters, at most 200 bytes).
func (s *storageHealth) report() (fails int64, lastErr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s.lastErr)
	for len(e) > 200 {
		_, size := utf8.DecodeLastRuneInString(e)
		e = e[:len(e)-size]
	}
	return s.fails, e
}

// pending is a batch of refused attempts to report.
func (s *storageHealth) pending() []gateapi.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]gateapi.Event(nil), s.refused[:min(len(s.refused), gateapi.MaxBatch)]...)
}

// reported drops the attempts the server acknowledged.
func (s *storageHealth) reported(ids []uuid.UUID) {
	done := make(map[uuid.UUID]bool, len(ids))
	for _, id := range ids {
		done[id] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.refused[:0]
	for _, ev := range s.refused {
		if !done[ev.ID] {
			kept = append(kept, ev)
		}
	}
	s.refused = kept
}

// refusedEvent is what the server hears of a decision the disk refused: denied,
// store_failed (the door stayed shut, whatever was decided), same id, time and subject.
func refusedEvent(ev gateapi.Event) *gateapi.Event {
	ev.Result, ev.Reason, ev.ReplayKey = "denied", reasonStoreFailed, nil
	return &ev
}
