package admin

import (
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"gatepass/internal/httpx"
	"gatepass/internal/store"
)

// Visitor passes are made by residents in mobile-api; staff (guards at the desk,
// admins) see a community's passes and revoke them, for example when a host reports a
// link forwarded to the wrong person.

func (a *API) listVisitorPasses(c *fiber.Ctx, r *request) error {
	limit, err := pageLimit(c)
	if err != nil {
		return err
	}
	out, err := a.db.VisitorPasses(c.UserContext(), r.community, uuid.Nil, limit)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"visitor_passes": store.Views(out, time.Now())})
}

func (a *API) revokeVisitorPass(c *fiber.Ctx, r *request) error {
	id, err := httpx.PathUUID(c, "visitor_pass")
	if err != nil {
		return err
	}
	// uuid.Nil as host: staff may revoke any pass of the community.
	if err := a.db.InTx(c.UserContext(), actor(r), func(tx *store.Tx) error {
		return tx.RevokeVisitorPass(c.UserContext(), r.community, uuid.Nil, id)
	}); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"revoked": id})
}
