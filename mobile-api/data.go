package main

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"gatepass/internal/access"
	"gatepass/internal/store"
)

const maxEntriesPage = 200

func (a *API) entries(c *fiber.Ctx, s *store.Session) error {
	limit := 50
	if q := c.Query("limit"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 1 || n > maxEntriesPage {
			return access.Invalid("limit", "must be a number from 1 to %d", maxEntriesPage)
		}
		limit = n
	}
	page, err := a.db.ResidentEntries(c.UserContext(), s.Community, s.Resident, c.Query("cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(page)
}

// export answers everything held about the resident as a JSON download.
func (a *API) export(c *fiber.Ctx, s *store.Session) error {
	out, err := a.db.ExportResident(c.UserContext(), s.Community, s.Resident)
	if err != nil {
		return err
	}
	// Who took a copy of a person's data, and when, is part of the record too.
	if err := a.db.InTx(c.UserContext(), "resident:"+s.Resident.String(), func(tx *store.Tx) error {
		return tx.Audit(c.UserContext(), s.Community, "resident.export", "resident:"+s.Resident.String(),
			map[string]any{"entries": len(out.Entries), "credentials": len(out.Credentials)})
	}); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="gatepass-export.json"`)
	return c.JSON(out)
}

// deleteMe erases the resident; the route needs a fresh step-up.
func (a *API) deleteMe(c *fiber.Ctx, s *store.Session) error {
	var out store.DeleteResult
	err := a.db.InTx(c.UserContext(), "resident:"+s.Resident.String(), func(tx *store.Tx) (err error) {
		out, err = tx.DeleteResident(c.UserContext(), s.Community, s.Resident)
		return err
	})
	if err != nil {
		return err
	}
	a.clearSession(c)
	return c.JSON(out)
}
