package apitest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
)

// recorder is a testing.TB whose Fatalf ends only the goroutine it runs on, so a test can
// see that a helper fails the test it is given.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Fatal(args ...any) { r.Fatalf("%s", fmt.Sprint(args...)) }

// run calls fn with a client of the server on a recorder and returns the failure, if any.
func run(base string, fn func(c *Client)) string {
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(&Client{T: r, Base: base})
	}()
	<-done
	return r.failed
}

func TestClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error": {"code": "unauthorized", "message": "no token"}}`)
			return
		}
		switch r.URL.Path {
		case "/ok":
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			fmt.Fprint(w, `{"n": 1}`)
		case "/text":
			fmt.Fprint(w, "plain")
		case "/bare-error":
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"message": "no code"}`)
		case "/blank-code":
			w.WriteHeader(http.StatusConflict)
			fmt.Fprint(w, `{"error": {"code": "", "message": "m"}}`)
		}
	}))
	defer srv.Close()

	cases := []struct {
		name string
		call func(c *Client)
		fail string // in the failure; "" for none
	}{
		{"JSON answer", func(c *Client) {
			if out := c.Must(200, "GET", "/ok", "tok", nil); out["n"] != 1.0 {
				c.T.Fatalf("unexpected answer %v", out)
			}
		}, ""},
		{"not JSON is an empty map", func(c *Client) {
			if got, out := c.Do("GET", "/text", "tok", nil); got != 200 || len(out) != 0 {
				c.T.Fatalf("unexpected answer %v", out)
			}
		}, ""},
		{"error with the shape", func(c *Client) { c.MustFail(401, "unauthorized", "GET", "/ok", "", nil) }, ""},
		{"any code", func(c *Client) { c.MustFail(401, "", "GET", "/ok", "", nil) }, ""},
		{"wrong status", func(c *Client) { c.Must(200, "GET", "/ok", "", nil) }, "want 200"},
		{"wrong code", func(c *Client) { c.MustFail(401, "forbidden", "GET", "/ok", "", nil) }, "want 401 forbidden"},
		{"error without the shape", func(c *Client) { c.Do("GET", "/bare-error", "tok", nil) }, "without the error shape"},
		{"blank code", func(c *Client) { c.Do("GET", "/blank-code", "tok", nil) }, "without the error shape"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := run(srv.URL, tc.call)
			if (tc.fail == "") != (got == "") || !strings.Contains(got, tc.fail) {
				t.Fatalf("failure %q, want one containing %q", got, tc.fail)
			}
		})
	}
}

func TestUniqueAndMustJSON(t *testing.T) {
	if a, b := Unique("x"), Unique("x"); a == b || !strings.HasPrefix(a, "x ") {
		t.Fatalf("Unique gave %q and %q", a, b)
	}
	if got := string(MustJSON(t, map[string]int{"a": 1})); got != `{"a":1}` {
		t.Fatalf("MustJSON = %s", got)
	}
	if failed := run("", func(c *Client) { MustJSON(c.T, func() {}) }); failed == "" {
		t.Fatal("MustJSON of a func did not fail the test")
	}
}
