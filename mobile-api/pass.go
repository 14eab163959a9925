package main

import (
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/credential"
	"gatepass/internal/httpx"
	"gatepass/internal/qr"
	"gatepass/internal/store"
)

// passPixels is the side of the pass PNG: about 10 modules' worth of pixels per module
// for the version of an issued token, sharp on any phone screen.
const passPixels = 512

// issued is a freshly minted code, as JSON and as the PNG's headers.
type issued struct {
	Payload      string    `json:"payload"`
	ExpiresAt    time.Time `json:"expires_at"`
	RefreshAfter time.Time `json:"refresh_after"`
}

var errRevoked = httpx.Errorf(http.StatusForbidden, "credential_revoked", "your pass was revoked by the property office")

// mint signs an issued token for a credential, valid at most until until (zero: no bound).
func (a *API) mint(c *fiber.Ctx, community, cred uuid.UUID, subject credential.Subject, zones uint64, until time.Time) (issued, error) {
	w, err := credential.IssuedWindow(time.Now(), until)
	if err != nil {
		return issued{}, httpx.Errorf(http.StatusForbidden, "pass_expired", "this pass has expired")
	}
	st, err := a.communities.get(c.UserContext(), community)
	if err != nil {
		return issued{}, err
	}
	text, err := credential.IssueCode(st.signer, cred, subject, zones, w.Validity)
	if err != nil {
		return issued{}, err
	}
	return issued{Payload: text, ExpiresAt: w.ExpiresAt, RefreshAfter: w.RefreshAfter}, nil
}

// residentPass mints the resident's code. On the hot path the session lookup already
// brought the QR credential, so the only other work is signing.
func (a *API) residentPass(c *fiber.Ctx, s *store.Session) (issued, error) {
	var cred store.QRCredential
	switch {
	case s.QRID.Valid && s.QRRevoked.Bool:
		return issued{}, errRevoked
	case s.QRID.Valid:
		cred = store.QRCredential{ID: s.QRID.UUID, Zones: access.ZoneMask(s.QRZones.Int64)}
	default:
		var err error
		if cred, err = a.db.EnsureQRCredential(c.UserContext(), s.Community, s.Resident); err != nil {
			return issued{}, err
		}
	}
	// Codes carry the community's zones now, so a new zone works without a new
	// credential; the row follows (a rare write, once per resident after a change).
	st, err := a.communities.get(c.UserContext(), s.Community)
	if err != nil {
		return issued{}, err
	}
	if st.zones != cred.Zones {
		if err := a.db.UpdateQRZones(c.UserContext(), s.Community, cred.ID, st.zones); err != nil {
			return issued{}, err
		}
	}
	return a.mint(c, s.Community, cred.ID, credential.SubjectResident, uint64(st.zones), time.Time{})
}

// noStore keeps an answer out of every cache (Pragma for HTTP/1.0 ones); the /api/v1
// group sets it on every answer.
func noStore(c *fiber.Ctx) {
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderPragma, "no-cache")
}

func (a *API) pass(c *fiber.Ctx, s *store.Session) error {
	out, err := a.residentPass(c, s)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (a *API) passPNG(c *fiber.Ctx, s *store.Session) error {
	out, err := a.residentPass(c, s)
	if err != nil {
		return err
	}
	return sendPNG(c, out)
}

// sendPNG answers a code as an image; the times travel in headers so the app knows
// when to fetch the next one without a second request.
func sendPNG(c *fiber.Ctx, out issued) error {
	png, err := qr.PNG(out.Payload, passPixels)
	if err != nil {
		return err
	}
	c.Set("X-Pass-Expires-At", out.ExpiresAt.UTC().Format(time.RFC3339))
	c.Set("X-Pass-Refresh-After", out.RefreshAfter.UTC().Format(time.RFC3339))
	c.Set(fiber.HeaderContentType, "image/png")
	return c.Send(png)
}

func (a *API) me(c *fiber.Ctx, s *store.Session) error {
	r, err := a.db.Resident(c.UserContext(), s.Community, s.Resident)
	if err != nil {
		return err
	}
	community, err := a.db.Community(c.UserContext(), s.Community)
	if err != nil {
		return err
	}
	passkeys, err := a.db.Passkeys(c.UserContext(), s.Community, s.Resident)
	if err != nil {
		return err
	}
	// The app warns on every screen while a suspended passkey is listed: the resident
	// should learn that a copy of their passkey may exist, and remove it.
	suspended := 0
	for _, p := range passkeys {
		if p.SuspendedAt != nil {
			suspended++
		}
	}
	return c.JSON(fiber.Map{
		"resident":           r,
		"community_name":     community.Name,
		"passkeys_suspended": suspended,
		"session": fiber.Map{
			"created_at": s.CreatedAt, "expires_at": s.ExpiresAt, "passkey_id": s.Passkey, "kind": s.Kind,
			"step_up_fresh": access.StepUpFresh(s.VerifiedAt, time.Now()),
		},
	})
}
