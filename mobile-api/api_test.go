package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/apitest"
	"gatepass/internal/credential"
	"gatepass/internal/dbtest"
	"gatepass/internal/qr"
	"gatepass/internal/store"
)

// verifyPass checks a pass answer as a gate would and returns its claims.
func (h *harness) verifyPass(c uuid.UUID, out map[string]any) credential.Claims {
	h.t.Helper()
	payload, _ := out["payload"].(string)
	claims, err := h.verifier(c).Verify(payload, time.Now())
	if err != nil {
		h.t.Fatalf("pass %q does not verify: %v", payload, err)
	}
	exp, err := time.Parse(time.RFC3339, out["expires_at"].(string))
	if err != nil || !exp.Equal(claims.ExpiresAt) {
		h.t.Fatalf("expires_at %v, token says %v", out["expires_at"], claims.ExpiresAt)
	}
	refresh, err := time.Parse(time.RFC3339Nano, out["refresh_after"].(string))
	if err != nil || !refresh.Before(exp) {
		h.t.Fatalf("refresh_after %v is not before expiry %v", out["refresh_after"], exp)
	}
	return claims
}

func TestOnboardSignInAndPass(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	m := h.signUp(f)
	me := h.Must(200, "GET", "/api/v1/me", m.token, nil)
	if me["resident"].(map[string]any)["id"] != m.id.String() {
		t.Fatalf("me = %v", me)
	}

	claims := h.verifyPass(f.id, h.Must(200, "GET", "/api/v1/pass", m.token, nil))
	if claims.Type != credential.TypeIssued || claims.Subject != credential.SubjectResident {
		t.Fatalf("claims %+v", claims)
	}
	zones, err := h.db.ResidentZones(context.Background(), f.id)
	if err != nil {
		t.Fatal(err)
	}
	if claims.Zones != uint64(zones) || claims.Zones != 0b1001 {
		t.Fatalf("zones %b, want %b", claims.Zones, zones)
	}
	var owner uuid.UUID
	if dbtest.Get(t, h.sql, &owner, dbtest.Credentials, "resident_id", dbtest.Eq("id", claims.CredentialID), dbtest.Eq("kind", "qr")); owner != m.id {
		t.Fatalf("credential %s belongs to %s", claims.CredentialID, owner)
	}
	// The next code is the same credential with a new nonce.
	again := h.verifyPass(f.id, h.Must(200, "GET", "/api/v1/pass", m.token, nil))
	if again.CredentialID != claims.CredentialID || again.ReplayKey() == claims.ReplayKey() {
		t.Fatalf("second pass %+v vs %+v", again, claims)
	}

	status, hdr, png := h.raw("GET", "/api/v1/pass.png", m.token, nil)
	if status != 200 || hdr.Get("Content-Type") != "image/png" || hdr.Get("Cache-Control") != "no-store" {
		t.Fatalf("pass.png: %d %v", status, hdr)
	}
	text, err := qr.Decode(png)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := h.verifier(f.id).Verify(text, time.Now()); err != nil || c.CredentialID != claims.CredentialID {
		t.Fatalf("decoded PNG: %+v %v", c, err)
	}

	// Sign out ends this session only; a passkey sign-in makes a new one.
	other := h.signIn(m)
	h.Must(200, "POST", "/api/v1/signout", m.token, nil)
	h.MustFail(401, "unauthorized", "GET", "/api/v1/pass", m.token, nil)
	h.Must(200, "GET", "/api/v1/pass", other, nil)
	third := h.signIn(m)
	h.Must(200, "POST", "/api/v1/signout/everywhere", third, nil)
	h.MustFail(401, "unauthorized", "GET", "/api/v1/me", other, nil)
	h.MustFail(401, "unauthorized", "GET", "/api/v1/me", third, nil)

	var count int64
	if dbtest.Get(t, h.sql, &count, dbtest.Passkeys, "sign_count", dbtest.Eq("resident_id", m.id)); count != 2 {
		t.Fatalf("sign_count %d, want 2 after two sign-ins", count)
	}
}

// The web app's session is a cookie: HttpOnly, SameSite=Strict, not Secure over plain
// HTTP (it is over TLS).
func TestCookieSession(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	_, code := h.invite(f)
	au := &authenticator{origin: h.base, rpID: "localhost", uv: true}
	begin := h.Must(200, "POST", "/api/v1/invites/redeem/begin", "", map[string]any{"invite_code": code})
	cred, _ := au.create(t, begin)
	req, _ := http.NewRequest("POST", h.base+"/api/v1/invites/redeem/finish",
		strings.NewReader(string(apitest.MustJSON(t, map[string]any{"ceremony": begin["ceremony"], "credential": cred}))))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("finish = %d", resp.StatusCode)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Secure || !strings.HasPrefix(cookie.Value, "gpr_") {
		t.Fatalf("session cookie %+v", cookie)
	}
	req, _ = http.NewRequest("GET", h.base+"/api/v1/pass", nil)
	req.AddCookie(cookie)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("pass with cookie = %d", resp.StatusCode)
	}
	if stored := dbtest.Count(t, h.sql, dbtest.Sessions, dbtest.Hashes("token_hash", cookie.Value)); stored != 1 {
		t.Fatalf("session stored by hash: %d", stored)
	}
	if plain := dbtest.Count(t, h.sql, dbtest.Sessions, dbtest.Contains("token_hash", []byte(cookie.Value))); plain != 0 {
		t.Fatalf("plain token stored: %d", plain)
	}
}

func TestSessionExpiry(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	m := h.signUp(f)
	idle, old := h.signIn(m), h.signIn(m)
	dbtest.Age(t, h.sql, dbtest.Sessions, "last_seen_at", 31*24*time.Hour, dbtest.Hashes("token_hash", idle))
	dbtest.Age(t, h.sql, dbtest.Sessions, "expires_at", time.Second, dbtest.Hashes("token_hash", old))
	h.MustFail(401, "unauthorized", "GET", "/api/v1/pass", idle, nil)
	h.MustFail(401, "unauthorized", "GET", "/api/v1/pass", old, nil)
	h.Must(200, "GET", "/api/v1/pass", m.token, nil)
	// Used within the idle window, a session is kept alive (written at most every 10 minutes).
	dbtest.Age(t, h.sql, dbtest.Sessions, "last_seen_at", 29*24*time.Hour, dbtest.Hashes("token_hash", m.token))
	h.Must(200, "GET", "/api/v1/me", m.token, nil)
	var seen time.Time
	if dbtest.Get(t, h.sql, &seen, dbtest.Sessions, "last_seen_at", dbtest.Hashes("token_hash", m.token)); time.Since(seen) > time.Minute {
		t.Fatalf("last_seen_at %v", seen)
	}
}

// A zone the community adds reaches residents' codes without a new credential.
func TestNewZoneReachesCodes(t *testing.T) {
	h := newHarness(t, testLimits)
	h.api.communities.ttl = time.Millisecond // the cache would hold the old zones for 5 s
	f := h.community()
	m := h.signUp(f)
	first := h.verifyPass(f.id, h.Must(200, "GET", "/api/v1/pass", m.token, nil))
	if err := h.db.InTx(context.Background(), "test", func(tx *store.Tx) error {
		return tx.PutZone(context.Background(), access.Zone{Community: f.id, Zone: 7, Name: "Garage"})
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	next := h.verifyPass(f.id, h.Must(200, "GET", "/api/v1/pass", m.token, nil))
	if next.CredentialID != first.CredentialID || next.Zones != first.Zones|1<<7 {
		t.Fatalf("zones %b -> %b (credential %s -> %s)", first.Zones, next.Zones, first.CredentialID, next.CredentialID)
	}
	var stored int64
	if dbtest.Get(t, h.sql, &stored, dbtest.Credentials, "zones", dbtest.Eq("id", next.CredentialID)); uint64(stored) != next.Zones {
		t.Fatalf("credential row zones %b", stored)
	}
}

// The short code of the printed slip redeems like the link's long code, typed loosely;
// either way the invite is then used up.
func TestShortCodeRedeems(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	id, inv := h.inviteFull(store.NewResident{Community: f.id, Name: apitest.Unique("Resident"), Unit: f.unit, Role: access.RoleOwner})
	if len(inv.ShortCode) != 14 {
		t.Fatalf("invite short code %q", inv.ShortCode)
	}
	m := h.redeem(f, id, " "+strings.ToLower(strings.ReplaceAll(inv.ShortCode, "-", " ")), "phone")
	h.Must(200, "GET", "/api/v1/pass", m.token, nil)
	for _, code := range []string{inv.Code, inv.ShortCode} {
		h.MustFail(404, "invite_unusable", "POST", "/api/v1/invites/redeem/begin", "", map[string]any{"invite_code": code})
	}
}
