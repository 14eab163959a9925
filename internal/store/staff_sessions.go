package store

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/secret"
)

// Console session lifetimes: a console left alone for StaffIdleTimeout signs out (a
// guard post's tablet is shared), and no session outlives StaffSessionMaxAge however
// busy it is: a shift, then a new passkey assertion.
const (
	StaffIdleTimeout   = 30 * time.Minute
	StaffSessionMaxAge = 12 * time.Hour
	// staffTouchEvery bounds the writes that keep a session alive: the console polls,
	// and the idle timeout is counted in minutes.
	staffTouchEvery = time.Minute
)

// NewStaffSession is what a sign-in hands the browser: the session secret (the HttpOnly
// cookie) and the CSRF token the console sends back in a header with every change.
type NewStaffSession struct {
	ID        uuid.UUID
	Token     string
	CSRF      string
	ExpiresAt time.Time
}

// StaffSession is a live console session.
type StaffSession struct {
	ID                uuid.UUID     `db:"id"`
	Staff             uuid.UUID     `db:"staff_id"`
	CSRFHash          []byte        `db:"csrf_hash"`
	SelectedCommunity uuid.NullUUID `db:"selected_community"`
	LastSeenAt        time.Time     `db:"last_seen_at"`
	ExpiresAt         time.Time     `db:"expires_at"`
}

// OpenStaffSession starts a console session for a member after a user-verified passkey
// assertion (or registration). Audited: a sign-in is a staff action on the system.
func (tx *Tx) OpenStaffSession(ctx context.Context, staff, passkey uuid.UUID) (NewStaffSession, error) {
	tok, err := secret.New(secret.KindConsole, uuid.Nil)
	if err != nil {
		return NewStaffSession{}, err
	}
	csrf, err := secret.New(secret.KindConsole, uuid.Nil)
	if err != nil {
		return NewStaffSession{}, err
	}
	m, err := staffMemberQ(ctx, tx.x, staff, "")
	if err != nil {
		return NewStaffSession{}, err
	}
	if m.DisabledAt != nil {
		return NewStaffSession{}, ErrStaffDisabled
	}
	out := NewStaffSession{ID: newID(), Token: tok.Plain, CSRF: csrf.Plain}
	err = tx.x.GetContext(ctx, &out.ExpiresAt, `INSERT INTO staff_sessions (id, token_hash, csrf_hash, staff_id, passkey_id, selected_community, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, now() + $7 * interval '1 second') RETURNING expires_at`,
		out.ID, tok.Hash[:], csrf.Hash[:], staff, passkey, nullUUID(scope(m)), int(StaffSessionMaxAge.Seconds()))
	if err != nil {
		return NewStaffSession{}, fmt.Errorf("open console session: %w", err)
	}
	return out, tx.Audit(ctx, scope(m), "staff.signin", "staff:"+staff.String(), map[string]any{"session_id": out.ID, "passkey_id": passkey})
}

// StaffBySession authenticates a console session cookie as the same principal a bearer
// token gives (access.Staff), so authorization does not care how a member signed in.
// A revoked, expired or idle session, and every session of a disabled member, fails at
// once. It refreshes last_seen_at at most every staffTouchEvery.
func (db *DB) StaffBySession(ctx context.Context, plain string) (access.Staff, StaffSession, error) {
	_, h, err := secret.Parse(secret.KindConsole, plain)
	if err != nil {
		return access.Staff{}, StaffSession{}, access.ErrUnauthorized
	}
	var row struct {
		StaffSession
		Name      string        `db:"name"`
		Role      string        `db:"role"`
		Community uuid.NullUUID `db:"community_id"`
	}
	err = db.x.GetContext(ctx, &row, `SELECT ss.id, ss.staff_id, ss.csrf_hash, ss.selected_community, ss.last_seen_at, ss.expires_at,
			s.name, s.role, s.community_id
		FROM staff_sessions ss JOIN staff s ON s.id = ss.staff_id
		WHERE ss.token_hash = $1 AND ss.revoked_at IS NULL AND ss.expires_at > now()
		AND ss.last_seen_at > now() - $2 * interval '1 second' AND s.disabled_at IS NULL`,
		h[:], int(StaffIdleTimeout.Seconds()))
	if errors.Is(err, sql.ErrNoRows) {
		return access.Staff{}, StaffSession{}, access.ErrUnauthorized
	}
	if err != nil {
		return access.Staff{}, StaffSession{}, fmt.Errorf("authenticate console session: %w", err)
	}
	if time.Since(row.LastSeenAt) > staffTouchEvery {
		if _, err := db.x.ExecContext(ctx, `UPDATE staff_sessions SET last_seen_at = now() WHERE id = $1`, row.ID); err != nil {
			return access.Staff{}, StaffSession{}, fmt.Errorf("touch console session: %w", err)
		}
	}
	st := access.Staff{ID: row.Staff, Name: row.Name, Role: access.StaffRole(row.Role), Community: row.Community.UUID,
		Token: row.ID, TokenExpires: row.ExpiresAt, Session: true}
	return st, row.StaffSession, nil
}

// CSRFMatches reports whether a token sent with a request is the session's CSRF token.
func (s StaffSession) CSRFMatches(sent string) bool {
	if sent == "" {
		return false
	}
	_, h, err := secret.Parse(secret.KindConsole, sent)
	return err == nil && subtle.ConstantTimeCompare(h[:], s.CSRFHash) == 1
}

// SelectCommunity records the community an operator works in; the caller checked that
// the member sees it.
func (db *DB) SelectCommunity(ctx context.Context, session, community uuid.UUID) error {
	if _, err := db.x.ExecContext(ctx, `UPDATE staff_sessions SET selected_community = $2 WHERE id = $1 AND revoked_at IS NULL`,
		session, community); err != nil {
		return fmt.Errorf("select community: %w", err)
	}
	return nil
}

// EndStaffSessions signs a member out: of one session (session not uuid.Nil) or of
// every console session they have (sign out everywhere). It returns how many ended.
func (tx *Tx) EndStaffSessions(ctx context.Context, staff, session uuid.UUID) (int, error) {
	m, err := staffMemberQ(ctx, tx.x, staff, "")
	if err != nil {
		return 0, err
	}
	r, err := tx.x.ExecContext(ctx, `UPDATE staff_sessions SET revoked_at = now()
		WHERE staff_id = $1 AND ($2::uuid IS NULL OR id = $2) AND revoked_at IS NULL`, staff, nullUUID(session))
	if err != nil {
		return 0, fmt.Errorf("sign out: %w", err)
	}
	n, _ := r.RowsAffected()
	action := "staff.signout"
	if session == uuid.Nil {
		action = "staff.signout_everywhere"
	}
	return int(n), tx.Audit(ctx, scope(m), action, "staff:"+staff.String(), map[string]any{"sessions": n})
}
