package agent

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"gatepass/internal/gateapi"
)

// onlineWindow is how recent the server's last answer must be for the gate to count as
// online: three keepalives of a held long poll, so that one late keepalive on a busy
// box does not flag decisions offline, and a hung server does within a few seconds.
const onlineWindow = 3 * gateapi.KeepaliveEvery

// contact is what the gate has heard from its server, for the online flag of every
// decision, the status and the local GET /status. It follows what actually happened on
// the wire, never how long the last sync took:
//
//   - heard: the server answered a request (2xx, or a 4xx other than 401/403: it is
//     up and reading its database), or the held sync sent a byte (a keepalive);
//   - lost: a request failed (no answer, a 5xx, a 401/403, an answer cut short).
//
// The gate is online while it has heard from the server within onlineWindow and no
// request has failed since. Times are on the monotonic clock, so a wall clock step
// changes nothing.
type contact struct {
	start time.Time // the monotonic origin of heard and lost
	heard atomic.Int64
	lost  atomic.Int64
}

func newContact() *contact { return &contact{start: time.Now()} }

// since is the monotonic time in ns, never 0 (0 means never).
func (c *contact) since() int64 { return int64(time.Since(c.start)) + 1 }

func (c *contact) answered() { c.heard.Store(c.since()) }
func (c *contact) failed()   { c.lost.Store(c.since()) }

func (c *contact) online() bool {
	h := c.heard.Load()
	return h != 0 && h >= c.lost.Load() && c.since()-h <= int64(onlineWindow)
}

// outcome records what a finished request says of the connection: err is the request's
// (nil: answered 2xx). A request the agent itself gave up (ctx ended) says nothing.
func (c *contact) outcome(ctx context.Context, err error) {
	var ae *apiError
	switch {
	case err == nil:
		c.answered()
	case ctx.Err() != nil:
	case errors.As(err, &ae) && ae.status < 500 && ae.status != http.StatusUnauthorized && ae.status != http.StatusForbidden:
		c.answered()
	default:
		c.failed()
	}
}

// heardReader marks contact with every byte of an answer that arrives: a held sync's
// keepalives keep the gate online while the answer is pending.
type heardReader struct {
	r io.Reader
	c *contact
}

func (h heardReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if n > 0 {
		h.c.answered()
	}
	return n, err
}
