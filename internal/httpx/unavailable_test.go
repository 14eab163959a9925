package httpx

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"gatepass/internal/access"
)

type busyErr struct{}

func (busyErr) Error() string             { return "database busy" }
func (busyErr) RetryAfter() time.Duration { return time.Second }

type stateErr string

func (e stateErr) Error() string    { return "pq: " + string(e) }
func (e stateErr) SQLState() string { return string(e) }

// A database that is away is a 503 with Retry-After, which clients retry; a database
// that refuses the request is what it was before (a 500, a 409, ...).
func TestDatabaseUnavailableIs503(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: &net.AddrError{Err: "connect: connection refused"}}
	cases := []struct {
		name  string
		err   error
		want  int
		retry string
	}{
		{"connection refused", fmt.Errorf("gate by token: %w", refused), 503, "1"},
		{"refused errno", fmt.Errorf("x: %w", syscall.ECONNREFUSED), 503, "1"},
		{"reset", fmt.Errorf("x: %w", syscall.ECONNRESET), 503, "1"},
		{"bad connection", fmt.Errorf("begin: %w", driver.ErrBadConn), 503, "1"},
		{"pipe", fmt.Errorf("store events: %w", syscall.EPIPE), 503, "1"},
		{"shutting down", fmt.Errorf("x: %w", stateErr("57P01")), 503, "1"},
		{"starting up", stateErr("57P03"), 503, "1"},
		{"connection failure", stateErr("08006"), 503, "1"},
		{"too many connections", stateErr("53300"), 503, "1"},
		{"unique violation", stateErr("23505"), 500, ""},
		{"plain failure", errors.New("boom"), 500, ""},
		{"conflict", fmt.Errorf("x: %w", access.ErrConflict), 409, ""},
		{"busy (no connection within the bounded wait)", fmt.Errorf("sync: %w", busyErr{}), 503, "1"},
	}
	app := NewApp(Options{Name: "t", Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	var current error
	app.Get("/", func(*fiber.Ctx) error { return current })
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			current = c.err
			resp, err := app.Test(httptest.NewRequest("GET", "/", nil))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != c.want || resp.Header.Get("Retry-After") != c.retry {
				t.Fatalf("%v: %d Retry-After %q, want %d %q", c.err, resp.StatusCode, resp.Header.Get("Retry-After"), c.want, c.retry)
			}
		})
	}
}
