package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"gatepass/internal/access"
	"gatepass/internal/secret"
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

const pendingInvite = `SELECT i.id, i.community_id, i.resident_id, r.name FROM invites i
	JOIN residents r ON r.community_id = i.community_id AND r.id = i.resident_id
	WHERE i.used_at IS NULL AND i.expires_at > now() AND r.status = 'active' AND `

// InviteByCode finds an unused, unexpired invite of an active resident.
func (db *DB) InviteByCode(ctx context.Context, c uuid.UUID, h secret.Hash) (PendingInvite, error) {
	var inv PendingInvite
	err := db.x.GetContext(ctx, &inv, pendingInvite+`i.community_id = $1 AND i.code_hash = $2`, c, h[:])
	if errors.Is(err, sql.ErrNoRows) {
		return inv, ErrInviteUnusable
	}
	if err != nil {
		return inv, fmt.Errorf("find invite: %w", err)
	}
	return inv, nil
}

// InviteByShortCode finds a pending invite by its short code (normal form, from
// secret.ParseShort). The code's bucket names the communities to look in (the index
// communities_short_bucket), so the invites are searched by community like everywhere
// else. Two communities of one bucket holding the same live code is a 2^-50 chance per
// pair of live codes; then neither is answered (ErrInviteUnusable), and the link or the
// long code still works.
func (db *DB) InviteByShortCode(ctx context.Context, normal string, bucket int) (PendingInvite, error) {
	key, err := db.shortCodeKey()
	if err != nil {
		return PendingInvite{}, err
	}
	var communities []uuid.UUID
	if err := db.x.SelectContext(ctx, &communities, `SELECT id FROM communities
		WHERE (get_byte(sha256(uuid_send(id)), 0) * 256 + get_byte(sha256(uuid_send(id)), 1)) % 1024 = $1`, bucket); err != nil {
		return PendingInvite{}, fmt.Errorf("find invite: %w", err)
	}
	if len(communities) == 0 {
		return PendingInvite{}, ErrInviteUnusable
	}
	h := secret.ShortHash(key, normal)
	var found []PendingInvite
	if err := db.x.SelectContext(ctx, &found, pendingInvite+`i.community_id = ANY($1) AND i.short_hash = $2 LIMIT 2`,
		pq.Array(communities), h[:]); err != nil {
		return PendingInvite{}, fmt.Errorf("find invite: %w", err)
	}
	if len(found) != 1 {
		return PendingInvite{}, ErrInviteUnusable
	}
	return found[0], nil
}

// shortCodeKey is the HMAC key of invite short codes: derived from the audit key, the
// store's one secret that comes from the master key (server and mobile-api both set it),
// so a copy of the database alone cannot be searched for live codes.
func (db *DB) shortCodeKey() ([]byte, error) { return db.derivedKey("gatepass/v1/invite-short-code") }

// derivedKey is a key for one purpose (label), derived from the audit key.
func (db *DB) derivedKey(label string) ([]byte, error) {
	k, err := db.auditKeyOrErr()
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte(label))
	return m.Sum(nil), nil
}

// RedeemInvite uses an invite once and registers the resident's first passkey. It fails
// with ErrInviteUnusable if the invite was used, expired or its resident left meanwhile.
func (tx *Tx) RedeemInvite(ctx context.Context, c, invite uuid.UUID, p *Passkey) error {
	resident, err := tx.useInvite(ctx, c, invite)
	if err != nil {
		return err
	}
	p.Community, p.Resident = c, resident
	if err := tx.insertPasskey(ctx, p); err != nil {
		return err
	}
	return tx.Audit(ctx, c, "resident.redeem_invite", "resident:"+resident.String(), map[string]any{"passkey_id": p.ID})
}

// useInvite marks an invite used and returns its resident; ErrInviteUnusable if it was
// used, expired or its resident left meanwhile.
func (tx *Tx) useInvite(ctx context.Context, c, invite uuid.UUID) (uuid.UUID, error) {
	var resident uuid.UUID
	err := tx.x.GetContext(ctx, &resident, `UPDATE invites i SET used_at = now()
		FROM residents r WHERE r.community_id = i.community_id AND r.id = i.resident_id AND r.status = 'active'
		AND i.community_id = $1 AND i.id = $2 AND i.used_at IS NULL AND i.expires_at > now()
		RETURNING i.resident_id`, c, invite)
	if errors.Is(err, sql.ErrNoRows) {
		return resident, ErrInviteUnusable
	}
	if err != nil {
		return resident, fmt.Errorf("redeem invite: %w", err)
	}
	return resident, nil
}

// Invite is a one-time code a new resident redeems in the app: the long code goes into
// the link and its QR code (<app origin>/i/<code>), the short one is for typing.
type Invite struct {
	Code      string    `json:"invite_code"`
	ShortCode string    `json:"invite_short_code"`
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
	key, err := tx.db.shortCodeKey()
	if err != nil {
		return Invite{}, err
	}
	inv := Invite{Code: tok.Plain, ExpiresAt: time.Now().Add(access.InviteTTL).Truncate(time.Second)}
	// A short code already taken in this community (a 2^-50 chance per live code) is
	// skipped without failing the transaction: the insert does nothing and another is drawn.
	for try := 0; inv.ShortCode == "" && try < 3; try++ {
		short, err := secret.NewShort(c)
		if err != nil {
			return Invite{}, err
		}
		h := secret.ShortHash(key, short.Normal)
		res, err := tx.x.ExecContext(ctx, `INSERT INTO invites (community_id, id, resident_id, code_hash, short_hash, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (community_id, short_hash) DO NOTHING`,
			c, newID(), resident, tok.Hash[:], h[:], inv.ExpiresAt)
		if err != nil {
			return Invite{}, fmt.Errorf("create invite: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			inv.ShortCode = short.Plain
		}
	}
	if inv.ShortCode == "" {
		return Invite{}, errors.New("create invite: no free short code in three draws")
	}
	return inv, nil
}
