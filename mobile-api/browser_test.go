package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"gatepass/internal/browsertest"
	"gatepass/internal/consent"
	"gatepass/internal/credential"
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

func TestRealBrowser(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	resident, code := h.invite(f)
	ctx := browsertest.New(t, 90*time.Second)

	// Redeem the invite: the page creates a passkey on the virtual authenticator.
	err := chromedp.Run(ctx, browsertest.Phone(), browsertest.VirtualAuthenticator(),
		chromedp.Navigate(h.base+"/"),
		chromedp.WaitVisible("#invite-code", chromedp.ByID),
		chromedp.ActionFunc(func(ctx context.Context) error { browsertest.Screenshot(t, ctx, "welcome"); return nil }),
		chromedp.SendKeys("#invite-code", code, chromedp.ByID),
		chromedp.Click("#redeem-btn", chromedp.ByID),
		browsertest.WaitPass(),
	)
	if err != nil {
		t.Fatalf("redeem and register: %v\n%s", err, h.logs.String())
	}
	var passkeys int
	if err := h.sql.Get(&passkeys, `SELECT count(*) FROM passkeys WHERE resident_id = $1 AND 'internal' = ANY(transports) AND user_verified`, resident); err != nil || passkeys != 1 {
		t.Fatalf("passkeys of the resident: %d %v", passkeys, err)
	}

	// Sign out, then sign in with the passkey alone (no username).
	err = chromedp.Run(ctx,
		chromedp.Click(`button[data-tab="security"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#signout-btn", chromedp.ByID),
		chromedp.WaitVisible("#passkeys li", chromedp.ByQuery),
		chromedp.ActionFunc(func(ctx context.Context) error { browsertest.Screenshot(t, ctx, "security"); return nil }),
		chromedp.Click("#signout-btn", chromedp.ByID),
		chromedp.WaitVisible("#signin-btn", chromedp.ByID),
		chromedp.Click("#signin-btn", chromedp.ByID),
		browsertest.WaitPass(),
	)
	if err != nil {
		t.Fatalf("sign out and in: %v\n%s", err, h.logs.String())
	}
	text := browsertest.ScreenshotQR(t, ctx, "pass")
	claims := checkFresh(t, h, f.id, text)
	var qrID uuid.UUID
	if err := h.sql.Get(&qrID, `SELECT id FROM credentials WHERE resident_id = $1 AND kind = 'qr' AND revoked_at IS NULL`, resident); err != nil {
		t.Fatal(err)
	}
	zones, err := h.db.ResidentZones(ctx, f.id)
	if err != nil {
		t.Fatal(err)
	}
	if claims.CredentialID != qrID || claims.Zones != uint64(zones) || claims.Subject != credential.SubjectResident || claims.Type != credential.TypeIssued {
		t.Fatalf("screen code %+v, want credential %s zones %b", claims, qrID, zones)
	}

	// Offline: the code stays with a clear message and its remaining life; back online,
	// a fresh code replaces it.
	var offline string
	var dispatched bool
	goOnline := chromedp.Evaluate(`window.dispatchEvent(new Event('online'))`, &dispatched)
	err = chromedp.Run(ctx, network.Enable(), network.EmulateNetworkConditions(true, 0, -1, -1), goOnline,
		chromedp.Poll(`document.querySelector('#pass-status.offline') !== null`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Text("#pass-status", &offline, chromedp.ByID),
		chromedp.ActionFunc(func(ctx context.Context) error { browsertest.Screenshot(t, ctx, "offline"); return nil }),
		network.EmulateNetworkConditions(false, 0, -1, -1), goOnline,
		chromedp.Poll(`document.querySelector('#pass-status.offline') === null`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		browsertest.WaitPass(),
	)
	if err != nil || !strings.Contains(offline, "offline") || !strings.Contains(offline, " s.") {
		t.Fatalf("offline message %q: %v", offline, err)
	}

	// History lists the resident's own entries.
	gate := uuid.New()
	h.exec(`INSERT INTO gates (community_id, id, name, zone, direction) VALUES ($1, $2, 'North gate', 0, 'in')`, f.id, gate)
	h.addEntry(f.id, gate, qrID, time.Now().Add(-time.Minute))
	var history string
	err = chromedp.Run(ctx,
		chromedp.Click(`button[data-tab="history"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#entries li", chromedp.ByQuery),
		chromedp.Text("#entries", &history, chromedp.ByID),
	)
	if err != nil || !strings.Contains(history, "North gate") || !strings.Contains(history, "granted") {
		t.Fatalf("history %q: %v", history, err)
	}

	// Face entry in "My data": read the notice, consent for one gate with a passkey
	// verification, then withdraw; the page lists the gate's pending purge.
	if err := h.db.InTx(ctx, "test", func(tx *store.Tx) error {
		return tx.SetFaceOperator(ctx, f.id, consent.Operator{Name: "Sunshine Property", Contact: "privacy@example.com"})
	}); err != nil {
		t.Fatal(err)
	}
	h.faceGates(f, 1)
	err = chromedp.Run(ctx,
		chromedp.Click(`button[data-tab="data"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#face-read", chromedp.ByID),
		chromedp.Click("#face-read", chromedp.ByID),
		chromedp.WaitVisible("#face-notice", chromedp.ByID),
		chromedp.ActionFunc(func(ctx context.Context) error { browsertest.Screenshot(t, ctx, "face-notice"); return nil }),
		chromedp.Click("#face-agree", chromedp.ByID),
		chromedp.WaitVisible("#face-withdraw", chromedp.ByID),
	)
	if err != nil {
		t.Fatalf("face consent in the app: %v\n%s", err, h.logs.String())
	}
	var consents int
	if err := h.sql.Get(&consents, `SELECT count(*) FROM consents WHERE resident_id = $1 AND scope = 'one_gate' AND channel = 'h5' AND withdrawn_at IS NULL`, resident); err != nil || consents != 1 {
		t.Fatalf("consents recorded: %d %v", consents, err)
	}
	err = chromedp.Run(ctx,
		chromedp.Click("#face-withdraw", chromedp.ByID),
		chromedp.WaitVisible("#face-read", chromedp.ByID),
		chromedp.ActionFunc(func(ctx context.Context) error { browsertest.Screenshot(t, ctx, "face-withdrawn"); return nil }),
	)
	if err != nil {
		t.Fatalf("face withdrawal in the app: %v", err)
	}
	if err := h.sql.Get(&consents, `SELECT count(*) FROM consents WHERE resident_id = $1 AND withdrawn_at IS NULL`, resident); err != nil || consents != 0 {
		t.Fatalf("live consents after withdrawal: %d %v", consents, err)
	}

	// A visitor pass, created in the app and opened in a fresh browser context.
	var link string
	err = chromedp.Run(ctx,
		chromedp.Click(`button[data-tab="visitors"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#v-label", chromedp.ByID),
		chromedp.SendKeys("#v-label", "Grandma", chromedp.ByID),
		chromedp.Click("#v-create", chromedp.ByID),
		chromedp.WaitVisible("#v-link", chromedp.ByID),
		chromedp.Text("#v-link", &link, chromedp.ByID),
		chromedp.WaitVisible("#v-list li", chromedp.ByQuery),
		chromedp.ActionFunc(func(ctx context.Context) error { browsertest.Screenshot(t, ctx, "visitors"); return nil }),
	)
	if err != nil {
		t.Fatalf("create visitor pass: %v", err)
	}
	if !strings.HasPrefix(link, h.base+"/v/gpv_") {
		t.Fatalf("share link %q", link)
	}
	// A second browser with its own empty profile: nothing of the resident's session.
	// (chromedp's WithNewBrowserContext fails on this headless Chromium: "no browser is
	// open".)
	visitor := browsertest.New(t, 90*time.Second)
	var heading string
	err = chromedp.Run(visitor, browsertest.Phone(),
		emulation.SetUserAgentOverride("Mozilla/5.0 (Linux; Android 14) Mobile").WithAcceptLanguage("zh-CN,zh"),
		chromedp.Navigate(link), browsertest.WaitPass(), chromedp.Text("h1", &heading, chromedp.ByQuery))
	if err != nil {
		t.Fatalf("visitor page: %v", err)
	}
	if heading != "访客通行证" {
		t.Fatalf("visitor page heading %q, want the Chinese one", heading)
	}
	vclaims := checkFresh(t, h, f.id, browsertest.ScreenshotQR(t, visitor, "visitor"))
	var passCred uuid.UUID
	if err := h.sql.Get(&passCred, `SELECT c.id FROM credentials c JOIN visitor_passes v ON v.community_id = c.community_id AND v.id = c.visitor_pass_id
		WHERE v.host_resident_id = $1 AND v.label = 'Grandma'`, resident); err != nil {
		t.Fatal(err)
	}
	if vclaims.CredentialID != passCred || vclaims.Subject != credential.SubjectVisitor || vclaims.Zones != 1 {
		t.Fatalf("visitor code %+v, want credential %s, perimeter only", vclaims, passCred)
	}
	// The fresh context has no resident session: the app's API refuses it.
	var status int
	err = chromedp.Run(visitor, chromedp.Evaluate(`fetch('/api/v1/pass').then(r => r.status)`, &status, func(p *runtime.EvaluateParams) *runtime.EvaluateParams {
		return p.WithAwaitPromise(true)
	}))
	if err != nil || status != 401 {
		t.Fatalf("visitor context asking for the resident pass: %d %v", status, err)
	}
}
