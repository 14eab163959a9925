package gatesync_test

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"gatepass/internal/httpx"
	"gatepass/server/internal/gatesync"
	"gatepass/server/internal/servertest"
)

// Issue 20 item 6: a gate that closes its connection during a long poll ends the poll
// at once, plain or kept alive (it held a subscription, and before the hub a query
// every 5 s, for up to 25 s more); Close answers the polls still held at once.
func TestLongPollEndsWhenTheGateGoes(t *testing.T) {
	h := servertest.New(t)
	f := h.Community()
	_, tok := h.EnrolledGate(f)
	api, ln := serveGateAPI(t, h)
	cursor := int64(h.Must(200, "GET", "/gate/v1/sync?cursor=0", tok, nil)["cursor"].(float64))

	poll := func(query string) net.Conn {
		t.Helper()
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET /gate/v1/sync?cursor=%d&wait=25s%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", cursor, query, tok)
		return conn
	}
	waitHeld := func(n int, within time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		for api.Waiting() != n {
			if time.Since(start) > within {
				t.Fatalf("%d polls held after %v, want %d", api.Waiting(), within, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
		return time.Since(start)
	}
	for _, q := range []string{"", "&keepalive=1"} {
		conn := poll(q)
		waitHeld(1, 5*time.Second)
		conn.Close()
		// A kept-alive poll learns it from its keepalive writes (the first after the
		// close still succeeds: within two beats).
		d := waitHeld(0, 3*time.Second)
		t.Logf("poll%s ended %v after the gate closed its connection", q, d.Round(time.Millisecond))
	}

	// Shutdown: held polls are answered at once, with the cursor they came with.
	a, b := poll(""), poll("&keepalive=1")
	defer a.Close()
	defer b.Close()
	waitHeld(2, 5*time.Second)
	start := time.Now()
	api.Close()
	for _, conn := range []net.Conn{a, b} {
		_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 4096)
		got := ""
		for !containsCursor(got, cursor) {
			n, err := conn.Read(buf)
			if err != nil {
				t.Fatalf("held poll after Close: %v (read %q)", err, got)
			}
			got += string(buf[:n])
		}
	}
	t.Logf("held polls answered %v after Close", time.Since(start).Round(time.Millisecond))
}

func containsCursor(body string, cursor int64) bool {
	return strings.Contains(body, fmt.Sprintf(`"cursor":%d,`, cursor))
}

// serveGateAPI is a gate API of its own on h's database, on a listener of its own, for
// the tests that look into it (its held polls) or close it; it is stopped when the test
// ends.
func serveGateAPI(t *testing.T, h *servertest.Harness) (*gatesync.API, net.Listener) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	api := gatesync.New(h.DB, log)
	app := httpx.NewApp(httpx.Options{Name: "t", Log: log, BodyLimit: gatesync.BodyLimit})
	api.Mount(app)
	return api, servertest.Serve(t, app, log)
}
