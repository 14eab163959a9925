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
	// SuspendedAt is set when the passkey was suspended (SuspendReason says why, e.g.
	// access.SuspendCounterRegressed): it never signs in again, and the resident sees it
	// in their list until they remove it.
	SuspendedAt   *time.Time `db:"suspended_at" json:"suspended_at,omitempty"`
	SuspendReason *string    `db:"suspend_reason" json:"suspend_reason,omitempty"`
}

const passkeyColumns = `community_id, id, resident_id, credential_id, public_key, attestation_type, aaguid,
	sign_count, transports, backup_eligible, backup_state, user_verified, name, created_at, last_used_at, suspended_at, suspend_reason`

const passkeySelect = `SELECT ` + passkeyColumns + ` FROM passkeys`

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

// PasskeyUse is an assertion whose signature was checked, as the store records it.
type PasskeyUse struct {
	Community    uuid.UUID
	Resident     uuid.UUID // whose passkey the assertion claims to be (the actor audited)
	CredentialID []byte
	Count        uint32 // the signature counter the authenticator presented
	BackupState  bool
	UserVerified bool
}

// UsePasskey records an assertion of a passkey whose signature was checked. The counter
// rule (access.PasskeyUse.Check) is applied here, holding the passkey's row, to the
// stored counter: not to the copy the ceremony read earlier, so two assertions racing
// with one counter value (a key and its clone) cannot both pass.
//
// On a counter regression the passkey is suspended in a transaction that commits (with
// SuspendPasskey's effects) and the error is access.ErrCounterRegressed; a suspended
// passkey is access.ErrPasskeySuspended and changes nothing; a passkey removed meanwhile
// is access.ErrUnauthorized. It returns the passkey as stored.
func (db *DB) UsePasskey(ctx context.Context, u PasskeyUse) (Passkey, error) {
	var p Passkey
	var refused error
	err := db.InTx(ctx, "resident:"+u.Resident.String(), func(tx *Tx) error {
		err := tx.x.GetContext(ctx, &p, passkeySelect+` WHERE community_id = $1 AND credential_id = $2 AND resident_id = $3 FOR UPDATE`,
			u.Community, u.CredentialID, u.Resident)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("passkey removed: %w", access.ErrUnauthorized)
		}
		if err != nil {
			return fmt.Errorf("use passkey: %w", err)
		}
		refused = access.PasskeyUse{Suspended: p.SuspendedAt != nil, Stored: uint32(p.SignCount), Presented: u.Count}.Check()
		switch {
		case errors.Is(refused, access.ErrCounterRegressed):
			return tx.suspendPasskey(ctx, p, access.SuspendCounterRegressed, map[string]any{"stored_count": p.SignCount, "presented_count": u.Count})
		case refused != nil:
			return nil
		}
		err = tx.x.GetContext(ctx, &p, `UPDATE passkeys SET sign_count = $3, backup_state = $4,
			user_verified = user_verified OR $5, last_used_at = now()
			WHERE community_id = $1 AND id = $2 RETURNING `+passkeyColumns, p.Community, p.ID, int64(u.Count), u.BackupState, u.UserVerified)
		if err != nil {
			return fmt.Errorf("use passkey: %w", err)
		}
		return nil
	})
	if err != nil {
		return p, err
	}
	return p, refused
}

// suspendPasskey marks a passkey suspended and withdraws what it authorised (cutPasskey),
// audited with why. The caller holds the row.
func (tx *Tx) suspendPasskey(ctx context.Context, p Passkey, reason string, detail map[string]any) error {
	if _, err := tx.x.ExecContext(ctx, `UPDATE passkeys SET suspended_at = now(), suspend_reason = $3
		WHERE community_id = $1 AND id = $2 AND suspended_at IS NULL`, p.Community, p.ID, reason); err != nil {
		return fmt.Errorf("suspend passkey: %w", err)
	}
	res, err := tx.cutPasskey(ctx, p.Community, p.Resident, p.ID, "passkey_suspended")
	if err != nil {
		return err
	}
	detail["passkey_id"], detail["reason"] = p.ID, reason
	detail["devices_revoked"], detail["sessions_ended"] = res.Devices, res.Sessions
	return tx.Audit(ctx, p.Community, "passkey.suspend", "resident:"+p.Resident.String(), detail)
}

// RemovePasskeyResult says what removing a passkey ended.
type RemovePasskeyResult struct {
	Devices  int `json:"devices_revoked"`
	Sessions int `json:"sessions_ended"`
}

// RemovePasskey deletes one of a resident's passkeys and withdraws what it authorised
// (cutPasskey). The last passkey that can sign in cannot be removed
// (access.MayRemovePasskey): the resident would be locked out until staff re-invite
// them; a suspended one always can.
func (tx *Tx) RemovePasskey(ctx context.Context, c, resident, passkey uuid.UUID) (RemovePasskeyResult, error) {
	var res RemovePasskeyResult
	var keys []struct {
		ID        uuid.UUID `db:"id"`
		Suspended bool      `db:"suspended"`
	}
	// Lock the resident's passkeys so two removals cannot both pass the last-one check.
	if err := tx.x.SelectContext(ctx, &keys, `SELECT id, suspended_at IS NOT NULL AS suspended FROM passkeys
		WHERE community_id = $1 AND resident_id = $2 FOR UPDATE`, c, resident); err != nil {
		return res, fmt.Errorf("remove passkey: %w", err)
	}
	found, suspended, usable := false, false, 0
	for _, k := range keys {
		if k.ID == passkey {
			found, suspended = true, k.Suspended
		}
		if !k.Suspended {
			usable++
		}
	}
	if !found {
		return res, fmt.Errorf("passkey %s: %w", passkey, access.ErrNotFound)
	}
	if err := access.MayRemovePasskey(suspended, usable); err != nil {
		return res, err
	}
	res, err := tx.cutPasskey(ctx, c, resident, passkey, "passkey_removed")
	if err != nil {
		return res, err
	}
	if _, err := tx.x.ExecContext(ctx, `DELETE FROM passkeys WHERE community_id = $1 AND id = $2`, c, passkey); err != nil {
		return res, fmt.Errorf("remove passkey: %w", err)
	}
	return res, tx.Audit(ctx, c, "passkey.remove", "resident:"+resident.String(),
		map[string]any{"passkey_id": passkey, "devices_revoked": res.Devices, "sessions_ended": res.Sessions})
}

// cutPasskey withdraws what a passkey authorised: the device credentials certified under
// its step-up (gates are told) and the sessions it opened or verified.
func (tx *Tx) cutPasskey(ctx context.Context, c, resident, passkey uuid.UUID, reason string) (RemovePasskeyResult, error) {
	var res RemovePasskeyResult
	var err error
	if res.Devices, err = tx.revokeCredentials(ctx, c, reason, `c.passkey_id = $3 AND c.kind = 'device'`, passkey); err != nil {
		return res, err
	}
	r, err := tx.x.ExecContext(ctx, `UPDATE sessions SET revoked_at = now() WHERE community_id = $1 AND resident_id = $2
		AND revoked_at IS NULL AND (passkey_id = $3 OR verified_passkey_id = $3)`, c, resident, passkey)
	if err != nil {
		return res, fmt.Errorf("end passkey's sessions: %w", err)
	}
	n, _ := r.RowsAffected()
	res.Sessions = int(n)
	return res, nil
}
