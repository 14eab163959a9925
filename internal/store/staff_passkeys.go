package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"gatepass/internal/access"
)

// StaffPasskey is a staff member's WebAuthn credential for the console.
type StaffPasskey struct {
	ID              uuid.UUID      `db:"id" json:"id"`
	Staff           uuid.UUID      `db:"staff_id" json:"staff_id"`
	CredentialID    []byte         `db:"credential_id" json:"-"`
	PublicKey       []byte         `db:"public_key" json:"-"`
	AttestationType string         `db:"attestation_type" json:"-"`
	AAGUID          []byte         `db:"aaguid" json:"-"`
	SignCount       int64          `db:"sign_count" json:"-"`
	Transports      pq.StringArray `db:"transports" json:"transports"`
	BackupEligible  bool           `db:"backup_eligible" json:"backup_eligible"`
	BackupState     bool           `db:"backup_state" json:"backup_state"`
	Name            string         `db:"name" json:"name"`
	CreatedAt       time.Time      `db:"created_at" json:"created_at"`
	LastUsedAt      *time.Time     `db:"last_used_at" json:"last_used_at,omitempty"`
}

const staffPasskeyColumns = `id, staff_id, credential_id, public_key, attestation_type, aaguid, sign_count, transports,
	backup_eligible, backup_state, name, created_at, last_used_at`

func (tx *Tx) insertStaffPasskey(ctx context.Context, p *StaffPasskey) error {
	p.ID = newID()
	if p.Transports == nil {
		p.Transports = pq.StringArray{}
	}
	err := tx.x.GetContext(ctx, &p.CreatedAt, `INSERT INTO staff_passkeys (id, staff_id, credential_id, public_key, attestation_type,
		aaguid, sign_count, transports, backup_eligible, backup_state, name)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING created_at`,
		p.ID, p.Staff, p.CredentialID, p.PublicKey, p.AttestationType, p.AAGUID, p.SignCount, p.Transports,
		p.BackupEligible, p.BackupState, p.Name)
	if isUnique(err) {
		return fmt.Errorf("this passkey is registered already: %w", access.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("add staff passkey: %w", err)
	}
	return nil
}

// StaffPasskeys lists a member's passkeys, oldest first.
func (db *DB) StaffPasskeys(ctx context.Context, staff uuid.UUID) ([]StaffPasskey, error) {
	out := []StaffPasskey{}
	err := db.x.SelectContext(ctx, &out, `SELECT `+staffPasskeyColumns+` FROM staff_passkeys WHERE staff_id = $1 ORDER BY created_at, id`, staff)
	if err != nil {
		return nil, fmt.Errorf("list staff passkeys: %w", err)
	}
	return out, nil
}

// UseStaffPasskey records a good assertion by a member's passkey. The signature counter
// must move forward when the authenticator keeps one (a counter that went back means a
// copy of the key may exist): the update is a compare-and-set, so two assertions racing
// with one counter value cannot both pass.
func (db *DB) UseStaffPasskey(ctx context.Context, staff uuid.UUID, credentialID []byte, count uint32) (StaffPasskey, error) {
	var p StaffPasskey
	err := db.x.GetContext(ctx, &p, `UPDATE staff_passkeys SET sign_count = greatest(sign_count, $3), last_used_at = now()
		WHERE staff_id = $1 AND credential_id = $2 AND ($3 = 0 OR $3 > sign_count)
		RETURNING `+staffPasskeyColumns, staff, credentialID, int64(count))
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("staff passkey unknown, or its counter went backwards: %w", access.ErrUnauthorized)
	}
	if err != nil {
		return p, fmt.Errorf("use staff passkey: %w", err)
	}
	return p, nil
}
