package main

import (
	"errors"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"

	"gatepass/internal/access"
	"gatepass/internal/httpx"
	"gatepass/internal/store"
)

// One-gate enrolment (docs/face-entry.md): a browser cannot run the face model, so a
// resident with a one_gate consent starts a session here and stands in front of that
// gate's reader within access.EnrolSessionTTL; the gate makes the template and keeps it.
// The app polls GET .../enrolment/{id} (or /face/status) to show the gate's confirmation.

// faceEnrolLimit caps sessions per signed-in caller and window: each one is a gate
// command, and a resident needs one or two.
const faceEnrolLimit = 10

// errNoOneGateConsent is the app's cue to show the consent screen (again).
var errNoOneGateConsent = httpx.Errorf(http.StatusConflict, "no_one_gate_consent",
	"face entry at this gate needs your one-gate consent to the current notice first")

// faceEnrolStart is POST /api/v1/face/enrolment {"gate_id"}.
func (a *API) faceEnrolStart(c *fiber.Ctx, s *store.Session) error {
	var in struct {
		Gate *string `json:"gate_id"`
	}
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	var k httpx.Checker
	gate := k.UUID("gate_id", in.Gate)
	if err := k.Err(); err != nil {
		return err
	}
	var out access.EnrolSession
	err := a.db.InTx(c.UserContext(), "resident:"+s.Resident.String(), func(tx *store.Tx) (err error) {
		out, err = tx.StartGateEnrolment(c.UserContext(), store.EnrolStart{Community: s.Community, Resident: s.Resident, Gate: gate})
		return err
	})
	if errors.Is(err, store.ErrNoOneGateConsent) {
		return errNoOneGateConsent
	}
	if err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(enrolView(out, time.Now()))
}

// faceEnrolStatus is GET /api/v1/face/enrolment/{session}: the resident's own sessions
// only (another's is 404).
func (a *API) faceEnrolStatus(c *fiber.Ctx, s *store.Session) error {
	id, err := httpx.PathUUID(c, "session")
	if err != nil {
		return err
	}
	out, err := a.db.GateEnrolment(c.UserContext(), s.Community, s.Resident, id)
	if err != nil {
		return err
	}
	return c.JSON(enrolView(out, time.Now()))
}

// enrolView adds the state the app shows: waiting (stand at the reader), enrolled,
// expired (start again) or failed.
func enrolView(s access.EnrolSession, now time.Time) fiber.Map {
	state := "waiting"
	switch {
	case s.Result != nil:
		state = *s.Result
	case !now.Before(s.ExpiresAt):
		state = "expired" // an offline gate never acks: the window has closed anyway
	}
	return fiber.Map{"id": s.ID, "gate_id": s.Gate, "created_at": s.CreatedAt, "expires_at": s.ExpiresAt, "state": state}
}
