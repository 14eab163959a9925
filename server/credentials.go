package main

import (
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"

	"gatepass/internal/credential"
	"gatepass/internal/httpx"
	"gatepass/internal/qr"
	"gatepass/internal/store"
)

// cardPixels sizes a printed card's QR: about 5 cm at 400 dpi, with the quiet zone.
const cardPixels = 800

func (s *Server) listKeys(c *fiber.Ctx, r *request) error {
	out, err := s.db.Keys(c.UserContext(), r.community)
	return listed(c, "keys", out, err)
}

func (s *Server) rotateKey(c *fiber.Ctx, r *request) error {
	return mutate(s, c, r, http.StatusCreated, func(tx *store.Tx) (store.KeyInfo, error) {
		return tx.RotateKey(c.UserContext(), r.community, s.sealer)
	})
}

// issueCard prints a card for a resident without a smartphone: the answer is the PNG,
// the credential id in a header (the text is not kept: a lost card is revoked).
func (s *Server) issueCard(c *fiber.Ctx, r *request) error {
	resident, err := httpx.PathUUID(c, "resident")
	if err != nil {
		return err
	}
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
	card, text, err := s.db.IssueCard(c.UserContext(), actor(r), r.community, resident, time.Duration(days)*24*time.Hour, s.sealer)
	if err != nil {
		return err
	}
	png, err := qr.PNG(text, cardPixels)
	if err != nil {
		return err
	}
	c.Set("X-Credential-Id", card.ID.String())
	c.Set("X-Expires-At", card.ExpiresAt.UTC().Format(time.RFC3339))
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentDisposition, `inline; filename="card-`+card.ID.String()+`.png"`)
	c.Type("png")
	return c.Status(http.StatusCreated).Send(png)
}

func (s *Server) listCards(c *fiber.Ctx, r *request) error {
	resident, err := httpx.PathUUID(c, "resident")
	if err != nil {
		return err
	}
	out, err := s.db.Cards(c.UserContext(), r.community, resident)
	return listed(c, "cards", out, err)
}

func (s *Server) revokeCard(c *fiber.Ctx, r *request) error {
	resident, err := httpx.PathUUID(c, "resident")
	if err != nil {
		return err
	}
	card, err := httpx.PathUUID(c, "card")
	if err != nil {
		return err
	}
	err = s.db.InTx(c.UserContext(), actor(r), func(tx *store.Tx) error {
		return tx.RevokeCard(c.UserContext(), r.community, resident, card)
	})
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"id": card, "revoked": true})
}
