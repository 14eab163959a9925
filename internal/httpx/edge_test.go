package httpx

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"gatepass/internal/apitest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// serve runs app on ln until the test ends and returns its base URL.
func serve(t *testing.T, app *fiber.App, ln net.Listener, scheme string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = ServeListener(ctx, app, ln, quiet); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return scheme + "://" + ln.Addr().String()
}

// selfSigned is a TLS configuration with a throwaway certificate for 127.0.0.1.
func selfSigned(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// Issue 13 item 8: HSTS over TLS, or behind a trusted proxy that says the client came
// over HTTPS; never on plain HTTP, and never because an untrusted client says so.
func TestStrictTransportSecurity(t *testing.T) {
	cases := []struct {
		name    string
		tls     bool
		proxies []string
		proto   string // X-Forwarded-Proto sent
		want    bool
	}{
		{"plain HTTP", false, nil, "", false},
		{"untrusted client claims HTTPS", false, nil, "https", false},
		{"client outside the trusted range claims HTTPS", false, []string{"10.0.0.0/8"}, "https", false},
		{"trusted proxy says HTTPS", false, []string{"127.0.0.1"}, "https", true},
		{"trusted range says HTTPS", false, []string{"127.0.0.0/8"}, "https", true},
		{"trusted proxy says HTTP", false, []string{"127.0.0.1"}, "http", false},
		{"TLS to this process", true, nil, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			app := NewApp(Options{Name: "t", Log: quiet, TrustedProxies: c.proxies})
			app.Use(NotFound)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			scheme, client := "http", http.DefaultClient
			if c.tls {
				ln = tls.NewListener(ln, selfSigned(t))
				scheme = "https"
				client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
			}
			base := serve(t, app, ln, scheme)
			for _, path := range []string{"/healthz", "/no-such-route"} { // errors too
				req, _ := http.NewRequest("GET", base+path, nil)
				if c.proto != "" {
					req.Header.Set("X-Forwarded-Proto", c.proto)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if got := resp.Header.Get("Strict-Transport-Security"); (got == "max-age=31536000") != c.want || (!c.want && got != "") {
					t.Fatalf("%s: Strict-Transport-Security %q, want it: %v", path, got, c.want)
				}
			}
		})
	}
}

func TestEdgeSettings(t *testing.T) {
	cases := []struct {
		name, metrics, proxies string
		want                   string // in the error; "" means accepted
	}{
		{"defaults", "", "", ""},
		{"off", "off", "", ""},
		{"a port of all interfaces", ":9100", "", ""},
		{"proxies", "", "10.0.0.1, 192.168.0.0/16,::1", ""},
		{"metrics without a port", "127.0.0.1", "", "METRICS_ADDR"},
		{"a proxy by name", "", "proxy.internal", `"proxy.internal"`},
		{"a bad range", "", "10.0.0.0/33", "TRUSTED_PROXIES"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("METRICS_ADDR", c.metrics)
			t.Setenv("TRUSTED_PROXIES", c.proxies)
			var e Edge
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			e.Flags(fs, "127.0.0.1:9090")
			if err := fs.Parse(nil); err != nil {
				t.Fatal(err)
			}
			err := e.Check()
			if c.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if c.metrics == "" && e.MetricsAddr != "127.0.0.1:9090" {
					t.Fatalf("default metrics address %q", e.MetricsAddr)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one naming %q", err, c.want)
			}
		})
	}
}

// /metrics is served on its own address and not on the API's; an address the operator
// chose that is taken stops the program, the default one taken only costs the metrics.
func TestServeEdgeMetricsApart(t *testing.T) {
	reg := prometheus.NewRegistry()
	app := NewApp(Options{Name: "t", Log: quiet, Registry: reg})
	app.Use(NotFound)
	addr, metricsAddr := apitest.FreeAddr(t), apitest.FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ServeEdge(ctx, app, addr, Edge{MetricsAddr: metricsAddr, defaultMetrics: "127.0.0.1:9090"}, reg, quiet)
	}()
	get := func(base, path string) (int, string) {
		for range 100 {
			resp, err := http.Get("http://" + base + path)
			if err != nil {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode, string(b)
		}
		t.Fatalf("%s never answered", base)
		return 0, ""
	}
	if code, _ := get(addr, "/healthz"); code != 200 {
		t.Fatalf("healthz = %d", code)
	}
	if code, _ := get(addr, "/metrics"); code != 404 {
		t.Fatalf("/metrics on the API's address = %d, want 404", code)
	}
	code, body := get(metricsAddr, "/metrics")
	if code != 200 || !strings.Contains(body, `gatepass_http_requests_total{method="GET",route="/healthz",status="200"} 1`) {
		t.Fatalf("/metrics on its own address = %d %.300s", code, body)
	}
	if code, _ := get(metricsAddr, "/healthz"); code != 404 {
		t.Fatalf("the metrics listener serves the API: %d", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}

	// Taken addresses.
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	chosen := Edge{MetricsAddr: held.Addr().String(), defaultMetrics: "127.0.0.1:9090"}
	if err := ServeEdge(context.Background(), NewApp(Options{Name: "t", Log: quiet}), apitest.FreeAddr(t), chosen, reg, quiet); err == nil || !strings.Contains(err.Error(), "metrics listen") {
		t.Fatalf("a chosen metrics address that is taken: %v", err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	dflt := Edge{MetricsAddr: held.Addr().String(), defaultMetrics: held.Addr().String()}
	ctx, cancel = context.WithCancel(context.Background())
	addr = apitest.FreeAddr(t)
	go func() { done <- ServeEdge(ctx, NewApp(Options{Name: "t", Log: quiet}), addr, dflt, reg, log) }()
	if code, _ := get(addr, "/healthz"); code != 200 {
		t.Fatalf("with the default metrics address taken, the API = %d", code)
	}
	cancel()
	if err := <-done; err != nil || !strings.Contains(logs.String(), "metrics not served") {
		t.Fatalf("default address taken: %v, logs %s", err, logs.String())
	}
}

func TestNoStore(t *testing.T) {
	app := NewApp(Options{Name: "t", Log: quiet})
	app.Get("/secret", func(c *fiber.Ctx) error { NoStore(c); return c.JSON(fiber.Map{"token": "x"}) })
	app.Get("/plain", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{}) })
	for path, want := range map[string]string{"/secret": "no-store", "/plain": ""} {
		resp, err := app.Test(httptest.NewRequest("GET", path, nil))
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Header.Get("Cache-Control"); got != want {
			t.Errorf("%s: Cache-Control %q, want %q", path, got, want)
		}
	}
}
