package main

import (
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/credential"
	"gatepass/internal/httpx"
	"gatepass/internal/store"
)

// maxVisitorPasses bounds the host's list.
const maxVisitorPasses = 200

func (a *API) createVisitor(c *fiber.Ctx, s *store.Session) error {
	var in struct {
		Label      *string    `json:"label"`
		ValidFrom  *time.Time `json:"valid_from"`
		ValidUntil *time.Time `json:"valid_until"`
		MaxEntries *int       `json:"max_entries"`
		Zones      []int      `json:"zones"`
	}
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	var k httpx.Checker
	label := k.Text("label", in.Label, 1, 100)
	maxEntries := k.Int("max_entries", in.MaxEntries, 1, 100)
	if err := k.Err(); err != nil {
		return err
	}
	now := time.Now()
	from := now
	if in.ValidFrom != nil {
		from = *in.ValidFrom
	}
	if in.ValidUntil == nil {
		return access.Invalid("valid_until", "is required")
	}
	from, until := from.Truncate(time.Second), in.ValidUntil.Truncate(time.Second)
	if err := access.CheckVisitorWindow(from, until, now); err != nil {
		return err
	}
	zones, err := access.VisitorZones(in.Zones)
	if err != nil {
		return err
	}
	var pass store.VisitorPass
	var token string
	err = a.db.InTx(c.UserContext(), "resident:"+s.Resident.String(), func(tx *store.Tx) (err error) {
		pass, token, err = tx.CreateVisitorPass(c.UserContext(), store.NewVisitorPass{
			Community: s.Community, Host: s.Resident, Label: label, Zones: zones, ValidFrom: from, ValidUntil: until, MaxEntries: maxEntries,
		})
		return err
	})
	if err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(fiber.Map{
		"visitor_pass": pass.View(now),
		// The link is the visitor's only key: it is shown once and stored hashed.
		"link": a.origins[0] + "/v/" + token,
	})
}

func (a *API) listVisitors(c *fiber.Ctx, s *store.Session) error {
	list, err := a.db.VisitorPasses(c.UserContext(), s.Community, s.Resident, maxVisitorPasses)
	if err != nil {
		return err
	}
	now := time.Now()
	return c.JSON(fiber.Map{"visitor_passes": store.Views(list, now)})
}

func (a *API) revokeVisitor(c *fiber.Ctx, s *store.Session) error {
	return a.revokeOwn(c, s, "visitor", func(tx *store.Tx, id uuid.UUID) error {
		return tx.RevokeVisitorPass(c.UserContext(), s.Community, s.Resident, id)
	})
}

// visitorByLink reads the pass of a share link; only what the visitor needs leaves.
func (a *API) visitorByLink(c *fiber.Ctx) (store.VisitorPassView, error) {
	p, err := a.db.VisitorPassByToken(c.UserContext(), c.Params("token"))
	if err != nil {
		return store.VisitorPassView{}, err
	}
	return p.View(time.Now()), nil
}

// visit tells the visitor about their pass: no host name, no unit.
func (a *API) visit(c *fiber.Ctx, _ *store.Session) error {
	v, err := a.visitorByLink(c)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{
		"label": v.Label, "valid_from": v.ValidFrom, "valid_until": v.ValidUntil,
		"entries_left": max(v.MaxEntries-v.EntriesUsed, 0), "state": v.State,
	})
}

// visitorCode mints the visitor's rotating code, only while the pass is active, and
// never valid past the pass's end.
func (a *API) visitorCode(c *fiber.Ctx) (issued, error) {
	v, err := a.visitorByLink(c)
	if err != nil {
		return issued{}, err
	}
	if v.State != access.VisitorActive {
		return issued{}, httpx.Errorf(http.StatusForbidden, "visitor_pass_"+string(v.State), "this visitor pass cannot be used now: %s", v.State)
	}
	return a.mint(c, v.Community, v.Credential, credential.SubjectVisitor, uint64(v.Zones), v.ValidUntil)
}

func (a *API) visitPass(c *fiber.Ctx, _ *store.Session) error {
	out, err := a.visitorCode(c)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (a *API) visitPassPNG(c *fiber.Ctx, _ *store.Session) error {
	out, err := a.visitorCode(c)
	if err != nil {
		return err
	}
	return sendPNG(c, out)
}
