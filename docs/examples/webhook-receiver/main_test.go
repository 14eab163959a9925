package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"gatepass/internal/webhook"
)

// The example accepts what gatepass signs, with either secret during a rotation, and
// refuses the rest; a repeated event id is acknowledged but handled once.
func TestReceiverVerifiesWhatGatepassSigns(t *testing.T) {
	var handled []string
	rc := &receiver{secrets: []string{"whsec_new", "whsec_old"}, seen: map[string]bool{}, handle: func(ev event) { handled = append(handled, ev.ID) }}
	body := []byte(`{"id":"0190a0a0-0000-7000-8000-000000000001","type":"entry.created","created_at":"2026-11-25T20:00:00Z","community_id":"c","data":{}}`)
	post := func(header string, b []byte) int {
		req := httptest.NewRequest("POST", "/", strings.NewReader(string(b)))
		req.Header.Set("Gatepass-Signature", header)
		req.Header.Set("Gatepass-Event-Id", "0190a0a0-0000-7000-8000-000000000001")
		w := httptest.NewRecorder()
		rc.ServeHTTP(w, req)
		return w.Code
	}
	now := time.Now()
	cases := []struct {
		name   string
		header string
		body   []byte
		want   int
	}{
		{"signed with the new secret", webhook.Header(now, body, "whsec_new"), body, http.StatusNoContent},
		{"the same event again", webhook.Header(now, body, "whsec_new"), body, http.StatusNoContent},
		{"both during the overlap", webhook.Header(now, body, "whsec_new", "whsec_old"), body, http.StatusNoContent},
		{"old secret alone", webhook.Header(now, body, "whsec_old"), body, http.StatusNoContent},
		{"another secret", webhook.Header(now, body, "whsec_other"), body, http.StatusUnauthorized},
		{"body changed", webhook.Header(now, body, "whsec_new"), []byte(strings.Replace(string(body), "entry", "gate", 1)), http.StatusUnauthorized},
		{"stale", webhook.Header(now.Add(-10*time.Minute), body, "whsec_new"), body, http.StatusUnauthorized},
		{"unsigned", "", body, http.StatusUnauthorized},
	}
	for _, c := range cases {
		if got := post(c.header, c.body); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	if len(handled) != 1 {
		t.Fatalf("handled %d times, want once", len(handled))
	}
}

// docs/webhooks.md quotes verify; the quote is this file's code, word for word.
func TestDocsQuoteThisVerify(t *testing.T) {
	doc, err := os.ReadFile("../../webhooks.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	_, quote, ok := strings.Cut(string(doc), "```go\n")
	quote, _, _ = strings.Cut(quote, "```")
	if !ok || !strings.Contains(string(src), strings.TrimSpace(quote)) {
		t.Fatal("docs/webhooks.md's Go example is not the code of main.go")
	}
}
