package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"gatepass/internal/browsertest"
	"gatepass/internal/credential"
	"gatepass/internal/dbtest"
)

// A pass that works with no signal (issue 15 item 4): the first sign-in gives the
// browser an offline pass (a non-extractable WebCrypto key certified as a 0x02 device
// credential); with the network switched off the service worker opens the app on reload
// and the pass screen shows a presentation signed in the browser. Read off a screenshot
// it opens a real gate as the device credential; turned off in Security, the same code
// is refused at that gate within 2 s.
func TestOfflinePassAtGate(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	gate := h.realGate(f)
	resident, code := h.invite(f)
	ctx := browsertest.New(t, 120*time.Second)
	browsertest.FailOnConsoleErrors(t, ctx)
	h.redeemInBrowser(ctx, code)

	// Set up by the sign-in; the service worker holds the app.
	err := chromedp.Run(ctx,
		browsertest.Tap(`button[data-tab="security"]`),
		chromedp.WaitVisible("#devices li.this-device", chromedp.ByQuery),
		chromedp.Poll(`navigator.serviceWorker.controller !== null`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Poll(`caches.has('gatepass-app-v1')`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		browsertest.Tap(`button[data-tab="pass"]`), browsertest.WaitPassKind("online"))
	if err != nil {
		t.Fatalf("offline pass set up after sign-in: %v\n%s", err, h.logs.String())
	}
	var device uuid.UUID
	dbtest.Get(t, h.sql, &device, dbtest.Credentials, "id", dbtest.Eq("resident_id", resident), dbtest.Eq("kind", "device"), dbtest.Null("revoked_at"))

	// No network: reload, and the app and its offline pass are there.
	var label string
	err = chromedp.Run(ctx, browsertest.Network(true, 0), chromedp.Reload(),
		browsertest.WaitPassKind("device"), chromedp.Text("#pass-kind", &label, chromedp.ByID))
	if err != nil || label != "Offline pass" {
		t.Fatalf("offline reload: pass kind %q: %v", label, err)
	}
	text := browsertest.ScreenshotQR(t, ctx, "en-pass-offline")
	claims, err := h.verifier(f.id).Verify(text, time.Now())
	if err != nil || claims.Type != credential.TypeDevice || claims.CredentialID != device {
		t.Fatalf("screen code %+v: %v, want the device credential %s", claims, err, device)
	}
	if result, reason := gate.scan(text); result != "granted" {
		t.Fatalf("offline pass at the gate: %s %s", result, reason)
	}
	scanned := time.Now()

	// Back online: turned off in Security, the gate refuses the same code within 2 s.
	err = chromedp.Run(ctx, browsertest.Network(false, 0),
		browsertest.Tap(`button[data-tab="security"]`),
		browsertest.Tap("#devices li.this-device .dev-revoke"))
	if err != nil {
		t.Fatalf("turning the offline pass off: %v", err)
	}
	// The gate learns the revocation through its sync within 2 s of the tap; a scan then
	// refuses the code. (The gate is asked with check, which makes no read: the reader
	// takes the same text twice within 2 s as one read, as scanners repeat themselves.)
	off := time.Now()
	if err := chromedp.Run(ctx, browsertest.Tap("#devices .confirm-yes")); err != nil {
		t.Fatal(err)
	}
	var reason string
	if !until(2*time.Second, func() bool { _, reason = gate.check(text); return reason == "revoked" }) {
		t.Fatalf("2 s after turning the offline pass off the gate still answers %q", reason)
	}
	t.Logf("the gate refuses it %v after the tap", time.Since(off).Round(10*time.Millisecond))
	time.Sleep(time.Until(scanned.Add(2100 * time.Millisecond)))
	if result, reason := gate.scan(text); result != "denied" || reason != "revoked" {
		t.Fatalf("the turned-off offline pass at the gate: %s %s", result, reason)
	}
	if err := chromedp.Run(ctx, chromedp.WaitVisible("#offline-none", chromedp.ByID)); err != nil {
		t.Fatalf("Security after turning the offline pass off: %v", err)
	}

	// History says which way in, and why the second time was refused.
	var history string
	err = chromedp.Run(ctx, browsertest.Tap(`button[data-tab="history"]`),
		chromedp.Poll(`(document.getElementById('entries')?.textContent || '').includes('turned off')`, nil, chromedp.WithPollingTimeout(15*time.Second)),
		chromedp.Text("#entries", &history, chromedp.ByID),
		chromedp.ActionFunc(func(ctx context.Context) error { browsertest.Screenshot(t, ctx, "en-history"); return nil }))
	if err != nil || !strings.Contains(history, "Garage gate") || !strings.Contains(history, "offline pass") || !strings.Contains(history, "refused") {
		t.Fatalf("history %q: %v", history, err)
	}
}
