package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/gofiber/fiber/v2/middleware/helmet"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"gatepass/internal/access"
	"gatepass/internal/credential"
	"gatepass/internal/httpx"
	"gatepass/internal/passkey"
	"gatepass/internal/secret"
	"gatepass/internal/store"
	"gatepass/internal/wechat"
)

// Limits are the per-window request caps of the abuse-prone endpoints.
type Limits struct {
	Window     time.Duration
	Redeem     int // invite redemption, per client address
	RedeemCode int // invite redemption, per invite code
	SignIn     int // sign-in and step-up ceremonies, per client address
	Mint       int // QR codes, per session or visitor link
}

// DefaultLimits. Invites: an onboarding desk on the lobby's shared Wi-Fi redeems one
// invite after another from one address, so the cap per address is generous and each
// code has its own, small one. Guessing stays hopeless: a short code has 50 random bits
// (256 for the link's), so 60 guesses a minute per address find a live code about once
// in 10^10 years per thousand live codes; the caps keep guessers from loading the
// database. A phone refreshes its code about twice a minute, so 60 a minute leaves room
// for reloads and several tabs.
var DefaultLimits = Limits{Window: time.Minute, Redeem: 60, RedeemCode: 6, SignIn: 30, Mint: 60}

// Config is what New needs.
type Config struct {
	DB        *store.DB
	Sealer    *secret.Sealer
	Log       *slog.Logger
	RPID      string
	RPOrigins []string
	Limits    Limits
	Edge      httpx.Edge // the metrics listener and the trusted proxies
	// WeChat exchanges mini-program login codes; nil when WeChat sign-in is not set up.
	WeChat *wechat.Client
}

// API is the resident HTTP API and web app.
type API struct {
	db          *store.DB
	sealer      *secret.Sealer
	log         *slog.Logger
	wa          *webauthn.WebAuthn
	origins     []string
	app         *fiber.App
	reg         *prometheus.Registry // served on edge.MetricsAddr, never on the API's port
	edge        httpx.Edge
	communities communityCache
	wechat      *wechat.Client
}

// bodyLimit caps request bodies: the largest is a WebAuthn attestation (a few KB).
const bodyLimit = 16 << 10

// New builds the app.
func New(cfg Config) (*API, error) {
	if cfg.Limits == (Limits{}) {
		cfg.Limits = DefaultLimits
	}
	if len(cfg.RPOrigins) == 0 {
		return nil, errors.New("no RP origins configured")
	}
	wa, err := passkey.New(cfg.RPID, "gatepass", cfg.RPOrigins, store.CeremonyTTL)
	if err != nil {
		return nil, err
	}
	a := &API{db: cfg.DB, sealer: cfg.Sealer, log: cfg.Log, wa: wa, origins: cfg.RPOrigins, edge: cfg.Edge, wechat: cfg.WeChat}
	a.communities = communityCache{ttl: communityTTL, load: func(ctx context.Context, c uuid.UUID) (communityState, error) {
		signer, err := a.db.Signer(ctx, c, a.sealer)
		if err != nil {
			return communityState{}, err
		}
		zones, err := a.db.ResidentZones(ctx, c)
		return communityState{signer: signer, zones: zones}, err
	}}
	a.reg = prometheus.NewRegistry()
	a.reg.MustRegister(collectors.NewDBStatsCollector(cfg.DB.SQL(), "gatepass"), collectors.NewGoCollector())
	a.app = httpx.NewApp(httpx.Options{Name: "gatepass-mobile-api", Log: cfg.Log, Registry: a.reg, BodyLimit: faceTemplatesLimit,
		TrustedProxies: cfg.Edge.TrustedProxies})
	// Every route but the sealed face templates takes at most bodyLimit.
	small := httpx.LimitBody(bodyLimit)
	a.app.Use(func(c *fiber.Ctx) error {
		if c.Path() == faceTemplatesPath {
			return c.Next()
		}
		return small(c)
	})
	a.app.Use(helmet.New(helmet.Config{
		// Only this origin's own scripts, styles and images (blob: for the QR image the
		// app fetches); nothing inline, no frames.
		ContentSecurityPolicy: "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; " +
			"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
		XFrameOptions:  "DENY",
		ReferrerPolicy: "no-referrer",
		// The visitor link carries its secret in the path: never send it onwards.
		PermissionPolicy: "camera=(), microphone=(), geolocation=(), publickey-credentials-get=(self), publickey-credentials-create=(self)",
	}))
	a.app.Use(cors.New(cors.Config{
		AllowOrigins:     strings.Join(cfg.RPOrigins, ","),
		AllowCredentials: true,
		AllowMethods:     "GET,POST,DELETE",
		AllowHeaders:     "Content-Type,Authorization",
		ExposeHeaders:    "X-Pass-Expires-At,X-Pass-Refresh-After",
		MaxAge:           600,
	}))
	a.routes(cfg.Limits)
	return a, nil
}

// App is the Fiber app, for tests.
func (a *API) App() *fiber.App { return a.app }

// Serve runs the API on addr and the metrics on their own address until ctx ends.
func (a *API) Serve(ctx context.Context, addr string) error {
	return httpx.ServeEdge(ctx, a.app, addr, a.edge, a.reg, a.log)
}

// ServeListener runs on an existing listener until ctx ends.
func (a *API) ServeListener(ctx context.Context, ln net.Listener) error {
	return httpx.ServeListener(ctx, a.app, ln, a.log)
}

// maintain deletes expired WebAuthn ceremonies now and then.
func (a *API) maintain(ctx context.Context) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		if n, err := a.db.PurgeCeremonies(ctx); err != nil {
			a.log.Error("purge ceremonies", "err", err)
		} else if n > 0 {
			a.log.Info("purged expired ceremonies", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// setSession answers a successful sign-in: a cookie for the web app, or the token in
// the body for a native app that asked for a bearer token.
func (a *API) setSession(c *fiber.Ctx, token string, transport *string) fiber.Map {
	if transport != nil && *transport == "bearer" {
		return fiber.Map{"session_token": token}
	}
	a.sessionCookie(c, token, int(store.MaxSessionAge.Seconds()))
	return fiber.Map{}
}

func (a *API) clearSession(c *fiber.Ctx) { a.sessionCookie(c, "", -1) }

// sessionCookie sets the session cookie (maxAge -1 deletes it). It is Secure when the
// request came over TLS (directly or per X-Forwarded-Proto from TRUSTED_PROXIES) or the app's origin is
// https, so a proxy that does not say how it was reached cannot make it plain.
func (a *API) sessionCookie(c *fiber.Ctx, value string, maxAge int) {
	secure := c.Protocol() == "https" || strings.HasPrefix(a.origins[0], "https://")
	cookie := &fiber.Cookie{Name: sessionCookie, Value: value, Path: "/", HTTPOnly: true,
		SameSite: fiber.CookieSameSiteStrictMode, Secure: secure, MaxAge: maxAge}
	if maxAge < 0 {
		cookie.Expires = time.Unix(1, 0)
	}
	c.Cookie(cookie)
}

// communityTTL bounds how long a community's signing key and zones are kept in memory:
// db.Signer decrypts on every call, and minting must be fast. After a key rotation codes
// keep coming from the old key for at most this long (gates trust it only for what it
// signed before retirement, so keep it short); a new zone reaches codes as fast.
const communityTTL = 5 * time.Second

// communityState is what minting needs of a community.
type communityState struct {
	signer credential.Signer
	zones  access.ZoneMask // what residents' codes open
}

type cachedCommunity struct {
	state communityState
	until time.Time
}

// communityCache keeps the communities' opened signing keys and zones briefly.
type communityCache struct {
	ttl  time.Duration
	load func(context.Context, uuid.UUID) (communityState, error)
	mu   sync.RWMutex
	m    map[uuid.UUID]cachedCommunity
}

func (cc *communityCache) get(ctx context.Context, c uuid.UUID) (communityState, error) {
	now := time.Now()
	cc.mu.RLock()
	e, ok := cc.m[c]
	cc.mu.RUnlock()
	if ok && now.Before(e.until) {
		return e.state, nil
	}
	st, err := cc.load(ctx, c)
	if err != nil {
		return st, err
	}
	cc.mu.Lock()
	if cc.m == nil {
		cc.m = map[uuid.UUID]cachedCommunity{}
	}
	cc.m[c] = cachedCommunity{state: st, until: now.Add(cc.ttl)}
	cc.mu.Unlock()
	return st, nil
}
