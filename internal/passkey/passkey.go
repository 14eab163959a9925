// Package passkey is what the two passkey surfaces share, the residents' (mobile-api)
// and the staff's (server's console): the relying party's settings, a stored passkey as
// the WebAuthn library wants it and back, the body of every ceremony's finish step, and
// how a failed check is answered. Each surface keeps its own ceremonies and rules.
package passkey

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/gofiber/fiber/v2"

	"gatepass/internal/httpx"
)

// New is a relying party whose ceremonies must be answered within ttl.
func New(rpID, displayName string, origins []string, ttl time.Duration) (*webauthn.WebAuthn, error) {
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          rpID,
		RPDisplayName: displayName,
		RPOrigins:     origins,
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: ttl, TimeoutUVD: ttl},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: ttl, TimeoutUVD: ttl},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("webauthn: %w", err)
	}
	return wa, nil
}

// Stored is what is kept of a passkey to check its assertions.
type Stored struct {
	CredentialID    []byte
	PublicKey       []byte
	AttestationType string
	AAGUID          []byte
	SignCount       int64
	Transports      []string
	UserVerified    bool
	BackupEligible  bool
	BackupState     bool
}

// Credential is the stored passkey as the WebAuthn library checks it.
func (s Stored) Credential() webauthn.Credential {
	transports := make([]protocol.AuthenticatorTransport, len(s.Transports))
	for i, t := range s.Transports {
		transports[i] = protocol.AuthenticatorTransport(t)
	}
	return webauthn.Credential{
		ID: s.CredentialID, PublicKey: s.PublicKey, AttestationType: s.AttestationType, Transport: transports,
		Flags:         webauthn.CredentialFlags{UserPresent: true, UserVerified: s.UserVerified, BackupEligible: s.BackupEligible, BackupState: s.BackupState},
		Authenticator: webauthn.Authenticator{AAGUID: s.AAGUID, SignCount: uint32(s.SignCount)},
	}
}

// FromCredential is what to store of a verified registration.
func FromCredential(cred *webauthn.Credential) Stored {
	s := Stored{CredentialID: cred.ID, PublicKey: cred.PublicKey, AttestationType: cred.AttestationType,
		AAGUID: cred.Authenticator.AAGUID, SignCount: int64(cred.Authenticator.SignCount),
		UserVerified: cred.Flags.UserVerified, BackupEligible: cred.Flags.BackupEligible, BackupState: cred.Flags.BackupState,
		Transports: []string{}}
	for _, t := range cred.Transport {
		s.Transports = append(s.Transports, string(t))
	}
	return s
}

// RegistrationOptions are the options of every registration: a discoverable credential
// (sign-in has no user name), user verification (PIN, fingerprint or face: a
// registration opens a session, so possession of an unlocked device must not be
// enough), no attestation, and the user's own passkeys excluded.
func RegistrationOptions(user webauthn.User) []webauthn.RegistrationOption {
	requireRK := true
	own := user.WebAuthnCredentials()
	exclude := make([]protocol.CredentialDescriptor, 0, len(own))
	for _, c := range own {
		exclude = append(exclude, c.Descriptor())
	}
	return []webauthn.RegistrationOption{
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			RequireResidentKey: &requireRK,
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			UserVerification:   protocol.VerificationRequired,
		}),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation),
		webauthn.WithExclusions(exclude),
	}
}

// Finish is what every finish step receives. The credential is kept raw: browsers add
// fields the strict decoder would refuse, and the WebAuthn parser checks it.
type Finish struct {
	Ceremony   *string         `json:"ceremony"`
	Credential json.RawMessage `json:"credential"`
	Name       *string         `json:"name"`    // a name for a new passkey
	Session    *string         `json:"session"` // how the session is handed over, where the surface offers a choice
}

// DecodeFinish reads and checks a finish body: the ceremony id, an optional name of at
// most 100 characters, the session transport among sessions (none: the field is not
// taken), and a credential that is a JSON object. It returns the ceremony id.
func DecodeFinish(c *fiber.Ctx, sessions []string) (Finish, string, error) {
	var in Finish
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return in, "", err
	}
	var k httpx.Checker
	id := k.Text("ceremony", in.Ceremony, 1, 100)
	if in.Name != nil {
		name := k.Text("name", in.Name, 0, 100)
		in.Name = &name
	}
	if in.Session != nil {
		if len(sessions) == 0 {
			return in, "", httpx.FieldErr(http.StatusUnprocessableEntity, "invalid_field", "session", "is not taken here")
		}
		k.OneOf("session", in.Session, sessions)
	}
	if len(in.Credential) == 0 || in.Credential[0] != '{' {
		return in, "", httpx.FieldErr(http.StatusBadRequest, "malformed_credential", "credential", "must be the PublicKeyCredential as JSON")
	}
	return in, id, k.Err()
}

// Error turns a failed ceremony into a 400 that says what failed, without the library's
// debug information.
func Error(err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return httpx.Errorf(http.StatusBadRequest, "webauthn_failed", "passkey check failed: %s", pe.Details)
	}
	return err
}
