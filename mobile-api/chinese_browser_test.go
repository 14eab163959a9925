package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/chromedp/cdproto/page"
	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/apitest"
	"gatepass/internal/browsertest"
	"gatepass/internal/consent"
	"gatepass/internal/credential"
	"gatepass/internal/dbtest"
	"gatepass/internal/store"
)

// screen is a browser the tests drive, with the test's helpers.
type screen struct {
	t   *testing.T
	h   *harness
	ctx context.Context
}

func (s screen) run(what string, actions ...chromedp.Action) {
	s.t.Helper()
	if err := chromedp.Run(s.ctx, actions...); err != nil {
		s.t.Fatalf("%s: %v\n%s", what, err, s.h.logs.String())
	}
}

// shot keeps a screenshot, after checking the screen shows no programmer's word
// (null, undefined, NaN, [object ...]) where a text should be.
func (s screen) shot(name string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		var text string
		if err := chromedp.Evaluate(`document.body.innerText`, &text).Do(ctx); err != nil {
			return err
		}
		for _, word := range []string{"null", "undefined", "NaN", "[object"} {
			if strings.Contains(text, word) {
				s.t.Errorf("the %s screen shows %q:\n%s", name, word, text)
			}
		}
		browsertest.Screenshot(s.t, ctx, name)
		return nil
	})
}

// said waits for a message containing contains in the element matched by sel and fails
// the test unless it is one of the app's own texts in the app's current language (want).
// It waits for the words, not for any text: a screen may say something else first (a
// busy machine shows "updating" before the answer arrives).
func (s screen) said(what, sel, want, contains string) string {
	s.t.Helper()
	var out struct {
		Text  string `json:"text"`
		Known bool   `json:"known"`
		Lang  string `json:"lang"`
	}
	waited := chromedp.ActionFunc(func(ctx context.Context) error {
		err := chromedp.Poll(`(document.querySelector(`+quote(sel)+`)?.textContent || '').includes(`+quote(contains)+`)`, nil,
			chromedp.WithPollingTimeout(10*time.Second)).Do(ctx)
		if errors.Is(err, chromedp.ErrPollingTimeout) {
			return nil // the check below says what the screen said instead
		}
		return err
	})
	s.run(what, waited,
		chromedp.Evaluate(`import('/assets/i18n.js').then((m) => { const text = document.querySelector(`+quote(sel)+`).textContent;
			return {text, known: m.fromDictionary(text), lang: m.lang()}; })`, &out, awaitPromise))
	han := strings.IndexFunc(out.Text, func(r rune) bool { return unicode.Is(unicode.Han, r) }) >= 0
	if !out.Known || out.Lang != want || (want == "zh") != han || !strings.Contains(out.Text, contains) {
		s.t.Errorf("%s: %q is not the app's %s text saying %q (known %v, language %s)", what, out.Text, want, contains, out.Known, out.Lang)
	}
	s.t.Logf("%s: %s", what, out.Text)
	return out.Text
}

// scrollToList shows the face notice on screen scrolled to its list of where a template
// is kept (for the screenshot).
var scrollToList = chromedp.Evaluate(`(() => { const n = document.getElementById('face-notice');
	n.scrollIntoView({block: 'start'}); n.scrollTop = n.querySelector('ul').offsetTop - n.offsetTop - 120; return true; })()`, nil)

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }

// codeOnScreen decodes the QR code on a screenshot and checks it as a gate of f would.
func (s screen) codeOnScreen(f community, name string) credential.Claims {
	s.t.Helper()
	claims, err := s.h.verifier(f.id).Verify(browsertest.ScreenshotQR(s.t, s.ctx, name), time.Now())
	if err != nil {
		s.t.Fatalf("code on the %s screen: %v", name, err)
	}
	return claims
}

// Every word in the resident's language (issue 15 items 2, 3, 6, 9): the app in
// Chinese is walked through every failure a resident or a visitor meets, and each
// message must be one of the app's own Chinese texts (never a server message, never the
// browser's); no tab is left empty or throws when the network is gone; an invite link
// fills the code in and leaves no trace in the address bar or the history; the visitor's
// page follows its pass; the language switch is remembered. The screenshots of the
// Chinese app are made here.
func TestAppInChinese(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	resident, inv := h.inviteFull(store.NewResident{Community: f.id, Name: "王秀英", Unit: f.unit, Role: access.RoleOwner})
	_, used := h.inviteFull(store.NewResident{Community: f.id, Name: apitest.Unique("Resident"), Unit: f.unit, Role: access.RoleOwner})
	dbtest.Set(t, h.sql, dbtest.Invites, dbtest.Values{"used_at": dbtest.Now()}, dbtest.Eq("community_id", f.id), dbtest.Ne("resident_id", resident))
	s := screen{t: t, h: h, ctx: browsertest.New(t, 180*time.Second)}
	browsertest.FailOnConsoleErrors(t, s.ctx)
	var auth cdpwebauthn.AuthenticatorID
	s.run("open the app", browsertest.Phone(), browsertest.Chinese(), browsertest.VirtualAuthenticatorID(&auth),
		chromedp.Navigate(h.base+"/"), chromedp.WaitVisible("#redeem-btn", chromedp.ByID), s.shot("zh-welcome"))

	// Signing up goes wrong every way it can.
	s.run("empty invite", browsertest.Tap("#redeem-btn"))
	s.said("empty invite", "#redeem-error", "zh", "邀请码")
	s.run("wrong code", chromedp.SendKeys("#invite-code", "7k2m qx9d 4htr", chromedp.ByID), browsertest.Tap("#redeem-btn"))
	s.said("wrong code", "#redeem-error", "zh", "邀请码无效")
	s.run("sign-in without a passkey", browsertest.Tap("#signin-btn"))
	s.said("sign-in without a passkey", "#signin-error", "zh", "通行密钥")
	var path, value string
	var nav []*page.NavigationEntry
	s.run("a used invite's link", chromedp.Navigate(h.base+"/i/"+used.Code), chromedp.WaitVisible("#invite-from-link", chromedp.ByID),
		chromedp.Evaluate(`location.pathname + location.search + location.hash`, &path), chromedp.Value("#invite-code", &value, chromedp.ByID),
		chromedp.ActionFunc(func(ctx context.Context) (err error) { _, nav, err = page.GetNavigationHistory().Do(ctx); return err }))
	if path != "/" || value != used.Code {
		t.Errorf("invite link: address %q, code filled in %v", path, value == used.Code)
	}
	for _, e := range nav {
		if strings.Contains(e.URL, used.Code) {
			t.Errorf("the invite code is in the history: %s", e.URL)
		}
	}
	s.run("a used invite", browsertest.Tap("#redeem-btn"))
	s.said("a used invite", "#redeem-error", "zh", "已被使用")
	s.run("the passkey prompt cancelled", chromedp.Navigate(h.base+"/i/"+inv.Code), chromedp.WaitVisible("#invite-from-link", chromedp.ByID),
		s.shot("zh-invite-link"), browsertest.Refuse(auth, true), browsertest.Tap("#redeem-btn"))
	s.said("the passkey prompt cancelled", "#redeem-error", "zh", "取消")

	// Signed up: the pass says whose it is, in Chinese.
	var who string
	s.run("sign up", browsertest.Refuse(auth, false), browsertest.Tap("#redeem-btn"), browsertest.WaitPassKind("online"),
		chromedp.Text("#pass-who", &who, chromedp.ByID))
	if !strings.HasPrefix(who, "王 · ") {
		t.Errorf("the pass says it is %q's", who)
	}
	qr := s.codeOnScreen(f, "zh-pass")
	s.run("the offline pass is set up", browsertest.Tap(`button[data-tab="security"]`),
		chromedp.WaitVisible("#devices li.this-device", chromedp.ByQuery), s.shot("zh-security"))

	// The property office turned the pass off.
	dbtest.Set(t, h.sql, dbtest.Credentials, dbtest.Values{"revoked_at": dbtest.Now(), "revoke_reason": "staff"}, dbtest.Eq("id", qr.CredentialID))
	s.run("revoked pass", chromedp.Reload(), chromedp.WaitVisible("#pass-status", chromedp.ByID))
	s.said("revoked pass", "#pass-status", "zh", "物业已关闭")
	dbtest.Set(t, h.sql, dbtest.Credentials, dbtest.Values{"revoked_at": nil, "revoke_reason": nil}, dbtest.Eq("id", qr.CredentialID))
	s.run("pass back", chromedp.Reload(), browsertest.WaitPassKind("online"))

	// Visitors: the form's mistakes, then a pass of two entries shared by copy (this
	// browser has no share sheet).
	s.run("visitors", browsertest.Tap(`button[data-tab="visitors"]`), browsertest.Tap("#v-create"))
	s.said("visitor without a name", "#v-error", "zh", "来访者")
	s.run("visitor for 500 hours", chromedp.SendKeys("#v-label", "李阿姨", chromedp.ByID), chromedp.SetValue("#v-hours", "500", chromedp.ByID),
		browsertest.Tap("#v-create"))
	s.said("visitor for 500 hours", "#v-error", "zh", "168")
	var link string
	s.run("visitor pass", chromedp.SetValue("#v-hours", "24", chromedp.ByID), chromedp.SetValue("#v-entries", "2", chromedp.ByID),
		browsertest.Tap("#v-create"), chromedp.WaitVisible("#v-link", chromedp.ByID), chromedp.Text("#v-link", &link, chromedp.ByID),
		browsertest.Tap("#v-share"))
	s.said("shared by copy", "#v-copied", "zh", "链接")
	s.run("visitors screen", chromedp.WaitVisible("#v-list li", chromedp.ByQuery), s.shot("zh-visitors"))

	// The visitor's page follows its pass: an entry counted brings a fresh code at once,
	// the last one ends the page.
	v := screen{t: t, h: h, ctx: browsertest.New(t, 120*time.Second)}
	browsertest.FailOnConsoleErrors(t, v.ctx)
	v.run("bad visitor link", browsertest.Phone(), browsertest.Chinese(), chromedp.Navigate(h.base+"/v/gpv_nope"))
	v.said("bad visitor link", "#visit-state", "zh", "链接无效")
	var left string
	v.run("visitor page", chromedp.Navigate(link), browsertest.WaitPass(), chromedp.Text("#visit-left", &left, chromedp.ByID))
	if !strings.Contains(left, "还可进入 2 次") {
		t.Errorf("visitor page says %q", left)
	}
	first := v.codeOnScreen(f, "zh-visitor")
	if first.Subject != credential.SubjectVisitor {
		t.Fatalf("visitor code %+v", first)
	}
	count := func() {
		if _, err := h.db.CountVisitorEntries(context.Background(), f.id, []uuid.UUID{first.CredentialID}); err != nil {
			t.Fatal(err)
		}
	}
	var expires string
	v.run("first entry", chromedp.AttributeValue("#pass-img", "data-expires-at", &expires, nil, chromedp.ByID))
	count()
	v.run("after the first entry", chromedp.Poll(`document.getElementById('visit-left').textContent.includes('还可进入 1 次') &&
		document.getElementById('pass-img').dataset.expiresAt !== `+quote(expires), nil, chromedp.WithPollingTimeout(15*time.Second)))
	if second := v.codeOnScreen(f, "zh-visitor-second"); second.CredentialID != first.CredentialID || second.ReplayKey() == first.ReplayKey() {
		t.Errorf("after an entry the page shows %+v, want a new code of the same pass", second)
	}
	count()
	v.said("used up", "#visit-state", "zh", "用完")
	var hidden bool
	v.run("used-up page", chromedp.Evaluate(`document.getElementById('visit-left') === null && document.getElementById('pass-img').closest('[hidden]') !== null`, &hidden),
		v.shot("zh-visitor-used-up"))
	if !hidden {
		t.Error("the used-up visitor page still shows a code or entries left")
	}

	// Ended passes offer no revoke; a live one asks before revoking.
	var ended, live int
	s.run("host's list", browsertest.Tap(`button[data-tab="history"]`), browsertest.Tap(`button[data-tab="visitors"]`),
		chromedp.SendKeys("#v-label", "快递", chromedp.ByID), browsertest.Tap("#v-create"), chromedp.WaitVisible("#v-link", chromedp.ByID),
		chromedp.Poll(`document.querySelectorAll('#v-list li').length === 2`, nil, chromedp.WithPollingTimeout(5*time.Second)),
		chromedp.Evaluate(`document.querySelectorAll('#v-list li.ended .v-revoke').length`, &ended),
		chromedp.Evaluate(`document.querySelectorAll('#v-list li:not(.ended) .v-revoke').length`, &live))
	if ended != 0 || live != 1 {
		t.Errorf("revoke offered on %d ended and %d live passes", ended, live)
	}
	s.run("revoke asks first", browsertest.Tap("#v-list li:not(.ended) .v-revoke"), chromedp.WaitVisible("#v-list .confirm-q", chromedp.ByQuery))
	s.said("revoke asks first", "#v-list .confirm-q", "zh", "快递")
	s.run("revoke", browsertest.Tap("#v-list .confirm-yes"),
		chromedp.Poll(`document.querySelectorAll('#v-list li.ended').length === 2`, nil, chromedp.WithPollingTimeout(5*time.Second)))

	// History: how, whether, and why not, in plain words.
	gate := uuid.New()
	h.addGate(f.id, gate, "北门")
	now := time.Now()
	h.addDecision(f.id, gate, qr.CredentialID, now.Add(-3*time.Hour), "granted", "ok")
	h.addDecision(f.id, gate, qr.CredentialID, now.Add(-2*time.Hour), "denied", "replayed")
	h.addDecision(f.id, gate, qr.CredentialID, now.Add(-time.Hour), "denied", "expired")
	var history string
	s.run("history", browsertest.Tap(`button[data-tab="history"]`), chromedp.WaitVisible("#entries li", chromedp.ByQuery),
		chromedp.Text("#entries", &history, chromedp.ByID), s.shot("zh-history"))
	for _, want := range []string{"北门", "二维码", "已通过", "未通过", "这个码已在此门使用过", "请等待下一个码", "通行码已过期"} {
		if !strings.Contains(history, want) {
			t.Errorf("history does not say %q:\n%s", want, history)
		}
	}

	// My data in plain words, the face notice rendered, deletion that needs the passkey.
	if err := h.db.InTx(context.Background(), "test", func(tx *store.Tx) error {
		return tx.SetFaceOperator(context.Background(), f.id, consent.Operator{Name: "阳光物业", Contact: "privacy@example.com"})
	}); err != nil {
		t.Fatal(err)
	}
	h.faceGates(f, 1)
	var summary, notice string
	var items int
	s.run("my data", browsertest.Tap(`button[data-tab="data"]`), chromedp.WaitVisible("#data-summary", chromedp.ByID),
		chromedp.Text("#data-summary", &summary, chromedp.ByID), s.shot("zh-data"),
		browsertest.Tap("#face-read"), chromedp.WaitVisible("#face-notice", chromedp.ByID),
		chromedp.Text("#face-notice", &notice, chromedp.ByID),
		chromedp.Evaluate(`document.querySelectorAll('#face-notice li').length`, &items),
		scrollToList, s.shot("zh-face-notice"))
	for _, want := range []string{"王秀英", "1 个", "已开通 1 部手机", "共 2 张，其中 0 张仍可使用", "未同意"} {
		if !strings.Contains(summary, want) {
			t.Errorf("my data does not say %q:\n%s", want, summary)
		}
	}
	if strings.ContainsAny(notice, "*,:()") || strings.Contains(notice, "- ") || items != 2 || !strings.Contains(notice, "第 2 版") {
		t.Errorf("face notice: %d list items, text:\n%s", items, notice)
	}
	s.run("delete, cancelled at the passkey", browsertest.Tap("#delete-btn"), browsertest.Refuse(auth, true), browsertest.Tap("#delete-btn + * .confirm-yes, .confirm .confirm-yes"))
	s.said("delete, cancelled at the passkey", "#data-error", "zh", "取消")
	s.run("authenticator back", browsertest.Refuse(auth, false))

	// No signal: every tab says so, with a retry, and the pass is still there.
	for _, tab := range []string{"visitors", "security", "history", "data"} {
		s.run("offline "+tab, browsertest.Network(true, 0), browsertest.Tap(`button[data-tab="`+tab+`"]`),
			chromedp.WaitVisible(".problem .retry", chromedp.ByQuery))
		s.said("offline "+tab, ".problem .error", "zh", "没有信号")
		if tab == "history" {
			s.run("offline screenshot", s.shot("zh-offline-tab"))
		}
	}
	s.run("back online, retry", browsertest.Network(false, 0), browsertest.Tap(".problem .retry"),
		chromedp.WaitVisible("#data-summary", chromedp.ByID))
	s.run("offline reload", browsertest.Network(true, 0), chromedp.Reload(), browsertest.WaitPassKind("device"), s.shot("zh-pass-offline"))
	if c := s.codeOnScreen(f, "zh-pass-offline"); c.Type != credential.TypeDevice {
		t.Errorf("offline pass %+v", c)
	}

	// The language switch, remembered.
	var title string
	s.run("to English", browsertest.Network(false, 0), chromedp.Reload(), browsertest.WaitPass(), browsertest.Tap("#lang-btn"),
		chromedp.Reload(), browsertest.WaitPass(), chromedp.Text("h1", &title, chromedp.ByQuery))
	if title != "Your gate pass" {
		t.Errorf("after switching to English and reloading the title is %q", title)
	}
	s.run("back to Chinese", browsertest.Tap("#lang-btn"), chromedp.Poll(`document.querySelector('h1').textContent === '我的通行码'`, nil,
		chromedp.WithPollingTimeout(5*time.Second)))

	// Signing out everywhere (a lost phone) asks first and turns off every offline pass.
	// The screen's boxes load on their own and push the buttons down as they fill: tap
	// once nothing is loading any more (a tap computed before a box filled missed).
	settled := chromedp.Poll(`['#offline-box', '#passkeys-box', '#wechat-box'].every((id) => {
		const b = document.querySelector(id); return b && b.children.length > 0 && !b.hasAttribute('aria-busy'); })`, nil,
		chromedp.WithPollingTimeout(10*time.Second))
	s.run("sign out everywhere", browsertest.Tap(`button[data-tab="security"]`), settled, browsertest.Tap("#signout-all-btn"))
	s.said("sign out everywhere", ".confirm-q", "zh", "离线通行")
	s.run("signed out everywhere", browsertest.Tap(".confirm .confirm-yes"), chromedp.WaitVisible("#signin-btn", chromedp.ByID))
	if devices := dbtest.Count(t, h.sql, dbtest.Credentials, dbtest.Eq("resident_id", resident), dbtest.Eq("kind", "device"), dbtest.Null("revoked_at")); devices != 0 {
		t.Errorf("offline passes left after signing out everywhere: %d", devices)
	}
}
