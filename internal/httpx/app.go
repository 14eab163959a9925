package httpx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/requestid"
	"github.com/gofiber/fiber/v2/utils"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultBodyLimit caps request bodies; endpoints that need more say so in their server.
const DefaultBodyLimit = 64 << 10

// Options configure NewApp.
type Options struct {
	Name      string
	Log       *slog.Logger
	Registry  *prometheus.Registry // request metrics go here; ServeEdge serves it apart
	BodyLimit int
	// TrustedProxies (Edge.TrustedProxies) are believed when they say, in
	// X-Forwarded-Proto, that a request came over HTTPS; from anyone else that header
	// is ignored.
	TrustedProxies []string
}

// NewApp makes a Fiber app with the shared edge: request ids, a log line and metrics per
// request, panics turned into 500s, JSON errors, HSTS over HTTPS, and /healthz. /metrics
// is not on it: ServeEdge serves it on a listener of its own.
func NewApp(o Options) *fiber.App {
	if o.BodyLimit == 0 {
		o.BodyLimit = DefaultBodyLimit
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	app := fiber.New(fiber.Config{
		AppName:               o.Name,
		BodyLimit:             o.BodyLimit,
		ErrorHandler:          errorHandler(o.Log),
		DisableStartupMessage: true,
		// Fiber's strings otherwise alias fasthttp buffers that are reused after the
		// request; metrics labels and anything kept beyond the handler would change.
		Immutable:   true,
		ReadTimeout: 30 * time.Second,
		// Long polls hold a request for up to ~30 s.
		WriteTimeout: 60 * time.Second,
		IdleTimeout:  120 * time.Second,
		// c.Protocol() reads X-Forwarded-Proto only from these; without the check Fiber
		// believes anyone, and a client could claim HTTPS over plain HTTP.
		EnableTrustedProxyCheck: true,
		TrustedProxies:          o.TrustedProxies,
	})
	m := newMetrics(o.Registry)
	app.Use(requestid.New(requestid.Config{Header: "X-Request-Id", Generator: utils.UUIDv4}), checkRequestID)
	app.Use(observe(o.Log, m))
	app.Use(recoverPanics(o.Log))
	app.Use(refuseEncodedBodies, strictTransport)
	app.Get("/healthz", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) })
	return app
}

// NotFound is the last handler: unknown routes get a JSON 404.
func NotFound(c *fiber.Ctx) error {
	return Errorf(http.StatusNotFound, "not_found", "no route for %s %s", c.Method(), c.Path())
}

// refuseEncodedBodies answers 415 to a request body with a Content-Encoding. Fiber's
// c.Body() would inflate it with no cap, before authentication: 495 bytes of gzip, gzip
// grew a process by a gigabyte. No client of gatepass compresses what it sends.
func refuseEncodedBodies(c *fiber.Ctx) error {
	if enc := c.Get(fiber.HeaderContentEncoding); enc != "" && !strings.EqualFold(enc, "identity") {
		return Errorf(http.StatusUnsupportedMediaType, "unsupported_media_type", "request bodies must not be compressed")
	}
	return c.Next()
}

// requestIDShape is what a client may send as X-Request-Id: it goes into every log line
// of the request, so nothing that could forge a line or carry a secret's length.
var requestIDShape = regexp.MustCompile(`^[A-Za-z0-9.-]{1,64}$`) // no "_": gatepass secrets have one

// checkRequestID replaces a client's request id that is not of requestIDShape with one
// of our own. It runs after the requestid middleware, which takes the header as given.
func checkRequestID(c *fiber.Ctx) error {
	if id := requestID(c); !requestIDShape.MatchString(id) {
		id = utils.UUIDv4()
		c.Locals("requestid", id)
		c.Set("X-Request-Id", id)
	}
	return c.Next()
}

func requestID(c *fiber.Ctx) string {
	id, _ := c.Locals("requestid").(string)
	return id
}

func recoverPanics(log *slog.Logger) fiber.Handler {
	return func(c *fiber.Ctx) (err error) {
		defer func() {
			if r := recover(); r != nil {
				log.Error("panic", "panic", r, "path", c.Path(), "request_id", requestID(c), "stack", string(debug.Stack()))
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return c.Next()
	}
}

type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatepass_http_requests_total", Help: "HTTP requests by route template and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gatepass_http_request_duration_seconds", Help: "HTTP request latency by route template.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 30},
		}, []string{"method", "route"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

// observe logs one line per request and records its metrics. It runs the error handler
// itself so the status it records is the one the client gets.
func observe(log *slog.Logger, m *metrics) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		err := c.Next()
		if err != nil {
			if herr := c.App().ErrorHandler(c, err); herr != nil {
				_ = c.SendStatus(http.StatusInternalServerError)
			}
		}
		status := c.Response().StatusCode()
		route := c.Route().Path
		if status == http.StatusNotFound && route == "/" {
			route = "unmatched"
		}
		elapsed := time.Since(start)
		// The time spent in the server, apart from the network and the queue for a core
		// before the request was read: browsers' developer tools and the load tools show it
		// beside what the client waited.
		c.Set("Server-Timing", fmt.Sprintf("app;dur=%.1f", float64(elapsed.Microseconds())/1000))
		m.requests.WithLabelValues(c.Method(), route, strconv.Itoa(status)).Inc()
		m.latency.WithLabelValues(c.Method(), route).Observe(elapsed.Seconds())
		level := slog.LevelInfo
		switch {
		case status == http.StatusServiceUnavailable && isBusy(err):
			// Back-pressure under load, by design: not a line per refused request.
			level = slog.LevelDebug
		case status == http.StatusServiceUnavailable:
			level = slog.LevelWarn // the database restarting: expected, and retried
		case status >= 500:
			level = slog.LevelError
		}
		// The route template, never the raw path: paths carry secrets (a visitor link's token).
		log.Log(c.UserContext(), level, "request", "method", c.Method(), "route", route,
			"status", status, "latency_ms", float64(elapsed.Microseconds())/1000, "request_id", requestID(c))
		return nil
	}
}

// Serve listens on addr until ctx ends, then shuts down gracefully, letting requests in
// flight finish.
func Serve(ctx context.Context, app *fiber.App, addr string, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	return ServeListener(ctx, app, ln, log)
}

// ServeListener is Serve on a listener the caller made (tests use port 0).
func ServeListener(ctx context.Context, app *fiber.App, ln net.Listener, log *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- app.Listener(ln) }()
	log.Info("listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := app.ShutdownWithContext(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
