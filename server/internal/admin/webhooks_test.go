package admin_test

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/apitest"
	"gatepass/internal/dbtest"
	"gatepass/internal/httpx"
	"gatepass/internal/store"
	"gatepass/server/internal/admin"
	"gatepass/server/internal/servertest"
)

// pausedWebhook registers an endpoint of f through the store and pauses it as a day of
// failures would, so that every call of the matrix (resume too) has something to act on.
func (h *harness) pausedWebhook(f servertest.Fixture) string {
	h.T.Helper()
	var id uuid.UUID
	err := h.DB.InTx(context.Background(), "test", func(tx *store.Tx) error {
		e, _, err := tx.CreateWebhookEndpoint(context.Background(), store.NewWebhookEndpoint{Community: uuid.MustParse(f.ID),
			URL: "https://hooks.example.com/" + uuid.NewString(), Events: []string{"entry.created"}}, h.Sealer)
		id = e.ID
		return err
	})
	if err != nil {
		h.T.Fatal(err)
	}
	// A community has at most 20 endpoints; the matrix makes one per call.
	h.T.Cleanup(func() {
		_ = h.DB.InTx(context.Background(), "test", func(tx *store.Tx) error {
			return tx.DeleteWebhookEndpoint(context.Background(), uuid.MustParse(f.ID), id)
		})
	})
	dbtest.Set(h.T, h.DB.SQL(), dbtest.WebhookEndpoints, dbtest.Values{"state": "paused", "paused_at": dbtest.Now(),
		"paused_reason": "failing for a day", "failing_since": dbtest.Ago(25 * time.Hour)}, dbtest.Eq("id", id))
	return id.String()
}

// The endpoint's life through the API: the secret is shown on create and rotate only
// (never to an auditor, never in a list, the log or the audit), every change is audited.
func TestWebhookEndpointLifecycle(t *testing.T) {
	h := newHarness(t)
	f := h.Community()
	base := "/admin/v1/communities/" + f.ID + "/webhooks"
	resp := apitest.Do(t, "POST", h.Base+base, f.Admin, map[string]any{"url": "https://hooks.example.com/a?token=pms-own-token",
		"description": "PMS", "events": []string{"gate.online", "entry.created"}})
	created := resp.JSON(t)
	secret, _ := created["secret"].(string)
	if resp.Status != http.StatusCreated || !strings.HasPrefix(secret, "whsec_") || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("create: %d %v %v", resp.Status, created, resp.Header)
	}
	if ev := created["events"].([]any); len(ev) != 2 || ev[0] != "entry.created" || created["state"] != "active" {
		t.Fatalf("created %v", created)
	}
	id := created["id"].(string)
	one := base + "/" + id

	h.Must(http.StatusOK, "PATCH", one, f.Admin, map[string]any{"url": "https://hooks.example.com/b", "events": []string{"resident.moved_out"}})
	rotated := h.Must(http.StatusOK, "POST", one+"/rotate-secret", f.Admin, map[string]any{"overlap": "2h"})
	if rotated["secret"] == secret || rotated["previous_secret_expires_at"] == nil {
		t.Fatalf("rotate: %v", rotated)
	}
	h.Must(http.StatusOK, "POST", one+"/rotate-secret", f.Admin, nil) // the default overlap, no body
	ping := h.Must(http.StatusAccepted, "POST", one+"/ping", f.Admin, nil)
	if _, err := uuid.Parse(ping["event_id"].(string)); err != nil {
		t.Fatalf("ping %v", ping)
	}
	h.MustFail(http.StatusConflict, "conflict", "POST", one+"/resume", f.Admin, nil) // not paused

	for _, path := range []string{base, one, one + "/deliveries", "/admin/v1/audit?limit=500"} {
		r := apitest.Do(t, "GET", h.Base+path, f.Admin, nil)
		for _, s := range []string{secret, rotated["secret"].(string), `"secret"`, "sealed"} {
			if path == "/admin/v1/audit?limit=500" && strings.Contains(string(r.Body), "pms-own-token") {
				t.Fatalf("the audit log keeps the URL's query: %s", r.Body)
			}
			if strings.Contains(string(r.Body), s) {
				t.Fatalf("GET %s shows %s: %s", path, s, r.Body)
			}
		}
	}
	got := h.Must(http.StatusOK, "GET", one, f.Auditor, nil)
	if got["url"] != "https://hooks.example.com/b" || got["description"] != "PMS" {
		t.Fatalf("auditor reads %v", got)
	}
	h.Must(http.StatusNoContent, "DELETE", one, f.Admin, nil)
	h.MustFail(http.StatusNotFound, "not_found", "GET", one, f.Admin, nil)
	h.MustFail(http.StatusNotFound, "not_found", "GET", one+"/deliveries", f.Auditor, nil)
	for _, action := range []string{"webhook.create", "webhook.update", "webhook.rotate_secret", "webhook.delete"} {
		if dbtest.Count(t, h.DB.SQL(), dbtest.AuditLog, dbtest.Eq("community_id", f.ID), dbtest.Eq("action", action)) == 0 {
			t.Errorf("no audit row %s", action)
		}
	}
	// A paused endpoint shows why, and resuming it is audited.
	paused := h.pausedWebhook(f)
	got = h.Must(http.StatusOK, "GET", base+"/"+paused, f.Auditor, nil)
	if got["state"] != "paused" || got["paused_reason"] != "failing for a day" {
		t.Fatalf("paused endpoint %v", got)
	}
	if got := h.Must(http.StatusOK, "POST", base+"/"+paused+"/resume", f.Admin, nil); got["state"] != "active" || got["paused_reason"] != nil {
		t.Fatalf("resumed %v", got)
	}
	if dbtest.Count(t, h.DB.SQL(), dbtest.AuditLog, dbtest.Eq("community_id", f.ID), dbtest.Eq("action", "webhook.resume")) != 1 {
		t.Error("resume not audited")
	}
}

// Bad input gets a clear error and changes nothing.
func TestWebhookBadInput(t *testing.T) {
	h := newHarness(t)
	f := h.Community()
	base := "/admin/v1/communities/" + f.ID + "/webhooks"
	one := base + "/" + h.pausedWebhook(f)
	ok := map[string]any{"url": "https://hooks.example.com/x", "events": []string{"entry.created"}}
	with := func(k string, v any) map[string]any {
		m := maps.Clone(ok)
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"plain http", "POST", base, with("url", "http://hooks.example.com/x"), 422, "invalid_field"},
		{"private address", "POST", base, with("url", "https://10.0.0.8/x"), 422, "invalid_field"},
		{"metadata address", "POST", base, with("url", "https://169.254.169.254/latest"), 422, "invalid_field"},
		{"credentials in the URL", "POST", base, with("url", "https://u:p@hooks.example.com/x"), 422, "invalid_field"},
		{"not a URL", "POST", base, with("url", "hooks"), 422, "invalid_field"},
		{"oversize URL", "POST", base, with("url", "https://hooks.example.com/"+strings.Repeat("a", 2100)), 422, "invalid_field"},
		{"no URL", "POST", base, with("url", nil), 422, "invalid_field"},
		{"unknown event type", "POST", base, with("events", []string{"entry.created", "door.exploded"}), 422, "invalid_field"},
		{"ping is not subscribable", "POST", base, with("events", []string{"webhook.ping"}), 422, "invalid_field"},
		{"no events", "POST", base, with("events", []string{}), 422, "invalid_field"},
		{"events missing", "POST", base, with("events", nil), 422, "invalid_field"},
		{"an event twice", "POST", base, with("events", []string{"gate.online", "gate.online"}), 422, "invalid_field"},
		{"events not a list", "POST", base, with("events", "entry.created"), 400, "wrong_type"},
		{"oversize description", "POST", base, with("description", strings.Repeat("説", 201)), 422, "invalid_field"},
		{"unknown field", "POST", base, with("secret", "whsec_mine"), 400, "unknown_field"},
		{"malformed", "POST", base, `{"url":`, 400, "malformed_json"},
		{"patch to http", "PATCH", one, map[string]any{"url": "http://hooks.example.com/x"}, 422, "invalid_field"},
		{"patch unknown type", "PATCH", one, map[string]any{"events": []string{"x"}}, 422, "invalid_field"},
		{"overlap too long", "POST", one + "/rotate-secret", map[string]any{"overlap": "8d"}, 422, "invalid_field"},
		{"overlap not a duration", "POST", one + "/rotate-secret", map[string]any{"overlap": "soon"}, 422, "invalid_field"},
		{"overlap negative", "POST", one + "/rotate-secret", map[string]any{"overlap": "-1h"}, 422, "invalid_field"},
		{"not an endpoint id", "GET", base + "/nope", nil, 404, "not_found"},
		{"no such endpoint", "POST", base + "/" + uuid.NewString() + "/ping", nil, 404, "not_found"},
		{"bad page", "GET", one + "/deliveries?limit=0", nil, 422, "invalid_field"},
		{"bad before", "GET", one + "/deliveries?before=yesterday", nil, 422, "invalid_field"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h.T = t
			before := h.tableCounts()
			h.MustFail(c.status, c.code, c.method, c.path, f.Admin, c.body)
			if !maps.Equal(before, h.tableCounts()) {
				t.Fatal("a refused call changed the database")
			}
		})
	}
	// At most 20 endpoints per community: each event is one outbox row per endpoint.
	h.T = t
	for i := 1; i < 20; i++ {
		h.Must(http.StatusCreated, "POST", base, f.Admin, ok)
	}
	h.MustFail(http.StatusConflict, "conflict", "POST", base, f.Admin, ok)
}

// Loopback and plain-http endpoints are a development setting: without it the API
// refuses them.
func TestWebhookLoopbackNeedsTheSetting(t *testing.T) {
	h := newHarness(t)
	f := h.Community()
	for _, allow := range []bool{false, true} {
		app := httpx.NewApp(httpx.Options{Name: "test", Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		api := admin.New(h.DB, h.Sealer, 0)
		api.WebhookLoopback = allow
		api.Mount(app)
		for _, u := range []string{"http://127.0.0.1:9000/hook", "https://localhost:9000/hook", "https://[::1]/hook"} {
			req := httptest.NewRequest("POST", "/admin/v1/communities/"+f.ID+"/webhooks",
				strings.NewReader(`{"url":"`+u+`","events":["entry.created"]}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+f.Admin)
			resp, err := app.Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			want := http.StatusUnprocessableEntity
			if allow {
				want = http.StatusCreated
			}
			if resp.StatusCode != want {
				t.Errorf("%s with loopback allowed %v: %d, want %d", u, allow, resp.StatusCode, want)
			}
		}
	}
}
