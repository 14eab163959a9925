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

// PendingInvite is an invite that can still be redeemed.
type PendingInvite struct {
	ID        uuid.UUID `db:"id"`
	Community uuid.UUID `db:"community_id"`
	Resident  uuid.UUID `db:"resident_id"`
	Name      string    `db:"name"`
}

// ErrInviteUnusable is the one answer for an invite that does not exist, expired, was
// used or belongs to someone no longer living here: a guesser learns nothing more.
var ErrInviteUnusable = fmt.Errorf("invite code is not valid: %w", access.ErrNotFound)

// InviteByCode finds an unused, unexpired invite of an active resident.
func (db *DB) InviteByCode(ctx context.Context, c uuid.UUID, h secret.Hash) (PendingInvite, error) {
	var inv PendingInvite
	err := db.x.GetContext(ctx, &inv, `SELECT i.id, i.community_id, i.resident_id, r.name FROM invites i
		JOIN residents r ON r.community_id = i.community_id AND r.id = i.resident_id
		WHERE i.community_id = $1 AND i.code_hash = $2 AND i.used_at IS NULL AND i.expires_at > now() AND r.status = 'active'`, c, h[:])
	if errors.Is(err, sql.ErrNoRows) {
		return inv, ErrInviteUnusable
	}
	if err != nil {
		return inv, fmt.Errorf("find invite: %w", err)
	}
	return inv, nil
}

// RedeemInvite uses an invite once and registers the resident's first passkey. It fails
// with ErrInviteUnusable if the invite was used, expired or its resident left meanwhile.
func (tx *Tx) RedeemInvite(ctx context.Context, c, invite uuid.UUID, p *Passkey) error {
	var resident uuid.UUID
	err := tx.x.GetContext(ctx, &resident, `UPDATE invites i SET used_at = now()
		FROM residents r WHERE r.community_id = i.community_id AND r.id = i.resident_id AND r.status = 'active'
		AND i.community_id = $1 AND i.id = $2 AND i.used_at IS NULL AND i.expires_at > now()
		RETURNING i.resident_id`, c, invite)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrInviteUnusable
	}
	if err != nil {
		return fmt.Errorf("redeem invite: %w", err)
	}
	p.Community, p.Resident = c, resident
	if err := tx.insertPasskey(ctx, p); err != nil {
		return err
	}
	return tx.Audit(ctx, c, "resident.redeem_invite", "resident:"+resident.String(), map[string]any{"passkey_id": p.ID})
}

// Invite is a one-time code a new resident redeems in the app.
type Invite struct {
	Code      string    `json:"invite_code"`
	ExpiresAt time.Time `json:"invite_expires_at"`
}

// ReissueInvite replaces a resident's unused invites with a new one (a lost code, a new phone).
func (tx *Tx) ReissueInvite(ctx context.Context, c, resident uuid.UUID) (Invite, error) {
	res, err := residentQ(ctx, tx.x, c, resident)
	if err != nil {
		return Invite{}, err
	}
	if !res.Status.MayHoldPass() {
		return Invite{}, fmt.Errorf("resident has %s: %w", res.Status, access.ErrConflict)
	}
	if _, err := tx.x.ExecContext(ctx, `UPDATE invites SET expires_at = now() WHERE community_id = $1 AND resident_id = $2 AND used_at IS NULL AND expires_at > now()`, c, resident); err != nil {
		return Invite{}, fmt.Errorf("reissue invite: %w", err)
	}
	inv, err := tx.newInvite(ctx, c, resident)
	if err != nil {
		return inv, err
	}
	return inv, tx.Audit(ctx, c, "resident.invite", "resident:"+resident.String(), map[string]any{"expires_at": inv.ExpiresAt})
}

func (tx *Tx) newInvite(ctx context.Context, c, resident uuid.UUID) (Invite, error) {
	tok, err := secret.New(secret.KindInvite, c)
	if err != nil {
		return Invite{}, err
	}
	inv := Invite{Code: tok.Plain, ExpiresAt: time.Now().Add(access.InviteTTL).Truncate(time.Second)}
	_, err = tx.x.ExecContext(ctx, `INSERT INTO invites (community_id, id, resident_id, code_hash, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		c, newID(), resident, tok.Hash[:], inv.ExpiresAt)
	if err != nil {
		return Invite{}, fmt.Errorf("create invite: %w", err)
	}
	return inv, nil
}
