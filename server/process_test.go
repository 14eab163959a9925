package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gatepass/internal/apitest"
	"gatepass/internal/dbtest"
)

// TestServeProcess runs the real binary: it migrates, serves the operational endpoints
// (metrics on their own address, not the API's), logs one line per request with its
// request id, and stops cleanly on SIGTERM.
func TestServeProcess(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "server")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	keyFile := filepath.Join(dir, "master.key")
	if err := os.WriteFile(keyFile, []byte(strings.Repeat("5a", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, metricsAddr := apitest.FreeAddr(t), apitest.FreeAddr(t)

	var logs bytes.Buffer
	cmd := exec.Command(bin, "serve", "--listen", addr)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbtest.URL(t), "MASTER_KEY_FILE="+keyFile,
		"METRICS_ADDR="+metricsAddr, "TRUSTED_PROXIES=127.0.0.1")
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	get := func(path string) (int, string, http.Header) {
		return getFrom(addr, path)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if code, _, _ := get("/healthz"); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come up:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, body, _ := get("/readyz"); code != 200 {
		t.Fatalf("readyz = %d %s", code, body)
	}
	code, _, hdr := get("/admin/v1/communities")
	if code != 401 || hdr.Get("X-Request-Id") == "" {
		t.Fatalf("unauthenticated admin call = %d, request id %q", code, hdr.Get("X-Request-Id"))
	}
	reqID := hdr.Get("X-Request-Id")
	// Metrics are on their own address only; the API's port has no such route.
	if code, _, _ := get("/metrics"); code != 404 {
		t.Fatalf("/metrics on the API port = %d, want 404", code)
	}
	_, metrics, _ := getFrom(metricsAddr, "/metrics")
	for _, want := range []string{
		`gatepass_http_requests_total{method="GET",route="/admin/v1/communities",status="401"} 1`,
		`gatepass_http_request_duration_seconds_bucket{method="GET",route="/readyz"`,
		`go_sql_open_connections{db_name="gatepass"}`,
		`go_sql_max_open_connections{db_name="gatepass_gate_sync"}`,
		`go_sql_max_open_connections{db_name="gatepass_gate_writes"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// HSTS only when a trusted proxy says the request came over HTTPS.
	for proto, want := range map[string]string{"": "", "http": "", "https": "max-age=31536000"} {
		req, _ := http.NewRequest("GET", "http://"+addr+"/healthz", nil)
		if proto != "" {
			req.Header.Set("X-Forwarded-Proto", proto)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Strict-Transport-Security"); got != want {
			t.Errorf("X-Forwarded-Proto %q from a trusted proxy: HSTS %q, want %q", proto, got, want)
		}
	}

	stopWithin(t, cmd, 10*time.Second, logs.String)
	for _, want := range []string{`"request_id":"` + reqID + `"`, `"route":"/admin/v1/communities"`, `"status":401`, `"latency_ms"`, "shutting down"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s", want)
		}
	}
}

func getFrom(addr, path string) (int, string, http.Header) {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return 0, err.Error(), nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// stopWithin sends SIGTERM and fails the test unless the process exits cleanly within d;
// logs gives its log for the failure message.
func stopWithin(t *testing.T, cmd *exec.Cmd, d time.Duration, logs func() string) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logs())
		}
	case <-time.After(d):
		t.Fatalf("server did not stop within %s of SIGTERM", d)
	}
}
