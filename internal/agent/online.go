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
// the wire, never how long the last sync took. The gate hears from the server through
// its sync, the channel revocations come by:
//
//   - heard: a sync answer was applied, or the held sync sent a keepalive (the server
//     knows of no change for this gate since its cursor, so the gate is as current as a
//     sync would make it);
//   - lost: any request failed (no answer, a 5xx, a 401/403, an answer cut short).
//
// The gate is online while it has heard from the server within onlineWindow and no
// request has failed since. Other requests' answers do not count for it (an upload
// that works says nothing of the revocations the gate holds, and before the first
// sync of a run it holds none). Times are on the monotonic clock, so a wall clock step
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

// outcome records what a finished request says of the connection: err is the
// request's. Only a failure counts (see contact); a request the agent itself gave up
// (ctx ended) says nothing.
func (c *contact) outcome(ctx context.Context, err error) {
	var ae *apiError
	switch {
	case err == nil, ctx.Err() != nil:
	case errors.As(err, &ae) && ae.status < 500 && ae.status != http.StatusUnauthorized && ae.status != http.StatusForbidden:
		// The server answered and refused this request alone (a 422 for one event).
	default:
		c.failed()
	}
}

// keepalives marks contact with each keepalive of a held sync answer (the newlines the
// server sends before the sync, gateapi.KeepaliveEvery apart). A held answer means the
// server knows of no change for this gate since its cursor, so the gate is as
// current as a sync would make it; the bytes of the sync itself do not count until it
// is applied (SyncOnce), so that no decision is flagged online on data not yet in.
func (c *contact) keepalives(r io.Reader) io.Reader { return &keepaliveReader{r: r, c: c} }

type keepaliveReader struct {
	r    io.Reader
	c    *contact
	sync bool // the sync itself has begun: no more keepalives
}

func (k *keepaliveReader) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	for _, b := range p[:n] {
		if k.sync {
			break
		}
		if b == '\n' {
			k.c.answered()
		} else {
			k.sync = true
		}
	}
	return n, err
}
