package httpx

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Issue 20 item 6, on a real listener: a handler's context ends when its client closes
// the connection; a client that stays gets its answer, and its next request on the same
// connection (pipelined or not) is served as before.
func TestCancelOnClose(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	app := NewApp(Options{Name: "t", Log: log})
	ended := make(chan time.Duration, 4)
	app.Get("/hold", func(c *fiber.Ctx) error {
		stop := CancelOnClose(c)
		defer stop()
		start := time.Now()
		select {
		case <-c.UserContext().Done():
			ended <- time.Since(start)
			return c.UserContext().Err()
		case <-time.After(time.Duration(c.QueryInt("ms", 10000)) * time.Millisecond):
			return c.SendString("held")
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { _ = ServeListener(ctx, app, ln, log); close(served) }()
	defer func() { cancel(); <-served }()
	addr := ln.Addr().String()

	// The client goes away: the handler's context ends at once.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	closedAt := time.Now()
	conn.Close()
	select {
	case <-ended:
		t.Logf("the handler's context ended %v after the client closed", time.Since(closedAt).Round(time.Millisecond))
	case <-time.After(2 * time.Second):
		t.Fatal("the client closed its connection 2 s ago; the handler's context has not ended")
	}

	// A client that stays: answered, twice on one connection, then two requests sent
	// together (the second's bytes arrive while the first is handled).
	conn, err = net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	read := func() {
		t.Helper()
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "held" {
			t.Fatalf("answer %d %q", resp.StatusCode, body)
		}
	}
	req := "GET /hold?ms=100 HTTP/1.1\r\nHost: x\r\n\r\n"
	for range 2 {
		if _, err := io.WriteString(conn, req); err != nil {
			t.Fatal(err)
		}
		read()
	}
	if _, err := io.WriteString(conn, strings.Repeat(req, 2)); err != nil {
		t.Fatal(err)
	}
	read()
	read()
	select {
	case d := <-ended:
		t.Fatalf("a handler whose client stayed was cancelled after %v", d)
	default:
	}
}
