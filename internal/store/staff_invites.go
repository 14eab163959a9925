package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/secret"
)

// StaffInviteTTL is how long a staff invite link may be used.
const StaffInviteTTL = 72 * time.Hour

// ErrStaffInviteUnusable is the one answer for a staff invite that does not exist,
// expired, was used, or whose member was disabled: a guesser learns nothing more.
var ErrStaffInviteUnusable = fmt.Errorf("staff invite is not valid: ask an admin for a new one: %w", access.ErrNotFound)

// StaffInvite is a new one-time link for a member to register a console passkey; the
// code is shown once and stored hashed.
type StaffInvite struct {
	ID        uuid.UUID `json:"invite_id"`
	Staff     uuid.UUID `json:"staff_id"`
	Code      string    `json:"invite_code"`
	ExpiresAt time.Time `json:"invite_expires_at"`
}

// PendingStaffInvite is a staff invite that can still be used, with its member.
type PendingStaffInvite struct {
	ID    uuid.UUID        `db:"id"`
	Staff uuid.UUID        `db:"staff_id"`
	Name  string           `db:"name"`
	Role  access.StaffRole `db:"role"`
}

// CreateStaffInvite makes a member a one-time invite link. Their earlier unused invites
// stop working: only the newest link handed out is live. Audited.
func (tx *Tx) CreateStaffInvite(ctx context.Context, staff uuid.UUID) (StaffInvite, error) {
	m, err := tx.lockMember(ctx, staff)
	if err != nil {
		return StaffInvite{}, err
	}
	if m.DisabledAt != nil {
		return StaffInvite{}, ErrStaffDisabled
	}
	if _, err := tx.x.ExecContext(ctx, `DELETE FROM staff_invites WHERE staff_id = $1 AND used_at IS NULL`, staff); err != nil {
		return StaffInvite{}, fmt.Errorf("replace staff invites: %w", err)
	}
	tok, err := secret.New(secret.KindStaffInvite, uuid.Nil)
	if err != nil {
		return StaffInvite{}, err
	}
	out := StaffInvite{ID: newID(), Staff: staff, Code: tok.Plain}
	err = tx.x.GetContext(ctx, &out.ExpiresAt, `INSERT INTO staff_invites (id, staff_id, code_hash, expires_at)
		VALUES ($1, $2, $3, now() + $4 * interval '1 second') RETURNING expires_at`,
		out.ID, staff, tok.Hash[:], int(StaffInviteTTL.Seconds()))
	if err != nil {
		return StaffInvite{}, fmt.Errorf("create staff invite: %w", err)
	}
	return out, tx.Audit(ctx, scope(m), "staff.invite", "staff:"+staff.String(),
		map[string]any{"invite_id": out.ID, "expires_at": out.ExpiresAt})
}

const pendingStaffInvite = `SELECT i.id, i.staff_id, s.name, s.role FROM staff_invites i JOIN staff s ON s.id = i.staff_id
	WHERE i.used_at IS NULL AND i.expires_at > now() AND s.disabled_at IS NULL AND `

// StaffInviteByCode finds a usable staff invite by its code.
func (db *DB) StaffInviteByCode(ctx context.Context, plain string) (PendingStaffInvite, error) {
	var inv PendingStaffInvite
	_, h, err := secret.Parse(secret.KindStaffInvite, plain)
	if err != nil {
		return inv, ErrStaffInviteUnusable
	}
	err = db.x.GetContext(ctx, &inv, pendingStaffInvite+`i.code_hash = $1`, h[:])
	if errors.Is(err, sql.ErrNoRows) {
		return inv, ErrStaffInviteUnusable
	}
	if err != nil {
		return inv, fmt.Errorf("find staff invite: %w", err)
	}
	return inv, nil
}

// RedeemStaffInvite uses an invite once and stores the member's passkey. It fails with
// ErrStaffInviteUnusable when the invite was used, expired or its member was disabled
// meanwhile (the compare-and-set on used_at makes a second use fail).
func (tx *Tx) RedeemStaffInvite(ctx context.Context, invite uuid.UUID, p *StaffPasskey) error {
	var staff uuid.UUID
	err := tx.x.GetContext(ctx, &staff, `UPDATE staff_invites i SET used_at = now()
		FROM staff s WHERE s.id = i.staff_id AND s.disabled_at IS NULL
		AND i.id = $1 AND i.used_at IS NULL AND i.expires_at > now()
		RETURNING i.staff_id`, invite)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrStaffInviteUnusable
	}
	if err != nil {
		return fmt.Errorf("redeem staff invite: %w", err)
	}
	m, err := staffMemberQ(ctx, tx.x, staff, "")
	if err != nil {
		return err
	}
	p.Staff = staff
	if err := tx.insertStaffPasskey(ctx, p); err != nil {
		return err
	}
	return tx.Audit(ctx, scope(m), "staff.passkey_register", "staff:"+staff.String(),
		map[string]any{"invite_id": invite, "passkey_id": p.ID})
}
