package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"gatepass/internal/dbtest"
	"gatepass/server/internal/servertest"
)

// The API packages' tests run on servertest's copy of this wiring; this checks the
// program's own: both surfaces at their prefixes, each with its body limit, readiness,
// and a JSON 404 for the rest.
func TestServerMountsBothSurfaces(t *testing.T) {
	s, err := NewServer(dbtest.New(t), servertest.NewSealer(t), slog.New(slog.NewTextHandler(io.Discard, nil)), Settings{})
	if err != nil {
		t.Fatal(err)
	}
	big := `{"events": [` + strings.Repeat(" ", 100<<10) + `]}` // over the admin limit, under the gate's
	cases := []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"GET", "/readyz", "", 200, ""},
		{"GET", "/admin/v1/communities", "", 401, "unauthorized"},
		{"POST", "/admin/v1/communities", big, 413, "body_too_large"},
		{"GET", "/gate/v1/sync", "", 401, "unauthorized"},
		{"POST", "/gate/v1/events", big, 401, "unauthorized"},
		{"GET", "/console/", "", 200, ""}, // the staff console's page
		{"GET", "/console/api/v1/session", "", 401, "unauthorized"},
		{"GET", "/elsewhere", "", 404, "not_found"},
	}
	for _, c := range cases {
		req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
		resp, err := s.app.Test(req, -1)
		if err != nil {
			t.Fatalf("%s %s: %v", c.method, c.path, err)
		}
		var out struct {
			Error struct{ Code string } `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if resp.StatusCode != c.status || out.Error.Code != c.code {
			t.Errorf("%s %s = %d %q, want %d %q", c.method, c.path, resp.StatusCode, out.Error.Code, c.status, c.code)
		}
	}
}
