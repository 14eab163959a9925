package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"gatepass/internal/access"
	"gatepass/internal/secret"
	"time"

	"github.com/google/uuid"
)

// CeremonyTTL is how long a WebAuthn challenge may be answered.
const CeremonyTTL = 5 * time.Minute

// Ceremony purposes.
const (
	PurposeRegister   = "register"    // redeem an invite and create the first passkey
	PurposeSignIn     = "signin"      // discoverable sign-in: nobody known yet
	PurposeAddPasskey = "add_passkey" // a signed-in resident adds a passkey
	PurposeStepUp     = "step_up"     // a signed-in resident re-verifies for a sensitive action
)

// ErrCeremonyGone is returned for a ceremony that never existed, expired or was used.
var ErrCeremonyGone = fmt.Errorf("ceremony expired or already used: %w", access.ErrInvalid)

// Ceremony is the server-side state of one WebAuthn ceremony. Community is uuid.Nil
// for a sign-in, which begins before anyone is known.
type Ceremony struct {
	Purpose   string        `db:"purpose"`
	Community uuid.UUID     `db:"community_id"`
	Resident  uuid.NullUUID `db:"resident_id"`
	Invite    uuid.NullUUID `db:"invite_id"`
	// Session is webauthn.SessionData as JSON.
	Session []byte `db:"session"`
}

// SaveCeremony stores a ceremony under the hash of its id for CeremonyTTL.
func (db *DB) SaveCeremony(ctx context.Context, idHash secret.Hash, c Ceremony) error {
	_, err := db.x.ExecContext(ctx, `INSERT INTO webauthn_ceremonies (id_hash, purpose, community_id, resident_id, invite_id, session, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, now() + $7::interval)`,
		idHash[:], c.Purpose, c.Community, c.Resident, c.Invite, string(c.Session), fmt.Sprintf("%d seconds", int(CeremonyTTL.Seconds())))
	if err != nil {
		return fmt.Errorf("save ceremony: %w", err)
	}
	return nil
}

// TakeCeremony removes and returns a live ceremony of community c (uuid.Nil for a
// sign-in) and the given purpose: a challenge answers once. A ceremony of another purpose
// is not consumed.
func (db *DB) TakeCeremony(ctx context.Context, c uuid.UUID, idHash secret.Hash, purpose string) (Ceremony, error) {
	var out Ceremony
	// session comes back as its JSON text, which scans into []byte as it is; no function
	// in RETURNING (Citus takes only immutable ones there, and convert_to is not).
	err := db.x.GetContext(ctx, &out, `DELETE FROM webauthn_ceremonies WHERE community_id = $1 AND id_hash = $2 AND purpose = $3 AND expires_at > now()
		RETURNING purpose, community_id, resident_id, invite_id, session`, c, idHash[:], purpose)
	if errors.Is(err, sql.ErrNoRows) {
		return out, ErrCeremonyGone
	}
	if err != nil {
		return out, fmt.Errorf("take ceremony: %w", err)
	}
	return out, nil
}

// PurgeCeremonies deletes expired ceremonies.
func (db *DB) PurgeCeremonies(ctx context.Context) (int64, error) {
	r, err := db.x.ExecContext(ctx, `DELETE FROM webauthn_ceremonies WHERE expires_at <= now()`)
	if err != nil {
		return 0, fmt.Errorf("purge ceremonies: %w", err)
	}
	return r.RowsAffected()
}
