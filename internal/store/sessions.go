package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"gatepass/internal/access"
	"gatepass/internal/secret"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// Session lifetimes: a phone that is not used for IdleTimeout signs out, and no session
// lives longer than MaxSessionAge however often it is used.
const (
	SessionIdleTimeout = 30 * 24 * time.Hour
	MaxSessionAge      = 180 * 24 * time.Hour
	// touchEvery bounds the writes that keep a session alive: a phone refreshes its code
	// twice a minute, and the idle timeout is counted in days.
	touchEvery = 10 * time.Minute
)

// NewSession opens a session for a resident after a passkey assertion (or
// registration) and returns its bearer token, shown once. verified says whether the
// user was verified, which counts as a step-up.
func (tx *Tx) NewSession(ctx context.Context, c, resident, passkey uuid.UUID, verified bool) (string, error) {
	return tx.newSession(ctx, c, resident, access.SessionPasskey, uuid.NullUUID{UUID: passkey, Valid: true}, verified)
}

// NewWeChatSession opens a WeChat session (access.SessionWeChat) for a resident whose
// bound WeChat user just logged in: no passkey, never stepped up.
func (tx *Tx) NewWeChatSession(ctx context.Context, c, resident uuid.UUID) (string, error) {
	return tx.newSession(ctx, c, resident, access.SessionWeChat, uuid.NullUUID{}, false)
}

func (tx *Tx) newSession(ctx context.Context, c, resident uuid.UUID, kind access.SessionKind, passkey uuid.NullUUID, verified bool) (string, error) {
	tok, err := secret.New(secret.KindSession, c)
	if err != nil {
		return "", err
	}
	var verifiedPasskey uuid.NullUUID
	if verified {
		verifiedPasskey = passkey
	}
	_, err = tx.x.ExecContext(ctx, `INSERT INTO sessions (community_id, token_hash, resident_id, kind, passkey_id, verified_at, verified_passkey_id, expires_at)
		VALUES ($1, $2, $3, $4, $5, CASE WHEN $6 THEN now() ELSE to_timestamp(0) END, $7, now() + $8::interval)`,
		c, tok.Hash[:], resident, kind, passkey, verified, verifiedPasskey, fmt.Sprintf("%d seconds", int(MaxSessionAge.Seconds())))
	if err != nil {
		return "", fmt.Errorf("new session: %w", err)
	}
	return tok.Plain, nil
}

// NewSession is Tx.NewSession in its own transaction.
func (db *DB) NewSession(ctx context.Context, c, resident, passkey uuid.UUID, verified bool) (string, error) {
	var tok string
	err := db.InTx(ctx, "resident:"+resident.String(), func(tx *Tx) (err error) {
		tok, err = tx.NewSession(ctx, c, resident, passkey, verified)
		return err
	})
	return tok, err
}

// Session is a live session with what most requests need about its resident.
type Session struct {
	Community uuid.UUID          `db:"community_id"`
	TokenHash []byte             `db:"token_hash"`
	Resident  uuid.UUID          `db:"resident_id"`
	Kind      access.SessionKind `db:"kind"`
	// Passkey is the passkey that opened the session; uuid.Nil for a WeChat session.
	Passkey         uuid.UUID             `db:"passkey_id"`
	CreatedAt       time.Time             `db:"created_at"`
	LastSeenAt      time.Time             `db:"last_seen_at"`
	VerifiedAt      time.Time             `db:"verified_at"`
	VerifiedPasskey uuid.NullUUID         `db:"verified_passkey_id"`
	ExpiresAt       time.Time             `db:"expires_at"`
	RevokedAt       *time.Time            `db:"revoked_at"`
	Status          access.ResidentStatus `db:"status"`
	// The resident's newest QR credential, if any (its zones and whether it is revoked):
	// the pass endpoint needs nothing else from the database.
	QRID      uuid.NullUUID `db:"qr_id"`
	QRZones   sql.NullInt64 `db:"qr_zones"`
	QRRevoked sql.NullBool  `db:"qr_revoked"`
}

// sessionQuery finds a session by its primary key. revoked_at is checked by the caller,
// not in the WHERE clause: with "revoked_at IS NULL" there, a planner without statistics
// (a fresh database) picks the partial index sessions_by_resident and scans every live
// session of the community for the hash.
// The lateral subquery names the community as $1 (not s.community_id): Citus routes the
// lookup to one shard only when every distributed table in it is filtered by the same
// constant, and this runs on every resident request.
const sessionQuery = `SELECT s.community_id, s.token_hash, s.resident_id, s.kind, s.passkey_id, s.created_at, s.last_seen_at, s.revoked_at,
	s.verified_at, s.verified_passkey_id, s.expires_at, r.status, q.id AS qr_id, q.zones AS qr_zones, q.revoked AS qr_revoked
	FROM sessions s
	JOIN residents r ON r.community_id = s.community_id AND r.id = s.resident_id
	LEFT JOIN LATERAL (SELECT id, zones, revoked_at IS NOT NULL AS revoked FROM credentials
		WHERE community_id = $1 AND resident_id = s.resident_id AND kind = 'qr'
		ORDER BY created_at DESC LIMIT 1) q ON true
	WHERE s.community_id = $1 AND s.token_hash = $2 AND s.expires_at > now()
	AND s.last_seen_at > now() - $3::interval`

// sessionStmts holds the session lookup prepared once per pool: it runs on every
// resident request (every pass refresh), and planning its joins each time cost more
// than running them.
var sessionStmts sync.Map // *sqlx.DB -> *sqlx.Stmt

func (db *DB) sessionStmt(ctx context.Context) (*sqlx.Stmt, error) {
	if st, ok := sessionStmts.Load(db.x); ok {
		return st.(*sqlx.Stmt), nil
	}
	st, err := db.x.PreparexContext(ctx, sessionQuery)
	if err != nil {
		return nil, fmt.Errorf("prepare session lookup: %w", err)
	}
	if prev, loaded := sessionStmts.LoadOrStore(db.x, st); loaded {
		st.Close()
		return prev.(*sqlx.Stmt), nil
	}
	return st, nil
}

// SessionByToken authenticates a session token: live, not idle too long, not past its
// absolute expiry. Moved-out and deleted residents' sessions were revoked with them,
// but the resident's status is returned too so callers can refuse regardless.
// One round trip; it refreshes last_seen_at at most every ten minutes.
func (db *DB) SessionByToken(ctx context.Context, plain string) (Session, error) {
	c, h, err := secret.Parse(secret.KindSession, plain)
	if err != nil {
		return Session{}, access.ErrUnauthorized
	}
	stmt, err := db.sessionStmt(ctx)
	if err != nil {
		return Session{}, err
	}
	var s Session
	err = stmt.GetContext(ctx, &s, c, h[:], fmt.Sprintf("%d seconds", int(SessionIdleTimeout.Seconds())))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && s.RevokedAt != nil) {
		return Session{}, access.ErrUnauthorized
	}
	if err != nil {
		return s, fmt.Errorf("authenticate session: %w", err)
	}
	if time.Since(s.LastSeenAt) > touchEvery {
		if _, err := db.x.ExecContext(ctx, `UPDATE sessions SET last_seen_at = now() WHERE community_id = $1 AND token_hash = $2`, c, h[:]); err != nil {
			return s, fmt.Errorf("touch session: %w", err)
		}
	}
	return s, nil
}

// MarkVerified records a user-verified assertion by passkey on a session (step-up).
func (db *DB) MarkVerified(ctx context.Context, s Session, passkey uuid.UUID) error {
	r, err := db.x.ExecContext(ctx, `UPDATE sessions SET verified_at = now(), verified_passkey_id = $3
		WHERE community_id = $1 AND token_hash = $2 AND revoked_at IS NULL`, s.Community, s.TokenHash, passkey)
	if err != nil {
		return fmt.Errorf("step up: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return access.ErrUnauthorized
	}
	return nil
}

// ConsumeStepUp uses up a session's step-up for an act that needs its own verification
// (consent to face entry): compare-and-set on verified_at, so one assertion cannot serve
// two such acts.
func (tx *Tx) ConsumeStepUp(ctx context.Context, s Session) error {
	r, err := tx.x.ExecContext(ctx, `UPDATE sessions SET verified_at = to_timestamp(0), verified_passkey_id = NULL
		WHERE community_id = $1 AND token_hash = $2 AND verified_at = $3 AND revoked_at IS NULL`, s.Community, s.TokenHash, s.VerifiedAt)
	if err != nil {
		return fmt.Errorf("use step-up: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("step-up already used: %w", access.ErrForbidden)
	}
	return nil
}

// EndSession revokes one session (sign out).
func (db *DB) EndSession(ctx context.Context, s Session) error {
	if _, err := db.x.ExecContext(ctx, `UPDATE sessions SET revoked_at = now() WHERE community_id = $1 AND token_hash = $2 AND revoked_at IS NULL`,
		s.Community, s.TokenHash); err != nil {
		return fmt.Errorf("sign out: %w", err)
	}
	return nil
}

// EndAllSessions revokes every session of the resident (sign out everywhere).
func (db *DB) EndAllSessions(ctx context.Context, c, resident uuid.UUID) (int, error) {
	r, err := db.x.ExecContext(ctx, `UPDATE sessions SET revoked_at = now() WHERE community_id = $1 AND resident_id = $2 AND revoked_at IS NULL`, c, resident)
	if err != nil {
		return 0, fmt.Errorf("sign out everywhere: %w", err)
	}
	n, _ := r.RowsAffected()
	return int(n), nil
}
