package main

import (
	"github.com/gofiber/fiber/v2"

	"gatepass/internal/access"
	"gatepass/internal/store"
)

// faceAdminRoutes are the staff endpoints of face entry (issue 6). Both only read: there
// is deliberately no endpoint that turns QR codes, cards or manual release off.
func faceAdminRoutes(s *Server) []route {
	return []route{
		{"GET", "/communities/:community/consent-report", access.ActReadConsent, s.consentReport},
		{"GET", "/face-template-count", access.ActReadConsent, s.faceTemplateCount},
	}
}

// consentReport shows a community's face-entry consents; viewing it is audited in the
// same transaction that reads it.
func (s *Server) consentReport(c *fiber.Ctx, r *request) error {
	var out store.ConsentReport
	err := s.db.InTx(c.UserContext(), actor(r), func(tx *store.Tx) (err error) {
		out, err = tx.ConsentReport(c.UserContext(), r.community)
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
func (s *Server) faceTemplateCount(c *fiber.Ctx, r *request) error {
	out, err := s.db.FaceTemplateCount(c.UserContext(), r.staff.Community)
	if err != nil {
		return err
	}
	return c.JSON(out)
}
