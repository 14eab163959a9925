package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"gatepass/internal/secret"
)

// StaffCeremony is the server-side state of one console WebAuthn ceremony: a passkey
// registration with an invite (Invite and Staff set) or a discoverable sign-in.
type StaffCeremony struct {
	Purpose string        `db:"purpose"`
	Invite  uuid.NullUUID `db:"invite_id"`
	Staff   uuid.NullUUID `db:"staff_id"`
	Session []byte        `db:"session"` // webauthn.SessionData as JSON
}

// SaveStaffCeremony stores a ceremony under the hash of its id for CeremonyTTL.
func (db *DB) SaveStaffCeremony(ctx context.Context, idHash secret.Hash, c StaffCeremony) error {
	_, err := db.x.ExecContext(ctx, `INSERT INTO staff_ceremonies (id_hash, purpose, invite_id, staff_id, session, expires_at)
		VALUES ($1, $2, $3, $4, $5, now() + $6 * interval '1 second')`,
		idHash[:], c.Purpose, c.Invite, c.Staff, string(c.Session), int(CeremonyTTL.Seconds()))
	if err != nil {
		return fmt.Errorf("save staff ceremony: %w", err)
	}
	return nil
}

// TakeStaffCeremony removes and returns a live ceremony of the purpose: a challenge
// answers once. Expired rows are swept on the way.
func (db *DB) TakeStaffCeremony(ctx context.Context, idHash secret.Hash, purpose string) (StaffCeremony, error) {
	var out StaffCeremony
	if _, err := db.x.ExecContext(ctx, `DELETE FROM staff_ceremonies WHERE expires_at <= now()`); err != nil {
		return out, fmt.Errorf("sweep staff ceremonies: %w", err)
	}
	err := db.x.GetContext(ctx, &out, `DELETE FROM staff_ceremonies WHERE id_hash = $1 AND purpose = $2 AND expires_at > now()
		RETURNING purpose, invite_id, staff_id, session`, idHash[:], purpose)
	if errors.Is(err, sql.ErrNoRows) {
		return out, ErrCeremonyGone
	}
	if err != nil {
		return out, fmt.Errorf("take staff ceremony: %w", err)
	}
	return out, nil
}
