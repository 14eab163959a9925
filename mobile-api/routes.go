package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"

	"gatepass/internal/access"
	"gatepass/internal/httpx"
	"gatepass/internal/store"
)

// route is one resident endpoint: what it needs before its handler runs (enforce decides
// it) and, on the abuse-prone ones, a rate limit that runs before even the session is
// looked up, so a flood costs no database work.
type route struct {
	method string
	path   string
	needs  access.Need
	handle handler
	limits []fiber.Handler // nil: none
}

// handler answers a resident route; s is the caller's session, nil on NeedNone routes.
type handler func(c *fiber.Ctx, s *store.Session) error

// apiRoutes is every endpoint under /api/v1 with what it needs; enforce is the one place
// that checks it, the way server's authorize does for staff.
func (a *API) apiRoutes(l Limits) []route {
	limit := func(max int, key func(*fiber.Ctx) string) fiber.Handler {
		return limiter.New(limiter.Config{
			Max: max, Expiration: l.Window, KeyGenerator: key,
			LimitReached: func(c *fiber.Ctx) error {
				return httpx.Errorf(http.StatusTooManyRequests, "rate_limited", "too many requests: try again in a minute")
			},
		})
	}
	byIP := func(prefix string) func(*fiber.Ctx) string {
		return func(c *fiber.Ctx) string { return prefix + c.IP() }
	}
	// Minting is limited per session (or visitor link), not per address: a whole
	// building may share one carrier-grade NAT address.
	byCaller := func(c *fiber.Ctx) string {
		t := sessionToken(c)
		if t == "" {
			t = c.Params("token")
		}
		h := sha256.Sum256([]byte(t))
		return "mint:" + hex.EncodeToString(h[:12])
	}
	redeemIP := limit(l.Redeem, byIP("redeem:"))
	redeem := []fiber.Handler{redeemIP}
	redeemCode := []fiber.Handler{redeemIP, limit(l.RedeemCode, func(c *fiber.Ctx) string { return inviteLimitKey(c.Body()) })}
	signin := []fiber.Handler{limit(l.SignIn, byIP("signin:"))}
	mint := []fiber.Handler{limit(l.Mint, byCaller)}
	enrol := []fiber.Handler{limit(faceEnrolLimit, byCaller)}

	const (
		none    = access.NeedNone
		session = access.NeedSession
		active  = access.NeedActive
		stepUp  = access.NeedStepUp
		// weChat opens a route to a WeChat session too (access.OpenToWeChat): the pass,
		// visitor passes, history, the binding itself and signing out. Everything else
		// needs a session opened with a passkey.
		weChat = access.OpenToWeChat
	)
	return []route{
		{"POST", "/invites/redeem/begin", none, a.redeemBegin, redeemCode},
		{"POST", "/invites/redeem/finish", none, a.redeemFinish, redeem},
		{"POST", "/signin/begin", none, a.signInBegin, signin},
		{"POST", "/signin/finish", none, a.signInFinish, signin},
		{"POST", "/signout", session | weChat, a.signOut, nil},
		{"POST", "/signout/everywhere", session, a.signOutEverywhere, nil},
		{"POST", "/stepup/begin", session, a.stepUpBegin, signin},
		{"POST", "/stepup/finish", session, a.stepUpFinish, signin},

		{"GET", "/me", session | weChat, a.me, nil},
		{"GET", "/me/export", session, a.export, nil},
		// A stolen session cookie alone must not be able to wipe someone's access; whoever
		// moved out may still erase what is held about them.
		{"DELETE", "/me", stepUp, a.deleteMe, nil},
		{"GET", "/entries", session | weChat, a.entries, nil},

		{"GET", "/passkeys", session, a.listPasskeys, nil},
		{"POST", "/passkeys/begin", session, a.addPasskeyBegin, nil},
		{"POST", "/passkeys/finish", session, a.addPasskeyFinish, nil},
		{"DELETE", "/passkeys/:passkey", session, a.removePasskey, nil},

		{"GET", "/pass", active | weChat, a.pass, mint},
		{"GET", "/pass.png", active | weChat, a.passPNG, mint},

		{"POST", "/devices", active | stepUp, a.createDevice, nil},
		{"GET", "/devices", session, a.listDevices, nil},
		{"DELETE", "/devices/:device", session, a.revokeDevice, nil},
		// The device's own key proves the caller (a presentation), so no step-up.
		{"POST", "/devices/:device/renew", active, a.renewDevice, nil},

		{"POST", "/visitors", active | weChat, a.createVisitor, nil},
		{"GET", "/visitors", session | weChat, a.listVisitors, nil},
		{"DELETE", "/visitors/:visitor", session | weChat, a.revokeVisitor, nil},

		{"GET", "/face/notice", session, a.faceNotice, nil},
		// Consent is its own act: the handler also uses the step-up up (ConsumeStepUp).
		{"POST", "/face/consent", active | stepUp, a.faceConsent, nil},
		{"GET", "/face/gates", session, a.faceGates, nil},
		{"POST", "/face/templates", session, a.faceTemplates, nil},
		// Withdrawing must never be harder than consenting: no step-up, whatever the status.
		{"POST", "/face/withdraw", session, a.faceWithdraw, nil},
		{"GET", "/face/status", session, a.faceStatus, nil},
		{"POST", "/face/enrolment", active, a.faceEnrolStart, enrol},
		{"GET", "/face/enrolment/:session", session, a.faceEnrolStatus, nil},

		// WeChat mini-program sign-in (wechat.go): binding by invite, then the login code alone.
		{"POST", "/wechat/bind", none, a.weChatBind, redeemCode},
		{"POST", "/wechat/session", none, a.weChatSession, signin},
		{"GET", "/wechat/binding", session | weChat, a.weChatBinding, nil},
		{"DELETE", "/wechat/binding", session | weChat, a.weChatUnbind, nil},

		{"GET", "/visit/:token", none, a.visit, nil},
		{"GET", "/visit/:token/pass", none, a.visitPass, mint},
		{"GET", "/visit/:token/pass.png", none, a.visitPassPNG, mint},
	}
}

func (a *API) routes(l Limits) {
	// Every API answer is Cache-Control: no-store, errors included. Many carry a secret
	// (a session token or its cookie, a visitor link, a code, a device certificate, the
	// export) and the rest are one person's data; none is worth caching. Set here, before
	// any route, so a route added later cannot forget it.
	v1 := a.app.Group("/api/v1", func(c *fiber.Ctx) error {
		noStore(c)
		return c.Next()
	})
	for _, r := range a.apiRoutes(l) {
		v1.Add(r.method, r.path, append(slices.Clone(r.limits), a.enforce(r))...)
	}
	a.webRoutes()
	a.app.Use(httpx.NotFound)
}

var (
	errNotResident = httpx.Errorf(http.StatusForbidden, "not_resident", "you no longer live here: no pass can be issued")
	errPasskeyOnly = httpx.Errorf(http.StatusForbidden, "passkey_required",
		"a WeChat sign-in cannot do this: open the passkey web app (offline device keys, face entry, data export and account deletion need a passkey)")
	errStepUp = httpx.Errorf(http.StatusForbidden, "step_up_required",
		"confirm with your passkey first (POST /api/v1/stepup/begin and /finish): this needs a verification from the last 5 minutes")
)

// enforce is the one place a resident route's needs are decided: the session token,
// then the resident rules (access.SignedIn.Allow) on what the session says. It runs
// before the handler reads the body, so a refused request is refused whatever it holds.
func (a *API) enforce(r route) fiber.Handler {
	if r.needs == access.NeedNone {
		return func(c *fiber.Ctx) error { return residentError(r.handle(c, nil)) }
	}
	return func(c *fiber.Ctx) error {
		t := sessionToken(c)
		if t == "" {
			return access.ErrUnauthorized
		}
		s, err := a.db.SessionByToken(c.UserContext(), t)
		if err != nil {
			return err
		}
		err = access.SignedIn{Status: s.Status, Kind: s.Kind, StepUpAt: s.VerifiedAt, StepUpPasskey: s.VerifiedPasskey.Valid}.Allow(r.needs, time.Now())
		switch {
		case errors.Is(err, access.ErrNotResident):
			return errNotResident
		case errors.Is(err, access.ErrPasskeyRequired):
			return errPasskeyOnly
		case errors.Is(err, access.ErrStepUpRequired):
			return errStepUp
		case err != nil:
			return err
		}
		return residentError(r.handle(c, &s))
	}
}

// sessionCookie holds the web app's session token: HttpOnly (no script reads it),
// SameSite=Strict (no other site's page sends it), Secure over TLS.
const sessionCookie = "gp_session"

// sessionToken is the bearer token of a native app or the web app's cookie.
func sessionToken(c *fiber.Ctx) string {
	if t, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer "); ok {
		return strings.TrimSpace(t)
	}
	return c.Cookies(sessionCookie)
}
