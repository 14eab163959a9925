package httpx

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MetricsOff as the metrics address serves no metrics at all.
const MetricsOff = "off"

// Edge is how a program's HTTP edge meets the network, read the same way by server
// and mobile-api: where /metrics listens (never on the API's internet-facing port:
// metrics name routes, error rates and pool sizes an attacker would like to watch) and
// which reverse proxies are believed when they say a request came over HTTPS.
type Edge struct {
	MetricsAddr    string   // host:port of the metrics listener, or MetricsOff
	TrustedProxies []string // IPs and CIDRs; from anyone else X-Forwarded-* is ignored

	defaultMetrics string
	proxies        string
}

// Flags registers --metrics-addr (env METRICS_ADDR, default defaultMetrics, a loopback
// address, so that only the host and what it forwards can scrape) and
// --trusted-proxies (env TRUSTED_PROXIES, a comma-separated list). Call Check after
// parsing.
func (e *Edge) Flags(fs *flag.FlagSet, defaultMetrics string) {
	e.defaultMetrics = defaultMetrics
	addr := defaultMetrics
	if v := os.Getenv("METRICS_ADDR"); v != "" {
		addr = v
	}
	fs.StringVar(&e.MetricsAddr, "metrics-addr", addr,
		"listen address of /metrics, apart from the API, or \"off\" (env METRICS_ADDR)")
	fs.StringVar(&e.proxies, "trusted-proxies", os.Getenv("TRUSTED_PROXIES"),
		"comma-separated IPs or CIDRs of reverse proxies whose X-Forwarded-Proto is believed (env TRUSTED_PROXIES)")
}

// Check reads the parsed flags: the trusted proxies must each be an IP or a CIDR, and
// the metrics address a host:port or MetricsOff.
func (e *Edge) Check() error {
	list, err := ParseTrustedProxies(e.proxies)
	if err != nil {
		return err
	}
	e.TrustedProxies = list
	if e.MetricsAddr != MetricsOff {
		if _, _, err := net.SplitHostPort(e.MetricsAddr); err != nil {
			return fmt.Errorf("metrics address (METRICS_ADDR, --metrics-addr) %q: %w", e.MetricsAddr, err)
		}
	}
	return nil
}

// ParseTrustedProxies reads a comma-separated list of IPs and CIDRs. Fiber would take a
// malformed entry silently and never match it, so each is checked here.
func ParseTrustedProxies(s string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				return nil, fmt.Errorf("trusted proxy (TRUSTED_PROXIES, --trusted-proxies) %q is neither an IP nor a CIDR", p)
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// listenMetrics opens the metrics address; nil with no error means no metrics. An address
// the operator chose that cannot be opened is an error. The default one held by another
// process (a second copy on the host) is only logged: gates must not stop opening
// because a scrape target is missing.
func (e Edge) listenMetrics(log *slog.Logger) (net.Listener, error) {
	if e.MetricsAddr == MetricsOff || e.MetricsAddr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", e.MetricsAddr)
	switch {
	case err == nil:
		return ln, nil
	case e.MetricsAddr == e.defaultMetrics:
		log.Warn("metrics not served: the default metrics address is taken; set METRICS_ADDR", "addr", e.MetricsAddr, "err", err)
		return nil, nil
	}
	return nil, fmt.Errorf("metrics listen %s: %w", e.MetricsAddr, err)
}

// MetricsApp is the app of the metrics listener: GET /metrics of reg, and nothing else.
func MetricsApp(reg *prometheus.Registry, log *slog.Logger) *fiber.App {
	app := fiber.New(fiber.Config{DisableStartupMessage: true, ErrorHandler: errorHandler(log)})
	app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	app.Use(NotFound)
	return app
}

// ServeEdge serves app on addr and, on the edge's metrics address, reg's /metrics,
// until ctx ends or the API listener fails; the metrics listener stops with it.
func ServeEdge(ctx context.Context, app *fiber.App, addr string, e Edge, reg *prometheus.Registry, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	mln, err := e.listenMetrics(log)
	if err != nil {
		ln.Close()
		return err
	}
	if mln == nil {
		return ServeListener(ctx, app, ln, log)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	metricsDone := make(chan error, 1)
	go func() { metricsDone <- ServeListener(ctx, MetricsApp(reg, log), mln, log.With("listener", "metrics")) }()
	err = ServeListener(ctx, app, ln, log)
	cancel()
	if merr := <-metricsDone; merr != nil && !errors.Is(merr, net.ErrClosed) {
		err = errors.Join(err, fmt.Errorf("metrics: %w", merr))
	}
	return err
}
