package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"gatepass/internal/browsertest"
	"gatepass/internal/dbtest"
	"gatepass/internal/store"
)

// A cloned passkey is stopped (issue 13 item 7): after a stored sign count of 5, an
// assertion counting 3 is refused and suspends the passkey; from then on even a count
// that moves forward (9, what a clone that skipped ahead would send) is refused. The
// sessions the passkey opened end, the resident is told in the app (the passkey list
// says suspended), and another passkey of theirs still works.
func TestClonedPasskeyIsSuspended(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	m := h.signUp(f)
	second := h.addPasskey(m)
	// A device certified under this passkey's step-up: a clone could have made it.
	h.stepUp(m, m.key)
	_, pub := phoneKey(t)
	device := h.Must(201, "POST", "/api/v1/devices", m.token, map[string]any{"public_key": pub})["device"].(map[string]any)["id"].(string)
	signIn := func(k *softKey, count uint32) (int, map[string]any) {
		t.Helper()
		begin := h.Must(200, "POST", "/api/v1/signin/begin", "", map[string]any{})
		k.count = count - 1
		return h.Do("POST", "/api/v1/signin/finish", "", map[string]any{"ceremony": begin["ceremony"], "credential": m.auth.get(t, begin, k, 1), "session": "bearer"})
	}
	if status, out := signIn(m.key, 5); status != 200 {
		t.Fatalf("sign-in at count 5 = %d %v", status, out)
	}
	var stored int
	if dbtest.Get(t, h.sql, &stored, dbtest.Passkeys, "sign_count", dbtest.Eq("credential_id", m.key.id)); stored != 5 {
		t.Fatalf("stored count %d", stored)
	}
	code := func(out map[string]any) any { e, _ := out["error"].(map[string]any); return e["code"] }

	// Count 3: refused, and the passkey is suspended with every session it opened.
	if status, out := signIn(m.key, 3); status != 403 || code(out) != "passkey_counter_regressed" {
		t.Fatalf("sign-in at count 3 = %d %v, want 403 passkey_counter_regressed", status, out)
	}
	h.MustFail(401, "unauthorized", "GET", "/api/v1/me", m.token, nil)
	if revoked := dbtest.Count(t, h.sql, dbtest.Credentials, dbtest.Eq("id", device), dbtest.Eq("revoke_reason", "passkey_suspended")); revoked != 1 {
		t.Fatalf("device authorised by the suspended passkey revoked: %d", revoked)
	}
	// Count 9 (forward again): still refused, for good.
	before := h.snapshot()
	if status, out := signIn(m.key, 9); status != 403 || code(out) != "passkey_suspended" {
		t.Fatalf("sign-in at count 9 after the regression = %d %v, want 403 passkey_suspended", status, out)
	}
	h.unchanged(before, "a suspended passkey's sign-in")
	if dbtest.Get(t, h.sql, &stored, dbtest.Passkeys, "sign_count", dbtest.Eq("credential_id", m.key.id)); stored != 5 {
		t.Fatalf("stored count after the refusals %d", stored)
	}
	if audited := dbtest.Count(t, h.sql, dbtest.AuditLog, dbtest.Eq("action", "passkey.suspend"), dbtest.Eq("target", "resident:"+m.id.String())); audited != 1 {
		t.Fatalf("suspensions audited: %d", audited)
	}
	if !strings.Contains(h.logs.String(), "passkey counter went backwards") {
		t.Fatal("the regression was not logged")
	}

	// The other passkey signs in, sees the suspension, and removes the suspended one.
	status, out := signIn(second, second.count+1)
	if status != 200 {
		t.Fatalf("other passkey = %d %v", status, out)
	}
	token := out["session_token"].(string)
	var suspendedID string
	for _, p := range h.Must(200, "GET", "/api/v1/passkeys", token, nil)["passkeys"].([]any) {
		p := p.(map[string]any)
		if p["suspended_at"] != nil {
			if p["suspend_reason"] != "counter_regressed" || suspendedID != "" {
				t.Fatalf("passkey list %v", p)
			}
			suspendedID = p["id"].(string)
		}
	}
	if suspendedID == "" {
		t.Fatal("the passkey list does not show the suspension")
	}
	if me := h.Must(200, "GET", "/api/v1/me", token, nil); me["passkeys_suspended"] != 1.0 {
		t.Fatalf("me does not warn of the suspension: %v", me)
	}
	// The last usable passkey stays; the suspended one goes.
	var secondID string
	dbtest.Get(t, h.sql, &secondID, dbtest.Passkeys, "id", dbtest.Eq("credential_id", second.id))
	h.MustFail(409, "last_passkey", "DELETE", "/api/v1/passkeys/"+secondID, token, nil)
	h.Must(200, "DELETE", "/api/v1/passkeys/"+suspendedID, token, nil)
	h.Must(200, "GET", "/api/v1/me", token, nil)
}

// In the app (Chinese here): a sign-in that shows a counter regression explains itself;
// after a new invite from staff, every screen warns of the suspended passkey until the
// resident removes it under Security.
func TestRealBrowserSuspendedPasskey(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	resident, code := h.invite(f)
	ctx := browsertest.New(t, 90*time.Second)
	h.redeemInBrowser(ctx, code, emulation.SetUserAgentOverride("Mozilla/5.0 (Linux; Android 14) Mobile").WithAcceptLanguage("zh-CN,zh"))
	// The stored counter is ahead of the authenticator's, as after a clone signed in.
	dbtest.Set(t, h.sql, dbtest.Passkeys, dbtest.Values{"sign_count": 1000}, dbtest.Eq("resident_id", resident))
	var refused string
	err := chromedp.Run(ctx,
		browsertest.Tap(`button[data-tab="security"]`),
		chromedp.WaitVisible("#signout-btn", chromedp.ByID),
		browsertest.Tap("#signout-btn"),
		chromedp.WaitVisible("#signin-btn", chromedp.ByID),
		browsertest.Tap("#signin-btn"),
		chromedp.Poll(`document.querySelector('#signin-error').textContent !== ''`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Text("#signin-error", &refused, chromedp.ByID),
		chromedp.ActionFunc(func(ctx context.Context) error { browsertest.Screenshot(t, ctx, "signin-suspended"); return nil }),
	)
	if err != nil || !strings.Contains(refused, "签名计数器倒退") || !strings.Contains(refused, "邀请码") {
		t.Fatalf("sign-in refusal %q: %v", refused, err)
	}

	// Staff re-invite; the new passkey signs in and the app warns of the old one.
	ctxb := context.Background()
	var inv store.Invite
	if err := h.db.InTx(ctxb, "test", func(tx *store.Tx) (err error) {
		inv, err = tx.ReissueInvite(ctxb, f.id, resident)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var alert, item string
	err = chromedp.Run(ctx,
		chromedp.SetValue("#invite-code", inv.Code, chromedp.ByID),
		browsertest.Tap("#redeem-btn"),
		browsertest.WaitPass(),
		chromedp.WaitVisible("#alert", chromedp.ByID),
		chromedp.Text("#alert", &alert, chromedp.ByID),
		chromedp.ActionFunc(func(ctx context.Context) error { browsertest.Screenshot(t, ctx, "alert-suspended"); return nil }),
		browsertest.Tap("#alert"),
		chromedp.WaitVisible("#passkeys li.suspended", chromedp.ByQuery),
		chromedp.Text("#passkeys li.suspended", &item, chromedp.ByQuery),
		chromedp.ActionFunc(func(ctx context.Context) error { browsertest.Screenshot(t, ctx, "security-suspended"); return nil }),
	)
	if err != nil || !strings.Contains(alert, "停用") || !strings.Contains(item, "已停用") || !strings.Contains(item, "可能已被复制") {
		t.Fatalf("alert %q, passkey %q: %v", alert, item, err)
	}
	err = chromedp.Run(ctx,
		browsertest.Tap("#passkeys li.suspended button.pk-remove"),
		browsertest.Tap("#passkeys li.suspended .confirm-yes"),
		chromedp.WaitNotPresent("#passkeys li.suspended", chromedp.ByQuery),
		chromedp.WaitNotVisible("#alert", chromedp.ByID),
	)
	if err != nil {
		t.Fatalf("removing the suspended passkey: %v", err)
	}
	if left := dbtest.Count(t, h.sql, dbtest.Passkeys, dbtest.Eq("resident_id", resident), dbtest.Null("suspended_at")); left != 1 {
		t.Fatalf("passkeys left: %d", left)
	}
}
