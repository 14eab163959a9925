package main

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/consent"
	"gatepass/internal/httpx"
	"gatepass/internal/store"
)

// Face entry is optional and never the only way in (docs/face-entry.md). These handlers
// show the notice, record consent on its own screen after a passkey assertion made for
// it, take templates sealed on the phone to the gates' keys, withdraw, and show which
// gates confirmed a purge. Nothing here touches the QR code, cards or manual release.

// faceTemplatesPath takes sealed templates, one blob per gate: the only route whose body
// may exceed bodyLimit.
const faceTemplatesPath = "/api/v1/face/templates"

// faceTemplatesLimit is ample for 20 gates (a blob is about 2.2 KB for 512 floats).
const faceTemplatesLimit = 64 << 10

// faceSubject is whose face a request is about: the signed-in resident, or (resident_id)
// a child for whom they gave consent as a guardian (consent.GaveConsent). Consent and
// withdrawal apply the guardian rule in the store; this guards the reads and the
// template upload.
func (a *API) faceSubject(c *fiber.Ctx, s *store.Session, id *string) (uuid.UUID, error) {
	if id == nil || *id == s.Resident.String() {
		return s.Resident, nil
	}
	subject, err := httpx.ParseUUID(*id)
	if err != nil {
		return uuid.Nil, access.Invalid("resident_id", "must be a UUID")
	}
	consents, err := a.db.Consents(c.UserContext(), s.Community, subject)
	if err != nil {
		return uuid.Nil, err
	}
	givers := make([]uuid.UUID, len(consents))
	for i, k := range consents {
		givers[i] = k.GivenBy
	}
	if !consent.GaveConsent(s.Resident, givers) {
		return uuid.Nil, access.ErrNotFound
	}
	return subject, nil
}

// faceNotice answers the notice to show, filled in with the community's data handler.
func (a *API) faceNotice(c *fiber.Ctx, s *store.Session) error {
	op, err := a.db.FaceOperator(c.UserContext(), s.Community)
	if err != nil {
		return err
	}
	lang := c.Query("lang", "zh")
	var n consent.Notice
	if v := c.Query("version"); v != "" {
		n, err = consent.Lookup(v, lang)
	} else {
		n, err = consent.Current(lang)
	}
	if err != nil {
		return access.Invalid("lang", "no such notice: languages are %s", strings.Join(consent.Languages, ", "))
	}
	text, err := n.Render(op)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"version": n.Version, "lang": n.Lang, "hash": hex.EncodeToString(n.Hash[:]), "text": text,
		"current": n.Version == consent.CurrentVersion})
}

// channelOf names how consent was given: the web app (cookie) or a native app (bearer),
// unless the client says it is a mini-program.
func channelOf(c *fiber.Ctx, asked *string) (string, error) {
	if asked != nil {
		switch *asked {
		case "h5", "mini_program", "native_app":
			return *asked, nil
		}
		return "", access.Invalid("channel", "must be h5, mini_program or native_app")
	}
	if strings.HasPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ") {
		return "native_app", nil
	}
	return "h5", nil
}

func (a *API) faceConsent(c *fiber.Ctx, s *store.Session) error {
	var in struct {
		Resident      *string `json:"resident_id"`
		NoticeVersion *string `json:"notice_version"`
		NoticeLang    *string `json:"notice_lang"`
		NoticeHash    *string `json:"notice_hash"`
		Scope         *string `json:"scope"`
		Gate          *string `json:"gate_id"`
		Channel       *string `json:"channel"`
	}
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	var k httpx.Checker
	g := store.GiveConsent{Community: s.Community, Resident: s.Resident, GivenBy: s.Resident,
		NoticeVersion: k.Text("notice_version", in.NoticeVersion, 1, 20),
		NoticeLang:    k.OneOf("notice_lang", in.NoticeLang, consent.Languages),
		Scope:         consent.Scope(k.OneOf("scope", in.Scope, consent.Scopes)),
	}
	hash := k.Text("notice_hash", in.NoticeHash, 64, 64)
	if in.Resident != nil {
		g.Resident = k.UUID("resident_id", in.Resident)
	}
	if in.Gate != nil {
		g.Gate = k.UUID("gate_id", in.Gate)
	}
	if err := k.Err(); err != nil {
		return err
	}
	var err error
	if g.NoticeHash, err = hex.DecodeString(hash); err != nil {
		return access.Invalid("notice_hash", "must be the hex SHA-256 the notice was shown with")
	}
	if g.Channel, err = channelOf(c, in.Channel); err != nil {
		return err
	}
	// Consent is its own act: the route needs a fresh passkey verification, and consent
	// uses it up in the same transaction, so one verification never serves two acts.
	var out store.Consent
	err = a.db.InTx(c.UserContext(), "resident:"+s.Resident.String(), func(tx *store.Tx) (err error) {
		if err := tx.ConsumeStepUp(c.UserContext(), *s); err != nil {
			return errStepUp
		}
		out, err = tx.GiveConsent(c.UserContext(), g)
		return err
	})
	if err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(out)
}

// faceGates lists the gates' box keys the phone seals a community-scope template to.
func (a *API) faceGates(c *fiber.Ctx, s *store.Session) error {
	keys, err := a.db.FaceGateKeys(c.UserContext(), s.Community)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"gates": keys})
}

func (a *API) faceTemplates(c *fiber.Ctx, s *store.Session) error {
	var in struct {
		Resident  *string `json:"resident_id"`
		Templates []struct {
			Gate   *string `json:"gate_id"`
			Model  *string `json:"model"`
			Sealed *string `json:"sealed"`
		} `json:"templates"`
	}
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	if len(in.Templates) == 0 || len(in.Templates) > 200 {
		return access.Invalid("templates", "must hold one sealed template per gate")
	}
	var k httpx.Checker
	blobs := make([]store.SealedTemplate, len(in.Templates))
	for i, t := range in.Templates {
		blobs[i].Gate = k.UUID("templates.gate_id", t.Gate)
		blobs[i].Model = k.Text("templates.model", t.Model, 1, 64)
		sealed := k.Text("templates.sealed", t.Sealed, 1, faceTemplatesLimit)
		if k.Err() == nil {
			var err error
			if blobs[i].Sealed, err = base64.StdEncoding.DecodeString(sealed); err != nil {
				return access.Invalid("templates.sealed", "must be base64")
			}
		}
	}
	if err := k.Err(); err != nil {
		return err
	}
	subject, err := a.faceSubject(c, s, in.Resident)
	if err != nil {
		return err
	}
	var n int
	err = a.db.InTx(c.UserContext(), "resident:"+s.Resident.String(), func(tx *store.Tx) (err error) {
		n, err = tx.PutSealedTemplates(c.UserContext(), s.Community, subject, blobs)
		return err
	})
	if err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(fiber.Map{"templates_stored": n})
}

// faceWithdraw ends consent at once: one tap, no step-up (withdrawing must never be
// harder than consenting).
func (a *API) faceWithdraw(c *fiber.Ctx, s *store.Session) error {
	var in struct {
		Resident *string `json:"resident_id"`
	}
	if len(c.Body()) > 0 {
		if err := httpx.DecodeJSON(c, &in); err != nil {
			return err
		}
	}
	subject := s.Resident
	if in.Resident != nil {
		var k httpx.Checker
		subject = k.UUID("resident_id", in.Resident)
		if err := k.Err(); err != nil {
			return err
		}
	}
	var out access.PurgeResult
	err := a.db.InTx(c.UserContext(), "resident:"+s.Resident.String(), func(tx *store.Tx) (err error) {
		out, err = tx.WithdrawConsent(c.UserContext(), s.Community, subject, s.Resident)
		return err
	})
	if errors.Is(err, consent.ErrNotSubject) {
		return access.ErrNotFound // another adult's consent is none of this resident's business
	}
	if err != nil {
		return err
	}
	return c.JSON(out)
}

// faceStatus shows the consent history, which gates hold the template, and which gates
// confirmed the last purge.
func (a *API) faceStatus(c *fiber.Ctx, s *store.Session) error {
	var id *string
	if q := c.Query("resident_id"); q != "" {
		id = &q
	}
	subject, err := a.faceSubject(c, s, id)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	consents, err := a.db.Consents(ctx, s.Community, subject)
	if err != nil {
		return err
	}
	gates, err := a.db.FaceGates(ctx, s.Community, subject)
	if err != nil {
		return err
	}
	purges, err := a.db.PurgeStatus(ctx, s.Community, subject)
	if err != nil {
		return err
	}
	_, opErr := a.db.FaceOperator(ctx, s.Community)
	if opErr != nil && !errors.Is(opErr, store.ErrFaceOff) {
		return opErr
	}
	return c.JSON(fiber.Map{"offered": opErr == nil, "consents": consents, "gates": gates, "purges": purges})
}
