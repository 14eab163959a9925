package admin

import (
	"github.com/gofiber/fiber/v2"

	"gatepass/internal/access"
	"gatepass/internal/consent"
	"gatepass/internal/httpx"
	"gatepass/internal/store"
)

// faceRoutes are the staff endpoints of face entry (issue 6). Face entry can be
// switched on and off; there is deliberately no endpoint that turns QR codes, cards or
// manual release off.
func (a *API) faceRoutes() []route {
	return []route{
		{"GET", "/communities/:community/consent-report", access.ActReadConsent, a.consentReport},
		{"GET", "/face-template-count", access.ActReadConsent, a.faceTemplateCount},
		{"PUT", "/communities/:community/face-operator", access.ActEditStructure, a.putFaceOperator},
		{"DELETE", "/communities/:community/face-operator", access.ActEditStructure, a.stopFaceEntry},
	}
}

// putFaceOperator names the handler shown in the community's face-entry notice; face
// entry is offered to residents only once it is set.
func (a *API) putFaceOperator(c *fiber.Ctx, r *request) error {
	var in struct {
		Name    *string `json:"operator_name"`
		Contact *string `json:"operator_contact"`
	}
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	var k httpx.Checker
	op := consent.Operator{Name: k.Text("operator_name", in.Name, 1, 200), Contact: k.Text("operator_contact", in.Contact, 1, 200)}
	if err := k.Err(); err != nil {
		return err
	}
	if err := a.db.InTx(c.UserContext(), actor(r), func(tx *store.Tx) error { return tx.SetFaceOperator(c.UserContext(), r.community, op) }); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"operator_name": op.Name, "operator_contact": op.Contact})
}

// stopFaceEntry switches face entry off in a community and purges every template, on
// the server and, through sync, on every gate.
func (a *API) stopFaceEntry(c *fiber.Ctx, r *request) error {
	var out store.FaceStop
	err := a.db.InTx(c.UserContext(), actor(r), func(tx *store.Tx) (err error) {
		out, err = tx.StopFaceEntry(c.UserContext(), r.community)
		return err
	})
	if err != nil {
		return err
	}
	return c.JSON(out)
}

// consentReport shows a community's face-entry consents; viewing it is audited in the
// same transaction that reads it.
func (a *API) consentReport(c *fiber.Ctx, r *request) error {
	limit, err := pageLimit(c)
	if err != nil {
		return err
	}
	var out access.ConsentReport
	err = a.db.InTx(c.UserContext(), actor(r), func(tx *store.Tx) (err error) {
		out, err = tx.ConsentReport(c.UserContext(), r.community, store.ReportPage{Cursor: c.Query("cursor"), Limit: limit})
		return err
	})
	if err != nil {
		return err
	}
	return c.JSON(out)
}

// faceTemplateCount counts people with face templates: operators see the deployment (the
// handler whose total the 100,000-person filing threshold counts), community staff their
// own community.
func (a *API) faceTemplateCount(c *fiber.Ctx, r *request) error {
	out, err := a.db.FaceTemplateCount(c.UserContext(), r.staff.Community)
	if err != nil {
		return err
	}
	return c.JSON(out)
}
