package store

import (
	"sync"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/secret"
)

// GateTokenTTL is how long an authenticated gate token is believed without asking the
// database again. Every gate request checks its token (a thousand gates' polls and
// uploads were two round trips each); a gate that staff disable, or that enrolls anew,
// is refused by every server within this long of the commit, and at once by the server
// that made the change and by every server whose change listener hears of it.
const GateTokenTTL = 2 * time.Second

// tokenCache remembers authenticated gate tokens, by the token's hash, for GateTokenTTL.
type tokenCache struct {
	mu      sync.Mutex
	m       map[secret.Hash]tokenEntry
	swept   time.Time
	maxSize int // 0: tokenCacheMax
}

type tokenEntry struct {
	gate  access.GateIdentity
	until time.Time
}

const tokenCacheMax = 100_000

func (c *tokenCache) get(h secret.Hash, now time.Time) (access.GateIdentity, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[h]
	if !ok || !now.Before(e.until) {
		return access.GateIdentity{}, false
	}
	return e.gate, true
}

// put remembers g for h until until (GateTokenTTL after the lookup began, so that
// the lookup's own time counts against the bound).
func (c *tokenCache) put(h secret.Hash, g access.GateIdentity, until, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[secret.Hash]tokenEntry{}
	}
	if now.Sub(c.swept) > GateTokenTTL {
		for k, e := range c.m {
			if !now.Before(e.until) {
				delete(c.m, k)
			}
		}
		c.swept = now
	}
	max := c.maxSize
	if max == 0 {
		max = tokenCacheMax
	}
	if len(c.m) >= max {
		return // a flood of distinct live tokens: look them up, do not grow
	}
	c.m[h] = tokenEntry{gate: g, until: until}
}

// forget drops every token of gate (disabled, enrolled anew, its settings changed).
func (c *tokenCache) forget(gate uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		if e.gate.ID == gate {
			delete(c.m, k)
		}
	}
}

// forgetAll drops every token (the change listener lost notifications).
func (c *tokenCache) forgetAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
}
