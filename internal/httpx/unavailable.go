package httpx

import (
	"database/sql/driver"
	"errors"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// UnavailableRetryAfter is the Retry-After, in seconds, of the 503 answered while the
// database is away: the smallest HTTP can say, because a database restart takes seconds
// and a gate should have its revocations as soon as it is back (gate agents spread
// their retries over the second half of it: docs/gate-agent.md).
const UnavailableRetryAfter = 1

// errUnavailable is the answer to a request that failed because the database could
// not be reached.
var errUnavailable = &Error{Status: http.StatusServiceUnavailable, Code: "database_unavailable",
	Message: "the database is unavailable; retry shortly", RetryAfter: UnavailableRetryAfter}

// errBusy is the answer to a request refused because no database connection came free
// within its bounded wait (the store's BusyError): come back in a second rather than
// queue for many.
var errBusy = &Error{Status: http.StatusServiceUnavailable, Code: "busy",
	Message: "the server is busy; retry after the time in Retry-After", RetryAfter: 1}

// busy is an error that says the server is busy and when to come back, matched by
// method so that httpx needs no store (the store's BusyError has it).
type busy interface{ RetryAfter() time.Duration }

func isBusy(err error) bool {
	var b busy
	return errors.As(err, &b)
}

// sqlStater is a database error with its SQLSTATE (lib/pq's *pq.Error, pgx's
// *pgconn.PgError), matched by method so that httpx needs no driver.
type sqlStater interface{ SQLState() string }

// DatabaseUnavailable reports whether err says the database could not be reached or
// went away under the request, rather than refused it: no connection (refused, reset,
// broken pipe), a connection the driver found dead, or a server that is
// shutting down, starting up, in recovery or out of connections. (lib/pq reports a
// connection cut short, io.EOF, and a fatal server error as driver.ErrBadConn.) Such a request may
// simply be retried once the database is back, so it is a 503, never a 500.
func DatabaseUnavailable(err error) bool {
	var st sqlStater
	if errors.As(err, &st) {
		code := st.SQLState()
		// 08: connection exception; 57P01-03: admin shutdown, crash shutdown, cannot
		// connect now (starting up, shutting down, in recovery); 53300: too many
		// connections.
		return strings.HasPrefix(code, "08") || code == "57P01" || code == "57P02" || code == "57P03" || code == "53300"
	}
	var ne net.Error
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.As(err, &ne),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	}
	return false
}

// Describe is what a client is told of err, as the error handler would answer it: for
// answers whose status has gone out already (a held sync reports its failure in the
// body).
func Describe(err error) *Error {
	e, _ := classify(err)
	return e
}
