package store

import (
	"context"
	"fmt"
	"gatepass/internal/access"
	"time"

	"github.com/google/uuid"
)

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
	// RevokeReason: "key_compromised" (access.RevokeKeyCompromised) means the phone did
	// nothing wrong and certifies its key again.
	RevokeReason *string `db:"revoke_reason" json:"revoke_reason,omitempty"`
}

// NewDevice is a phone key to certify.
type NewDevice struct {
	Community, Resident, Passkey uuid.UUID
	PublicKey                    []byte // SEC 1 compressed P-256
	Label                        string
	Zones                        access.ZoneMask
	NotBefore, ExpiresAt         time.Time
	// KID is the key that signs the certificate: recorded so that the key's compromise
	// revokes the device (which then certifies its key again).
	KID uint32
}

// CreateDevice records a device credential; the caller signs its certificate with the
// returned id in the same transaction, so a failure leaves no row.
func (tx *Tx) CreateDevice(ctx context.Context, d NewDevice) (Device, error) {
	if err := tx.signingKeyUsable(ctx, d.Community, d.KID); err != nil {
		return Device{}, err
	}
	if err := tx.activeResident(ctx, d.Community, d.Resident); err != nil {
		return Device{}, err
	}
	var out Device
	err := tx.x.GetContext(ctx, &out, `INSERT INTO credentials (community_id, id, kind, subject, resident_id, passkey_id, zones, device_public_key, label, created_at, expires_at, kid)
		VALUES ($1, $2, 'device', 'resident', $3, $4, $5, $6, $7, $8, $9, $10)
		RETURNING id, passkey_id, label, device_public_key, zones, created_at, expires_at, revoked_at, revoke_reason`,
		d.Community, newID(), d.Resident, d.Passkey, int64(d.Zones), d.PublicKey, d.Label, d.NotBefore, d.ExpiresAt, d.KID)
	if err != nil {
		return out, fmt.Errorf("create device: %w", err)
	}
	if err := tx.credentialCreated(ctx, d.Community, out.ID); err != nil {
		return out, err
	}
	return out, tx.Audit(ctx, d.Community, "device.certify", "resident:"+d.Resident.String(),
		map[string]any{"credential_id": out.ID, "passkey_id": d.Passkey, "expires_at": d.ExpiresAt})
}

// Devices lists a resident's device credentials, newest first.
func (db *DB) Devices(ctx context.Context, c, resident uuid.UUID) ([]Device, error) {
	out := []Device{}
	err := db.x.SelectContext(ctx, &out, `SELECT id, passkey_id, label, device_public_key, zones, created_at, expires_at, revoked_at, revoke_reason
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
