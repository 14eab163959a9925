package main

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/credential"
)

// User verification is required to sign in (issue 13 item 8): a session can export all
// of a resident's data, so a passkey assertion or registration without the UV flag (a
// phone without a screen lock, a security key anyone can touch) opens none.
func TestSignInNeedsUserVerification(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	m := h.signUp(f)
	begin := h.Must(200, "POST", "/api/v1/signin/begin", "", map[string]any{})
	if uv := publicKeyOptions(t, begin)["userVerification"]; uv != "required" {
		t.Fatalf("sign-in options ask userVerification %v", uv)
	}
	_, code := h.invite(f)
	before := h.snapshot()
	m.auth.uv = false
	h.MustFail(403, "user_not_verified", "POST", "/api/v1/signin/finish", "", map[string]any{
		"ceremony": begin["ceremony"], "credential": m.auth.get(t, begin, m.key, 1), "session": "bearer"})
	// Nor can a passkey be registered without it, by invite or beside another.
	reg := h.Must(200, "POST", "/api/v1/invites/redeem/begin", "", map[string]any{"invite_code": code})
	if uv := publicKeyOptions(t, reg)["authenticatorSelection"].(map[string]any)["userVerification"]; uv != "required" {
		t.Fatalf("registration options ask userVerification %v", uv)
	}
	cred, _ := m.auth.create(t, reg)
	h.MustFail(403, "user_not_verified", "POST", "/api/v1/invites/redeem/finish", "", map[string]any{"ceremony": reg["ceremony"], "credential": cred, "session": "bearer"})
	add := h.Must(200, "POST", "/api/v1/passkeys/begin", m.token, map[string]any{})
	cred, _ = m.auth.create(t, add)
	h.MustFail(403, "user_not_verified", "POST", "/api/v1/passkeys/finish", m.token, map[string]any{"ceremony": add["ceremony"], "credential": cred})
	h.unchanged(before, "ceremonies without user verification")
	m.auth.uv = true
	h.signIn(m)
}

// Every answer that carries a secret is Cache-Control: no-store (issue 13 item 8), so no
// browser cache, proxy or CDN keeps it: session tokens (and the cookie's Set-Cookie),
// the visitor's share link and page, the rotating codes, a device certificate and the
// export. Every other /api/v1 answer is personal too and carries it as well, errors
// included, so a route added later is covered without thinking of it.
func TestSecretsAreNotStored(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	m := h.signUp(f)
	h.stepUp(m, m.key)
	phone, pub := phoneKey(t)
	certified := h.Must(201, "POST", "/api/v1/devices", m.token, map[string]any{"public_key": pub})
	device := certified["device"].(map[string]any)["id"].(string)
	deviceCert, err := base64.StdEncoding.DecodeString(certified["certificate"].(string))
	if err != nil {
		t.Fatal(err)
	}
	until := time.Now().Add(time.Hour).Format(time.RFC3339)
	visitor := h.Must(201, "POST", "/api/v1/visitors", m.token, map[string]any{"label": "plumber", "max_entries": 1, "valid_until": until})
	link := strings.TrimPrefix(visitor["link"].(string), h.base)
	token := strings.TrimPrefix(link, "/v/")
	redeem := func(session string) any {
		_, code := h.invite(f)
		begin := h.Must(200, "POST", "/api/v1/invites/redeem/begin", "", map[string]any{"invite_code": code})
		cred, _ := m.auth.create(t, begin)
		return map[string]any{"ceremony": begin["ceremony"], "credential": cred, "session": session}
	}
	signIn := func(session string) any {
		begin := h.Must(200, "POST", "/api/v1/signin/begin", "", map[string]any{})
		return map[string]any{"ceremony": begin["ceremony"], "credential": m.auth.get(t, begin, m.key, 1), "session": session}
	}
	cases := []struct {
		name, method, path string
		body               func() any
		token              string
		status             int
	}{
		{"redeem, bearer token", "POST", "/api/v1/invites/redeem/finish", func() any { return redeem("bearer") }, "", 201},
		{"redeem, cookie", "POST", "/api/v1/invites/redeem/finish", func() any { return redeem("cookie") }, "", 201},
		{"sign-in, bearer token", "POST", "/api/v1/signin/finish", func() any { return signIn("bearer") }, "", 200},
		{"sign-in, cookie", "POST", "/api/v1/signin/finish", func() any { return signIn("cookie") }, "", 200},
		{"visitor link", "POST", "/api/v1/visitors", func() any {
			return map[string]any{"label": "courier", "max_entries": 1, "valid_until": until}
		}, m.token, 201},
		{"visitor page", "GET", link, nil, "", 200},
		{"invite link", "GET", "/i/gpi_any", nil, "", 200},
		{"visitor pass", "GET", "/api/v1/visit/" + token, nil, "", 200},
		{"visitor code", "GET", "/api/v1/visit/" + token + "/pass", nil, "", 200},
		{"visitor code PNG", "GET", "/api/v1/visit/" + token + "/pass.png", nil, "", 200},
		{"QR pass", "GET", "/api/v1/pass", nil, m.token, 200},
		{"QR pass PNG", "GET", "/api/v1/pass.png", nil, m.token, 200},
		{"device certificate", "POST", "/api/v1/devices", func() any { return map[string]any{"public_key": pub} }, m.token, 201},
		{"device renewal", "POST", "/api/v1/devices/" + device + "/renew", func() any {
			text, err := credential.PresentDevice(deviceCert, phone, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			return map[string]any{"presentation": text}
		}, m.token, 200},
		{"export", "GET", "/api/v1/me/export", nil, m.token, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h.t = t
			var body any
			if c.body != nil {
				body = c.body()
			}
			status, hdr, raw := h.raw(c.method, c.path, c.token, body)
			if status != c.status {
				t.Fatalf("%s %s = %d %s, want %d", c.method, c.path, status, raw, c.status)
			}
			if got := hdr.Get("Cache-Control"); got != "no-store" {
				t.Fatalf("%s %s: Cache-Control %q, want no-store", c.method, c.path, got)
			}
		})
	}
	h.t = t
	// Every API route, answered without a session (mostly 401) or with a bad body.
	for _, r := range h.api.apiRoutes(testLimits) {
		path := strings.NewReplacer(":token", token, ":passkey", uuid.NewString(), ":device", uuid.NewString(),
			":visitor", uuid.NewString(), ":session", uuid.NewString()).Replace("/api/v1" + r.path)
		var body any
		if r.method == "POST" {
			body = map[string]any{}
		}
		status, hdr, _ := h.raw(r.method, path, "", body)
		if got := hdr.Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s %s (%d): Cache-Control %q, want no-store", r.method, path, status, got)
		}
	}
}
