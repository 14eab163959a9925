package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"gatepass/internal/access"
	"gatepass/internal/consent"
	"gatepass/internal/httpx"
	"gatepass/internal/secret"
	"gatepass/internal/store"
)

// Server holds what the admin and gate handlers share.
type Server struct {
	db     *store.DB
	sealer *secret.Sealer // opens the communities' private signing keys
	log    *slog.Logger
	app    *fiber.App
}

// NewServer builds the HTTP app on a database.
func NewServer(db *store.DB, sealer *secret.Sealer, log *slog.Logger) *Server {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewDBStatsCollector(db.SQL(), "gatepass"), collectors.NewGoCollector())
	s := &Server{db: db, sealer: sealer, log: log}
	// A gate's batch of 1,000 events needs the large limit; staff requests never do.
	s.app = httpx.NewApp(httpx.Options{Name: "gatepass-server", Log: log, Registry: reg, BodyLimit: 1 << 20})
	s.app.Get("/readyz", s.ready)
	admin := s.app.Group("/admin/v1", httpx.LimitBody(httpx.DefaultBodyLimit))
	for _, r := range append(append(adminRoutes(s), gateAdminRoutes(s)...), faceAdminRoutes(s)...) {
		admin.Add(r.method, r.path, s.authorize(r))
	}
	s.gateRoutes(s.app.Group("/gate/v1"))
	s.app.Use(httpx.NotFound)
	return s
}

// App is the Fiber app, for tests.
func (s *Server) App() *fiber.App { return s.app }

// Serve runs until ctx ends.
func (s *Server) Serve(ctx context.Context, addr string) error {
	return httpx.Serve(ctx, s.app, addr, s.log)
}

// ServeListener runs on an existing listener until ctx ends.
func (s *Server) ServeListener(ctx context.Context, ln net.Listener) error {
	return httpx.ServeListener(ctx, s.app, ln, s.log)
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

// route is one admin endpoint and the single action it needs permission for.
type route struct {
	method string
	path   string
	action access.Action
	handle func(c *fiber.Ctx, r *request) error
}

// request is what authorize hands a handler: who asks, and about which community.
type request struct {
	staff     access.Staff
	community uuid.UUID // uuid.Nil for routes without :community
}

// authorize is the one place admin access is decided: bearer token -> staff, the
// community of the path -> visibility, the route's action -> role.
func (s *Server) authorize(r route) fiber.Handler {
	return func(c *fiber.Ctx) error {
		token, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
		if !ok || token == "" {
			return access.ErrUnauthorized
		}
		staff, err := s.db.StaffByToken(c.UserContext(), token)
		if err != nil {
			return err
		}
		req := &request{staff: staff}
		switch {
		case c.Params("community") != "":
			if req.community, err = httpx.PathUUID(c, "community"); err != nil {
				return err
			}
		case c.Params("resident") != "":
			// Paths that name only a resident belong to the resident's community.
			id, err := httpx.PathUUID(c, "resident")
			if err != nil {
				return err
			}
			if req.community, err = s.db.ResidentCommunity(c.UserContext(), id); err != nil {
				return err
			}
		case c.Params("gate") != "":
			// Paths that name only a gate belong to the gate's community.
			id, err := httpx.PathUUID(c, "gate")
			if err != nil {
				return err
			}
			if req.community, err = s.db.GateCommunity(c.UserContext(), id); err != nil {
				return err
			}
		}
		if err := staff.Authorize(r.action, req.community); err != nil {
			return err
		}
		if req.community != uuid.Nil {
			if _, err := s.db.Community(c.UserContext(), req.community); err != nil {
				return err
			}
		}
		return r.handle(c, req)
	}
}
