// Package dispatch sends the webhooks the outbox holds (internal/store/webhooks.go): a
// loop run by the server that claims due deliveries, signs and POSTs each to its
// endpoint with bounded concurrency and a per-delivery timeout, records every attempt,
// reschedules failures with backoff for a day, and reports gates that go offline and
// come back. A delivery is claimed with a lease, never held in a transaction: a server
// killed mid-delivery leaves the row to be sent again once the lease ends (at least
// once), by itself after a restart or by another copy.
package dispatch

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatepass/internal/secret"
	"gatepass/internal/store"
	"gatepass/internal/webhook"
)

// Config is how the sender behaves; the zero value is the production defaults.
type Config struct {
	Schedule    webhook.Schedule // retries and pausing (zero fields: webhook.DefaultSchedule)
	Concurrency int              // deliveries in flight at once (default 8)
	Timeout     time.Duration    // one delivery, connection to response (default 10 s)
	Poll        time.Duration    // how often the outbox is looked at (default 1 s)
	// AllowLoopback lets endpoints on loopback addresses (and plain http there) through:
	// a development and test setting, off in production.
	AllowLoopback bool
	// OfflineAfter is the silence after which a gate is reported offline (default 5 min);
	// LivenessEvery how often gates are checked (default 30 s).
	OfflineAfter, LivenessEvery time.Duration
	// RootCAs, when set, are the CAs the sender trusts instead of the system's (tests).
	RootCAs *x509.CertPool
	// Now and Jitter replace the clock and the random jitter (tests).
	Now    func() time.Time
	Jitter func() float64
	// Registry, when set, gets gatepass_webhook_attempts_total{outcome}.
	Registry prometheus.Registerer
}

func (c Config) withDefaults() Config {
	c.Schedule = c.Schedule.WithDefaults()
	if c.Concurrency <= 0 {
		c.Concurrency = 8
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.OfflineAfter <= 0 {
		c.OfflineAfter = 5 * time.Minute
	}
	if c.LivenessEvery <= 0 {
		c.LivenessEvery = 30 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Dispatcher is the sender.
type Dispatcher struct {
	db     *store.DB
	sealer *secret.Sealer
	log    *slog.Logger
	cfg    Config
	client *http.Client
	slots  chan struct{} // one per delivery in flight
	freed  chan struct{} // a delivery finished: a slot is free
	wg     sync.WaitGroup
	tally  *prometheus.CounterVec
}

// New makes a sender on a database; sealer opens the endpoints' secrets.
func New(db *store.DB, sealer *secret.Sealer, log *slog.Logger, cfg Config) *Dispatcher {
	cfg = cfg.withDefaults()
	d := &Dispatcher{db: db, sealer: sealer, log: log, cfg: cfg, client: NewClient(cfg.Timeout, cfg.AllowLoopback, cfg.RootCAs),
		slots: make(chan struct{}, cfg.Concurrency), freed: make(chan struct{}, 1),
		tally: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatepass_webhook_attempts_total",
			Help: "Webhook delivery attempts by outcome: delivered, failed (to be retried), given_up (after 24 hours)."}, []string{"outcome"})}
	if cfg.Registry != nil {
		cfg.Registry.MustRegister(d.tally)
	}
	return d
}

// ErrRefusedAddress is a delivery refused because its host resolved to an address the
// server must not reach (webhook.Refused).
var ErrRefusedAddress = errors.New("endpoint resolves to a private, loopback or link-local address")

// NewClient is the HTTP client deliveries use: timeouts on every step, no proxy, no
// redirects (a 3xx is a failure, not a hop to somewhere else), and the address actually
// dialled checked after DNS resolution, so a name that resolves (or re-resolves) to an
// internal address is refused.
func NewClient(timeout time.Duration, allowLoopback bool, roots *x509.CertPool) *http.Client {
	dialer := &net.Dialer{Timeout: timeout, Control: func(_, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		ip, err := netip.ParseAddr(host)
		if err != nil || webhook.Refused(ip, allowLoopback) {
			return fmt.Errorf("%s: %w", host, ErrRefusedAddress)
		}
		return nil
	}}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots},
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// lease is how long a claimed delivery is held: past its timeout, so that a slow but
// live attempt is never sent twice at once, and short enough that a crashed sender's
// deliveries go out again soon.
func (d *Dispatcher) lease() time.Duration { return 2*d.cfg.Timeout + 5*time.Second }

// Run sends until ctx ends, then waits for the deliveries in flight (each bounded by
// the timeout; one cut short by the shutdown is released, not counted as failed).
func (d *Dispatcher) Run(ctx context.Context) {
	t := time.NewTicker(d.cfg.Poll)
	defer t.Stop()
	var checked time.Time
	for {
		// Busy: it started deliveries, or every slot is taken (so it could not look).
		busy := d.sweep(ctx) > 0 || len(d.slots) == cap(d.slots)
		if now := d.cfg.Now(); now.Sub(checked) >= d.cfg.LivenessEvery {
			d.liveness(ctx)
			checked = now
		}
		// While there is work, a finished delivery makes room for the next at once;
		// otherwise the outbox is looked at every Poll.
		var freed <-chan struct{}
		if busy {
			freed = d.freed
		}
		select {
		case <-ctx.Done():
			d.wg.Wait()
			return
		case <-t.C:
		case <-freed:
		}
	}
}

// sweep claims as many due deliveries as there are free slots and starts each.
func (d *Dispatcher) sweep(ctx context.Context) int {
	free := cap(d.slots) - len(d.slots)
	if free == 0 || ctx.Err() != nil {
		return 0
	}
	now := d.cfg.Now()
	communities, err := d.db.DueWebhookCommunities(ctx, now, 100)
	if err != nil {
		d.logErr(ctx, "webhook outbox", err)
		return 0
	}
	started := 0
	for _, c := range communities {
		if free = cap(d.slots) - len(d.slots); free == 0 {
			break
		}
		claimed, err := d.db.ClaimWebhookDeliveries(ctx, c, now, now.Add(d.lease()), free)
		if err != nil {
			d.logErr(ctx, "claim webhooks", err, "community", c)
			continue
		}
		for _, del := range claimed {
			d.slots <- struct{}{}
			d.wg.Add(1)
			started++
			go func() {
				defer func() {
					<-d.slots
					select {
					case d.freed <- struct{}{}:
					default:
					}
					d.wg.Done()
				}()
				d.deliver(ctx, del)
			}()
		}
	}
	return started
}

func (d *Dispatcher) logErr(ctx context.Context, msg string, err error, args ...any) {
	if ctx.Err() == nil {
		d.log.Error(msg, append(args, "err", err)...)
	}
}

// deliver makes one attempt and records it.
func (d *Dispatcher) deliver(ctx context.Context, del store.WebhookDelivery) {
	now := d.cfg.Now()
	o := store.WebhookOutcome{At: now}
	status, err := d.post(ctx, del, now)
	o.Latency = d.cfg.Now().Sub(now)
	if ctx.Err() != nil {
		// Shutting down: not the endpoint's failure. Let it go for the next sender.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := d.db.ReleaseWebhookDelivery(rctx, del); err != nil {
			d.log.Warn("release webhook delivery", "err", err)
		}
		return
	}
	o.Status, o.OK = status, err == nil
	if err != nil {
		o.Err = err.Error()
		if next, ok := d.cfg.Schedule.Next(del.Attempt, del.CreatedAt, now, d.cfg.Jitter); ok {
			o.Next = next
		}
	}
	switch {
	case o.OK:
		d.tally.WithLabelValues("delivered").Inc()
	case o.Next.IsZero():
		d.tally.WithLabelValues("given_up").Inc()
	default:
		d.tally.WithLabelValues("failed").Inc()
	}
	paused, rerr := d.db.RecordWebhookAttempt(context.WithoutCancel(ctx), del, o, d.cfg.Schedule)
	switch {
	case rerr != nil:
		d.log.Error("record webhook attempt", "err", rerr, "endpoint", del.Endpoint, "event", del.ID)
	case paused:
		d.log.Warn("webhook endpoint paused after failing for a day", "community", del.Community, "endpoint", del.Endpoint, "last_error", o.Err)
	case !o.OK && o.Next.IsZero():
		d.log.Warn("webhook delivery given up", "endpoint", del.Endpoint, "event", del.ID, "attempts", del.Attempt, "err", o.Err)
	}
}

// post sends the signed body; a 2xx answer is success.
func (d *Dispatcher) post(ctx context.Context, del store.WebhookDelivery, now time.Time) (int, error) {
	if _, err := webhook.CheckURL(del.URL, d.cfg.AllowLoopback); err != nil {
		return 0, err
	}
	secrets, err := del.Secrets(d.sealer, now)
	if err != nil {
		return 0, err
	}
	body, err := del.Body()
	if err != nil {
		return 0, err
	}
	rctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, del.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "gatepass-webhooks/1")
	req.Header.Set(webhook.EventIDHeader, del.ID.String())
	req.Header.Set(webhook.EventTypeHeader, string(del.Type))
	req.Header.Set("Gatepass-Delivery-Attempt", strconv.Itoa(del.Attempt))
	req.Header.Set(webhook.SignatureHeader, webhook.Header(now, body, secrets...))
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	// A little of the answer explains a failure in the log; the rest is drained (up to a
	// bound) so the connection can be reused.
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(snippet))
	}
	return resp.StatusCode, nil
}

// liveness reports gates that went silent for OfflineAfter (gate.offline) and gates
// heard from again (gate.online), each change once.
func (d *Dispatcher) liveness(ctx context.Context) {
	now := d.cfg.Now()
	changes, err := d.db.GateLivenessChanges(ctx, now.Add(-d.cfg.OfflineAfter))
	if err != nil {
		d.logErr(ctx, "gate liveness", err)
		return
	}
	for _, g := range changes {
		reported, err := d.db.MarkGateLiveness(ctx, g, now, d.cfg.OfflineAfter)
		if err != nil {
			d.logErr(ctx, "gate liveness", err, "gate", g.Gate)
			continue
		}
		if reported {
			d.log.Info("gate liveness changed", "community", g.Community, "gate", g.Gate, "offline", g.Offline, "last_seen_at", g.LastSeen)
		}
	}
}
