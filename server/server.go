package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"gatepass/internal/consent"
	"gatepass/internal/httpx"
	"gatepass/internal/secret"
	"gatepass/internal/store"
	"gatepass/server/internal/admin"
	"gatepass/server/internal/console"
	"gatepass/server/internal/dispatch"
	"gatepass/server/internal/gatesync"
	"gatepass/server/internal/priority"
)

// Server is the program's HTTP side: the shared edge from httpx with readiness and
// metrics, the two API surfaces mounted on it, and the maintenance loop.
type Server struct {
	db    *store.DB
	log   *slog.Logger
	app   *fiber.App
	reg   *prometheus.Registry // served on edge.MetricsAddr, never on the API's port
	edge  httpx.Edge
	gate  *gatesync.API
	admin *admin.API
	hook  dispatch.Config
}

// Settings are what the server's HTTP side takes from the configuration; the zero value
// is the defaults.
type Settings struct {
	TokenTTL time.Duration // a new staff token's lifetime unless asked otherwise
	Edge     httpx.Edge    // the metrics listener and the trusted proxies
	// EventRetention is how long the entry log keeps events (EVENT_RETENTION; zero: the
	// default); it also bounds how old an event a gate may still report.
	EventRetention time.Duration
	// Webhooks is how the webhook sender behaves; AllowLoopback also lets staff register
	// loopback and plain-http endpoints (development and tests only).
	Webhooks dispatch.Config
	// Console is the staff console's configuration (CONSOLE_ORIGINS, CONSOLE_RP_ID,
	// RESIDENT_APP_URL); zero Origins: http://localhost:8080 for development.
	Console ConsoleSettings
}

// ConsoleSettings place the staff console.
type ConsoleSettings struct {
	Origins        []string // where the console is served from; the first makes invite links
	RPID           string   // WebAuthn relying party id; default: the first origin's host
	ResidentAppURL string   // mobile-api's origin, for the QR codes of invite letters
}

// newConsole makes the staff console from its settings.
func newConsole(db *store.DB, log *slog.Logger, set ConsoleSettings) (*console.Console, error) {
	origins := set.Origins
	if len(origins) == 0 {
		origins = []string{"http://localhost:8080"}
	}
	rpID := set.RPID
	if rpID == "" {
		u, err := url.Parse(origins[0])
		if err != nil {
			return nil, fmt.Errorf("console origin %q: %w", origins[0], err)
		}
		rpID = u.Hostname()
	}
	return console.New(console.Config{DB: db, Log: log, RPID: rpID, Origins: origins})
}

// NewServer builds the HTTP app on a database.
func NewServer(db *store.DB, sealer *secret.Sealer, log *slog.Logger, set Settings) (*Server, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), gatesync.ClockAlarms(db), gatesync.PastOfflineLimit(db))
	// One set of go_sql_* series per pool: the staff pool keeps the name it always had,
	// the gates' pools say which they are (a pool at its bound is where 503 busy comes from).
	for name, pool := range db.Pools() {
		label := "gatepass"
		if name != "staff" {
			label += "_" + name
		}
		reg.MustRegister(collectors.NewDBStatsCollector(pool, label))
	}
	s := &Server{db: db, log: log, reg: reg, edge: set.Edge, hook: set.Webhooks}
	s.app = httpx.NewApp(httpx.Options{Name: "gatepass-server", Log: log, Registry: reg, BodyLimit: gatesync.BodyLimit,
		TrustedProxies: set.Edge.TrustedProxies})
	s.app.Get("/readyz", s.ready)
	// Staff's requests (the admin API, the console) go before the gates' event batches.
	staff := &priority.Staff{}
	s.app.Use("/admin", staff.Handler)
	s.app.Use("/console", staff.Handler)
	k, err := newConsole(db, log, set.Console)
	if err != nil {
		return nil, err
	}
	s.admin = admin.New(db, sealer, set.TokenTTL).WithConsole(admin.Console{Authenticate: k.Authenticate,
		StaffInviteURL: k.InviteURL, ResidentAppURL: strings.TrimSuffix(set.Console.ResidentAppURL, "/")})
	s.admin.WebhookLoopback = set.Webhooks.AllowLoopback
	s.admin.Mount(s.app)
	k.Mount(s.app)
	s.gate = gatesync.New(db, log)
	s.gate.Staff = staff
	if set.EventRetention > 0 {
		s.gate.EventRetention = set.EventRetention
	}
	s.gate.Mount(s.app)
	s.app.Use(httpx.NotFound)
	return s, nil
}

// Serve runs the API on addr and the metrics on their own address until ctx ends. Then
// the gates' held long polls are answered at once: the graceful shutdown waits for
// requests in flight, and would otherwise wait out each poll (up to 30 s).
func (s *Server) Serve(ctx context.Context, addr string) error {
	stop := context.AfterFunc(ctx, s.gate.Close)
	defer stop()
	stopStreams := context.AfterFunc(ctx, s.admin.Close)
	defer stopStreams()
	return httpx.ServeEdge(ctx, s.app, addr, s.edge, s.reg, s.log)
}

func (s *Server) ready(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	if err := s.db.Ping(ctx); err != nil {
		s.log.Warn("not ready", "err", err)
		return httpx.Errorf(http.StatusServiceUnavailable, "database_unreachable", "database unreachable")
	}
	return c.JSON(fiber.Map{"status": "ready"})
}

// sendWebhooks runs the webhook sender until ctx ends; the channel closes when it has
// stopped.
func (s *Server) sendWebhooks(ctx context.Context, sealer *secret.Sealer) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		cfg := s.hook
		cfg.Registry = s.reg
		dispatch.New(s.db, sealer, s.log, cfg).Run(ctx)
	}()
	return done
}

// webhookRetention is how long the webhook delivery log and finished deliveries are kept.
const webhookRetention = 30 * 24 * time.Hour

// lockdownSweep is how often the server records lockdowns that reached their automatic
// end. Gates end them by themselves at that time; this is the record (audit, and the
// lockdown.changed announcement) and the lockdown list staff see.
const lockdownSweep = 5 * time.Second

// endLockdowns records the automatic end of lockdowns until ctx ends.
func (s *Server) endLockdowns(ctx context.Context) {
	t := time.NewTicker(lockdownSweep)
	defer t.Stop()
	for {
		if n, err := s.db.EndExpiredLockdowns(ctx); err != nil {
			if ctx.Err() == nil {
				s.log.Error("end lockdowns", "err", err)
			}
		} else if n > 0 {
			s.log.Info("lockdowns reached their automatic end", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// retention is how long maintain keeps what it prunes.
type retention struct {
	events  time.Duration // entry events
	changes time.Duration // change-log rows gates sync from
}

// maintain runs the periodic jobs: monthly partitions of the entry log ahead of time,
// the purge of entry events past their retention, the pruning of old change-log rows,
// and the purge of face data of residents who have not entered by face for the period
// the consent notice states.
func (s *Server) maintain(ctx context.Context, keep retention) {
	t := time.NewTicker(6 * time.Hour)
	defer t.Stop()
	for {
		if n, err := s.db.EnsurePartitions(ctx, time.Now()); err != nil {
			s.log.Error("entry partitions", "err", err)
		} else if n > 0 {
			s.log.Info("created entry partitions", "count", n)
		}
		if n, err := s.db.RetentionSweep(ctx, time.Now(), consent.DefaultRetention); err != nil {
			s.log.Error("face template retention", "err", err)
		} else if n > 0 {
			s.log.Info("purged face data of residents without a face entry for the retention period", "residents", n)
		}
		if parts, rows, err := s.db.PurgeEvents(ctx, time.Now().Add(-keep.events)); err != nil {
			s.log.Error("purge entry events", "err", err)
		} else if parts > 0 || rows > 0 {
			s.log.Info("purged entry events past retention", "partitions", parts, "rows", rows, "retention", keep.events.String())
		}
		if n, err := s.db.PruneWebhooks(ctx, time.Now().Add(-webhookRetention)); err != nil {
			s.log.Error("prune webhook log", "err", err)
		} else if n > 0 {
			s.log.Info("pruned webhook log", "rows", n)
		}
		if n, err := s.db.PruneChanges(ctx, time.Now().Add(-keep.changes)); err != nil {
			s.log.Error("prune change log", "err", err)
		} else if n > 0 {
			s.log.Info("pruned change log", "rows", n, "retention", keep.changes.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
