package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"gatepass/internal/access"
	"gatepass/internal/secret"
)

// CeremonyTTL is how long a WebAuthn challenge may be answered.
const CeremonyTTL = 5 * time.Minute

// Ceremony purposes.
const (
	PurposeRegister   = "register"    // redeem an invite and create the first passkey
	PurposeSignIn     = "signin"      // discoverable sign-in: nobody known yet
	PurposeAddPasskey = "add_passkey" // a signed-in resident adds a passkey
	PurposeStepUp     = "step_up"     // a signed-in resident re-verifies for a sensitive action
)

// ErrCeremonyGone is returned for a ceremony that never existed, expired or was used.
var ErrCeremonyGone = fmt.Errorf("ceremony expired or already used: %w", access.ErrInvalid)

// Ceremony is the server-side state of one WebAuthn ceremony. Community is uuid.Nil
// for a sign-in, which begins before anyone is known.
type Ceremony struct {
	Purpose   string        `db:"purpose"`
	Community uuid.UUID     `db:"community_id"`
	Resident  uuid.NullUUID `db:"resident_id"`
	Invite    uuid.NullUUID `db:"invite_id"`
	// Session is webauthn.SessionData as JSON.
	Session []byte `db:"session"`
}

// SaveCeremony stores a ceremony under the hash of its id for CeremonyTTL.
func (db *DB) SaveCeremony(ctx context.Context, idHash secret.Hash, c Ceremony) error {
	_, err := db.x.ExecContext(ctx, `INSERT INTO webauthn_ceremonies (id_hash, purpose, community_id, resident_id, invite_id, session, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, now() + $7::interval)`,
		idHash[:], c.Purpose, c.Community, c.Resident, c.Invite, string(c.Session), fmt.Sprintf("%d seconds", int(CeremonyTTL.Seconds())))
	if err != nil {
		return fmt.Errorf("save ceremony: %w", err)
	}
	return nil
}

// TakeCeremony removes and returns a live ceremony of community c (uuid.Nil for a
// sign-in) and the given purpose: a challenge answers once. A ceremony of another purpose
// is not consumed.
func (db *DB) TakeCeremony(ctx context.Context, c uuid.UUID, idHash secret.Hash, purpose string) (Ceremony, error) {
	var out Ceremony
	err := db.x.GetContext(ctx, &out, `DELETE FROM webauthn_ceremonies WHERE community_id = $1 AND id_hash = $2 AND purpose = $3 AND expires_at > now()
		RETURNING purpose, community_id, resident_id, invite_id, convert_to(session::text, 'UTF8') AS session`, c, idHash[:], purpose)
	if errors.Is(err, sql.ErrNoRows) {
		return out, ErrCeremonyGone
	}
	if err != nil {
		return out, fmt.Errorf("take ceremony: %w", err)
	}
	return out, nil
}

// PurgeCeremonies deletes expired ceremonies.
func (db *DB) PurgeCeremonies(ctx context.Context) (int64, error) {
	r, err := db.x.ExecContext(ctx, `DELETE FROM webauthn_ceremonies WHERE expires_at <= now()`)
	if err != nil {
		return 0, fmt.Errorf("purge ceremonies: %w", err)
	}
	return r.RowsAffected()
}

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
}

const passkeySelect = `SELECT community_id, id, resident_id, credential_id, public_key, attestation_type, aaguid,
	sign_count, transports, backup_eligible, backup_state, user_verified, name, created_at, last_used_at FROM passkeys`

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

func (tx *Tx) activeResident(ctx context.Context, c, resident uuid.UUID) error {
	r, err := residentQ(ctx, tx.x, c, resident)
	if err != nil {
		return err
	}
	if r.Status != access.ResidentActive {
		return fmt.Errorf("resident has %s: %w", r.Status, access.ErrForbidden)
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

// PasskeyUse is what an accepted assertion changes on its passkey.
type PasskeyUse struct {
	Community    uuid.UUID
	CredentialID []byte
	OldCount     int64 // the counter the assertion was checked against
	NewCount     int64
	BackupState  bool
	UserVerified bool
}

// ErrCounterRace is returned when another assertion of the same passkey moved its
// counter meanwhile: one of two simultaneous uses of a cloned key.
var ErrCounterRace = fmt.Errorf("passkey counter changed during sign-in: %w", access.ErrConflict)

// UsePasskey records an accepted assertion, compare-and-set on the sign counter so two
// concurrent assertions with the same counter cannot both win. It returns the passkey.
func (db *DB) UsePasskey(ctx context.Context, u PasskeyUse) (Passkey, error) {
	var p Passkey
	err := db.x.GetContext(ctx, &p, `UPDATE passkeys SET sign_count = $4, backup_state = $5,
		user_verified = user_verified OR $6, last_used_at = now()
		WHERE community_id = $1 AND credential_id = $2 AND sign_count = $3
		RETURNING community_id, id, resident_id, credential_id, public_key, attestation_type, aaguid,
		sign_count, transports, backup_eligible, backup_state, user_verified, name, created_at, last_used_at`,
		u.Community, u.CredentialID, u.OldCount, u.NewCount, u.BackupState, u.UserVerified)
	if errors.Is(err, sql.ErrNoRows) {
		return p, ErrCounterRace
	}
	if err != nil {
		return p, fmt.Errorf("use passkey: %w", err)
	}
	return p, nil
}

// RemovePasskeyResult says what removing a passkey ended.
type RemovePasskeyResult struct {
	Devices  int `json:"devices_revoked"`
	Sessions int `json:"sessions_ended"`
}

// RemovePasskey deletes one of a resident's passkeys, revokes the device credentials it
// authorised and ends the sessions it opened or verified. The last passkey cannot be
// removed: the resident would be locked out until staff re-invite them.
func (tx *Tx) RemovePasskey(ctx context.Context, c, resident, passkey uuid.UUID) (RemovePasskeyResult, error) {
	var res RemovePasskeyResult
	var ids []uuid.UUID
	// Lock the resident's passkeys so two removals cannot both pass the last-one check.
	if err := tx.x.SelectContext(ctx, &ids, `SELECT id FROM passkeys WHERE community_id = $1 AND resident_id = $2 FOR UPDATE`, c, resident); err != nil {
		return res, fmt.Errorf("remove passkey: %w", err)
	}
	found := false
	for _, id := range ids {
		found = found || id == passkey
	}
	if !found {
		return res, fmt.Errorf("passkey %s: %w", passkey, access.ErrNotFound)
	}
	if len(ids) == 1 {
		return res, fmt.Errorf("the last passkey cannot be removed: add another first: %w", access.ErrConflict)
	}
	var err error
	if res.Devices, err = tx.revokeCredentials(ctx, c, "passkey_removed", `c.passkey_id = $3 AND c.kind = 'device'`, passkey); err != nil {
		return res, err
	}
	r, err := tx.x.ExecContext(ctx, `UPDATE sessions SET revoked_at = now() WHERE community_id = $1 AND resident_id = $2
		AND revoked_at IS NULL AND (passkey_id = $3 OR verified_passkey_id = $3)`, c, resident, passkey)
	if err != nil {
		return res, fmt.Errorf("remove passkey: %w", err)
	}
	n, _ := r.RowsAffected()
	res.Sessions = int(n)
	if _, err := tx.x.ExecContext(ctx, `DELETE FROM passkeys WHERE community_id = $1 AND id = $2`, c, passkey); err != nil {
		return res, fmt.Errorf("remove passkey: %w", err)
	}
	return res, tx.Audit(ctx, c, "passkey.remove", "resident:"+resident.String(),
		map[string]any{"passkey_id": passkey, "devices_revoked": res.Devices, "sessions_ended": res.Sessions})
}

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
	tok, err := secret.New(secret.KindSession, c)
	if err != nil {
		return "", err
	}
	var verifiedPasskey *uuid.UUID
	if verified {
		verifiedPasskey = &passkey
	}
	_, err = tx.x.ExecContext(ctx, `INSERT INTO sessions (community_id, token_hash, resident_id, passkey_id, verified_at, verified_passkey_id, expires_at)
		VALUES ($1, $2, $3, $4, CASE WHEN $5 THEN now() ELSE to_timestamp(0) END, $6, now() + $7::interval)`,
		c, tok.Hash[:], resident, passkey, verified, verifiedPasskey, fmt.Sprintf("%d seconds", int(MaxSessionAge.Seconds())))
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
	Community       uuid.UUID             `db:"community_id"`
	TokenHash       []byte                `db:"token_hash"`
	Resident        uuid.UUID             `db:"resident_id"`
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
const sessionQuery = `SELECT s.community_id, s.token_hash, s.resident_id, s.passkey_id, s.created_at, s.last_seen_at, s.revoked_at,
	s.verified_at, s.verified_passkey_id, s.expires_at, r.status, q.id AS qr_id, q.zones AS qr_zones, q.revoked AS qr_revoked
	FROM sessions s
	JOIN residents r ON r.community_id = s.community_id AND r.id = s.resident_id
	LEFT JOIN LATERAL (SELECT id, zones, revoked_at IS NOT NULL AS revoked FROM credentials
		WHERE community_id = s.community_id AND resident_id = s.resident_id AND kind = 'qr'
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
