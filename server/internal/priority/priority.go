// Package priority lets staff's requests go before the gates' bulk work. On a server
// with few cores, the database and the server are kept busy by the gates' event
// batches, and a member of staff's page read every few hundred milliseconds waited for a
// core behind them (p99 of 100 to 300 ms, docs/benchmarks.md). While a staff request is
// being answered, a batch that is about to start waits for it, briefly: the batches
// already running finish, and the staff request has the machine nearly to itself.
package priority

import (
	"context"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Staff counts the staff requests in flight. The zero value is ready to use.
type Staff struct {
	mu       sync.Mutex
	inFlight int
	idle     chan struct{} // closed when inFlight falls to 0; nil while it is 0
}

// Begin marks a staff request in flight; call the function it returns when it is answered.
func (s *Staff) Begin() (end func()) {
	s.mu.Lock()
	s.inFlight++
	if s.idle == nil {
		s.idle = make(chan struct{})
	}
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.inFlight--; s.inFlight == 0 {
				close(s.idle)
				s.idle = nil
			}
		})
	}
}

// Handler marks every request it handles as staff's, for as long as its handler runs (a
// stream's handler returns once the stream is set up, so a console's live entry log is
// not a request in flight for its whole life).
func (s *Staff) Handler(c *fiber.Ctx) error {
	defer s.Begin()()
	return c.Next()
}

// Yield waits until no staff request is in flight, at most max (or until ctx ends): a
// gate's bulk work calls it before it starts. It never refuses: under a steady stream of
// staff requests the gates' work goes on, max later.
func (s *Staff) Yield(ctx context.Context, max time.Duration) {
	s.mu.Lock()
	idle := s.idle
	s.mu.Unlock()
	if idle == nil {
		return
	}
	t := time.NewTimer(max)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
	case <-ctx.Done():
	}
}
