// Package browsertest drives a real headless Chromium for tests: a phone-sized page, a
// virtual WebAuthn authenticator that holds passkeys, and screenshots read back with a
// real QR decoder. It is imported only by tests.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"gatepass/internal/qr"
)

// Chromium is Debian's browser, installed by scripts/testdeps.
const Chromium = "/usr/bin/chromium"

// New starts a headless Chromium with a fresh profile, sized like a phone, stopped when
// the test ends. The background-networking flags keep it off this machine's closed
// network.
func New(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	if _, err := exec.LookPath(Chromium); err != nil {
		t.Fatalf("%s is required for real-browser tests (Debian package chromium; run scripts/testdeps): %v", Chromium, err)
	}
	// Not t.TempDir: its cleanup fails the test when Chromium writes to the profile late.
	profile, err := os.MkdirTemp("", "gatepass-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Chromium),
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
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() {
		cancelTimeout()
		cancel()
		cancelAlloc()
		_ = os.RemoveAll(profile) // Chromium may still be writing: a leftover is harmless
	})
	return ctx
}

// Phone makes the page a 390x844 phone screen.
func Phone() chromedp.Action {
	return chromedp.EmulateViewport(390, 844, chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(2))
}

// VirtualAuthenticator adds a platform authenticator (like a phone's) that holds
// discoverable credentials and verifies the user.
func VirtualAuthenticator() chromedp.Action { return VirtualAuthenticatorID(nil) }

// VirtualAuthenticatorID is VirtualAuthenticator, keeping its id in id (when not nil)
// for Refuse.
func VirtualAuthenticatorID(id *cdpwebauthn.AuthenticatorID) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		if err := cdpwebauthn.Enable().Do(ctx); err != nil {
			return err
		}
		got, err := cdpwebauthn.AddVirtualAuthenticator(&cdpwebauthn.VirtualAuthenticatorOptions{
			Protocol: cdpwebauthn.AuthenticatorProtocolCtap2, Ctap2version: cdpwebauthn.Ctap2versionCtap21,
			Transport: cdpwebauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
			IsUserVerified: true, AutomaticPresenceSimulation: true,
		}).Do(ctx)
		if id != nil {
			*id = got
		}
		return err
	})
}

// Refuse makes the authenticator fail to verify the user (refuse true), as when the
// resident cancels the fingerprint prompt: the browser answers NotAllowedError.
func Refuse(id cdpwebauthn.AuthenticatorID, refuse bool) chromedp.Action {
	return cdpwebauthn.SetUserVerified(id, !refuse)
}

// android is the user agent of an Android phone's browser.
const android = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Mobile Safari/537.36"

// Chinese makes the browser an Android phone whose language is Chinese.
func Chinese() chromedp.Action {
	return emulation.SetUserAgentOverride(android).WithAcceptLanguage("zh-CN,zh")
}

// English makes the browser an Android phone whose language is English.
func English() chromedp.Action {
	return emulation.SetUserAgentOverride(android).WithAcceptLanguage("en-US,en")
}

// Network sets the page's network: offline, or online with latency added to every request.
func Network(offline bool, latency time.Duration) chromedp.Action {
	return network.EmulateNetworkConditions(offline, float64(latency.Milliseconds()), -1, -1)
}

// Requests counts the requests the page makes whose URL contains part, from now on.
func Requests(ctx context.Context, part string) func() int {
	var mu sync.Mutex
	n := 0
	chromedp.ListenTarget(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && strings.Contains(e.Request.URL, part) {
			mu.Lock()
			n++
			mu.Unlock()
		}
	})
	return func() int {
		mu.Lock()
		defer mu.Unlock()
		return n
	}
}

// FailOnConsoleErrors fails the test, when it ends, for every uncaught exception or
// console.error on the page: the app must handle every failure it meets. Network
// failures the browser logs by itself (a 404, a request while offline) are not the
// page's errors and are not counted.
func FailOnConsoleErrors(t testing.TB, ctx context.Context) {
	var mu sync.Mutex
	var errs []string
	chromedp.ListenTarget(ctx, func(ev any) {
		var msg string
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg = "uncaught: " + e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
		case *runtime.EventConsoleAPICalled:
			if e.Type != runtime.APITypeError && e.Type != runtime.APITypeAssert {
				return
			}
			msg = "console." + string(e.Type) + ":"
			for _, a := range e.Args {
				msg += " " + string(a.Value) + a.Description
			}
		case *cdplog.EventEntryAdded:
			if e.Entry.Level != cdplog.LevelError || e.Entry.Source == cdplog.SourceNetwork {
				return
			}
			msg = "log " + string(e.Entry.Source) + ": " + e.Entry.Text
		default:
			return
		}
		mu.Lock()
		errs = append(errs, msg)
		mu.Unlock()
	})
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range errs {
			t.Errorf("browser console: %s", e)
		}
	})
}

// WaitPass waits until the resident app's pass screen shows a code.
func WaitPass() chromedp.Action { return WaitPassKind("") }

// WaitPassKind waits until the pass screen shows a code of a kind: "online" (from the
// server), "device" (the offline pass, signed in the browser), or "" for either.
func WaitPassKind(kind string) chromedp.Action {
	return chromedp.Poll(`(() => { const i = document.querySelector('#pass-img');
		return !!(i && i.dataset.expiresAt && i.complete && i.naturalWidth > 0 && (`+strconv.Quote(kind)+` === '' || i.dataset.kind === `+strconv.Quote(kind)+`)); })()`,
		nil, chromedp.WithPollingTimeout(20*time.Second))
}

// Screenshot takes a screenshot and keeps it for people to look at: in SCREENSHOT_DIR
// when set, else in the test's temporary directory.
func Screenshot(t testing.TB, ctx context.Context, name string) []byte {
	t.Helper()
	var png []byte
	if err := chromedp.CaptureScreenshot(&png).Do(ctx); err != nil {
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

// ScreenshotQR takes a screenshot and decodes the QR code in it with zbar.
func ScreenshotQR(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	var png []byte
	err := chromedp.Run(ctx, chromedp.ActionFunc(func(ctx context.Context) error {
		png = Screenshot(t, ctx, name)
		return nil
	}))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	text, err := qr.Decode(png)
	if err != nil {
		t.Fatalf("no QR code readable in the %s screenshot: %v", name, err)
	}
	return text
}

// Tap scrolls the element matched by the CSS selector to the middle of the screen and
// clicks it, as a finger would: chromedp.Click alone may scroll it just under a sticky
// bar (the app's tab bar) and click that instead.
func Tap(selector string) chromedp.Action {
	return chromedp.Tasks{
		chromedp.WaitVisible(selector, chromedp.ByQuery),
		chromedp.ActionFunc(func(ctx context.Context) error {
			var ok bool
			return chromedp.Evaluate(`(() => { const n = document.querySelector(`+strconv.Quote(selector)+`);
				n.scrollIntoView({block: 'center'}); return true; })()`, &ok).Do(ctx)
		}),
		chromedp.Click(selector, chromedp.ByQuery),
	}
}
