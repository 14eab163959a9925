package httpx

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

type strictIn struct {
	Name  *string `json:"name"`
	Count *int    `json:"count"`
	Inner *struct {
		X *int `json:"x"`
	} `json:"inner"`
}

// strictApp echoes what DecodeJSON read, so a test sees exactly what a handler would get.
func strictApp(logs io.Writer) *fiber.App {
	app := NewApp(Options{Name: "t", Log: slog.New(slog.NewJSONHandler(logs, nil))})
	app.Post("/in", LimitBody(DefaultBodyLimit), func(c *fiber.Ctx) error {
		var in strictIn
		if err := DecodeJSON(c, &in); err != nil {
			return err
		}
		return c.JSON(in)
	})
	app.Get("/v/:token", func(c *fiber.Ctx) error { return c.SendString("page") })
	app.Use(NotFound)
	return app
}

func TestDecodeJSONIsStrict(t *testing.T) {
	app := strictApp(io.Discard)
	const json = "application/json"
	cases := []struct {
		name, ctype, body string
		status            int
		code, field       string
	}{
		{"ok", json, `{"name":"a","count":1}`, 200, "", ""},
		{"ok with charset", json + "; charset=utf-8", `{"name":"a"}`, 200, "", ""},
		{"duplicate key", json, `{"name":"a","name":"b"}`, 400, "duplicate_field", "name"},
		{"nested duplicate", json, `{"inner":{"x":1,"x":2}}`, 400, "duplicate_field", "inner.x"},
		{"case-folded name", json, `{"Name":"a"}`, 400, "unknown_field", "Name"},
		{"unknown field", json, `{"nam":"a"}`, 400, "unknown_field", "nam"},
		{"nested unknown", json, `{"inner":{"y":1}}`, 400, "unknown_field", "inner.y"},
		{"invalid UTF-8", json, "{\"name\":\"\xff\"}", 400, "invalid_utf8", "name"},
		{"wrong type", json, `{"count":"1"}`, 400, "wrong_type", "count"},
		{"nested wrong type", json, `{"inner":{"x":"1"}}`, 400, "wrong_type", "inner.x"},
		{"out of range", json, `{"count":99999999999999999999}`, 400, "wrong_type", "count"},
		{"array", json, `[]`, 400, "malformed_json", ""},
		{"trailing data", json, `{"name":"a"} {}`, 400, "malformed_json", ""},
		{"syntax", json, `{"name":`, 400, "malformed_json", ""},
		{"empty", json, ``, 400, "malformed_json", ""},
		{"no content type", "", `{"name":"a"}`, 415, "unsupported_media_type", ""},
		{"jsonx", "application/jsonx", `{"name":"a"}`, 415, "unsupported_media_type", ""},
		{"form", "application/x-www-form-urlencoded", `{"name":"a"}`, 415, "unsupported_media_type", ""},
		{"text", "text/plain", `{"name":"a"}`, 415, "unsupported_media_type", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/in", strings.NewReader(c.body))
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			resp, err := app.Test(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, raw)
			}
			if c.code == "" {
				return
			}
			var e struct {
				Error struct{ Code, Message, Field string }
			}
			if err := jsonUnmarshal(raw, &e); err != nil || e.Error.Code != c.code {
				t.Fatalf("error %s, want code %s", raw, c.code)
			}
			if c.field != "" && !strings.Contains(e.Error.Message+" "+e.Error.Field, c.field) {
				t.Fatalf("error %s does not name field %s", raw, c.field)
			}
		})
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func TestRequestIDFromClientIsChecked(t *testing.T) {
	var logs bytes.Buffer
	app := strictApp(&logs)
	for _, c := range []struct {
		sent string
		kept bool
	}{
		{"abc-123.x", true},
		{"abc_123", false},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"has space", false},
		{"gps_" + strings.Repeat("A", 60), false},
		{`x","level":"ERROR`, false},
	} {
		req := httptest.NewRequest("GET", "/healthz", nil)
		req.Header.Set("X-Request-Id", c.sent)
		resp, err := app.Test(req)
		if err != nil {
			t.Fatal(err)
		}
		got := resp.Header.Get("X-Request-Id")
		if (got == c.sent) != c.kept || got == "" {
			t.Errorf("sent %q, answered %q; kept want %v", c.sent, got, c.kept)
		}
		if !c.kept && strings.Contains(logs.String(), c.sent) {
			t.Errorf("refused request id %q reached the log", c.sent)
		}
	}
}

func TestLogCarriesRouteNotPath(t *testing.T) {
	var logs bytes.Buffer
	app := strictApp(&logs)
	secretPath := "/v/gpv_" + strings.Repeat("S", 64)
	if _, err := app.Test(httptest.NewRequest("GET", secretPath, nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Test(httptest.NewRequest("GET", "/nope/gps_"+strings.Repeat("T", 64), nil)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "SSSS") || strings.Contains(logs.String(), "TTTT") {
		t.Fatalf("a raw path reached the log:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), `"route":"/v/:token"`) {
		t.Fatalf("log lacks the route template:\n%s", logs.String())
	}
}

// bomb is 200 MB of zeros gzipped twice: about half a kilobyte on the wire.
func bomb(t *testing.T) []byte {
	t.Helper()
	var inner bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&inner, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for range 200 {
		zw.Write(zeros)
	}
	zw.Close()
	var outer bytes.Buffer
	zw, _ = gzip.NewWriterLevel(&outer, gzip.BestCompression)
	zw.Write(inner.Bytes())
	zw.Close()
	return outer.Bytes()
}

// TestMain doubles as the child process of TestDecompressionBombInARealProcess.
func TestMain(m *testing.M) {
	if os.Getenv("GATEPASS_HTTPX_CHILD") == "1" {
		serveChild()
		return
	}
	os.Exit(m.Run())
}

func serveChild() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String())
	app := strictApp(io.Discard)
	go func() { io.Copy(io.Discard, os.Stdin); os.Exit(0) }() // the parent closes stdin to stop us
	app.Listener(ln)
}

// peakRSS reads a process's high-water resident set size in kB.
func peakRSS(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// TestDecompressionBombInARealProcess sends the bomb from the security review to a real
// listener in its own process and measures that process's peak memory.
func TestDecompressionBombInARealProcess(t *testing.T) {
	payload := bomb(t)
	if len(payload) > 4096 {
		t.Fatalf("bomb is %d bytes; want a small one", len(payload))
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GATEPASS_HTTPX_CHILD=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + strings.TrimSpace(addr)
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableCompression: true}}
	// Warm up the child (first request, JSON path) so the baseline includes that.
	warm, _ := http.NewRequest("POST", url+"/in", strings.NewReader(`{"name":"a"}`))
	warm.Header.Set("Content-Type", "application/json")
	if resp, err := client.Do(warm); err != nil || resp.StatusCode != 200 {
		t.Fatalf("warm-up: %v %v", resp, err)
	}
	before := peakRSS(t, cmd.Process.Pid)
	for _, enc := range []string{"gzip, gzip", "gzip", "deflate", "br"} {
		for _, path := range []string{"/in", "/nope"} {
			req, _ := http.NewRequest("POST", url+path, bytes.NewReader(payload))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Content-Encoding", enc)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", enc, path, err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnsupportedMediaType || !strings.Contains(string(raw), "unsupported_media_type") {
				t.Fatalf("%s %s: %d %s, want 415", enc, path, resp.StatusCode, raw)
			}
		}
	}
	after := peakRSS(t, cmd.Process.Pid)
	t.Logf("peak RSS of the server process: %d kB before, %d kB after the bombs", before, after)
	if after-before > 4096 {
		t.Fatalf("peak RSS rose by %d kB; want < 4 MB", after-before)
	}
}
