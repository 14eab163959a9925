package main

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"gatepass/internal/browsertest"
)

// awaitPromise makes chromedp.Evaluate wait for the promise the script returns.
func awaitPromise(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }

// The pass screen cannot be broken by tapping (issue 15): with 300 ms added to every
// request and the tabs tapped back and forth while the first code loads, the app asks
// for at most 2 codes. A 429 waits for its Retry-After and never greys a code that is
// still valid.
func TestPassScreenTapping(t *testing.T) {
	limits := testLimits
	limits.Window, limits.Mint = 3*time.Second, 3
	h := newHarness(t, limits)
	f := h.community()
	_, code := h.invite(f)
	ctx := browsertest.New(t, 90*time.Second)
	browsertest.FailOnConsoleErrors(t, ctx)
	h.redeemInBrowser(ctx, code)
	// Count the app's wake lock requests: the pass keeps the screen on.
	err := chromedp.Run(ctx, chromedp.ActionFunc(func(ctx context.Context) error {
		_, err := page.AddScriptToEvaluateOnNewDocument(`window.wakeLocks = 0;
			const take = navigator.wakeLock.request.bind(navigator.wakeLock);
			navigator.wakeLock.request = (kind) => { window.wakeLocks++; return take(kind); };`).Do(ctx)
		return err
	}))
	if err != nil {
		t.Fatal(err)
	}

	passes := browsertest.Requests(ctx, "/api/v1/pass")
	taps := chromedp.Tasks{browsertest.Network(false, 300*time.Millisecond), chromedp.Reload(),
		chromedp.WaitVisible(`button[data-tab="visitors"]`, chromedp.ByQuery)}
	for i := 0; i < 10; i++ {
		taps = append(taps, chromedp.Click(`button[data-tab="visitors"]`, chromedp.ByQuery), chromedp.Click(`button[data-tab="pass"]`, chromedp.ByQuery))
	}
	var expires string
	var wakeLocks int
	err = chromedp.Run(ctx, taps, browsertest.WaitPass(), chromedp.Sleep(2*time.Second),
		chromedp.AttributeValue("#pass-img", "data-expires-at", &expires, nil, chromedp.ByID),
		chromedp.Evaluate(`window.wakeLocks`, &wakeLocks))
	if err != nil {
		t.Fatalf("tapping the tabs: %v", err)
	}
	if wakeLocks == 0 {
		t.Error("the pass screen did not ask to keep the screen on")
	}
	if n := passes(); n < 1 || n > 2 {
		t.Fatalf("%d pass requests while tapping the tabs, want 1 or 2", n)
	} else {
		t.Logf("%d pass request(s) while tapping the tabs 20 times", n)
	}

	// Codes asked for quickly (the network coming back, again and again) reach the limit
	// of 3 a window: the code on screen stays as it was, and the app asks again only
	// after the Retry-After.
	var stale bool
	var after string
	err = chromedp.Run(ctx, browsertest.Network(false, 0),
		chromedp.Evaluate(`(async () => { for (let i = 0; i < 5; i++) { dispatchEvent(new Event('online'));
			await new Promise((r) => setTimeout(r, 120)); } })()`, nil, awaitPromise),
		chromedp.Poll(`document.getElementById('pass-status').textContent.startsWith('Many requests')`, nil, chromedp.WithPollingTimeout(5*time.Second)),
		chromedp.Evaluate(`document.querySelector('.qr-frame').classList.contains('stale')`, &stale),
		chromedp.AttributeValue("#pass-img", "data-expires-at", &after, nil, chromedp.ByID))
	if err != nil || stale || after == "" {
		t.Fatalf("after a 429 the code is stale=%v (expires %q): %v", stale, after, err)
	}
	limited := passes()
	err = chromedp.Run(ctx, chromedp.Sleep(700*time.Millisecond), chromedp.Text("#pass-status", &after, chromedp.ByID))
	if n := passes(); err != nil || n != limited {
		t.Fatalf("%d requests within 0.7 s of a 429 (status %q): %v", n-limited, after, err)
	}
	err = chromedp.Run(ctx, chromedp.Poll(`document.getElementById('pass-status').textContent.startsWith('Hold the code')`, nil,
		chromedp.WithPollingTimeout(6*time.Second)))
	if err != nil {
		t.Fatalf("no new code after the Retry-After: %v", err)
	}
}
