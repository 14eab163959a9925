// Package console is the staff console of `server`: the web pages at /console/
// (embedded, no build step) and the console's sign-in, which the admin API does not
// have: staff invite links, passkey registration and sign-in (go-webauthn, user
// verification required), console sessions in HttpOnly SameSite=Strict cookies with a
// CSRF token, sign-out and sign-out everywhere, and an operator's community choice.
//
// A console session is only a way of being a staff member: Authenticate turns the
// cookie into the same access.Staff a bearer token gives, and the admin API's
// authorize stays the one place that decides what that member may do. The pages call
// the admin API like any integration.
package console

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"

	"gatepass/internal/access"
	"gatepass/internal/httpx"
	"gatepass/internal/passkey"
	"gatepass/internal/store"
)

// Cookie and header names. The session cookie is HttpOnly: no script reads it. The CSRF
// cookie is readable by the console's own script, which sends its value back in
// CSRFHeader with every change; a page of another site can neither read it nor (with
// SameSite=Strict) make the browser send the session cookie.
const (
	SessionCookie = "gp_console"
	CSRFCookie    = "gp_csrf"
	CSRFHeader    = "X-CSRF-Token"
)

// ceremoniesPerMinute bounds the passkey ceremony calls one client address makes.
const ceremoniesPerMinute = 30

// Config is what the console needs.
type Config struct {
	DB  *store.DB
	Log *slog.Logger
	// RPID is the WebAuthn relying party id (the console's host name), Origins the
	// origins the console is served from (scheme://host[:port]); the first one makes
	// invite links.
	RPID    string
	Origins []string
}

// Console serves the staff console.
type Console struct {
	db      *store.DB
	log     *slog.Logger
	wa      *webauthn.WebAuthn
	origins []string
	secure  bool // cookies are Secure unless the console is plain-http localhost (development)
}

// New makes the console.
func New(cfg Config) (*Console, error) {
	if len(cfg.Origins) == 0 {
		return nil, errors.New("console: no origins configured (CONSOLE_ORIGINS)")
	}
	for _, o := range cfg.Origins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" {
			return nil, fmt.Errorf("console: origin %q is not scheme://host[:port]", o)
		}
		if u.Scheme == "http" && !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("console: origin %q: plain http only for localhost (session cookies must be Secure)", o)
		}
	}
	wa, err := passkey.New(cfg.RPID, "gatepass console", cfg.Origins, store.CeremonyTTL)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	secure := !slices.ContainsFunc(cfg.Origins, func(o string) bool { return strings.HasPrefix(o, "http://") })
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	return &Console{db: cfg.DB, log: log, wa: wa, origins: cfg.Origins, secure: secure}, nil
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// InviteURL is the link a staff member opens to register their passkey. The code is in
// the fragment, which browsers never send to a server nor put in a Referer.
func (k *Console) InviteURL(code string) string {
	return k.origins[0] + "/console/#invite=" + code
}

// Mount registers the console's pages and its session endpoints on r.
func (k *Console) Mount(r fiber.Router) {
	g := r.Group("/console/api/v1", httpx.LimitBody(httpx.DefaultBodyLimit))
	// The ceremonies need no session, so they are limited per client address: invite
	// codes carry 256 random bits and passkeys cannot be guessed, but a script must not
	// fill the ceremony table or hammer the database.
	auth := limiter.New(limiter.Config{
		Max: ceremoniesPerMinute, Expiration: time.Minute,
		LimitReached: func(*fiber.Ctx) error {
			return httpx.Errorf(http.StatusTooManyRequests, "rate_limited", "too many sign-in attempts: try again in a minute")
		},
	})
	g.Post("/invite/begin", auth, k.inviteBegin)
	g.Post("/invite/finish", auth, k.inviteFinish)
	g.Post("/signin/begin", auth, k.signInBegin)
	g.Post("/signin/finish", auth, k.signInFinish)
	g.Get("/session", k.session)
	g.Post("/signout", k.signOut)
	g.Post("/signout/everywhere", k.signOutEverywhere)
	g.Put("/session/community", k.selectCommunity)
	k.webRoutes(r)
}

// Authenticate reads a console session from the request: ok is false when there is no
// session cookie at all (the caller may try another way). A request that changes
// anything must carry the session's CSRF token in CSRFHeader, and an Origin, when the
// browser sends one, that is the console's.
// The staff's Token is the session's id.
func (k *Console) Authenticate(c *fiber.Ctx) (access.Staff, bool, error) {
	if c.Cookies(SessionCookie) == "" {
		return access.Staff{}, false, nil
	}
	st, _, err := k.signedIn(c)
	return st, true, err
}

// signedIn authenticates the session cookie and checks the CSRF token and origin of a
// request that changes anything.
func (k *Console) signedIn(c *fiber.Ctx) (access.Staff, store.StaffSession, error) {
	st, sess, err := k.db.StaffBySession(c.UserContext(), c.Cookies(SessionCookie))
	if err != nil {
		return st, sess, err
	}
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
	default:
		if o := c.Get(fiber.HeaderOrigin); o != "" && !slices.Contains(k.origins, o) {
			return st, sess, errCrossSite
		}
		if !sess.CSRFMatches(c.Get(CSRFHeader)) {
			return st, sess, errCSRF
		}
	}
	return st, sess, nil
}

var (
	errCSRF = httpx.Errorf(http.StatusForbidden, "csrf_token_invalid",
		"this request lacks the console's CSRF token ("+CSRFHeader+" header): reload the console")
	errCrossSite = httpx.Errorf(http.StatusForbidden, "cross_site_request", "requests from another site are refused")
)

// setSession answers a sign-in: the session cookie (HttpOnly) and the CSRF cookie.
func (k *Console) setSession(c *fiber.Ctx, s store.NewStaffSession) {
	maxAge := int(time.Until(s.ExpiresAt).Seconds())
	k.cookie(c, SessionCookie, s.Token, maxAge, true)
	k.cookie(c, CSRFCookie, s.CSRF, maxAge, false)
}

func (k *Console) clearSession(c *fiber.Ctx) {
	k.cookie(c, SessionCookie, "", -1, true)
	k.cookie(c, CSRFCookie, "", -1, false)
}

// cookie sets a console cookie (maxAge -1 deletes it) on the whole site: the admin API
// under /admin/v1 reads the session too.
func (k *Console) cookie(c *fiber.Ctx, name, value string, maxAge int, httpOnly bool) {
	ck := &fiber.Cookie{Name: name, Value: value, Path: "/", HTTPOnly: httpOnly,
		SameSite: fiber.CookieSameSiteStrictMode, Secure: k.secure || c.Protocol() == "https", MaxAge: maxAge}
	if maxAge < 0 {
		ck.Expires = time.Unix(1, 0)
	}
	c.Cookie(ck)
}
