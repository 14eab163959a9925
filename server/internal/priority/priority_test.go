package priority

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

func TestYield(t *testing.T) {
	const long = 5 * time.Second
	tests := []struct {
		name  string
		setup func(s *Staff, cancel context.CancelFunc) // what happens before and during the Yield
		max   time.Duration
		min   time.Duration // Yield takes at least this long
		under time.Duration // and less than this
	}{
		{"no staff request: at once", func(*Staff, context.CancelFunc) {}, long, 0, time.Second},
		{"a request that ends: until it ends", func(s *Staff, _ context.CancelFunc) {
			end := s.Begin()
			time.AfterFunc(100*time.Millisecond, end)
		}, long, 100 * time.Millisecond, long},
		{"two requests: until both end", func(s *Staff, _ context.CancelFunc) {
			end1, end2 := s.Begin(), s.Begin()
			time.AfterFunc(50*time.Millisecond, end1)
			time.AfterFunc(150*time.Millisecond, end2)
		}, long, 150 * time.Millisecond, long},
		{"ended twice counts once", func(s *Staff, _ context.CancelFunc) {
			end1, end2 := s.Begin(), s.Begin()
			end1()
			end1()
			time.AfterFunc(100*time.Millisecond, end2)
		}, long, 100 * time.Millisecond, long},
		{"a request that goes on: max", func(s *Staff, _ context.CancelFunc) { s.Begin() }, 100 * time.Millisecond, 100 * time.Millisecond, long},
		{"the caller gone: at once", func(s *Staff, cancel context.CancelFunc) {
			s.Begin()
			time.AfterFunc(50*time.Millisecond, cancel)
		}, long, 50 * time.Millisecond, long},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s Staff
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			start := time.Now() // before setup sets off its timers: they fire that long after it at the soonest
			tc.setup(&s, cancel)
			s.Yield(ctx, tc.max)
			if took := time.Since(start); took < tc.min || took >= tc.under {
				t.Fatalf("Yield took %v, want [%v, %v)", took, tc.min, tc.under)
			}
		})
	}
}

// After every request has ended, a new one makes Yield wait again.
func TestYieldAfterIdle(t *testing.T) {
	var s Staff
	s.Begin()()
	end := s.Begin()
	start := time.Now()
	time.AfterFunc(100*time.Millisecond, end)
	s.Yield(context.Background(), 5*time.Second)
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Fatalf("Yield took %v: did not wait for the second request", took)
	}
}

// Handler counts a request while its handler runs, and no longer once it has answered.
func TestHandler(t *testing.T) {
	var s Staff
	app := fiber.New()
	app.Use("/admin", s.Handler)
	inside := -1
	app.Get("/admin/x", func(c *fiber.Ctx) error {
		s.mu.Lock()
		inside = s.inFlight
		s.mu.Unlock()
		return c.SendStatus(http.StatusNoContent)
	})
	resp, err := app.Test(httptest.NewRequest(http.MethodGet, "/admin/x", nil))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if inside != 1 || s.inFlight != 0 || s.idle != nil {
		t.Fatalf("in flight inside the handler %d (want 1), after %d (want 0), idle channel %v", inside, s.inFlight, s.idle)
	}
}
