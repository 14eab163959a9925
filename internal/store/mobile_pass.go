package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
)

// QRCredential is a resident's QR identity: what the gates revoke when the resident's
// rotating codes must stop working.
type QRCredential struct {
	ID    uuid.UUID
	Zones access.ZoneMask
}

// EnsureQRCredential returns the resident's live QR credential, creating it on first
// use with the resident's zones. A revoked one is not replaced: staff revoked it (or the
// resident left), and minting must stop.
func (db *DB) EnsureQRCredential(ctx context.Context, c, resident uuid.UUID) (QRCredential, error) {
	var out QRCredential
	err := db.InTx(ctx, "resident:"+resident.String(), func(tx *Tx) error {
		if err := tx.activeResident(ctx, c, resident); err != nil {
			return err
		}
		zones, err := residentZones(ctx, tx.x, c)
		if err != nil {
			return err
		}
		// The partial unique index keeps one live QR credential per resident, so a
		// concurrent first pass finds the other request's row.
		if _, err := tx.x.ExecContext(ctx, `INSERT INTO credentials (community_id, id, kind, subject, resident_id, zones)
			SELECT $1, $2, 'qr', 'resident', $3, $4
			WHERE NOT EXISTS (SELECT 1 FROM credentials WHERE community_id = $1 AND resident_id = $3 AND kind = 'qr')
			ON CONFLICT DO NOTHING`, c, newID(), resident, int64(zones)); err != nil {
			return fmt.Errorf("create qr credential: %w", err)
		}
		var row struct {
			ID      uuid.UUID `db:"id"`
			Zones   int64     `db:"zones"`
			Revoked bool      `db:"revoked"`
		}
		err = tx.x.GetContext(ctx, &row, `SELECT id, zones, revoked_at IS NOT NULL AS revoked FROM credentials
			WHERE community_id = $1 AND resident_id = $2 AND kind = 'qr' ORDER BY created_at DESC LIMIT 1`, c, resident)
		if err != nil {
			return fmt.Errorf("qr credential: %w", err)
		}
		if row.Revoked {
			return fmt.Errorf("qr credential is revoked: %w", access.ErrForbidden)
		}
		out = QRCredential{ID: row.ID, Zones: access.ZoneMask(row.Zones)}
		return nil
	})
	return out, err
}

// UpdateQRZones records the zones a resident's QR codes carry now that the community's
// zones changed (codes are minted with the current zones; the row follows).
func (db *DB) UpdateQRZones(ctx context.Context, c, credential uuid.UUID, zones access.ZoneMask) error {
	if _, err := db.x.ExecContext(ctx, `UPDATE credentials SET zones = $3 WHERE community_id = $1 AND id = $2 AND kind = 'qr'`,
		c, credential, int64(zones)); err != nil {
		return fmt.Errorf("update qr zones: %w", err)
	}
	return nil
}

// Device is a phone key certified for offline QR codes (type 0x02).
type Device struct {
	ID        uuid.UUID  `db:"id" json:"id"`
	Passkey   *uuid.UUID `db:"passkey_id" json:"passkey_id,omitempty"`
	Label     string     `db:"label" json:"label"`
	PublicKey []byte     `db:"device_public_key" json:"public_key"`
	Zones     int64      `db:"zones" json:"zones"`
	CreatedAt time.Time  `db:"created_at" json:"created_at"`
	ExpiresAt *time.Time `db:"expires_at" json:"expires_at"`
	RevokedAt *time.Time `db:"revoked_at" json:"revoked_at,omitempty"`
}

// NewDevice is a phone key to certify.
type NewDevice struct {
	Community, Resident, Passkey uuid.UUID
	PublicKey                    []byte // SEC 1 compressed P-256
	Label                        string
	Zones                        access.ZoneMask
	NotBefore, ExpiresAt         time.Time
}

// CreateDevice records a device credential; the caller signs its certificate with the
// returned id in the same transaction, so a failure leaves no row.
func (tx *Tx) CreateDevice(ctx context.Context, d NewDevice) (Device, error) {
	if err := tx.activeResident(ctx, d.Community, d.Resident); err != nil {
		return Device{}, err
	}
	var out Device
	err := tx.x.GetContext(ctx, &out, `INSERT INTO credentials (community_id, id, kind, subject, resident_id, passkey_id, zones, device_public_key, label, created_at, expires_at)
		VALUES ($1, $2, 'device', 'resident', $3, $4, $5, $6, $7, $8, $9)
		RETURNING id, passkey_id, label, device_public_key, zones, created_at, expires_at, revoked_at`,
		d.Community, newID(), d.Resident, d.Passkey, int64(d.Zones), d.PublicKey, d.Label, d.NotBefore, d.ExpiresAt)
	if err != nil {
		return out, fmt.Errorf("create device: %w", err)
	}
	return out, tx.Audit(ctx, d.Community, "device.certify", "resident:"+d.Resident.String(),
		map[string]any{"credential_id": out.ID, "passkey_id": d.Passkey, "expires_at": d.ExpiresAt})
}

// Devices lists a resident's device credentials, newest first.
func (db *DB) Devices(ctx context.Context, c, resident uuid.UUID) ([]Device, error) {
	out := []Device{}
	err := db.x.SelectContext(ctx, &out, `SELECT id, passkey_id, label, device_public_key, zones, created_at, expires_at, revoked_at
		FROM credentials WHERE community_id = $1 AND resident_id = $2 AND kind = 'device' ORDER BY created_at DESC, id`, c, resident)
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	return out, nil
}

// RevokeDevice revokes one of the resident's device credentials; gates learn it through
// sync. Another resident's device is not found.
func (tx *Tx) RevokeDevice(ctx context.Context, c, resident, device uuid.UUID) error {
	return tx.revokeOwned(ctx, c, resident, device, "device", "device_revoked")
}

// revokeOwned revokes a credential of one kind that belongs to resident, telling a
// missing one (404) from one revoked already (409).
func (tx *Tx) revokeOwned(ctx context.Context, c, resident, id uuid.UUID, kind, reason string) error {
	n, err := tx.revokeCredentials(ctx, c, reason, `c.id = $3 AND c.resident_id = $4 AND c.kind = $5`, id, resident, kind)
	if err != nil {
		return err
	}
	if n == 0 {
		var revoked bool
		err := tx.x.GetContext(ctx, &revoked, `SELECT revoked_at IS NOT NULL FROM credentials
			WHERE community_id = $1 AND id = $2 AND resident_id = $3 AND kind = $4`, c, id, resident, kind)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%s %s: %w", kind, id, access.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("revoke %s: %w", kind, err)
		}
		return fmt.Errorf("%s already revoked: %w", kind, access.ErrConflict)
	}
	return tx.Audit(ctx, c, kind+".revoke", "resident:"+resident.String(), map[string]any{"credential_id": id})
}
