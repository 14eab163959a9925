package main

import (
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/httpx"
	"gatepass/internal/store"
	"gatepass/internal/wechat"
)

// WeChat mini-program sign-in (docs/miniprogram.md). The mini-program calls wx.login and
// sends the code here; mobile-api exchanges it with WeChat for the user's openid. The
// first time, an invite code (typed, or the invite QR scanned with wx.scanCode) binds
// the openid to its resident; later the code alone opens a WeChat session, the lesser
// kind (access.SessionWeChat): routes.go marks the routes it may use.

var errWeChatOff = httpx.Errorf(http.StatusServiceUnavailable, "wechat_not_configured",
	"WeChat sign-in is not set up on this server (WECHAT_APPID, WECHAT_SECRET)")

// weChatLogin exchanges a wx.login code for the WeChat identity (residentErrors give
// WeChat's refusals their codes).
func (a *API) weChatLogin(c *fiber.Ctx, code *string) (wechat.Identity, error) {
	if a.wechat == nil {
		return wechat.Identity{}, errWeChatOff
	}
	id, err := a.wechat.Code2Session(c.UserContext(), *code)
	if errors.Is(err, wechat.ErrUnavailable) || errors.Is(err, wechat.ErrBusy) {
		// Logged for the operator (a wrong AppSecret shows here); the text never holds
		// the secret: package wechat strips the URL.
		a.log.Warn("wechat code2session failed", "err", err)
	}
	return id, err
}

// weChatAnswer is a new WeChat session's answer: always a bearer token (a mini-program
// keeps no cookies).
func weChatAnswer(token string, b store.WeChatBinding) fiber.Map {
	return fiber.Map{"session_token": token, "session_kind": access.SessionWeChat,
		"community_id": b.Community, "resident_id": b.Resident, "binding": b}
}

func (a *API) weChatBind(c *fiber.Ctx, _ *store.Session) error {
	var in struct {
		Code   *string `json:"code"`
		Invite *string `json:"invite_code"`
	}
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	var k httpx.Checker
	k.Text("code", in.Code, 1, 128)
	k.Text("invite_code", in.Invite, 1, 500)
	if err := k.Err(); err != nil {
		return err
	}
	// The invite first: a wrong one costs no call to WeChat.
	inv, err := a.findInvite(c.UserContext(), *in.Invite)
	if err != nil {
		return err
	}
	id, err := a.weChatLogin(c, in.Code)
	if err != nil {
		return err
	}
	var b store.WeChatBinding
	var token string
	err = a.db.InTx(c.UserContext(), "resident:"+inv.Resident.String(), func(tx *store.Tx) (err error) {
		b, token, err = tx.BindWeChat(c.UserContext(), inv.Community, inv.ID, id.OpenID)
		return err
	})
	if err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(weChatAnswer(token, b))
}

func (a *API) weChatSession(c *fiber.Ctx, _ *store.Session) error {
	var in struct {
		Code      *string `json:"code"`
		Community *string `json:"community_id"`
	}
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	var k httpx.Checker
	k.Text("code", in.Code, 1, 128)
	community := uuid.Nil
	if in.Community != nil {
		community = k.UUID("community_id", in.Community)
	}
	if err := k.Err(); err != nil {
		return err
	}
	id, err := a.weChatLogin(c, in.Code)
	if err != nil {
		return err
	}
	found, err := a.db.WeChatBindingsOf(c.UserContext(), community, id.OpenID)
	switch {
	case err != nil:
		return err
	case len(found) == 0:
		return store.ErrWeChatNotBound
	case len(found) > 1:
		ids := make([]uuid.UUID, len(found))
		for i, b := range found {
			ids[i] = b.Community
		}
		return c.Status(http.StatusConflict).JSON(fiber.Map{"error": fiber.Map{"code": "wechat_community_required",
			"message": "this WeChat account is bound in several communities: say which (community_id)"}, "communities": ids})
	}
	token, err := a.db.WeChatSignIn(c.UserContext(), found[0])
	if err != nil {
		return err
	}
	return c.JSON(weChatAnswer(token, found[0]))
}

// weChatBinding answers the resident's binding (null when there is none), for the web
// app's security screen and the mini-program's settings.
func (a *API) weChatBinding(c *fiber.Ctx, s *store.Session) error {
	b, err := a.db.WeChatBindingOfResident(c.UserContext(), s.Community, s.Resident)
	switch {
	case errors.Is(err, store.ErrWeChatNotBound):
		return c.JSON(fiber.Map{"binding": nil, "session_kind": s.Kind})
	case err != nil:
		return err
	}
	return c.JSON(fiber.Map{"binding": b, "session_kind": s.Kind})
}

// weChatUnbind removes the binding and ends its WeChat sessions (the caller's too, when
// it is one).
func (a *API) weChatUnbind(c *fiber.Ctx, s *store.Session) error {
	var n int
	err := a.db.InTx(c.UserContext(), "resident:"+s.Resident.String(), func(tx *store.Tx) (err error) {
		n, err = tx.UnbindWeChat(c.UserContext(), s.Community, s.Resident)
		return err
	})
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"unbound": true, "sessions_ended": n})
}
