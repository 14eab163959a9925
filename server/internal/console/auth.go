package console

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
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
	"gatepass/internal/store"
)

// member is a staff member as the WebAuthn library sees them. The user handle is the
// member's id (16 bytes); residents' handles are longer (community and id), and the
// console has its own relying party anyway.
type member struct {
	id       uuid.UUID
	name     string
	passkeys []store.StaffPasskey
}

func (m *member) WebAuthnID() []byte          { return m.id[:] }
func (m *member) WebAuthnName() string        { return m.name }
func (m *member) WebAuthnDisplayName() string { return m.name }
func (m *member) WebAuthnCredentials() []webauthn.Credential {
	out := make([]webauthn.Credential, len(m.passkeys))
	for i, p := range m.passkeys {
		out[i] = passkey.Stored{CredentialID: p.CredentialID, PublicKey: p.PublicKey, AttestationType: p.AttestationType,
			AAGUID: p.AAGUID, SignCount: p.SignCount, Transports: p.Transports, UserVerified: true,
			BackupEligible: p.BackupEligible, BackupState: p.BackupState}.Credential()
	}
	return out
}

// errNotVerified refuses a passkey that did not verify its holder: a console session
// can read residents' data and open gates.
var errNotVerified = httpx.Errorf(http.StatusForbidden, "user_not_verified",
	"this passkey did not verify you (PIN, fingerprint or face), and the console needs that")

// ceremonyID makes the id the browser sends back with the finish step and stores the
// ceremony under its hash.
func (k *Console) newCeremony(c *fiber.Ctx, cer store.StaffCeremony, sd *webauthn.SessionData) (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("ceremony id: %w", err)
	}
	id := base64.RawURLEncoding.EncodeToString(raw)
	state, err := json.Marshal(sd)
	if err != nil {
		return "", fmt.Errorf("ceremony state: %w", err)
	}
	cer.Session = state
	return id, k.db.SaveStaffCeremony(c.UserContext(), sha256.Sum256([]byte(id)), cer)
}

// takeCeremony decodes a finish body and consumes its ceremony: whatever happens next,
// the challenge has been used.
func (k *Console) takeCeremony(c *fiber.Ctx, purpose string) (passkey.Finish, store.StaffCeremony, webauthn.SessionData, error) {
	var sd webauthn.SessionData
	in, id, err := passkey.DecodeFinish(c, nil)
	if err != nil {
		return in, store.StaffCeremony{}, sd, err
	}
	cer, err := k.db.TakeStaffCeremony(c.UserContext(), sha256.Sum256([]byte(id)), purpose)
	if err != nil {
		return in, cer, sd, err
	}
	if err := json.Unmarshal(cer.Session, &sd); err != nil {
		return in, cer, sd, fmt.Errorf("ceremony state: %w", err)
	}
	return in, cer, sd, nil
}

// inviteBegin starts registering a passkey with a staff invite code.
func (k *Console) inviteBegin(c *fiber.Ctx) error {
	var in struct {
		Code *string `json:"invite_code"`
	}
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	if in.Code == nil || strings.TrimSpace(*in.Code) == "" {
		return access.Invalid("invite_code", "is required")
	}
	inv, err := k.db.StaffInviteByCode(c.UserContext(), strings.TrimSpace(*in.Code))
	if err != nil {
		return err
	}
	pks, err := k.db.StaffPasskeys(c.UserContext(), inv.Staff)
	if err != nil {
		return err
	}
	m := &member{id: inv.Staff, name: inv.Name, passkeys: pks}
	creation, sd, err := k.wa.BeginRegistration(m, passkey.RegistrationOptions(m)...)
	if err != nil {
		return fmt.Errorf("begin registration: %w", err)
	}
	id, err := k.newCeremony(c, store.StaffCeremony{Purpose: "register",
		Invite: uuid.NullUUID{UUID: inv.ID, Valid: true}, Staff: uuid.NullUUID{UUID: inv.Staff, Valid: true}}, sd)
	if err != nil {
		return err
	}
	httpx.NoStore(c)
	return c.JSON(fiber.Map{"ceremony": id, "options": creation, "name": inv.Name, "role": inv.Role})
}

// inviteFinish stores the passkey, uses the invite up and signs the member in.
func (k *Console) inviteFinish(c *fiber.Ctx) error {
	in, cer, sd, err := k.takeCeremony(c, "register")
	if err != nil {
		return err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(in.Credential)
	if err != nil {
		return passkey.Error(err)
	}
	if !parsed.Response.AttestationObject.AuthData.Flags.UserVerified() {
		return errNotVerified
	}
	cred, err := k.wa.CreateCredential(&member{id: cer.Staff.UUID}, sd, parsed)
	if err != nil {
		return passkey.Error(err)
	}
	st := passkey.FromCredential(cred)
	pk := &store.StaffPasskey{CredentialID: st.CredentialID, PublicKey: st.PublicKey, AttestationType: st.AttestationType,
		AAGUID: st.AAGUID, SignCount: st.SignCount, Transports: st.Transports, BackupEligible: st.BackupEligible, BackupState: st.BackupState}
	if in.Name != nil {
		pk.Name = *in.Name
	}
	var sess store.NewStaffSession
	err = k.db.InTx(c.UserContext(), "staff:"+cer.Staff.UUID.String(), func(tx *store.Tx) (err error) {
		if err := tx.RedeemStaffInvite(c.UserContext(), cer.Invite.UUID, pk); err != nil {
			return err
		}
		sess, err = tx.OpenStaffSession(c.UserContext(), pk.Staff, pk.ID)
		return err
	})
	if err != nil {
		return err
	}
	k.setSession(c, sess)
	return c.Status(http.StatusCreated).JSON(fiber.Map{"staff_id": pk.Staff, "passkey_id": pk.ID, "expires_at": sess.ExpiresAt})
}

func (k *Console) signInBegin(c *fiber.Ctx) error {
	assertion, sd, err := k.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return fmt.Errorf("begin sign-in: %w", err)
	}
	id, err := k.newCeremony(c, store.StaffCeremony{Purpose: "signin"}, sd)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"ceremony": id, "options": assertion})
}

var errUnknownPasskey = httpx.Errorf(http.StatusUnauthorized, "unknown_passkey",
	"this passkey is not registered for the console, or its member is disabled")

func (k *Console) signInFinish(c *fiber.Ctx) error {
	in, _, sd, err := k.takeCeremony(c, "signin")
	if err != nil {
		return err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(in.Credential)
	if err != nil {
		return passkey.Error(err)
	}
	if !parsed.Response.AuthenticatorData.Flags.UserVerified() {
		return errNotVerified
	}
	var who *member
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		id, err := uuid.FromBytes(userHandle)
		if err != nil {
			return nil, errUnknownPasskey
		}
		m, err := k.db.StaffMember(c.UserContext(), id)
		if err != nil || m.DisabledAt != nil {
			return nil, errUnknownPasskey
		}
		pks, err := k.db.StaffPasskeys(c.UserContext(), id)
		if err != nil {
			return nil, err
		}
		who = &member{id: id, name: m.Name, passkeys: pks}
		return who, nil
	}
	_, cred, err := k.wa.ValidatePasskeyLogin(handler, sd, parsed)
	if err != nil || who == nil {
		return errUnknownPasskey
	}
	pk, err := k.db.UseStaffPasskey(c.UserContext(), who.id, cred.ID, parsed.Response.AuthenticatorData.Counter)
	if err != nil {
		k.log.Warn("console passkey refused after a good signature (counter went backwards?)", "staff", who.id)
		return errUnknownPasskey
	}
	var sess store.NewStaffSession
	err = k.db.InTx(c.UserContext(), "staff:"+who.id.String(), func(tx *store.Tx) (err error) {
		sess, err = tx.OpenStaffSession(c.UserContext(), who.id, pk.ID)
		return err
	})
	if err != nil {
		return err
	}
	k.setSession(c, sess)
	return c.JSON(fiber.Map{"staff_id": who.id, "passkey_id": pk.ID, "expires_at": sess.ExpiresAt})
}

// session is who is signed in, their communities and the one selected: what the
// console draws its navigation from.
func (k *Console) session(c *fiber.Ctx) error {
	st, sess, err := k.signedIn(c)
	if err != nil {
		return err
	}
	communities, err := k.db.Communities(c.UserContext(), st)
	if err != nil {
		return err
	}
	selected := st.Community
	if st.IsOperator() {
		selected = sess.SelectedCommunity.UUID
	}
	out := fiber.Map{"staff_id": st.ID, "name": st.Name, "role": st.Role, "operator": st.IsOperator(),
		"communities": communities, "expires_at": st.TokenExpires, "idle_timeout_seconds": int(store.StaffIdleTimeout.Seconds())}
	if selected != uuid.Nil {
		out["community_id"] = selected
	}
	// What the member may do where they work, so the console shows only that; the API
	// decides again on every call.
	out["may"] = st.Allowed(selected)
	httpx.NoStore(c)
	return c.JSON(out)
}

func (k *Console) signOut(c *fiber.Ctx) error { return k.end(c, false) }

func (k *Console) signOutEverywhere(c *fiber.Ctx) error { return k.end(c, true) }

func (k *Console) end(c *fiber.Ctx, everywhere bool) error {
	st, _, err := k.signedIn(c)
	if err != nil {
		return err
	}
	one := st.Token
	if everywhere {
		one = uuid.Nil
	}
	var n int
	err = k.db.InTx(c.UserContext(), "staff:"+st.ID.String(), func(tx *store.Tx) (err error) {
		n, err = tx.EndStaffSessions(c.UserContext(), st.ID, one)
		return err
	})
	if err != nil {
		return err
	}
	k.clearSession(c)
	return c.JSON(fiber.Map{"signed_out": n})
}

// selectCommunity sets the community an operator works in. Staff of one community have
// only theirs; a community the member does not see does not exist for them.
func (k *Console) selectCommunity(c *fiber.Ctx) error {
	st, _, err := k.signedIn(c)
	if err != nil {
		return err
	}
	var in struct {
		Community *string `json:"community_id"`
	}
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	var v httpx.Checker
	id := v.UUID("community_id", in.Community)
	if err := v.Err(); err != nil {
		return err
	}
	if err := st.Authorize(access.ActReadCommunity, id); err != nil {
		return err
	}
	if _, err := k.db.Community(c.UserContext(), id); err != nil {
		return err
	}
	if err := k.db.SelectCommunity(c.UserContext(), st.Token, id); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"community_id": id})
}
