package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"gatepass/internal/consent"
	"gatepass/internal/credential"
	"gatepass/internal/qr"
	"gatepass/internal/store"
)

const chromium = "/usr/bin/chromium"

// browser starts a headless Chromium with a fresh profile, sized like a phone.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := exec.LookPath(chromium); err != nil {
		t.Fatalf("%s is required for the real-browser test (Debian package chromium): %v", chromium, err)
	}
	// Not t.TempDir: Chromium's helper processes may still be writing to the profile
	// for a moment after the browser exits, and t.TempDir's cleanup fails on that.
	profile, err := os.MkdirTemp("", "gatepass-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(390, 844),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancel()
		cancelAlloc()
		for i := 0; i < 20 && os.RemoveAll(profile) != nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	})
	return ctx
}

// phone makes the page a 390x844 phone screen.
func phone() chromedp.Action {
	return chromedp.EmulateViewport(390, 844, chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(2))
}

// virtualAuthenticator is a platform authenticator (like a phone's) that holds
// discoverable credentials and verifies the user.
func virtualAuthenticator() chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		if err := cdpwebauthn.Enable().Do(ctx); err != nil {
			return err
		}
		_, err := cdpwebauthn.AddVirtualAuthenticator(&cdpwebauthn.VirtualAuthenticatorOptions{
			Protocol: cdpwebauthn.AuthenticatorProtocolCtap2, Ctap2version: cdpwebauthn.Ctap2versionCtap21,
			Transport: cdpwebauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
			IsUserVerified: true, AutomaticPresenceSimulation: true,
		}).Do(ctx)
		return err
	})
}

// waitPass waits until the pass screen shows a code the server sent.
func waitPass() chromedp.Action {
	return chromedp.Poll(`(() => { const i = document.querySelector('#pass-img');
		return !!(i && i.dataset.expiresAt && i.complete && i.naturalWidth > 0); })()`, nil, chromedp.WithPollingTimeout(20*time.Second))
}

// screenshot takes a screenshot and keeps it for people to look at (SCREENSHOT_DIR).
func screenshot(t *testing.T, ctx context.Context, name string) []byte {
	t.Helper()
	var png []byte
	if err := chromedp.Run(ctx, chromedp.CaptureScreenshot(&png)); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := os.Getenv("SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	return png
}

// screenshotQR takes a screenshot and decodes the QR code in it with zbar.
func screenshotQR(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	png := screenshot(t, ctx, name)
	text, err := qr.Decode(png)
	if err != nil {
		t.Fatalf("no QR code readable in the %s screenshot: %v", name, err)
	}
	return text
}

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

func TestRealBrowser(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	resident, code := h.invite(f)
	ctx := browser(t)

	// Redeem the invite: the page creates a passkey on the virtual authenticator.
	err := chromedp.Run(ctx, phone(), virtualAuthenticator(),
		chromedp.Navigate(h.base+"/"),
		chromedp.WaitVisible("#invite-code", chromedp.ByID),
		chromedp.ActionFunc(func(ctx context.Context) error { screenshot(t, ctx, "welcome"); return nil }),
		chromedp.SendKeys("#invite-code", code, chromedp.ByID),
		chromedp.Click("#redeem-btn", chromedp.ByID),
		waitPass(),
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
		chromedp.ActionFunc(func(ctx context.Context) error { screenshot(t, ctx, "security"); return nil }),
		chromedp.Click("#signout-btn", chromedp.ByID),
		chromedp.WaitVisible("#signin-btn", chromedp.ByID),
		chromedp.Click("#signin-btn", chromedp.ByID),
		waitPass(),
	)
	if err != nil {
		t.Fatalf("sign out and in: %v\n%s", err, h.logs.String())
	}
	text := screenshotQR(t, ctx, "pass")
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
		chromedp.ActionFunc(func(ctx context.Context) error { screenshot(t, ctx, "offline"); return nil }),
		network.EmulateNetworkConditions(false, 0, -1, -1), goOnline,
		chromedp.Poll(`document.querySelector('#pass-status.offline') === null`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		waitPass(),
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
		chromedp.ActionFunc(func(ctx context.Context) error { screenshot(t, ctx, "face-notice"); return nil }),
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
		chromedp.ActionFunc(func(ctx context.Context) error { screenshot(t, ctx, "face-withdrawn"); return nil }),
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
		chromedp.ActionFunc(func(ctx context.Context) error { screenshot(t, ctx, "visitors"); return nil }),
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
	visitor := browser(t)
	var heading string
	err = chromedp.Run(visitor, phone(),
		emulation.SetUserAgentOverride("Mozilla/5.0 (Linux; Android 14) Mobile").WithAcceptLanguage("zh-CN,zh"),
		chromedp.Navigate(link), waitPass(), chromedp.Text("h1", &heading, chromedp.ByQuery))
	if err != nil {
		t.Fatalf("visitor page: %v", err)
	}
	if heading != "访客通行证" {
		t.Fatalf("visitor page heading %q, want the Chinese one", heading)
	}
	vclaims := checkFresh(t, h, f.id, screenshotQR(t, visitor, "visitor"))
	var passCred uuid.UUID
	if err := h.sql.Get(&passCred, `SELECT c.id FROM credentials c JOIN visitor_passes v ON v.id = c.visitor_pass_id
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
