package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/apitest"
	"gatepass/internal/browsertest"
	"gatepass/internal/dbtest"
	"gatepass/internal/store"
	"gatepass/internal/wechat/wechattest"
)

// weChatMember is a resident bound to a WeChat user, with a WeChat session.
type weChatMember struct {
	community, id uuid.UUID
	openid, token string
}

// bindWeChat binds a fresh WeChat user to resident id with their invite (as typed or
// scanned) and returns the WeChat session.
func (h *harness) bindWeChat(f community, id uuid.UUID, invite string) weChatMember {
	h.t.Helper()
	openid := "o" + strings.ReplaceAll(uuid.NewString(), "-", "")[:27]
	out := h.Must(201, "POST", "/api/v1/wechat/bind", "", map[string]any{"code": h.wx.Login(openid), "invite_code": invite})
	if out["resident_id"] != id.String() || out["community_id"] != f.id.String() || out["session_kind"] != "wechat" {
		h.t.Fatalf("bound as %v", out)
	}
	return weChatMember{community: f.id, id: id, openid: openid, token: out["session_token"].(string)}
}

// weChatResident is a new resident of f bound to a new WeChat user.
func (h *harness) weChatResident(f community) weChatMember {
	h.t.Helper()
	id, code := h.invite(f)
	return h.bindWeChat(f, id, code)
}

// bindings counts the resident's WeChat bindings.
func (h *harness) bindings(resident uuid.UUID) int {
	h.t.Helper()
	return dbtest.Count(h.t, h.sql, dbtest.WechatBindings, dbtest.Eq("resident_id", resident))
}

// weChatSignIn logs the member's WeChat user in again.
func (h *harness) weChatSignIn(m weChatMember) string {
	h.t.Helper()
	out := h.Must(200, "POST", "/api/v1/wechat/session", "", map[string]any{"code": h.wx.Login(m.openid), "community_id": m.community})
	if out["resident_id"] != m.id.String() {
		h.t.Fatalf("signed in as %v", out)
	}
	return out["session_token"].(string)
}

// A resident binds WeChat with the short invite code, signs in with a login code alone,
// and gets the pass, visitor passes and history; the binding shows on the web app's
// security screen and in the mini-program, and unbinding ends the WeChat sessions.
func TestWeChatBindSignInAndUnbind(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	id, inv := h.inviteFull(store.NewResident{Community: f.id, Name: "Grandma Wang", Unit: f.unit, Role: access.RoleOwner})
	w := h.bindWeChat(f, id, inv.ShortCode)

	claims := h.verifyPass(f.id, h.Must(200, "GET", "/api/v1/pass", w.token, nil))
	var owner uuid.UUID
	if dbtest.Get(t, h.sql, &owner, dbtest.Credentials, "resident_id", dbtest.Eq("id", claims.CredentialID)); owner != id {
		t.Fatalf("pass of %s, want %s", owner, id)
	}
	until := time.Now().Add(time.Hour).Format(time.RFC3339)
	v := h.Must(201, "POST", "/api/v1/visitors", w.token, map[string]any{"label": "plumber", "max_entries": 1, "valid_until": until})
	if list := h.Must(200, "GET", "/api/v1/visitors", w.token, nil); len(list["visitor_passes"].([]any)) != 1 {
		t.Fatalf("visitors %v", list)
	}
	h.Must(200, "GET", "/api/v1/entries", w.token, nil)
	me := h.Must(200, "GET", "/api/v1/me", w.token, nil)
	if me["session"].(map[string]any)["kind"] != "wechat" {
		t.Fatalf("me %v", me)
	}

	// Signing in again: the login code alone, with or without the community.
	again := h.weChatSignIn(w)
	out := h.Must(200, "POST", "/api/v1/wechat/session", "", map[string]any{"code": h.wx.Login(w.openid)})
	if out["community_id"] != f.id.String() {
		t.Fatalf("sign-in without community %v", out)
	}
	// The binding as the mini-program and the web app see it.
	b := h.Must(200, "GET", "/api/v1/wechat/binding", again, nil)
	if b["binding"].(map[string]any)["resident_id"] != id.String() || b["session_kind"] != "wechat" {
		t.Fatalf("binding %v", b)
	}
	if strings.Contains(string(apitest.MustJSON(t, b)), w.openid) {
		t.Fatal("the binding answer shows the openid")
	}
	h.Must(200, "DELETE", "/api/v1/visitors/"+v["visitor_pass"].(map[string]any)["id"].(string), w.token, nil)

	// Unbinding from the mini-program ends every WeChat session of the resident.
	un := h.Must(200, "DELETE", "/api/v1/wechat/binding", again, nil)
	if un["sessions_ended"] != float64(3) {
		t.Fatalf("unbind %v", un)
	}
	for _, tok := range []string{w.token, again, out["session_token"].(string)} {
		h.MustFail(401, "unauthorized", "GET", "/api/v1/pass", tok, nil)
	}
	h.MustFail(404, "wechat_not_bound", "POST", "/api/v1/wechat/session", "", map[string]any{"code": h.wx.Login(w.openid)})
	// Re-binding needs a new invite: the used one is refused.
	h.MustFail(404, "invite_unusable", "POST", "/api/v1/wechat/bind", "", map[string]any{"code": h.wx.Login(w.openid), "invite_code": inv.ShortCode})
	var fresh store.Invite
	if err := h.db.InTx(context.Background(), "test", func(tx *store.Tx) (err error) {
		fresh, err = tx.ReissueInvite(context.Background(), f.id, id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// The invite QR holds the link: scanned with wx.scanCode, it binds as well.
	w2 := h.bindWeChat(f, id, h.base+"/i/"+fresh.Code)
	h.Must(200, "GET", "/api/v1/pass", w2.token, nil)
	if n := h.bindings(id); n != 1 {
		t.Fatalf("%d bindings", n)
	}
}

// Each WeChat answer becomes its own clear error, and none changes anything.
func TestWeChatErrors(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	w := h.weChatResident(f)
	other, otherCode := h.invite(f)
	cases := []struct {
		name     string
		fail     int // FailNext; 0 for none
		code     func() string
		status   int
		want     string
		retryIn  string
		bindToo  bool
		noWeChat bool
	}{
		{"invalid code", 0, func() string { return "not-a-code" }, 401, "wechat_code_invalid", "", true, false},
		{"expired code", wechattest.InvalidCode, func() string { return h.wx.Login(w.openid) }, 401, "wechat_code_invalid", "", true, false},
		{"replayed code", 0, func() string { c := h.wx.Login(w.openid); h.weChatSignInCode(c); return c }, 401, "wechat_code_used", "", true, false},
		{"rate limit", wechattest.RateLimited, func() string { return h.wx.Login(w.openid) }, 429, "wechat_rate_limited", "60", true, false},
		{"risky user", wechattest.RiskyUser, func() string { return h.wx.Login(w.openid) }, 403, "wechat_risky_user", "", true, false},
		{"busy", wechattest.Busy, func() string { return h.wx.Login(w.openid) }, 503, "wechat_busy", "5", true, false},
		{"wrong secret", wechattest.BadSecret, func() string { return h.wx.Login(w.openid) }, 502, "wechat_unavailable", "", true, false},
		{"unknown openid", 0, func() string { return h.wx.Login("o-never-bound") }, 404, "wechat_not_bound", "", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			for _, path := range []string{"/api/v1/wechat/session", "/api/v1/wechat/bind"} {
				if path == "/api/v1/wechat/bind" && !tc.bindToo {
					continue
				}
				c := tc.code()
				if tc.fail != 0 {
					h.wx.FailNext(tc.fail)
				}
				before := h.snapshot()
				in := map[string]any{"code": c}
				if path == "/api/v1/wechat/bind" {
					in["invite_code"] = otherCode
				}
				status, hdr, body := h.raw("POST", path, "", in)
				if status != tc.status || !strings.Contains(string(body), `"`+tc.want+`"`) || hdr.Get("Retry-After") != tc.retryIn {
					t.Fatalf("%s: %d %s (Retry-After %q), want %d %s", path, status, body, hdr.Get("Retry-After"), tc.status, tc.want)
				}
				h.unchanged(before, tc.name)
			}
		})
	}
	h.t = t
	// The other resident's invite was never used by all that.
	h.bindWeChat(f, other, otherCode)

	// Bad input is refused before WeChat is asked.
	n := h.wx.Requests()
	h.MustFail(422, "invalid_field", "POST", "/api/v1/wechat/session", "", map[string]any{"code": ""})
	h.MustFail(422, "invalid_field", "POST", "/api/v1/wechat/session", "", map[string]any{"code": "x", "community_id": "nope"})
	h.MustFail(422, "invalid_field", "POST", "/api/v1/wechat/bind", "", map[string]any{"code": "x"})
	h.MustFail(404, "invite_unusable", "POST", "/api/v1/wechat/bind", "", map[string]any{"code": "x", "invite_code": "GP-NOPE"})
	if h.wx.Requests() != n {
		t.Fatal("WeChat was asked about a request refused anyway")
	}
}

func (h *harness) weChatSignInCode(code string) {
	h.t.Helper()
	h.Must(200, "POST", "/api/v1/wechat/session", "", map[string]any{"code": code})
}

// Authorization: a WeChat session is its own resident's in its own community only, a
// WeChat user binds to one resident per community, and a session names no other
// community's binding.
func TestWeChatAuthorization(t *testing.T) {
	h := newHarness(t, testLimits)
	f, g := h.community(), h.community()
	a, aCode := h.invite(f)
	b, bCode := h.invite(f)
	wa := h.bindWeChat(f, a, aCode)
	wb := h.bindWeChat(f, b, bCode)

	// Wrong resident: B's visitor pass is not A's to revoke, nor B's binding to remove.
	until := time.Now().Add(time.Hour).Format(time.RFC3339)
	v := h.Must(201, "POST", "/api/v1/visitors", wb.token, map[string]any{"label": "x", "max_entries": 1, "valid_until": until})
	h.MustFail(404, "not_found", "DELETE", "/api/v1/visitors/"+v["visitor_pass"].(map[string]any)["id"].(string), wa.token, nil)
	h.Must(200, "DELETE", "/api/v1/wechat/binding", wa.token, nil)
	h.Must(200, "GET", "/api/v1/pass", wb.token, nil)
	if n := h.bindings(b); n != 1 {
		t.Fatal("A's unbinding removed B's binding")
	}

	// One resident per WeChat user per community: B's WeChat user cannot take C's invite,
	// and C's invite stays usable.
	c, cCode := h.invite(f)
	before := h.snapshot()
	h.MustFail(409, "wechat_bound_elsewhere", "POST", "/api/v1/wechat/bind", "", map[string]any{"code": h.wx.Login(wb.openid), "invite_code": cCode})
	h.unchanged(before, "binding a WeChat user bound to another resident")
	h.bindWeChat(f, c, cCode)

	// Wrong community: B's WeChat user asking for a session in community g has none; bound
	// in g too (another resident there), it must say which community.
	h.MustFail(404, "wechat_not_bound", "POST", "/api/v1/wechat/session", "", map[string]any{"code": h.wx.Login(wb.openid), "community_id": g.id})
	gr, grCode := h.invite(g)
	h.Must(201, "POST", "/api/v1/wechat/bind", "", map[string]any{"code": h.wx.Login(wb.openid), "invite_code": grCode})
	h.MustFail(409, "wechat_community_required", "POST", "/api/v1/wechat/session", "", map[string]any{"code": h.wx.Login(wb.openid)})
	out := h.Must(200, "POST", "/api/v1/wechat/session", "", map[string]any{"code": h.wx.Login(wb.openid), "community_id": g.id})
	if out["resident_id"] != gr.String() {
		t.Fatalf("signed in in g as %v", out)
	}
	if out = h.Must(200, "POST", "/api/v1/wechat/session", "", map[string]any{"code": h.wx.Login(wb.openid), "community_id": f.id}); out["resident_id"] != b.String() {
		t.Fatalf("signed in in f as %v", out)
	}
}

// Move-out and account deletion remove the binding; its sessions end with the others.
func TestWeChatMoveOutAndDeletion(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	w := h.weChatResident(f)
	id := w.id
	if err := h.db.InTx(context.Background(), "test", func(tx *store.Tx) error {
		_, err := tx.MoveOut(context.Background(), f.id, id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	h.MustFail(401, "unauthorized", "GET", "/api/v1/pass", w.token, nil)
	h.MustFail(404, "wechat_not_bound", "POST", "/api/v1/wechat/session", "", map[string]any{"code": h.wx.Login(w.openid)})
	if n := h.bindings(id); n != 0 {
		t.Fatalf("%d bindings after move-out", n)
	}

	// Deletion (a passkey session, stepped up: a WeChat session cannot delete).
	m := h.signUp(f)
	wm := h.bindWeChatWithNewInvite(f, m.id)
	h.MustFail(403, "passkey_required", "DELETE", "/api/v1/me", wm.token, nil)
	h.stepUp(m, m.key)
	h.Must(200, "DELETE", "/api/v1/me", m.token, nil)
	if n := h.bindings(m.id); n != 0 {
		t.Fatalf("%d bindings after deletion", n)
	}
	h.MustFail(404, "wechat_not_bound", "POST", "/api/v1/wechat/session", "", map[string]any{"code": h.wx.Login(wm.openid)})
}

// bindWeChatWithNewInvite gives a signed-up resident a new invite (staff's reissue) and
// binds a WeChat user with it.
func (h *harness) bindWeChatWithNewInvite(f community, id uuid.UUID) weChatMember {
	h.t.Helper()
	var inv store.Invite
	if err := h.db.InTx(context.Background(), "test", func(tx *store.Tx) (err error) {
		inv, err = tx.ReissueInvite(context.Background(), f.id, id)
		return err
	}); err != nil {
		h.t.Fatal(err)
	}
	return h.bindWeChat(f, id, inv.Code)
}

// The web app's security screen (a passkey session) sees the binding and removes it.
func TestWeChatBindingFromPasskeySession(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	m := h.signUp(f)
	if b := h.Must(200, "GET", "/api/v1/wechat/binding", m.token, nil); b["binding"] != nil || b["session_kind"] != "passkey" {
		t.Fatalf("binding before %v", b)
	}
	h.MustFail(404, "wechat_not_bound", "DELETE", "/api/v1/wechat/binding", m.token, nil)
	w := h.bindWeChatWithNewInvite(f, m.id)
	if b := h.Must(200, "GET", "/api/v1/wechat/binding", m.token, nil); b["binding"] == nil {
		t.Fatalf("binding %v", b)
	}
	if out := h.Must(200, "DELETE", "/api/v1/wechat/binding", m.token, nil); out["sessions_ended"] != float64(1) {
		t.Fatalf("unbind %v", out)
	}
	h.MustFail(401, "unauthorized", "GET", "/api/v1/pass", w.token, nil)
	h.Must(200, "GET", "/api/v1/pass", m.token, nil) // the passkey session goes on

	// Signing out everywhere (a lost phone) ends the WeChat sessions too; the binding
	// stays, so the mini-program can sign in again with a login code.
	w = h.bindWeChatWithNewInvite(f, m.id)
	h.Must(200, "POST", "/api/v1/signout/everywhere", m.token, nil)
	h.MustFail(401, "unauthorized", "GET", "/api/v1/pass", w.token, nil)
	h.Must(200, "GET", "/api/v1/pass", h.weChatSignIn(w), nil)
}

// TestWeChatSessionRoutes walks every route with a WeChat session: a route the table
// does not open to WeChat refuses it with passkey_required before reading the body (and
// changes nothing); a route it opens does not. The routes opened are exactly the
// pass, visitor passes, history, the binding, the profile and signing out.
func TestWeChatSessionRoutes(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	w := h.weChatResident(f)
	wantOpen := map[string]bool{
		"GET /pass": true, "GET /pass.png": true, "POST /visitors": true, "GET /visitors": true, "DELETE /visitors/:visitor": true,
		"GET /entries": true, "GET /me": true, "POST /signout": true, "GET /wechat/binding": true, "DELETE /wechat/binding": true,
	}
	before := h.snapshot()
	opened := 0
	for _, r := range h.api.apiRoutes(testLimits) {
		if r.needs == access.NeedNone {
			continue
		}
		key := r.method + " " + r.path
		open := r.needs&access.OpenToWeChat != 0
		if open != wantOpen[key] {
			t.Errorf("%s: open to WeChat %v, want %v", key, open, wantOpen[key])
		}
		if open {
			opened++
			continue // their handlers run below and in the tests above
		}
		path := "/api/v1" + r.path
		for _, p := range strings.Split(r.path, "/") {
			if strings.HasPrefix(p, ":") {
				path = strings.Replace(path, p, uuid.NewString(), 1)
			}
		}
		var body any
		if r.method == "POST" {
			body = "{" // malformed: the refusal comes first
		}
		h.MustFail(403, "passkey_required", r.method, path, w.token, body)
	}
	h.unchanged(before, "WeChat session on passkey routes")
	if opened != len(wantOpen) {
		t.Errorf("%d routes open to WeChat, want %d", opened, len(wantOpen))
	}
	// The opened ones answer (signing out last).
	for _, p := range []string{"/api/v1/pass", "/api/v1/pass.png", "/api/v1/visitors", "/api/v1/entries", "/api/v1/me", "/api/v1/wechat/binding"} {
		if status, _, body := h.raw("GET", p, w.token, nil); status != 200 {
			t.Errorf("GET %s = %d %s", p, status, body)
		}
	}
	h.Must(200, "POST", "/api/v1/signout", w.token, nil)
	h.MustFail(401, "unauthorized", "GET", "/api/v1/pass", w.token, nil)
}

// The AppSecret reaches no log line and no answer, whatever WeChat answers, even when
// WeChat cannot be reached (Go's transport errors name the URL, which holds it).
func TestWeChatSecretNeverLogged(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	w := h.weChatResident(f)
	var answers []string
	ask := func(c string) {
		_, _, body := h.raw("POST", "/api/v1/wechat/session", "", map[string]any{"code": c})
		answers = append(answers, string(body))
	}
	ask(h.wx.Login(w.openid))
	for _, e := range []int{wechattest.Busy, wechattest.BadSecret, wechattest.RateLimited, wechattest.RiskyUser} {
		h.wx.FailNext(e)
		ask(h.wx.Login(w.openid))
	}
	h.wx.Close()
	ask("code-while-wechat-is-down")
	logs := h.logs.String()
	if !strings.Contains(logs, "wechat code2session failed") {
		t.Fatalf("the failures were not logged at all:\n%s", logs)
	}
	for _, s := range append(answers, logs) {
		if strings.Contains(s, testWeChatSecret) {
			t.Fatalf("the AppSecret leaked:\n%s", s)
		}
	}
	if !strings.Contains(answers[len(answers)-1], "wechat_unavailable") {
		t.Fatalf("WeChat down answered %s", answers[len(answers)-1])
	}
}

// The web app's Security screen (Chinese) shows the WeChat binding and removes it; the
// mini-program's session ends with it.
func TestRealBrowserWeChatBinding(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	resident, code := h.invite(f)
	ctx := browsertest.New(t, 90*time.Second)
	browsertest.FailOnConsoleErrors(t, ctx)
	h.redeemInBrowser(ctx, code, emulation.SetUserAgentOverride("Mozilla/5.0 (Linux; Android 14) Mobile").WithAcceptLanguage("zh-CN,zh"))
	var none string
	if err := chromedp.Run(ctx,
		browsertest.Tap(`button[data-tab="security"]`),
		chromedp.WaitVisible("#wechat-none", chromedp.ByID),
		chromedp.Text("#wechat-none", &none, chromedp.ByID),
	); err != nil || !strings.Contains(none, "未绑定微信") {
		t.Fatalf("no binding: %q %v", none, err)
	}
	w := h.bindWeChatWithNewInvite(f, resident)
	var item string
	err := chromedp.Run(ctx,
		browsertest.Tap(`button[data-tab="pass"]`),
		browsertest.Tap(`button[data-tab="security"]`),
		chromedp.WaitVisible("#wechat-binding li", chromedp.ByQuery),
		chromedp.Text("#wechat-binding li", &item, chromedp.ByQuery),
		chromedp.ActionFunc(func(ctx context.Context) error { browsertest.Screenshot(t, ctx, "security-wechat"); return nil }),
		browsertest.Tap("#wechat-binding button.wechat-remove"),
		browsertest.Tap("#wechat-binding .confirm-yes"),
		chromedp.WaitVisible("#wechat-none", chromedp.ByID),
	)
	if err != nil || !strings.Contains(item, "已绑定微信账号") || !strings.Contains(item, "绑定于") {
		t.Fatalf("binding %q: %v", item, err)
	}
	h.MustFail(401, "unauthorized", "GET", "/api/v1/pass", w.token, nil)
	if n := h.bindings(resident); n != 0 {
		t.Fatalf("%d bindings after removal", n)
	}
}
