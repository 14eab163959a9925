package admin

import (
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/httpx"
	"gatepass/internal/store"
)

// staffRoutes are the endpoints of staff members and their tokens (issue 13): an
// admin manages the staff of their communities; every member lists, rotates and
// revokes their own tokens (access.ActStaffTokens). Answers that carry a token are not
// to be stored by any cache.
func (a *API) staffRoutes() []route {
	return []route{
		{"GET", "/me", access.ActReadSelf, a.me},
		{"POST", "/communities/:community/staff", access.ActManageStaff, a.createStaff},
		{"GET", "/communities/:community/staff", access.ActManageStaff, a.listStaff},
		{"POST", "/communities/:community/staff/:staff/disable", access.ActManageStaff, a.disableStaff},
		{"POST", "/communities/:community/staff/:staff/enable", access.ActManageStaff, a.enableStaff},
		{"GET", "/communities/:community/staff/:staff/tokens", access.ActStaffTokens, a.listTokens},
		{"POST", "/communities/:community/staff/:staff/tokens", access.ActManageStaff, a.issueToken},
		{"DELETE", "/communities/:community/staff/:staff/tokens/:token", access.ActStaffTokens, a.revokeToken},
		{"POST", "/communities/:community/staff/:staff/tokens/:token/rotate", access.ActStaffTokens, a.rotateToken},
	}
}

// me is who the caller is and which token they came with, so that a member can find
// their own id and rotate that token before it expires.
func (a *API) me(c *fiber.Ctx, r *request) error {
	out := fiber.Map{"id": r.staff.ID, "name": r.staff.Name, "role": r.staff.Role,
		"token_id": r.staff.Token, "token_expires_at": r.staff.TokenExpires}
	if !r.staff.IsOperator() {
		out["community_id"] = r.staff.Community
	}
	if r.staff.Session {
		// A console session, not a token: token_id is the session's id and cannot be
		// rotated or revoked as a token (sign out instead).
		out["session"] = true
	}
	return c.JSON(out)
}

// tokenBody is what a new token may ask for; each field may be left out: a console
// token with no label living the deployment's default lifetime.
type tokenBody struct {
	Kind  *string `json:"kind"`
	Label *string `json:"label"`
	TTL   *string `json:"ttl"` // "90d" or "36h"
}

// spec checks the body into a token spec. Whether the lifetime suits the kind is the
// store's to check (through access.TokenTTL), since a rotation only learns the kind from
// the token it replaces.
func (a *API) spec(in tokenBody) (store.TokenSpec, error) {
	var k httpx.Checker
	spec := store.TokenSpec{Kind: access.TokenConsole, Default: a.tokenTTL}
	if in.Kind != nil {
		spec.Kind = access.TokenKind(k.OneOf("kind", in.Kind, access.TokenKinds))
	}
	if in.Label != nil {
		spec.Label = k.Text("label", in.Label, 0, 100)
	}
	if err := k.Err(); err != nil {
		return spec, err
	}
	if in.TTL != nil {
		ttl, err := access.ParseTTL(*in.TTL)
		if err != nil {
			return spec, err
		}
		if ttl <= 0 { // zero would mean "the default" to the store
			return spec, access.Invalid("ttl", "must be positive")
		}
		spec.TTL = ttl
	}
	return spec, nil
}

// optionalBody decodes a body the caller may leave out altogether.
func optionalBody(c *fiber.Ctx, v any) error {
	if len(c.BodyRaw()) == 0 {
		return nil
	}
	return httpx.DecodeJSON(c, v)
}

func (a *API) createStaff(c *fiber.Ctx, r *request) error {
	var in struct {
		Name *string `json:"name"`
		Role *string `json:"role"`
		// Invite: no bearer token; the answer carries a one-time link to register a
		// console passkey instead (a person, not an integration).
		Invite *bool `json:"invite"`
		tokenBody
	}
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	var k httpx.Checker
	name := k.Text("name", in.Name, 1, 200)
	role := access.StaffRole(k.OneOf("role", in.Role, access.StaffRoles))
	if err := k.Err(); err != nil {
		return err
	}
	spec, err := a.spec(in.tokenBody)
	if err != nil {
		return err
	}
	invite := in.Invite != nil && *in.Invite
	if invite && (in.Kind != nil || in.Label != nil || in.TTL != nil) {
		return access.Invalid("invite", "an invited member gets no token: leave out kind, label and ttl")
	}
	type created struct {
		access.StaffMember
		Token     string     `json:"token,omitempty"`
		TokenID   *uuid.UUID `json:"token_id,omitempty"`
		ExpiresAt *time.Time `json:"token_expires_at,omitempty"`
		*staffInvite
	}
	httpx.NoStore(c)
	return mutate(a, c, r, http.StatusCreated, func(tx *store.Tx) (created, error) {
		m, tok, err := tx.CreateStaff(c.UserContext(), store.NewStaff{Community: r.community, Name: name, Role: role, Token: spec, NoToken: invite})
		if err != nil {
			return created{}, err
		}
		if !invite {
			return created{StaffMember: m, Token: tok.Token, TokenID: &tok.ID, ExpiresAt: &tok.ExpiresAt}, nil
		}
		inv, err := a.newStaffInvite(c, tx, m.ID)
		return created{StaffMember: m, staffInvite: &inv}, err
	})
}

func (a *API) listStaff(c *fiber.Ctx, r *request) error {
	out, err := a.db.StaffMembers(c.UserContext(), r.community)
	return listed(c, "staff", out, err)
}

func (a *API) disableStaff(c *fiber.Ctx, r *request) error { return a.setDisabled(c, r, true) }

func (a *API) enableStaff(c *fiber.Ctx, r *request) error { return a.setDisabled(c, r, false) }

// setDisabled disables or enables the member of the path. An admin may disable
// themselves while another admin of the community remains enabled (store.ErrLastAdmin).
func (a *API) setDisabled(c *fiber.Ctx, r *request, disabled bool) error {
	return mutate(a, c, r, http.StatusOK, func(tx *store.Tx) (access.StaffMember, error) {
		return tx.SetStaffDisabled(c.UserContext(), r.member.ID, disabled)
	})
}

func (a *API) listTokens(c *fiber.Ctx, r *request) error {
	out, err := a.db.StaffTokens(c.UserContext(), r.member.ID)
	return listed(c, "tokens", out, err)
}

func (a *API) issueToken(c *fiber.Ctx, r *request) error {
	var in tokenBody
	if err := optionalBody(c, &in); err != nil {
		return err
	}
	spec, err := a.spec(in)
	if err != nil {
		return err
	}
	httpx.NoStore(c)
	return mutate(a, c, r, http.StatusCreated, func(tx *store.Tx) (store.IssuedToken, error) {
		return tx.IssueStaffToken(c.UserContext(), r.member.ID, spec)
	})
}

func (a *API) revokeToken(c *fiber.Ctx, r *request) error {
	id, err := httpx.PathUUID(c, "token")
	if err != nil {
		return err
	}
	return mutate(a, c, r, http.StatusOK, func(tx *store.Tx) (access.StaffToken, error) {
		return tx.RevokeStaffToken(c.UserContext(), r.member.ID, id)
	})
}

// rotateToken replaces a live token with a new one of the same kind and label; the old
// one stops at once. The body may ask for a lifetime.
func (a *API) rotateToken(c *fiber.Ctx, r *request) error {
	id, err := httpx.PathUUID(c, "token")
	if err != nil {
		return err
	}
	var in struct {
		TTL *string `json:"ttl"`
	}
	if err := optionalBody(c, &in); err != nil {
		return err
	}
	spec, err := a.spec(tokenBody{TTL: in.TTL})
	if err != nil {
		return err
	}
	httpx.NoStore(c)
	return mutate(a, c, r, http.StatusCreated, func(tx *store.Tx) (store.IssuedToken, error) {
		return tx.RotateStaffToken(c.UserContext(), r.member.ID, id, spec)
	})
}
