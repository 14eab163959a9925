package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/credential"
	"gatepass/internal/dbtest"
	"gatepass/internal/store"
)

// residentRoutes are every endpoint that needs a session, with a body where one is read.
var residentRoutes = []struct{ method, path, body string }{
	{"GET", "/api/v1/me", ""},
	{"GET", "/api/v1/me/export", ""},
	{"DELETE", "/api/v1/me", ""},
	{"GET", "/api/v1/entries", ""},
	{"POST", "/api/v1/signout", ""},
	{"POST", "/api/v1/signout/everywhere", ""},
	{"POST", "/api/v1/stepup/begin", "{}"},
	{"POST", "/api/v1/stepup/finish", `{"ceremony":"x","credential":{}}`},
	{"GET", "/api/v1/passkeys", ""},
	{"POST", "/api/v1/passkeys/begin", "{}"},
	{"POST", "/api/v1/passkeys/finish", `{"ceremony":"x","credential":{}}`},
	{"DELETE", "/api/v1/passkeys/" + uuid.NewString(), ""},
	{"GET", "/api/v1/pass", ""},
	{"GET", "/api/v1/pass.png", ""},
	{"POST", "/api/v1/devices", `{"public_key":"x"}`},
	{"GET", "/api/v1/devices", ""},
	{"DELETE", "/api/v1/devices/" + uuid.NewString(), ""},
	{"POST", "/api/v1/devices/" + uuid.NewString() + "/renew", `{"presentation":"GA1:"}`},
	{"POST", "/api/v1/visitors", `{"label":"x","max_entries":1,"valid_until":"2030-01-01T00:00:00Z"}`},
	{"GET", "/api/v1/visitors", ""},
	{"DELETE", "/api/v1/visitors/" + uuid.NewString(), ""},
	{"GET", "/api/v1/face/notice", ""},
	{"POST", "/api/v1/face/consent", `{"notice_version":"1","notice_lang":"en","notice_hash":"00","scope":"community"}`},
	{"GET", "/api/v1/face/gates", ""},
	{"POST", "/api/v1/face/templates", `{"templates":[]}`},
	{"POST", "/api/v1/face/withdraw", ""},
	{"GET", "/api/v1/face/status", ""},
	{"POST", "/api/v1/face/enrolment", `{"gate_id":"` + uuid.NewString() + `"}`},
	{"GET", "/api/v1/face/enrolment/" + uuid.NewString(), ""},
	{"GET", "/api/v1/wechat/binding", ""},
	{"DELETE", "/api/v1/wechat/binding", ""},
}

func TestNoSession(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	m := h.signUp(f)
	ended := h.signIn(m)
	h.Must(200, "POST", "/api/v1/signout", ended, nil)
	before := h.snapshot()
	tokens := map[string]string{
		"none": "", "garbage": "not-a-token", "unknown": "gpr_" + strings.Repeat("A", 64),
		"staff kind": "gps_" + strings.Repeat("A", 64), "signed out": ended,
	}
	for _, r := range residentRoutes {
		for name, tok := range tokens {
			t.Run(r.method+" "+r.path+" "+name, func(t *testing.T) {
				h.t = t
				var body any
				if r.body != "" {
					body = r.body
				}
				h.MustFail(401, "unauthorized", r.method, r.path, tok, body)
			})
		}
	}
	h.t = t
	h.unchanged(before, "requests without a session")
}

// addPasskey registers a second passkey for a signed-in member.
func (h *harness) addPasskey(m member) *softKey {
	h.t.Helper()
	begin := h.Must(200, "POST", "/api/v1/passkeys/begin", m.token, map[string]any{})
	cred, key := m.auth.create(h.t, begin)
	h.Must(201, "POST", "/api/v1/passkeys/finish", m.token, map[string]any{"ceremony": begin["ceremony"], "credential": cred, "name": "tablet"})
	return key
}

// phoneKey is a phone's P-256 key in the SEC 1 compressed form apps send.
func phoneKey(t testing.TB) (*ecdsa.PrivateKey, string) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return priv, base64.StdEncoding.EncodeToString(elliptic.MarshalCompressed(elliptic.P256(), priv.X, priv.Y))
}

func TestOtherResidentsResourcesAreNotFound(t *testing.T) {
	h := newHarness(t, testLimits)
	f, g := h.community(), h.community()
	a, b, stranger := h.signUp(f), h.signUp(f), h.signUp(g)
	second := h.addPasskey(a)
	h.stepUp(a, a.key)
	_, pub := phoneKey(t)
	dev := h.Must(201, "POST", "/api/v1/devices", a.token, map[string]any{"public_key": pub, "label": "a's phone"})["device"].(map[string]any)["id"].(string)
	visitor := h.Must(201, "POST", "/api/v1/visitors", a.token, map[string]any{"label": "guest", "max_entries": 1,
		"valid_until": time.Now().Add(time.Hour).Format(time.RFC3339)})["visitor_pass"].(map[string]any)["id"].(string)
	var secondID string
	dbtest.Get(t, h.sql, &secondID, dbtest.Passkeys, "id", dbtest.Eq("credential_id", second.id))
	before := h.snapshot()
	for _, other := range []member{b, stranger} {
		for _, path := range []string{"/api/v1/passkeys/" + secondID, "/api/v1/devices/" + dev, "/api/v1/visitors/" + visitor} {
			status, out := h.Do("DELETE", path, other.token, nil)
			if status != 404 || strings.Contains(fmt.Sprint(out), a.id.String()) {
				t.Fatalf("DELETE %s by another resident = %d %v", path, status, out)
			}
		}
		for path, key := range map[string]string{"/api/v1/passkeys": "passkeys", "/api/v1/devices": "devices", "/api/v1/visitors": "visitor_passes"} {
			out := h.Must(200, "GET", path, other.token, nil)
			for _, item := range out[key].([]any) {
				id := item.(map[string]any)["id"]
				if id == secondID || id == dev || id == visitor {
					t.Fatalf("%s of another resident lists %v", path, id)
				}
			}
		}
		for _, e := range h.Must(200, "GET", "/api/v1/me/export", other.token, nil)["credentials"].([]any) {
			if e.(map[string]any)["id"] == dev {
				t.Fatal("another resident's export holds a's device")
			}
		}
		before["audit_log"]++ // the export itself is audited
	}
	h.unchanged(before, "another resident's deletes")
}

func TestInviteFailures(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	au := &authenticator{origin: h.base, rpID: "localhost", uv: true}
	redeem := func(code string) map[string]any {
		return h.Must(200, "POST", "/api/v1/invites/redeem/begin", "", map[string]any{"invite_code": code})
	}
	finish := func(begin map[string]any) (int, map[string]any) {
		cred, _ := au.create(t, begin)
		return h.Do("POST", "/api/v1/invites/redeem/finish", "", map[string]any{"ceremony": begin["ceremony"], "credential": cred, "session": "bearer"})
	}

	// Fixtures first: an invite to use twice, one expired, one expiring between begin and
	// finish, one of a resident who moved out before redeeming.
	_, code := h.invite(f)
	_, expired := h.invite(f)
	_, late := h.invite(f)
	gone, goneCode := h.invite(f)
	if err := h.db.InTx(context.Background(), "test", func(tx *store.Tx) error {
		_, err := tx.MoveOut(context.Background(), f.id, gone)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	dbtest.Set(t, h.sql, dbtest.Invites, dbtest.Values{"expires_at": dbtest.Ago(time.Second), "created_at": dbtest.Ago(4 * 24 * time.Hour)}, dbtest.Hashes("code_hash", expired))
	first, second, begun := redeem(code), redeem(code), redeem(late)
	dbtest.Set(t, h.sql, dbtest.Invites, dbtest.Values{"expires_at": dbtest.Now()}, dbtest.Hashes("code_hash", late))
	if status, out := finish(first); status != 201 {
		t.Fatalf("first redemption = %d %v", status, out)
	}
	before := h.snapshot()

	// Used: the second ceremony begun on one invite finds it used.
	if status, out := finish(second); status != 404 {
		t.Fatalf("second redemption of one invite = %d %v", status, out)
	}
	h.MustFail(404, "invite_unusable", "POST", "/api/v1/invites/redeem/begin", "", map[string]any{"invite_code": code})
	h.MustFail(404, "invite_unusable", "POST", "/api/v1/invites/redeem/begin", "", map[string]any{"invite_code": expired})
	if status, out := finish(begun); status != 404 {
		t.Fatalf("finish after the invite expired = %d %v", status, out)
	}
	for _, c := range []string{goneCode, "gpi_nope", "", strings.Replace(code, "gpi_", "gpr_", 1), "gpi_" + strings.Repeat("A", 64)} {
		status, _ := h.Do("POST", "/api/v1/invites/redeem/begin", "", map[string]any{"invite_code": c})
		if status != 404 && status != 422 {
			t.Fatalf("invite %q = %d", c, status)
		}
	}
	h.unchanged(before, "failed redemptions")
}

func TestCeremonyFailures(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	m := h.signUp(f)
	h.signIn(m)
	before := h.snapshot()

	// Replay: a second finish with the same ceremony, even with a fresh signature.
	begin := h.Must(200, "POST", "/api/v1/signin/begin", "", map[string]any{})
	h.Must(200, "POST", "/api/v1/signin/finish", "", map[string]any{"ceremony": begin["ceremony"], "credential": m.auth.get(t, begin, m.key, 1), "session": "bearer"})
	before["sessions"]++
	h.MustFail(422, "ceremony_expired", "POST", "/api/v1/signin/finish", "", map[string]any{"ceremony": begin["ceremony"], "credential": m.auth.get(t, begin, m.key, 1)})

	// Expired: the challenge lives five minutes.
	begin = h.Must(200, "POST", "/api/v1/signin/begin", "", map[string]any{})
	dbtest.Age(t, h.sql, dbtest.WebauthnCeremonies, "expires_at", time.Second)
	h.MustFail(422, "ceremony_expired", "POST", "/api/v1/signin/finish", "", map[string]any{"ceremony": begin["ceremony"], "credential": m.auth.get(t, begin, m.key, 1)})

	// A sign-in ceremony cannot finish a registration, and is not consumed by trying.
	begin = h.Must(200, "POST", "/api/v1/signin/begin", "", map[string]any{})
	cred, _ := m.auth.create(t, map[string]any{"options": map[string]any{"publicKey": map[string]any{
		"challenge": publicKeyOptions(t, begin)["challenge"], "user": map[string]any{"id": b64.EncodeToString(m.key.userHandle)}}}})
	h.MustFail(422, "ceremony_expired", "POST", "/api/v1/invites/redeem/finish", "", map[string]any{"ceremony": begin["ceremony"], "credential": cred})

	// An answer to another challenge fails the signature check (and uses this ceremony up).
	other := h.Must(200, "POST", "/api/v1/signin/begin", "", map[string]any{})
	h.MustFail(400, "webauthn_failed", "POST", "/api/v1/signin/finish", "", map[string]any{"ceremony": begin["ceremony"], "credential": m.auth.get(t, other, m.key, 1)})

	// (A counter that does not move forward suspends the passkey: TestClonedPasskeyIsSuspended.)

	// A passkey this server does not know.
	stranger := &authenticator{origin: h.base, rpID: "localhost", uv: true}
	_, k := stranger.create(t, map[string]any{"options": map[string]any{"publicKey": map[string]any{"challenge": "AAAA",
		"user": map[string]any{"id": b64.EncodeToString(append(f.id[:], uuid.New().String()[:16]...))}}}})
	begin = h.Must(200, "POST", "/api/v1/signin/begin", "", map[string]any{})
	h.MustFail(401, "unknown_passkey", "POST", "/api/v1/signin/finish", "", map[string]any{"ceremony": begin["ceremony"], "credential": stranger.get(t, begin, k, 1)})

	// The wrong origin (a phishing site relaying the challenge).
	phish := &authenticator{origin: "https://gatepass.example.evil", rpID: "localhost", uv: true, keys: m.auth.keys}
	begin = h.Must(200, "POST", "/api/v1/signin/begin", "", map[string]any{})
	h.MustFail(400, "webauthn_failed", "POST", "/api/v1/signin/finish", "", map[string]any{"ceremony": begin["ceremony"], "credential": phish.get(t, begin, m.key, 5)})
	h.unchanged(before, "failed ceremonies")
}

func TestStepUpDevicesAndPasskeyRemoval(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	m := h.signUp(f)
	phone, pub := phoneKey(t)
	// Sign-up verified the user, but a device needs a step-up from the last 5 minutes.
	dbtest.Age(t, h.sql, dbtest.Sessions, "verified_at", 5*time.Minute+time.Second)
	before := h.snapshot()
	h.MustFail(403, "step_up_required", "POST", "/api/v1/devices", m.token, map[string]any{"public_key": pub})
	h.MustFail(403, "step_up_required", "DELETE", "/api/v1/me", m.token, nil)
	h.unchanged(before, "requests without a fresh step-up")

	// A step-up with a passkey that does not verify the user does not count.
	m.auth.uv = false
	begin := h.Must(200, "POST", "/api/v1/stepup/begin", m.token, map[string]any{})
	h.MustFail(403, "user_not_verified", "POST", "/api/v1/stepup/finish", m.token, map[string]any{"ceremony": begin["ceremony"], "credential": m.auth.get(t, begin, m.key, 1)})
	m.auth.uv = true
	h.MustFail(403, "step_up_required", "POST", "/api/v1/devices", m.token, map[string]any{"public_key": pub})

	// With a second passkey's fresh step-up, the device is certified and works offline.
	second := h.addPasskey(m)
	h.stepUp(m, second)
	out := h.Must(201, "POST", "/api/v1/devices", m.token, map[string]any{"public_key": pub, "label": "my phone"})
	cert, err := base64.StdEncoding.DecodeString(out["certificate"].(string))
	if err != nil {
		t.Fatal(err)
	}
	text, err := credential.PresentDevice(cert, phone, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	claims, err := h.verifier(f.id).Verify(text, time.Now())
	if err != nil || claims.Type != credential.TypeDevice || claims.CredentialID.String() != out["device"].(map[string]any)["id"] {
		t.Fatalf("device code: %+v %v", claims, err)
	}
	var authorisedBy uuid.UUID
	dbtest.Get(t, h.sql, &authorisedBy, dbtest.Credentials, "passkey_id", dbtest.Eq("id", claims.CredentialID))
	var secondID uuid.UUID
	if dbtest.Get(t, h.sql, &secondID, dbtest.Passkeys, "id", dbtest.Eq("credential_id", second.id)); authorisedBy != secondID {
		t.Fatalf("device authorised by %s, want the step-up passkey %s", authorisedBy, secondID)
	}

	// An old step-up no longer counts.
	dbtest.Age(t, h.sql, dbtest.Sessions, "verified_at", 6*time.Minute, dbtest.Eq("resident_id", m.id))
	h.MustFail(403, "step_up_required", "POST", "/api/v1/devices", m.token, map[string]any{"public_key": pub})

	// Removing the passkey revokes the device it authorised (and tells the gates), and
	// ends the sessions it verified.
	other := h.signIn(m)
	removed := h.Must(200, "DELETE", "/api/v1/passkeys/"+secondID.String(), other, nil)
	if removed["devices_revoked"] != 1.0 || removed["sessions_ended"] != 1.0 {
		t.Fatalf("removing the passkey: %v", removed)
	}
	if changes := dbtest.Count(t, h.sql, dbtest.ChangeLog, dbtest.Eq("kind", "revocation"), dbtest.Eq("entity_id", claims.CredentialID)); changes != 1 {
		t.Fatalf("revocation changes for the device: %d", changes)
	}
	h.MustFail(401, "unauthorized", "GET", "/api/v1/me", m.token, nil)
	// The last passkey stays.
	h.MustFail(409, "last_passkey", "DELETE", "/api/v1/passkeys/"+h.Must(200, "GET", "/api/v1/passkeys", other, nil)["passkeys"].([]any)[0].(map[string]any)["id"].(string), other, nil)
}

func TestPassRefusedWhenNotResident(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	m, revoked := h.signUp(f), h.signUp(f)
	h.Must(200, "GET", "/api/v1/pass", m.token, nil)
	h.Must(200, "GET", "/api/v1/pass", revoked.token, nil)

	// Staff revoke a resident's QR credential: no more codes, and no new credential.
	dbtest.Set(t, h.sql, dbtest.Credentials, dbtest.Values{"revoked_at": dbtest.Now(), "revoke_reason": "test"}, dbtest.Eq("resident_id", revoked.id))
	before := h.snapshot()
	h.MustFail(403, "credential_revoked", "GET", "/api/v1/pass", revoked.token, nil)
	h.MustFail(403, "credential_revoked", "GET", "/api/v1/pass.png", revoked.token, nil)

	// Move-out ends the sessions at once; even a session that survived (a race) mints nothing.
	if err := h.db.InTx(context.Background(), "test", func(tx *store.Tx) error {
		_, err := tx.MoveOut(context.Background(), f.id, m.id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	h.MustFail(401, "unauthorized", "GET", "/api/v1/pass", m.token, nil)
	begin := h.Must(200, "POST", "/api/v1/signin/begin", "", map[string]any{})
	h.MustFail(401, "unknown_passkey", "POST", "/api/v1/signin/finish", "", map[string]any{"ceremony": begin["ceremony"], "credential": m.auth.get(t, begin, m.key, 1)})
	before = h.snapshot()
	dbtest.Set(t, h.sql, dbtest.Sessions, dbtest.Values{"revoked_at": nil}, dbtest.Eq("resident_id", m.id))
	h.MustFail(403, "not_resident", "GET", "/api/v1/pass", m.token, nil)
	h.MustFail(403, "not_resident", "POST", "/api/v1/visitors", m.token, map[string]any{"label": "x", "max_entries": 1,
		"valid_until": time.Now().Add(time.Hour).Format(time.RFC3339)})
	before["revoked sessions"]--
	h.unchanged(before, "passes refused")
}

func TestRateLimits(t *testing.T) {
	h := newHarness(t, Limits{Window: time.Minute, Redeem: 6, RedeemCode: 2, SignIn: 2, Mint: 3})
	f := h.community()
	m := h.signUp(f) // one redeem begin + one finish from this address
	// One code, however it is typed, is tried twice a minute; another code still goes
	// (a lobby desk redeems one invite after another), until the address's budget is spent.
	redeem := func(code string) (int, map[string]any) {
		return h.Do("POST", "/api/v1/invites/redeem/begin", "", map[string]any{"invite_code": code})
	}
	for i, try := range []struct {
		code, want string
	}{
		{"7K2M-QX9D-4HTR", "invite_unusable"}, {"7k2m qx9d 4htr", "invite_unusable"}, {"7K2MQX9D4HTR", "rate_limited"},
		{"8K2M-QX9D-4HTR", "invite_unusable"}, {"9K2M-QX9D-4HTR", "rate_limited"},
	} {
		_, out := redeem(try.code)
		if e, _ := out["error"].(map[string]any); e["code"] != try.want {
			t.Fatalf("redeem %d (%s) = %v, want %s", i, try.code, out, try.want)
		}
	}
	for i := 0; i < 3; i++ {
		h.Must(200, "GET", "/api/v1/pass", m.token, nil)
	}
	h.MustFail(429, "rate_limited", "GET", "/api/v1/pass", m.token, nil)
	h.MustFail(429, "rate_limited", "GET", "/api/v1/pass.png", m.token, nil)
	h.Must(200, "POST", "/api/v1/signin/begin", "", map[string]any{})
	h.Must(200, "POST", "/api/v1/signin/begin", "", map[string]any{})
	h.MustFail(429, "rate_limited", "POST", "/api/v1/signin/begin", "", map[string]any{})
}

func TestEdgeHeadersAndLimits(t *testing.T) {
	h := newHarness(t, testLimits)
	status, hdr, _ := h.raw("GET", "/", "", nil)
	if status != 200 || !strings.Contains(hdr.Get("Content-Security-Policy"), "default-src 'self'") ||
		strings.Contains(hdr.Get("Content-Security-Policy"), "unsafe") || hdr.Get("X-Frame-Options") != "DENY" ||
		hdr.Get("X-Content-Type-Options") != "nosniff" || hdr.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("GET / = %d, headers %v", status, hdr)
	}
	preflight := func(origin string) string {
		req, _ := http.NewRequest("OPTIONS", h.base+"/api/v1/pass", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "GET")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("Access-Control-Allow-Origin")
	}
	if got := preflight(h.base); got != h.base {
		t.Fatalf("CORS for the app's origin: %q", got)
	}
	if got := preflight("https://evil.example"); got != "" {
		t.Fatalf("CORS for another origin: %q", got)
	}
	h.MustFail(413, "body_too_large", "POST", "/api/v1/signin/begin", "", `{"x":"`+strings.Repeat("a", bodyLimit)+`"}`)
	// Sealed face templates may be larger, up to their own limit.
	h.MustFail(401, "unauthorized", "POST", faceTemplatesPath, "", `{"x":"`+strings.Repeat("a", 2*bodyLimit)+`"}`)
	// Over the server's own limit the server answers from the headers and closes: sent
	// whole, the body races that close (a broken pipe on a loaded machine), so only the
	// headers are sent.
	status, body := h.headersOnly("POST", faceTemplatesPath, faceTemplatesLimit+10)
	if status != 413 || !strings.Contains(body, "body_too_large") {
		t.Fatalf("over the face templates limit: %d %s, want 413 body_too_large", status, body)
	}
}

// headersOnly sends a request's headers announcing a body of n bytes, and no body, and
// returns the answer: what a server says of a body by its size alone.
func (h *harness) headersOnly(method, path string, n int) (int, string) {
	h.t.Helper()
	u, err := url.Parse(h.base)
	if err != nil {
		h.t.Fatal(err)
	}
	conn, err := net.Dial("tcp", "127.0.0.1:"+u.Port())
	if err != nil {
		h.t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", method, path, u.Host, n)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// A passkey removed from the account no longer signs in, with the same answer as one
// never registered.
func TestRemovedPasskeyCannotSignIn(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	m := h.signUp(f)
	second := h.addPasskey(m)
	var id string
	dbtest.Get(t, h.sql, &id, dbtest.Passkeys, "id", dbtest.Eq("credential_id", second.id))
	h.Must(200, "DELETE", "/api/v1/passkeys/"+id, m.token, nil)
	before := h.snapshot()
	begin := h.Must(200, "POST", "/api/v1/signin/begin", "", map[string]any{})
	h.MustFail(401, "unknown_passkey", "POST", "/api/v1/signin/finish", "", map[string]any{"ceremony": begin["ceremony"], "credential": m.auth.get(t, begin, second, 1)})
	h.unchanged(before, "sign-in with a removed passkey")
	h.signIn(m)
}
