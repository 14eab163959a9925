// Package apitest sends requests to a real listener in tests: JSON bodies (or raw text
// for malformed input), a bearer token, and the answer read whole. Client adds what every
// gatepass API promises its callers, so each test need not check it again: an error
// answer is always {"error": {"code": "...", "message": "..."}}.
package apitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// Response is an answer read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as an object; an empty body gives an empty map.
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	out := map[string]any{}
	if len(r.Body) > 0 && json.Unmarshal(r.Body, &out) != nil {
		t.Fatalf("status %d, body is not a JSON object: %.300q", r.Status, r.Body)
	}
	return out
}

// Do sends method url with a bearer token (none when empty). body is sent as is when it
// is a string or []byte (to send malformed input), else as JSON; nil sends no body.
func Do(t testing.TB, method, url, token string, body any) Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, url, err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// FreeAddr returns a loopback address with a port nobody listens on, for a program the
// test is about to start.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Client calls one program under test. T is exported so that a table test can point a
// shared client at each subtest's t.
type Client struct {
	T    testing.TB
	Base string // http://host:port, prefixed to every path
}

// Do sends a request as the package's Do does and returns the status and the JSON object
// answered (empty when the answer is not JSON). An error answer without the error shape
// fails the test: that promise holds for every route, so no test has to remember it.
func (c *Client) Do(method, path, token string, body any) (int, map[string]any) {
	c.T.Helper()
	resp := Do(c.T, method, c.Base+path, token, body)
	out := map[string]any{}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || resp.Status >= 400 {
		out = resp.JSON(c.T)
	}
	if resp.Status >= 400 {
		if e, ok := out["error"].(map[string]any); !ok || isBlank(e["code"]) || isBlank(e["message"]) {
			c.T.Fatalf("%s %s: %d without the error shape: %s", method, path, resp.Status, resp.Body)
		}
	}
	return resp.Status, out
}

func isBlank(v any) bool {
	s, ok := v.(string)
	return !ok || s == ""
}

// Must sends a request that has to answer want, and returns the body.
func (c *Client) Must(want int, method, path, token string, body any) map[string]any {
	c.T.Helper()
	got, out := c.Do(method, path, token, body)
	if got != want {
		c.T.Fatalf("%s %s = %d %v, want %d", method, path, got, out, want)
	}
	return out
}

// MustFail sends a request that has to fail with status want and, unless code is empty,
// that error code.
func (c *Client) MustFail(want int, code, method, path, token string, body any) {
	c.T.Helper()
	got, out := c.Do(method, path, token, body)
	e, _ := out["error"].(map[string]any)
	if got != want || (code != "" && e["code"] != code) {
		c.T.Fatalf("%s %s = %d %v, want %d %s", method, path, got, out, want, code)
	}
}

// MustJSON marshals v, for tests that build raw bodies or measure them.
func MustJSON(t testing.TB, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

var seq atomic.Int64

// Unique returns prefix followed by a number no earlier call in this process returned:
// tests share their package's database, and names such as a building's must not collide.
func Unique(prefix string) string { return fmt.Sprintf("%s %d", prefix, seq.Add(1)) }
