// Package apitest sends requests to a real listener in tests: JSON bodies (or raw text
// for malformed input), a bearer token, and the answer read whole.
package apitest

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
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
