package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/browsertest"
	"gatepass/internal/consent"
	"gatepass/internal/credential"
	"gatepass/internal/dbtest"
	"gatepass/internal/store"
)

// checkFresh verifies a decoded code like a gate, and that it was minted moments ago.
func checkFresh(t *testing.T, h *harness, c uuid.UUID, text string) credential.Claims {
	t.Helper()
	claims, err := h.verifier(c).Verify(text, time.Now())
	if err != nil {
		t.Fatalf("code from the screen does not verify: %v", err)
	}
	if life := time.Until(claims.ExpiresAt); life <= 0 || life > 61*time.Second || time.Since(claims.NotBefore) > 30*time.Second {
		t.Fatalf("code is not fresh: %v .. %v", claims.NotBefore, claims.ExpiresAt)
	}
	return claims
}

// redeemInBrowser opens the app on a phone screen with a virtual authenticator (after
// setup actions, such as a locale), redeems the invite code and waits for the pass.
func (h *harness) redeemInBrowser(ctx context.Context, code string, setup ...chromedp.Action) {
	h.t.Helper()
	actions := append(append([]chromedp.Action{browsertest.Phone()}, setup...), browsertest.VirtualAuthenticator(),
		chromedp.Navigate(h.base+"/"),
		chromedp.WaitVisible("#invite-code", chromedp.ByID),
		chromedp.SendKeys("#invite-code", code, chromedp.ByID),
		chromedp.Click("#redeem-btn", chromedp.ByID),
		browsertest.WaitPass())
	if err := chromedp.Run(ctx, actions...); err != nil {
		h.t.Fatalf("redeem in the app: %v\n%s", err, h.logs.String())
	}
}

// The resident app in English, from the invite link to every tab (the screenshots of
// the English app are made here): a passkey made on the phone, sign-out and a sign-in
// with the passkey alone, the code on screen verified as a gate would, offline with the
// code's remaining life, history, my data, face consent and withdrawal, a visitor pass
// shared by copy and opened in a second browser until its entries are used.
func TestRealBrowser(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	resident, inv := h.inviteFull(store.NewResident{Community: f.id, Name: "Alice Chen", Unit: f.unit, Role: access.RoleOwner})
	s := screen{t: t, h: h, ctx: browsertest.New(t, 120*time.Second)}
	browsertest.FailOnConsoleErrors(t, s.ctx)

	// The invite link (its QR code, scanned with the phone's camera) opens the app
	// with the code filled in; the passkey is made on the phone.
	s.run("welcome", browsertest.Phone(), browsertest.English(), browsertest.VirtualAuthenticator(), chromedp.Navigate(h.base+"/"),
		chromedp.WaitVisible("#redeem-btn", chromedp.ByID), s.shot("en-welcome"),
		chromedp.Navigate(h.base+"/i/"+inv.Code), chromedp.WaitVisible("#invite-from-link", chromedp.ByID), s.shot("en-invite-link"),
		browsertest.Tap("#redeem-btn"), browsertest.WaitPass())
	if passkeys := dbtest.Count(t, h.sql, dbtest.Passkeys, dbtest.Eq("resident_id", resident), dbtest.Holds("transports", "internal"), dbtest.Eq("user_verified", true)); passkeys != 1 {
		t.Fatalf("passkeys of the resident: %d", passkeys)
	}

	// Sign out, then sign in with the passkey alone (no username).
	s.run("sign out and in", browsertest.Tap(`button[data-tab="security"]`),
		chromedp.WaitVisible("#passkeys li", chromedp.ByQuery), chromedp.WaitVisible("#devices li.this-device", chromedp.ByQuery),
		s.shot("en-security"), browsertest.Tap("#signout-btn"), browsertest.Tap("#signin-btn"), browsertest.WaitPassKind("online"))
	var who string
	s.run("whose pass", chromedp.Text("#pass-who", &who, chromedp.ByID))
	if who != "A · "+h.unitLabel(f) {
		t.Errorf("the pass says it is %q's", who)
	}
	claims := checkFresh(t, h, f.id, browsertest.ScreenshotQR(t, s.ctx, "en-pass"))
	var qrID uuid.UUID
	dbtest.Get(t, h.sql, &qrID, dbtest.Credentials, "id", dbtest.Eq("resident_id", resident), dbtest.Eq("kind", "qr"), dbtest.Null("revoked_at"))
	zones, err := h.db.ResidentZones(s.ctx, f.id)
	if err != nil {
		t.Fatal(err)
	}
	if claims.CredentialID != qrID || claims.Zones != uint64(zones) || claims.Subject != credential.SubjectResident || claims.Type != credential.TypeIssued {
		t.Fatalf("screen code %+v, want credential %s zones %b", claims, qrID, zones)
	}

	// Offline: the code stays with a clear message and its remaining life; back online,
	// a fresh code replaces it. The other tabs say there is no signal.
	var offline string
	goOnline := chromedp.Evaluate(`window.dispatchEvent(new Event('online'))`, nil)
	s.run("offline", browsertest.Network(true, 0), goOnline,
		chromedp.Poll(`document.querySelector('#pass-status.offline') !== null`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Text("#pass-status", &offline, chromedp.ByID), s.shot("en-pass-no-signal"),
		browsertest.Tap(`button[data-tab="visitors"]`), chromedp.WaitVisible(".problem .retry", chromedp.ByQuery))
	s.said("offline visitors tab", ".problem .error", "en", "No signal")
	s.run("back online", s.shot("en-offline-tab"), browsertest.Network(false, 0), browsertest.Tap(`button[data-tab="pass"]`),
		goOnline, chromedp.Poll(`document.querySelector('#pass-status.offline') === null`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		browsertest.WaitPass())
	if !strings.Contains(offline, "No signal") || !strings.Contains(offline, " s.") {
		t.Fatalf("offline message %q", offline)
	}

	// History lists the resident's own entries.
	gate := uuid.New()
	h.addGate(f.id, gate, "North gate")
	h.addEntry(f.id, gate, qrID, time.Now().Add(-time.Minute))
	var history string
	s.run("history", browsertest.Tap(`button[data-tab="history"]`), chromedp.WaitVisible("#entries li", chromedp.ByQuery),
		chromedp.Text("#entries", &history, chromedp.ByID))
	if !strings.Contains(history, "North gate") || !strings.Contains(history, "QR code") || !strings.Contains(history, "entered") {
		t.Fatalf("history %q", history)
	}

	// My data, and face entry: read the notice, consent for one gate with a passkey
	// verification, then withdraw; the page lists the gate's pending purge.
	if err := h.db.InTx(s.ctx, "test", func(tx *store.Tx) error {
		return tx.SetFaceOperator(s.ctx, f.id, consent.Operator{Name: "Sunshine Property", Contact: "privacy@example.com"})
	}); err != nil {
		t.Fatal(err)
	}
	h.faceGates(f, 1)
	var summary string
	s.run("my data", browsertest.Tap(`button[data-tab="data"]`), chromedp.WaitVisible("#data-summary", chromedp.ByID),
		chromedp.Text("#data-summary", &summary, chromedp.ByID), s.shot("en-data"),
		browsertest.Tap("#face-read"), chromedp.WaitVisible("#face-notice li", chromedp.ByQuery), scrollToList, s.shot("en-face-notice"),
		browsertest.Tap("#face-agree"), chromedp.WaitVisible("#face-withdraw", chromedp.ByID))
	for _, want := range []string{"Alice Chen", "Passkeys1: Android", "Offline passes1 turned on", "no consent", "the latest on"} {
		if !strings.Contains(strings.ReplaceAll(summary, "\n", ""), want) {
			t.Errorf("my data does not say %q:\n%s", want, summary)
		}
	}
	if consents := dbtest.Count(t, h.sql, dbtest.Consents, dbtest.Eq("resident_id", resident), dbtest.Eq("scope", "one_gate"), dbtest.Eq("channel", "h5"), dbtest.Null("withdrawn_at")); consents != 1 {
		t.Fatalf("consents recorded: %d", consents)
	}
	s.run("face withdrawal", browsertest.Tap("#face-withdraw"), browsertest.Tap("#face .confirm-yes"), chromedp.WaitVisible("#face-read", chromedp.ByID))
	if consents := dbtest.Count(t, h.sql, dbtest.Consents, dbtest.Eq("resident_id", resident), dbtest.Null("withdrawn_at")); consents != 0 {
		t.Fatalf("live consents after withdrawal: %d", consents)
	}

	// A visitor pass of one entry, shared by copy (no share sheet in this browser).
	var link string
	s.run("create visitor pass", browsertest.Tap(`button[data-tab="visitors"]`),
		chromedp.SendKeys("#v-label", "Grandma", chromedp.ByID), chromedp.SetValue("#v-entries", "1", chromedp.ByID),
		browsertest.Tap("#v-create"), chromedp.Text("#v-link", &link, chromedp.ByID), browsertest.Tap("#v-copy"),
		chromedp.WaitVisible("#v-list li", chromedp.ByQuery), s.shot("en-visitors"))
	s.said("copied", "#v-copied", "en", "Link copied")
	if !strings.HasPrefix(link, h.base+"/v/gpv_") {
		t.Fatalf("share link %q", link)
	}
	// A second browser with its own empty profile: nothing of the resident's session.
	// (chromedp's WithNewBrowserContext fails on this headless Chromium: "no browser is
	// open".)
	v := screen{t: t, h: h, ctx: browsertest.New(t, 90*time.Second)}
	browsertest.FailOnConsoleErrors(t, v.ctx)
	var heading string
	v.run("visitor page", browsertest.Phone(), browsertest.English(), chromedp.Navigate(link), browsertest.WaitPass(), chromedp.Text("h1", &heading, chromedp.ByQuery))
	if heading != "Visitor pass" {
		t.Fatalf("visitor page heading %q", heading)
	}
	vclaims := v.codeOnScreen(f, "en-visitor")
	var pass, passCred uuid.UUID
	dbtest.Get(t, h.sql, &pass, dbtest.VisitorPasses, "id", dbtest.Eq("host_resident_id", resident), dbtest.Eq("label", "Grandma"))
	dbtest.Get(t, h.sql, &passCred, dbtest.Credentials, "id", dbtest.Eq("community_id", f.id), dbtest.Eq("visitor_pass_id", pass))
	if vclaims.CredentialID != passCred || vclaims.Subject != credential.SubjectVisitor || vclaims.Zones != 1 {
		t.Fatalf("visitor code %+v, want credential %s, perimeter only", vclaims, passCred)
	}
	// The fresh context has no resident session: the app's API refuses it.
	var status int
	v.run("resident API from the visitor's browser", chromedp.Evaluate(`fetch('/api/v1/pass').then(r => r.status)`, &status, awaitPromise))
	if status != 401 {
		t.Fatalf("visitor context asking for the resident pass: %d", status)
	}
	// Its one entry counted, the page says the pass is used up.
	if _, err := h.db.CountVisitorEntries(s.ctx, f.id, []uuid.UUID{passCred}); err != nil {
		t.Fatal(err)
	}
	v.said("used up", "#visit-state", "en", "All entries")
	v.run("used-up page", v.shot("en-visitor-used-up"))
}

// unitLabel is the label of community f's unit.
func (h *harness) unitLabel(f community) string {
	h.t.Helper()
	var label string
	dbtest.Get(h.t, h.sql, &label, dbtest.Units, "label", dbtest.Eq("community_id", f.id), dbtest.Eq("id", f.unit))
	return label
}
