package httpx

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

func TestPanicBecomesJSON500AndIsLogged(t *testing.T) {
	var logs bytes.Buffer
	app := NewApp(Options{Name: "t", Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	app.Get("/boom", func(c *fiber.Ctx) error { panic("kaboom") })
	app.Get("/fail", func(c *fiber.Ctx) error { return io.ErrUnexpectedEOF })
	app.Use(NotFound)
	for path, wantStatus := range map[string]int{"/boom": 500, "/fail": 500, "/missing": 404} {
		resp, err := app.Test(httptest.NewRequest("GET", path, nil))
		if err != nil {
			t.Fatalf("%s: connection dropped: %v", path, err)
		}
		var body struct {
			Error struct{ Code, Message string }
		}
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != wantStatus || json.Unmarshal(raw, &body) != nil || body.Error.Code == "" {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, raw)
		}
		if wantStatus == 500 && strings.Contains(string(raw), "kaboom") || strings.Contains(string(raw), "unexpected EOF") {
			t.Fatalf("%s: internal detail leaked to the client: %s", path, raw)
		}
		if resp.Header.Get("X-Request-Id") == "" {
			t.Fatalf("%s: no request id header", path)
		}
	}
	for _, want := range []string{`"panic":"kaboom"`, `"stack"`, `"route":"/boom"`, `"status":500`, "request_id"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs.String())
		}
	}
}

func TestChecker(t *testing.T) {
	str := func(s string) *string { return &s }
	num := func(n int) *int { return &n }
	cases := []struct {
		name  string
		check func(k *Checker)
		field string // "" when valid
	}{
		{"ok text", func(k *Checker) { k.Text("name", str(" 李伟 "), 1, 2) }, ""},
		{"nil required", func(k *Checker) { k.Text("name", nil, 1, 5) }, "name"},
		{"nil optional", func(k *Checker) { k.Text("phone", nil, 0, 5) }, ""},
		{"too long in runes", func(k *Checker) { k.Text("name", str("李伟伟"), 1, 2) }, "name"},
		{"control", func(k *Checker) { k.Text("name", str("a\tb"), 1, 5) }, "name"},
		{"right-to-left override", func(k *Checker) { k.Text("name", str("lla\u202e0912"), 1, 20) }, "name"},
		{"isolate", func(k *Checker) { k.Text("name", str("a\u2066b"), 1, 20) }, "name"},
		{"C1 control", func(k *Checker) { k.Text("name", str("a\u0085b"), 1, 20) }, "name"},
		{"one of", func(k *Checker) { k.OneOf("role", str("x"), []string{"a"}) }, "role"},
		{"uuid short", func(k *Checker) { k.UUID("id", str("1234")) }, "id"},
		{"uuid urn", func(k *Checker) { k.UUID("id", str("urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8")) }, "id"},
		{"int range", func(k *Checker) { k.Int("zone", num(64), 0, 63) }, "zone"},
		{"first problem wins", func(k *Checker) { k.Int("a", nil, 0, 1); k.Int("b", nil, 0, 1) }, "a"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var k Checker
			c.check(&k)
			err := k.Err()
			if c.field == "" && err != nil || c.field != "" && (err == nil || !strings.HasPrefix(err.Error(), c.field+":")) {
				t.Fatalf("err = %v, want problem with %q", err, c.field)
			}
		})
	}
}

func TestLimitBody(t *testing.T) {
	app := NewApp(Options{Name: "t", Log: slog.New(slog.NewTextHandler(io.Discard, nil)), BodyLimit: 1 << 20})
	small := app.Group("/small", LimitBody(10))
	small.Post("/", func(c *fiber.Ctx) error { return c.SendString("ok") })
	app.Post("/big", func(c *fiber.Ctx) error { return c.SendString("ok") })
	for _, c := range []struct {
		path string
		size int
		want int
	}{{"/small/", 10, 200}, {"/small/", 11, 413}, {"/big", 1000, 200}} {
		resp, err := app.Test(httptest.NewRequest("POST", c.path, strings.NewReader(strings.Repeat("a", c.size))))
		if err != nil || resp.StatusCode != c.want {
			t.Errorf("POST %s with %d bytes: %v %v, want %d", c.path, c.size, resp.StatusCode, err, c.want)
		}
	}
}

// Every answer says how long the server took over it (Server-Timing), which the load
// tools set beside what the client waited.
func TestServerTiming(t *testing.T) {
	app := NewApp(Options{Name: "t", Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	app.Get("/slow", func(c *fiber.Ctx) error {
		time.Sleep(30 * time.Millisecond)
		return c.SendString("ok")
	})
	resp, err := app.Test(httptest.NewRequest("GET", "/slow", nil))
	if err != nil {
		t.Fatal(err)
	}
	var ms float64
	if _, err := fmt.Sscanf(resp.Header.Get("Server-Timing"), "app;dur=%g", &ms); err != nil || ms < 30 || ms > 10_000 {
		t.Fatalf("Server-Timing %q: want app;dur= of at least 30 ms (%v)", resp.Header.Get("Server-Timing"), err)
	}
}
