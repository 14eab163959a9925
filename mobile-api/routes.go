package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
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
	limit  fiber.Handler // nil: none
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
	redeem := limit(l.Redeem, byIP("redeem:"))
	signin := limit(l.SignIn, byIP("signin:"))
	mint := limit(l.Mint, byCaller)
	enrol := limit(faceEnrolLimit, byCaller)

	const (
		none    = access.NeedNone
		session = access.NeedSession
		active  = access.NeedActive
		stepUp  = access.NeedStepUp
	)
	return []route{
		{"POST", "/invites/redeem/begin", none, a.redeemBegin, redeem},
		{"POST", "/invites/redeem/finish", none, a.redeemFinish, redeem},
		{"POST", "/signin/begin", none, a.signInBegin, signin},
		{"POST", "/signin/finish", none, a.signInFinish, signin},
		{"POST", "/signout", session, a.signOut, nil},
		{"POST", "/signout/everywhere", session, a.signOutEverywhere, nil},
		{"POST", "/stepup/begin", session, a.stepUpBegin, signin},
		{"POST", "/stepup/finish", session, a.stepUpFinish, signin},

		{"GET", "/me", session, a.me, nil},
		{"GET", "/me/export", session, a.export, nil},
		// A stolen session cookie alone must not be able to wipe someone's access; whoever
		// moved out may still erase what is held about them.
		{"DELETE", "/me", stepUp, a.deleteMe, nil},
		{"GET", "/entries", session, a.entries, nil},

		{"GET", "/passkeys", session, a.listPasskeys, nil},
		{"POST", "/passkeys/begin", session, a.addPasskeyBegin, nil},
		{"POST", "/passkeys/finish", session, a.addPasskeyFinish, nil},
		{"DELETE", "/passkeys/:passkey", session, a.removePasskey, nil},

		{"GET", "/pass", active, a.pass, mint},
		{"GET", "/pass.png", active, a.passPNG, mint},

		{"POST", "/devices", active | stepUp, a.createDevice, nil},
		{"GET", "/devices", session, a.listDevices, nil},
		{"DELETE", "/devices/:device", session, a.revokeDevice, nil},

		{"POST", "/visitors", active, a.createVisitor, nil},
		{"GET", "/visitors", session, a.listVisitors, nil},
		{"DELETE", "/visitors/:visitor", session, a.revokeVisitor, nil},

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
		handlers := []fiber.Handler{a.enforce(r)}
		if r.limit != nil {
			handlers = append([]fiber.Handler{r.limit}, handlers...)
		}
		v1.Add(r.method, r.path, handlers...)
	}
	a.webRoutes()
	a.app.Use(httpx.NotFound)
}

var (
	errNotResident = httpx.Errorf(http.StatusForbidden, "not_resident", "you no longer live here: no pass can be issued")
	errStepUp      = httpx.Errorf(http.StatusForbidden, "step_up_required",
		"confirm with your passkey first (POST /api/v1/stepup/begin and /finish): this needs a verification from the last 5 minutes")
)

// enforce is the one place a resident route's needs are decided: the session token,
// then the resident rules (access.SignedIn.Allow) on what the session says. It runs
// before the handler reads the body, so a refused request is refused whatever it holds.
func (a *API) enforce(r route) fiber.Handler {
	if r.needs == access.NeedNone {
		return func(c *fiber.Ctx) error { return r.handle(c, nil) }
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
		err = access.SignedIn{Status: s.Status, StepUpAt: s.VerifiedAt, StepUpPasskey: s.VerifiedPasskey.Valid}.Allow(r.needs, time.Now())
		switch {
		case errors.Is(err, access.ErrNotResident):
			return errNotResident
		case errors.Is(err, access.ErrStepUpRequired):
			return errStepUp
		case err != nil:
			return err
		}
		return r.handle(c, &s)
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
