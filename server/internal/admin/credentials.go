package admin

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/credential"
	"gatepass/internal/httpx"
	"gatepass/internal/qr"
	"gatepass/internal/store"
)

// cardPixels sizes a printed card's QR: about 5 cm at 400 dpi, with the quiet zone.
const cardPixels = 800

func (a *API) listKeys(c *fiber.Ctx, r *request) error {
	out, err := a.db.Keys(c.UserContext(), r.community)
	return listed(c, "keys", out, err)
}

func (a *API) rotateKey(c *fiber.Ctx, r *request) error {
	return mutate(a, c, r, http.StatusCreated, func(tx *store.Tx) (access.KeyInfo, error) {
		return tx.RotateKey(c.UserContext(), r.community, a.sealer)
	})
}

// compromiseKey withdraws a leaked key for good (access.KeyCompromise): gates drop it
// at their next sync, what it signed is revoked, and the answer lists the cards to
// reprint. The reason is kept in the audit row.
func (a *API) compromiseKey(c *fiber.Ctx, r *request) error {
	kid, err := strconv.ParseUint(c.Params("kid"), 10, 32)
	if err != nil || kid == 0 {
		return access.Invalid("kid", "must be a key id from 1 to %d", uint32(math.MaxUint32))
	}
	reason, err := reasonBody(c)
	if err != nil {
		return err
	}
	return mutate(a, c, r, http.StatusOK, func(tx *store.Tx) (access.KeyCompromise, error) {
		return tx.CompromiseKey(c.UserContext(), r.community, uint32(kid), reason, a.sealer)
	})
}

// issueCard prints a card for a resident without a smartphone: the answer is the PNG,
// the credential id in a header (the text is not kept: a lost card is revoked).
func (a *API) issueCard(c *fiber.Ctx, r *request) error {
	resident, err := httpx.PathUUID(c, "resident")
	if err != nil {
		return err
	}
	return printCard(c, func(valid time.Duration) (uuid.UUID, time.Time, string, error) {
		card, text, err := a.db.IssueCard(c.UserContext(), actor(r), r.community, resident, valid, a.sealer)
		return card.ID, card.ExpiresAt, text, err
	})
}

// printCard issues a card valid for the days the body asks (default a year) and answers
// with its QR as a PNG, the credential id and end in headers: the answer for every kind
// of holder's card.
func printCard(c *fiber.Ctx, issue func(valid time.Duration) (id uuid.UUID, expires time.Time, text string, err error)) error {
	days := 365
	if len(c.Body()) > 0 {
		var in struct {
			ValidDays *int `json:"valid_days"`
		}
		if err := httpx.DecodeJSON(c, &in); err != nil {
			return err
		}
		if in.ValidDays != nil {
			var k httpx.Checker
			days = k.Int("valid_days", in.ValidDays, 1, int(credential.MaxCardLifetime/(24*time.Hour)))
			if err := k.Err(); err != nil {
				return err
			}
		}
	}
	id, expires, text, err := issue(time.Duration(days) * 24 * time.Hour)
	if err != nil {
		return err
	}
	png, err := qr.PNG(text, cardPixels)
	if err != nil {
		return err
	}
	c.Set("X-Credential-Id", id.String())
	c.Set("X-Expires-At", expires.UTC().Format(time.RFC3339))
	httpx.NoStore(c) // the card's QR is the credential itself
	c.Set(fiber.HeaderContentDisposition, `inline; filename="card-`+id.String()+`.png"`)
	c.Type("png")
	return c.Status(http.StatusCreated).Send(png)
}

func (a *API) listCards(c *fiber.Ctx, r *request) error {
	resident, err := httpx.PathUUID(c, "resident")
	if err != nil {
		return err
	}
	out, err := a.db.Cards(c.UserContext(), r.community, resident)
	return listed(c, "cards", out, err)
}

func (a *API) revokeCard(c *fiber.Ctx, r *request) error {
	resident, err := httpx.PathUUID(c, "resident")
	if err != nil {
		return err
	}
	card, err := httpx.PathUUID(c, "card")
	if err != nil {
		return err
	}
	err = a.db.InTx(c.UserContext(), actor(r), func(tx *store.Tx) error {
		return tx.RevokeCard(c.UserContext(), r.community, resident, card)
	})
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"id": card, "revoked": true})
}
