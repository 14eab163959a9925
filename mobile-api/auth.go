package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/httpx"
	"gatepass/internal/passkey"
	"gatepass/internal/secret"
	"gatepass/internal/store"
)

// resident is a resident as the WebAuthn library sees them.
type resident struct {
	community, id uuid.UUID
	name          string
	passkeys      []store.Passkey
}

func (r *resident) WebAuthnID() []byte          { return access.UserHandle(r.community, r.id) }
func (r *resident) WebAuthnName() string        { return r.name }
func (r *resident) WebAuthnDisplayName() string { return r.name }
func (r *resident) WebAuthnCredentials() []webauthn.Credential {
	out := make([]webauthn.Credential, len(r.passkeys))
	for i, p := range r.passkeys {
		out[i] = passkey.Stored{CredentialID: p.CredentialID, PublicKey: p.PublicKey, AttestationType: p.AttestationType,
			AAGUID: p.AAGUID, SignCount: p.SignCount, Transports: p.Transports, UserVerified: p.UserVerified,
			BackupEligible: p.BackupEligible, BackupState: p.BackupState}.Credential()
	}
	return out
}

// knows reports whether r (possibly nil: nobody found) holds the passkey.
func (r *resident) knows(credentialID []byte) bool {
	if r == nil {
		return false
	}
	_, ok := r.passkey(credentialID)
	return ok
}

func (r *resident) passkey(credentialID []byte) (store.Passkey, bool) {
	for _, p := range r.passkeys {
		if string(p.CredentialID) == string(credentialID) {
			return p, true
		}
	}
	return store.Passkey{}, false
}

// loadResident reads a resident and their passkeys for a ceremony.
func (a *API) loadResident(ctx context.Context, c, id uuid.UUID) (*resident, error) {
	r, err := a.db.Resident(ctx, c, id)
	if err != nil {
		return nil, err
	}
	if !r.Status.MayHoldPass() {
		return nil, fmt.Errorf("resident has %s: %w", r.Status, access.ErrUnauthorized)
	}
	pks, err := a.db.Passkeys(ctx, c, id)
	if err != nil {
		return nil, err
	}
	return &resident{community: c, id: id, name: r.Name, passkeys: pks}, nil
}

// newCeremony stores a ceremony's state and returns the id the client sends back:
// community || 32 random bytes, so the finish step finds the row by community.
func (a *API) newCeremony(ctx context.Context, c store.Ceremony, session *webauthn.SessionData) (string, error) {
	raw := make([]byte, 16+32)
	copy(raw, c.Community[:])
	if _, err := rand.Read(raw[16:]); err != nil {
		return "", fmt.Errorf("ceremony id: %w", err)
	}
	id := base64.RawURLEncoding.EncodeToString(raw)
	state, err := json.Marshal(session)
	if err != nil {
		return "", fmt.Errorf("ceremony state: %w", err)
	}
	c.Session = state
	return id, a.db.SaveCeremony(ctx, sha256.Sum256([]byte(id)), c)
}

// takeCeremony decodes a finish body and consumes its ceremony: whatever happens next,
// the challenge has been used.
func (a *API) takeCeremony(c *fiber.Ctx, purpose string) (passkey.Finish, store.Ceremony, webauthn.SessionData, error) {
	var sd webauthn.SessionData
	in, id, err := passkey.DecodeFinish(c, []string{"cookie", "bearer"})
	if err != nil {
		return in, store.Ceremony{}, sd, err
	}
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(raw) != 16+32 {
		return in, store.Ceremony{}, sd, store.ErrCeremonyGone
	}
	cer, err := a.db.TakeCeremony(c.UserContext(), uuid.UUID(raw[:16]), sha256.Sum256([]byte(id)), purpose)
	if err != nil {
		return in, cer, sd, err
	}
	if err := json.Unmarshal(cer.Session, &sd); err != nil {
		return in, cer, sd, fmt.Errorf("ceremony state: %w", err)
	}
	return in, cer, sd, nil
}

// newPasskey turns a verified registration into the row to store.
func newPasskey(cred *webauthn.Credential, name *string) *store.Passkey {
	k := passkey.FromCredential(cred)
	p := &store.Passkey{CredentialID: k.CredentialID, PublicKey: k.PublicKey, AttestationType: k.AttestationType,
		AAGUID: k.AAGUID, SignCount: k.SignCount, Transports: k.Transports,
		BackupEligible: k.BackupEligible, BackupState: k.BackupState, UserVerified: k.UserVerified}
	if name != nil {
		p.Name = *name
	}
	return p
}

func (a *API) redeemBegin(c *fiber.Ctx, _ *store.Session) error {
	var in struct {
		Code *string `json:"invite_code"`
	}
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	if in.Code == nil || strings.TrimSpace(*in.Code) == "" {
		return access.Invalid("invite_code", "is required")
	}
	inv, err := a.findInvite(c.UserContext(), *in.Code)
	if err != nil {
		return err
	}
	r := &resident{community: inv.Community, id: inv.Resident, name: inv.Name}
	creation, sd, err := a.wa.BeginRegistration(r, passkey.RegistrationOptions(r)...)
	if err != nil {
		return fmt.Errorf("begin registration: %w", err)
	}
	id, err := a.newCeremony(c.UserContext(), store.Ceremony{Purpose: store.PurposeRegister,
		Community: inv.Community, Resident: uuid.NullUUID{UUID: inv.Resident, Valid: true},
		Invite: uuid.NullUUID{UUID: inv.ID, Valid: true}}, sd)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"ceremony": id, "options": creation})
}

// inviteText takes the code out of what was typed or scanned: the invite link itself
// (<app origin>/i/<code>, what the invite QR holds: the mini-program scans it with
// wx.scanCode), or a code as it is.
func inviteText(typed string) string {
	typed = strings.TrimSpace(typed)
	if i := strings.LastIndex(typed, "/i/"); i >= 0 {
		typed, _, _ = strings.Cut(typed[i+len("/i/"):], "?")
		typed, _, _ = strings.Cut(typed, "#")
	}
	return typed
}

// findInvite reads an invite code as linked or typed: the long code of the link and its
// QR code, or the short code of the printed slip.
func (a *API) findInvite(ctx context.Context, typed string) (store.PendingInvite, error) {
	typed = inviteText(typed)
	if strings.HasPrefix(typed, secret.KindInvite+"_") {
		community, h, err := secret.Parse(secret.KindInvite, typed)
		if err != nil {
			return store.PendingInvite{}, store.ErrInviteUnusable
		}
		return a.db.InviteByCode(ctx, community, h)
	}
	normal, bucket, err := secret.ParseShort(typed)
	if err != nil {
		return store.PendingInvite{}, store.ErrInviteUnusable
	}
	return a.db.InviteByShortCode(ctx, normal, bucket)
}

// inviteLimitKey is the rate limiter's key for the invite code in a redeem request: the
// same code however it is typed, hashed so the limiter's memory holds no code.
func inviteLimitKey(body []byte) string {
	var in struct {
		Code string `json:"invite_code"`
	}
	_ = json.Unmarshal(body, &in) // a body that does not parse is refused by the handler
	code := inviteText(in.Code)
	if normal, _, err := secret.ParseShort(code); err == nil {
		code = normal
	}
	h := sha256.Sum256([]byte(code))
	return "redeem-code:" + hex.EncodeToString(h[:12])
}

func (a *API) redeemFinish(c *fiber.Ctx, _ *store.Session) error {
	in, cer, sd, err := a.takeCeremony(c, store.PurposeRegister)
	if err != nil {
		return err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(in.Credential)
	if err != nil {
		return passkey.Error(err)
	}
	if err := userVerifiedAt(parsed.Response.AttestationObject.AuthData.Flags); err != nil {
		return err
	}
	r := &resident{community: cer.Community, id: cer.Resident.UUID}
	cred, err := a.wa.CreateCredential(r, sd, parsed)
	if err != nil {
		return passkey.Error(err)
	}
	pk := newPasskey(cred, in.Name)
	var token string
	err = a.db.InTx(c.UserContext(), "resident:"+r.id.String(), func(tx *store.Tx) error {
		if err := tx.RedeemInvite(c.UserContext(), r.community, cer.Invite.UUID, pk); err != nil {
			return err
		}
		token, err = tx.NewSession(c.UserContext(), r.community, pk.Resident, pk.ID, true)
		return err
	})
	if err != nil {
		return err
	}
	out := a.setSession(c, token, in.Session)
	out["resident_id"], out["passkey_id"] = pk.Resident, pk.ID
	return c.Status(http.StatusCreated).JSON(out)
}

func (a *API) signInBegin(c *fiber.Ctx, _ *store.Session) error {
	// User verification is required (the library then refuses an assertion without it,
	// and finish checks the flag first with a clear answer): a session can export all of
	// a resident's data, so a phone that is merely unlocked, or a security key anyone
	// can touch, must not open one.
	assertion, sd, err := a.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return fmt.Errorf("begin sign-in: %w", err)
	}
	id, err := a.newCeremony(c.UserContext(), store.Ceremony{Purpose: store.PurposeSignIn}, sd)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"ceremony": id, "options": assertion})
}

// Answers to assertions that are refused although their signature is good.
var (
	errNotVerified = httpx.Errorf(http.StatusForbidden, "user_not_verified",
		"this passkey did not verify you (PIN, fingerprint or face), and that is needed here: a session can reach all your data")
	errClone = httpx.Errorf(http.StatusForbidden, "passkey_counter_regressed",
		"this passkey's signature counter went backwards, so a copy of it may exist: it is now suspended and will not sign in again. "+
			"Sign in with another passkey of yours and remove this one (Security), or ask the property office for a new invite")
	errSuspended = httpx.Errorf(http.StatusForbidden, "passkey_suspended",
		"this passkey was suspended because a copy of it may exist, and it will not sign in again. "+
			"Sign in with another passkey of yours and remove this one (Security), or ask the property office for a new invite")
)

// userVerified refuses an assertion whose authenticator did not verify the user, before
// anything else is looked at (the library would refuse it too, less clearly).
func userVerified(parsed *protocol.ParsedCredentialAssertionData) error {
	return userVerifiedAt(parsed.Response.AuthenticatorData.Flags)
}

// userVerifiedAt refuses authenticator data without the UV flag (assertions and
// registrations alike).
func userVerifiedAt(f protocol.AuthenticatorFlags) error {
	if !f.UserVerified() {
		return errNotVerified
	}
	return nil
}

// checkAssertion applies the rules every assertion with a good signature must still
// pass, in the store under the passkey's row lock (store.UsePasskey): not suspended, and
// a counter that moved forward. A regression suspends the passkey, ends its sessions and
// revokes the devices it authorised (committed before the refusal is answered).
func (a *API) checkAssertion(ctx context.Context, r *resident, cred *webauthn.Credential, parsed *protocol.ParsedCredentialAssertionData) (store.Passkey, error) {
	if _, ok := r.passkey(cred.ID); !ok {
		return store.Passkey{}, access.ErrUnauthorized
	}
	presented := parsed.Response.AuthenticatorData.Counter
	used, err := a.db.UsePasskey(ctx, store.PasskeyUse{Community: r.community, Resident: r.id, CredentialID: cred.ID, Count: presented,
		BackupState: cred.Flags.BackupState, UserVerified: parsed.Response.AuthenticatorData.Flags.UserVerified()})
	switch {
	case errors.Is(err, access.ErrCounterRegressed):
		a.log.Warn("passkey counter went backwards: passkey suspended", "community", r.community, "resident", r.id, "passkey", used.ID,
			"stored", used.SignCount, "presented", presented)
		return used, errClone
	case errors.Is(err, access.ErrPasskeySuspended):
		a.log.Warn("suspended passkey refused", "community", r.community, "resident", r.id, "passkey", used.ID, "presented", presented)
		return used, errSuspended
	}
	return used, err
}

func (a *API) signInFinish(c *fiber.Ctx, _ *store.Session) error {
	in, _, sd, err := a.takeCeremony(c, store.PurposeSignIn)
	if err != nil {
		return err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(in.Credential)
	if err != nil {
		return passkey.Error(err)
	}
	if err := userVerified(parsed); err != nil {
		return err
	}
	var who *resident
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		community, id, err := access.ParseUserHandle(userHandle)
		if err != nil {
			return nil, err
		}
		if who, err = a.loadResident(c.UserContext(), community, id); err != nil {
			return nil, err
		}
		return who, nil
	}
	_, cred, err := a.wa.ValidatePasskeyLogin(handler, sd, parsed)
	if err != nil {
		if !who.knows(parsed.RawID) {
			// Unknown user handle, a resident who left, a removed passkey: one answer.
			return httpx.Errorf(http.StatusUnauthorized, "unknown_passkey", "this passkey is not registered here")
		}
		return passkey.Error(err)
	}
	pk, err := a.checkAssertion(c.UserContext(), who, cred, parsed)
	if err != nil {
		return err
	}
	token, err := a.db.NewSession(c.UserContext(), who.community, who.id, pk.ID, true)
	if err != nil {
		return err
	}
	out := a.setSession(c, token, in.Session)
	out["resident_id"], out["passkey_id"], out["user_verified"] = who.id, pk.ID, true
	return c.JSON(out)
}

func (a *API) signOut(c *fiber.Ctx, s *store.Session) error {
	if err := a.db.EndSession(c.UserContext(), *s); err != nil {
		return err
	}
	a.clearSession(c)
	return c.JSON(fiber.Map{"signed_out": 1})
}

func (a *API) signOutEverywhere(c *fiber.Ctx, s *store.Session) error {
	n, err := a.db.EndAllSessions(c.UserContext(), s.Community, s.Resident)
	if err != nil {
		return err
	}
	a.clearSession(c)
	return c.JSON(fiber.Map{"signed_out": n})
}

// stepUpBegin starts a user-verified assertion with one of the resident's own passkeys.
func (a *API) stepUpBegin(c *fiber.Ctx, s *store.Session) error {
	r, err := a.loadResident(c.UserContext(), s.Community, s.Resident)
	if err != nil {
		return err
	}
	// Only passkeys that still sign in are offered.
	allow := make([]protocol.CredentialDescriptor, 0, len(r.passkeys))
	for _, c := range r.WebAuthnCredentials() {
		if p, _ := r.passkey(c.ID); p.SuspendedAt == nil {
			allow = append(allow, c.Descriptor())
		}
	}
	if len(allow) == 0 {
		return errSuspended
	}
	assertion, sd, err := a.wa.BeginLogin(r, webauthn.WithUserVerification(protocol.VerificationRequired), webauthn.WithAllowedCredentials(allow))
	if err != nil {
		return fmt.Errorf("begin step-up: %w", err)
	}
	id, err := a.newCeremony(c.UserContext(), store.Ceremony{Purpose: store.PurposeStepUp,
		Community: s.Community, Resident: uuid.NullUUID{UUID: s.Resident, Valid: true}}, sd)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"ceremony": id, "options": assertion})
}

// ownCeremony refuses a ceremony begun by another resident: it is as if it did not exist.
func ownCeremony(cer store.Ceremony, s *store.Session) error {
	if cer.Community != s.Community || cer.Resident.UUID != s.Resident {
		return store.ErrCeremonyGone
	}
	return nil
}

func (a *API) stepUpFinish(c *fiber.Ctx, s *store.Session) error {
	in, cer, sd, err := a.takeCeremony(c, store.PurposeStepUp)
	if err != nil {
		return err
	}
	if err := ownCeremony(cer, s); err != nil {
		return err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(in.Credential)
	if err != nil {
		return passkey.Error(err)
	}
	if err := userVerified(parsed); err != nil {
		return err
	}
	r, err := a.loadResident(c.UserContext(), s.Community, s.Resident)
	if err != nil {
		return err
	}
	cred, err := a.wa.ValidateLogin(r, sd, parsed)
	if err != nil {
		return passkey.Error(err)
	}
	pk, err := a.checkAssertion(c.UserContext(), r, cred, parsed)
	if err != nil {
		return err
	}
	if err := a.db.MarkVerified(c.UserContext(), *s, pk.ID); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"verified": true, "passkey_id": pk.ID, "valid_for_seconds": int(access.StepUpWindow.Seconds())})
}

func (a *API) listPasskeys(c *fiber.Ctx, s *store.Session) error {
	out, err := a.db.Passkeys(c.UserContext(), s.Community, s.Resident)
	if err != nil {
		return err
	}
	type view struct {
		store.Passkey
		Current bool `json:"current"`
	}
	list := make([]view, len(out))
	for i, p := range out {
		list[i] = view{Passkey: p, Current: p.ID == s.Passkey}
	}
	return c.JSON(fiber.Map{"passkeys": list})
}

func (a *API) addPasskeyBegin(c *fiber.Ctx, s *store.Session) error {
	r, err := a.loadResident(c.UserContext(), s.Community, s.Resident)
	if err != nil {
		return err
	}
	creation, sd, err := a.wa.BeginRegistration(r, passkey.RegistrationOptions(r)...)
	if err != nil {
		return fmt.Errorf("begin registration: %w", err)
	}
	id, err := a.newCeremony(c.UserContext(), store.Ceremony{Purpose: store.PurposeAddPasskey,
		Community: s.Community, Resident: uuid.NullUUID{UUID: s.Resident, Valid: true}}, sd)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"ceremony": id, "options": creation})
}

func (a *API) addPasskeyFinish(c *fiber.Ctx, s *store.Session) error {
	in, cer, sd, err := a.takeCeremony(c, store.PurposeAddPasskey)
	if err != nil {
		return err
	}
	if err := ownCeremony(cer, s); err != nil {
		return err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(in.Credential)
	if err != nil {
		return passkey.Error(err)
	}
	if err := userVerifiedAt(parsed.Response.AttestationObject.AuthData.Flags); err != nil {
		return err
	}
	r, err := a.loadResident(c.UserContext(), s.Community, s.Resident)
	if err != nil {
		return err
	}
	cred, err := a.wa.CreateCredential(r, sd, parsed)
	if err != nil {
		return passkey.Error(err)
	}
	pk := newPasskey(cred, in.Name)
	pk.Community, pk.Resident = s.Community, s.Resident
	if err := a.db.InTx(c.UserContext(), "resident:"+s.Resident.String(), func(tx *store.Tx) error {
		return tx.AddPasskey(c.UserContext(), pk)
	}); err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(pk)
}

func (a *API) removePasskey(c *fiber.Ctx, s *store.Session) error {
	id, err := httpx.PathUUID(c, "passkey")
	if err != nil {
		return err
	}
	var out store.RemovePasskeyResult
	err = a.db.InTx(c.UserContext(), "resident:"+s.Resident.String(), func(tx *store.Tx) (err error) {
		out, err = tx.RemovePasskey(c.UserContext(), s.Community, s.Resident, id)
		return err
	})
	if err != nil {
		return err
	}
	return c.JSON(out)
}
