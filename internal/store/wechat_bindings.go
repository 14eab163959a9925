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

	"gatepass/internal/access"
)

// WeChatBinding ties a WeChat user (their openid for the community's mini-program) to a
// resident, so that a WeChat login opens a WeChat session (access.SessionWeChat).
type WeChatBinding struct {
	Community  uuid.UUID  `db:"community_id" json:"community_id"`
	ID         uuid.UUID  `db:"id" json:"id"`
	Resident   uuid.UUID  `db:"resident_id" json:"resident_id"`
	CreatedAt  time.Time  `db:"created_at" json:"created_at"`
	LastUsedAt *time.Time `db:"last_used_at" json:"last_used_at,omitempty"`
}

const weChatBindingColumns = `community_id, id, resident_id, created_at, last_used_at`

// Binding errors.
var (
	// ErrWeChatBoundElsewhere: the WeChat user is bound to another resident of the
	// community; that resident unbinds first (one resident per WeChat user).
	ErrWeChatBoundElsewhere = fmt.Errorf("this WeChat user is bound to another resident here: %w", access.ErrConflict)
	// ErrWeChatNotBound: no binding of this WeChat user (sign-in) or of this resident.
	ErrWeChatNotBound = fmt.Errorf("no WeChat binding: %w", access.ErrNotFound)
	// ErrWeChatAmbiguous: the WeChat user is bound in more than one community and the
	// sign-in did not say which.
	ErrWeChatAmbiguous = fmt.Errorf("this WeChat user is bound in several communities: %w", access.ErrConflict)
)

// openIDHMAC is the stored form of an openid: HMAC-SHA-256 under a key derived from the
// audit key (itself from the master key), like invite short codes. The lookup needs
// only equality, and a copy of the database alone holds no openid.
func (db *DB) openIDHMAC(openid string) ([]byte, error) {
	key, err := db.derivedKey("gatepass/v1/wechat-openid")
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(openid))
	return m.Sum(nil), nil
}

// BindWeChat uses the invite and binds the WeChat user openid to its resident, replacing
// the resident's earlier binding (whose WeChat sessions end), and opens a WeChat session.
// A WeChat user bound to another resident of the community is refused
// (ErrWeChatBoundElsewhere) and the invite stays unused.
func (tx *Tx) BindWeChat(ctx context.Context, c, invite uuid.UUID, openid string) (WeChatBinding, string, error) {
	h, err := tx.db.openIDHMAC(openid)
	if err != nil {
		return WeChatBinding{}, "", err
	}
	resident, err := tx.useInvite(ctx, c, invite)
	if err != nil {
		return WeChatBinding{}, "", err
	}
	var other uuid.UUID
	err = tx.x.GetContext(ctx, &other, `SELECT resident_id FROM wechat_bindings WHERE community_id = $1 AND openid_hmac = $2`, c, h)
	switch {
	case err == nil && other != resident:
		return WeChatBinding{}, "", ErrWeChatBoundElsewhere
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return WeChatBinding{}, "", fmt.Errorf("bind wechat: %w", err)
	}
	replaced, err := tx.unbindWeChat(ctx, c, resident)
	if err != nil && !errors.Is(err, ErrWeChatNotBound) {
		return WeChatBinding{}, "", err
	}
	b := WeChatBinding{Community: c, ID: newID(), Resident: resident}
	if err := tx.x.GetContext(ctx, &b.CreatedAt, `INSERT INTO wechat_bindings (community_id, id, resident_id, openid_hmac, last_used_at)
		VALUES ($1, $2, $3, $4, now()) RETURNING created_at`, c, b.ID, resident, h); err != nil {
		return WeChatBinding{}, "", fmt.Errorf("bind wechat: %w", err)
	}
	b.LastUsedAt = &b.CreatedAt
	token, err := tx.NewWeChatSession(ctx, c, resident)
	if err != nil {
		return WeChatBinding{}, "", err
	}
	return b, token, tx.Audit(ctx, c, "resident.wechat_bind", "resident:"+resident.String(),
		map[string]any{"binding_id": b.ID, "replaced_sessions_ended": replaced})
}

// WeChatBindingsOf finds the active residents' bindings of the WeChat user openid: in
// community c, or in every community when c is uuid.Nil (a mini-program that lost its
// storage; on Citus that one lookup asks every shard, and it happens once a month at
// most per user).
func (db *DB) WeChatBindingsOf(ctx context.Context, c uuid.UUID, openid string) ([]WeChatBinding, error) {
	h, err := db.openIDHMAC(openid)
	if err != nil {
		return nil, err
	}
	q := `SELECT b.community_id, b.id, b.resident_id, b.created_at, b.last_used_at FROM wechat_bindings b
		JOIN residents r ON r.community_id = b.community_id AND r.id = b.resident_id AND r.status = 'active'
		WHERE b.openid_hmac = $1`
	args := []any{h}
	if c != uuid.Nil {
		q += ` AND b.community_id = $2 AND r.community_id = $2`
		args = append(args, c)
	}
	var out []WeChatBinding
	if err := db.x.SelectContext(ctx, &out, q+` LIMIT 10`, args...); err != nil {
		return nil, fmt.Errorf("find wechat binding: %w", err)
	}
	return out, nil
}

// WeChatSignIn opens a WeChat session for a binding WeChatBindingsOf found, if it is
// still there (unbinding or a move-out may have come in between).
func (db *DB) WeChatSignIn(ctx context.Context, b WeChatBinding) (string, error) {
	var token string
	err := db.InTx(ctx, "resident:"+b.Resident.String(), func(tx *Tx) error {
		r, err := tx.x.ExecContext(ctx, `UPDATE wechat_bindings SET last_used_at = now() WHERE community_id = $1 AND id = $2`, b.Community, b.ID)
		if err != nil {
			return fmt.Errorf("wechat sign-in: %w", err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return ErrWeChatNotBound
		}
		token, err = tx.NewWeChatSession(ctx, b.Community, b.Resident)
		return err
	})
	return token, err
}

// WeChatBindingOfResident is the resident's binding, or ErrWeChatNotBound.
func (db *DB) WeChatBindingOfResident(ctx context.Context, c, resident uuid.UUID) (WeChatBinding, error) {
	var b WeChatBinding
	err := db.x.GetContext(ctx, &b, `SELECT `+weChatBindingColumns+` FROM wechat_bindings WHERE community_id = $1 AND resident_id = $2`, c, resident)
	if errors.Is(err, sql.ErrNoRows) {
		return b, ErrWeChatNotBound
	}
	if err != nil {
		return b, fmt.Errorf("wechat binding: %w", err)
	}
	return b, nil
}

// UnbindWeChat removes the resident's binding and ends its WeChat sessions; it returns
// how many sessions ended, or ErrWeChatNotBound.
func (tx *Tx) UnbindWeChat(ctx context.Context, c, resident uuid.UUID) (int, error) {
	n, err := tx.unbindWeChat(ctx, c, resident)
	if err != nil {
		return 0, err
	}
	return n, tx.Audit(ctx, c, "resident.wechat_unbind", "resident:"+resident.String(), map[string]any{"sessions_ended": n})
}

func (tx *Tx) unbindWeChat(ctx context.Context, c, resident uuid.UUID) (int, error) {
	r, err := tx.x.ExecContext(ctx, `DELETE FROM wechat_bindings WHERE community_id = $1 AND resident_id = $2`, c, resident)
	if err != nil {
		return 0, fmt.Errorf("unbind wechat: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return 0, ErrWeChatNotBound
	}
	r, err = tx.x.ExecContext(ctx, `UPDATE sessions SET revoked_at = now() WHERE community_id = $1 AND resident_id = $2
		AND kind = $3 AND revoked_at IS NULL`, c, resident, access.SessionWeChat)
	if err != nil {
		return 0, fmt.Errorf("unbind wechat: %w", err)
	}
	n, _ := r.RowsAffected()
	return int(n), nil
}
