// Package admin is the admin API, /admin/v1, that property staff and integrations call
// with a staff bearer token: communities and their structure, residents, gates and the
// entry log, cards and signing keys, visitor passes, face entry and the audit log.
//
// Every route names the one action it needs, and authorize is the only place that
// checks it, against the staff permission table in internal/access; a handler runs only
// for a caller already allowed, and only sees the community authorize resolved.
package admin

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/httpx"
	"gatepass/internal/secret"
	"gatepass/internal/store"
)

// API serves the admin API.
type API struct {
	db       *store.DB
	sealer   *secret.Sealer // opens the communities' private signing keys
	tokenTTL time.Duration  // a new staff token's lifetime unless asked otherwise
	// WebhookLoopback lets staff register webhook endpoints on loopback addresses, plain
	// http included: the server's development and test setting (WEBHOOK_ALLOW_LOOPBACK).
	WebhookLoopback bool
	console         Console
	done            chan struct{} // closed by Close: live streams end
}

// Console is what the admin API takes from the staff console (server/internal/console),
// which it does not import: a second way to authenticate (the console's session cookie)
// and where links for people point.
type Console struct {
	// Authenticate reads a console session: ok false when the request has none.
	Authenticate func(c *fiber.Ctx) (st access.Staff, ok bool, err error)
	// StaffInviteURL is the link a staff invite code is handed out in.
	StaffInviteURL func(code string) string
	// ResidentAppURL is the resident app's origin (mobile-api): invite letters carry
	// <ResidentAppURL>/i/<code> in their QR code. Empty: letters carry the codes only.
	ResidentAppURL string
}

// New makes the admin API on a database. tokenTTL is the deployment's default staff
// token lifetime (STAFF_TOKEN_TTL); zero means access.DefaultTokenTTL.
func New(db *store.DB, sealer *secret.Sealer, tokenTTL time.Duration) *API {
	if tokenTTL == 0 {
		tokenTTL = access.DefaultTokenTTL
	}
	return &API{db: db, sealer: sealer, tokenTTL: tokenTTL, done: make(chan struct{})}
}

// WithConsole lets console sessions call the API and says where links point.
func (a *API) WithConsole(k Console) *API {
	a.console = k
	return a
}

// Close ends the live streams (the server is stopping).
func (a *API) Close() {
	select {
	case <-a.done:
	default:
		close(a.done)
	}
}

// Mount registers every admin route on r under /admin/v1, each behind authorize. Staff
// requests are small, so they get the default body limit whatever larger one the app
// allows for the gate API beside it.
func (a *API) Mount(r fiber.Router) {
	g := r.Group("/admin/v1", httpx.LimitBody(httpx.DefaultBodyLimit))
	for _, rt := range a.routes() {
		g.Add(rt.method, rt.path, a.authorize(rt))
	}
}

// routes is every admin endpoint with the action it needs; authorize enforces it.
func (a *API) routes() []route {
	return slices.Concat(a.communityRoutes(), a.staffRoutes(), a.gateRoutes(), a.faceRoutes(), a.webhookRoutes(), a.consoleRoutes(),
		a.accessRoutes())
}

// route is one admin endpoint and the single action it needs permission for.
type route struct {
	method string
	path   string
	action access.Action
	handle func(c *fiber.Ctx, r *request) error
}

// request is what authorize hands a handler: who asks, about which community, and
// about which staff member.
type request struct {
	staff     access.Staff
	community uuid.UUID          // uuid.Nil for routes without :community
	member    access.StaffMember // the :staff of the path, a member of community
}

// authenticate finds the caller: a bearer token (integrations, the CLI's tokens) or, with
// no Authorization header, a console session. Both give the same access.Staff.
func (a *API) authenticate(c *fiber.Ctx) (access.Staff, error) {
	if h := c.Get(fiber.HeaderAuthorization); h != "" || a.console.Authenticate == nil {
		token, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || token == "" {
			return access.Staff{}, access.ErrUnauthorized
		}
		return a.db.StaffByToken(c.UserContext(), token)
	}
	st, ok, err := a.console.Authenticate(c)
	if err == nil && !ok {
		err = access.ErrUnauthorized
	}
	return st, err
}

// authorize is the one place admin access is decided: bearer token -> staff, the
// community of the path -> visibility, the route's action -> role, and for routes about
// a staff member, whether the caller may act on that member (their own tokens, or an
// admin's staff).
func (a *API) authorize(rt route) fiber.Handler {
	return func(c *fiber.Ctx) error {
		staff, err := a.authenticate(c)
		if err != nil {
			return err
		}
		req := &request{staff: staff}
		switch {
		case c.Params("community") != "":
			if req.community, err = httpx.PathUUID(c, "community"); err != nil {
				return err
			}
		case c.Params("resident") != "":
			// Paths that name only a resident belong to the resident's community.
			id, err := httpx.PathUUID(c, "resident")
			if err != nil {
				return err
			}
			if req.community, err = a.db.ResidentCommunity(c.UserContext(), id); err != nil {
				return err
			}
		case c.Params("gate") != "":
			// Paths that name only a gate belong to the gate's community.
			id, err := httpx.PathUUID(c, "gate")
			if err != nil {
				return err
			}
			if req.community, err = a.db.GateCommunity(c.UserContext(), id); err != nil {
				return err
			}
		}
		member := uuid.Nil
		if c.Params("staff") != "" {
			if member, err = httpx.PathUUID(c, "staff"); err != nil {
				return err
			}
		}
		if err := staff.AuthorizeMember(rt.action, req.community, member); err != nil {
			return err
		}
		if req.community != uuid.Nil {
			if _, err := a.db.Community(c.UserContext(), req.community); err != nil {
				return err
			}
		}
		if member != uuid.Nil {
			if req.member, err = a.db.StaffMember(c.UserContext(), member); err != nil {
				return err
			}
			// Staff of another community, or an operator, do not exist under this path.
			if req.member.Community == nil || *req.member.Community != req.community {
				return fmt.Errorf("staff member %s in community %s: %w", member, req.community, access.ErrNotFound)
			}
		}
		return rt.handle(c, req)
	}
}
