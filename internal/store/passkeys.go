package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"gatepass/internal/access"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
)

// Passkey is a resident's WebAuthn credential.
type Passkey struct {
	Community       uuid.UUID      `db:"community_id" json:"-"`
	ID              uuid.UUID      `db:"id" json:"id"`
	Resident        uuid.UUID      `db:"resident_id" json:"-"`
	CredentialID    []byte         `db:"credential_id" json:"-"`
	PublicKey       []byte         `db:"public_key" json:"-"`
	AttestationType string         `db:"attestation_type" json:"-"`
	AAGUID          []byte         `db:"aaguid" json:"-"`
	SignCount       int64          `db:"sign_count" json:"-"`
	Transports      pq.StringArray `db:"transports" json:"transports"`
	BackupEligible  bool           `db:"backup_eligible" json:"backup_eligible"`
	BackupState     bool           `db:"backup_state" json:"backup_state"`
	UserVerified    bool           `db:"user_verified" json:"user_verified"`
	Name            string         `db:"name" json:"name"`
	CreatedAt       time.Time      `db:"created_at" json:"created_at"`
	LastUsedAt      *time.Time     `db:"last_used_at" json:"last_used_at,omitempty"`
}

const passkeySelect = `SELECT community_id, id, resident_id, credential_id, public_key, attestation_type, aaguid,
	sign_count, transports, backup_eligible, backup_state, user_verified, name, created_at, last_used_at FROM passkeys`

func (tx *Tx) insertPasskey(ctx context.Context, p *Passkey) error {
	p.ID = newID()
	if p.Transports == nil {
		p.Transports = pq.StringArray{}
	}
	err := tx.x.GetContext(ctx, &p.CreatedAt, `INSERT INTO passkeys (community_id, id, resident_id, credential_id, public_key, attestation_type,
		aaguid, sign_count, transports, backup_eligible, backup_state, user_verified, name)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING created_at`,
		p.Community, p.ID, p.Resident, p.CredentialID, p.PublicKey, p.AttestationType, p.AAGUID, p.SignCount,
		p.Transports, p.BackupEligible, p.BackupState, p.UserVerified, p.Name)
	if isUnique(err) {
		return fmt.Errorf("this passkey is registered already: %w", access.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("add passkey: %w", err)
	}
	return nil
}

// AddPasskey registers another passkey for an active resident.
func (tx *Tx) AddPasskey(ctx context.Context, p *Passkey) error {
	if err := tx.activeResident(ctx, p.Community, p.Resident); err != nil {
		return err
	}
	if err := tx.insertPasskey(ctx, p); err != nil {
		return err
	}
	return tx.Audit(ctx, p.Community, "passkey.add", "resident:"+p.Resident.String(), map[string]any{"passkey_id": p.ID})
}

// activeResident refuses to give anything to a resident who left. mobile-api decided the
// same on the session's status, read before this transaction; it is read again here, in
// the transaction that writes, holding the resident's row FOR SHARE until commit: a
// move-out (which updates that row) either committed before, and is seen, or waits for
// this transaction and then revokes what it wrote.
func (tx *Tx) activeResident(ctx context.Context, c, resident uuid.UUID) error {
	var status access.ResidentStatus
	err := tx.x.GetContext(ctx, &status, `SELECT status FROM residents WHERE community_id = $1 AND id = $2 FOR SHARE`, c, resident)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("resident %s: %w", resident, access.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("get resident: %w", err)
	}
	if !status.MayHoldPass() {
		return fmt.Errorf("resident has %s: %w", status, access.ErrForbidden)
	}
	return nil
}

// Passkeys lists a resident's passkeys, oldest first.
func (db *DB) Passkeys(ctx context.Context, c, resident uuid.UUID) ([]Passkey, error) {
	out := []Passkey{}
	if err := db.x.SelectContext(ctx, &out, passkeySelect+` WHERE community_id = $1 AND resident_id = $2 ORDER BY created_at, id`, c, resident); err != nil {
		return nil, fmt.Errorf("list passkeys: %w", err)
	}
	return out, nil
}

// PasskeyOwner finds the resident of a passkey by its WebAuthn credential id.
func (db *DB) PasskeyOwner(ctx context.Context, c uuid.UUID, credentialID []byte) (uuid.UUID, error) {
	var r uuid.UUID
	err := db.x.GetContext(ctx, &r, `SELECT resident_id FROM passkeys WHERE community_id = $1 AND credential_id = $2`, c, credentialID)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("passkey: %w", access.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("find passkey: %w", err)
	}
	return r, nil
}

// PasskeyUse is what an accepted assertion changes on its passkey.
type PasskeyUse struct {
	Community    uuid.UUID
	CredentialID []byte
	OldCount     int64 // the counter the assertion was checked against
	NewCount     int64
	BackupState  bool
	UserVerified bool
}

// ErrCounterRace is returned when another assertion of the same passkey moved its
// counter meanwhile: one of two simultaneous uses of a cloned key.
var ErrCounterRace = fmt.Errorf("passkey counter changed during sign-in: %w", access.ErrConflict)

// UsePasskey records an accepted assertion, compare-and-set on the sign counter so two
// concurrent assertions with the same counter cannot both win. It returns the passkey.
func (db *DB) UsePasskey(ctx context.Context, u PasskeyUse) (Passkey, error) {
	var p Passkey
	err := db.x.GetContext(ctx, &p, `UPDATE passkeys SET sign_count = $4, backup_state = $5,
		user_verified = user_verified OR $6, last_used_at = now()
		WHERE community_id = $1 AND credential_id = $2 AND sign_count = $3
		RETURNING community_id, id, resident_id, credential_id, public_key, attestation_type, aaguid,
		sign_count, transports, backup_eligible, backup_state, user_verified, name, created_at, last_used_at`,
		u.Community, u.CredentialID, u.OldCount, u.NewCount, u.BackupState, u.UserVerified)
	if errors.Is(err, sql.ErrNoRows) {
		return p, ErrCounterRace
	}
	if err != nil {
		return p, fmt.Errorf("use passkey: %w", err)
	}
	return p, nil
}

// RemovePasskeyResult says what removing a passkey ended.
type RemovePasskeyResult struct {
	Devices  int `json:"devices_revoked"`
	Sessions int `json:"sessions_ended"`
}

// RemovePasskey deletes one of a resident's passkeys, revokes the device credentials it
// authorised and ends the sessions it opened or verified. The last passkey cannot be
// removed: the resident would be locked out until staff re-invite them.
func (tx *Tx) RemovePasskey(ctx context.Context, c, resident, passkey uuid.UUID) (RemovePasskeyResult, error) {
	var res RemovePasskeyResult
	var ids []uuid.UUID
	// Lock the resident's passkeys so two removals cannot both pass the last-one check.
	if err := tx.x.SelectContext(ctx, &ids, `SELECT id FROM passkeys WHERE community_id = $1 AND resident_id = $2 FOR UPDATE`, c, resident); err != nil {
		return res, fmt.Errorf("remove passkey: %w", err)
	}
	found := false
	for _, id := range ids {
		found = found || id == passkey
	}
	if !found {
		return res, fmt.Errorf("passkey %s: %w", passkey, access.ErrNotFound)
	}
	if len(ids) == 1 {
		return res, fmt.Errorf("the last passkey cannot be removed: add another first: %w", access.ErrConflict)
	}
	var err error
	if res.Devices, err = tx.revokeCredentials(ctx, c, "passkey_removed", `c.passkey_id = $3 AND c.kind = 'device'`, passkey); err != nil {
		return res, err
	}
	r, err := tx.x.ExecContext(ctx, `UPDATE sessions SET revoked_at = now() WHERE community_id = $1 AND resident_id = $2
		AND revoked_at IS NULL AND (passkey_id = $3 OR verified_passkey_id = $3)`, c, resident, passkey)
	if err != nil {
		return res, fmt.Errorf("remove passkey: %w", err)
	}
	n, _ := r.RowsAffected()
	res.Sessions = int(n)
	if _, err := tx.x.ExecContext(ctx, `DELETE FROM passkeys WHERE community_id = $1 AND id = $2`, c, passkey); err != nil {
		return res, fmt.Errorf("remove passkey: %w", err)
	}
	return res, tx.Audit(ctx, c, "passkey.remove", "resident:"+resident.String(),
		map[string]any{"passkey_id": passkey, "devices_revoked": res.Devices, "sessions_ended": res.Sessions})
}
