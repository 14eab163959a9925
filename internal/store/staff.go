package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"gatepass/internal/access"
	"gatepass/internal/secret"
)

// ErrLastAdmin refuses to disable the last enabled admin of a community (or the last
// enabled operator admin of the deployment): nobody would be left to enable anyone.
// Make another admin first.
var ErrLastAdmin = fmt.Errorf("the last enabled admin cannot be disabled: make another admin first: %w", access.ErrConflict)

// ErrTokenDead refuses to rotate a token that is already revoked or expired: there is
// nothing to hand over from; issue a new one.
var ErrTokenDead = fmt.Errorf("the token is revoked or expired: issue a new one: %w", access.ErrConflict)

// ErrStaffDisabled refuses to give a disabled member a token.
var ErrStaffDisabled = fmt.Errorf("the staff member is disabled: enable them first: %w", access.ErrConflict)

// lastUsedEvery bounds the writes that record when a token was last used. Every admin
// request authenticates, and an integration makes many a second: writing each time
// would turn every read into a row update (WAL, vacuum, a hot row lock shared by the
// integration's parallel requests) for a field an admin reads in days.
const lastUsedEvery = time.Minute

// TokenSpec is a new staff token: its kind, a label for its holder, and how long it
// lives (zero: Default, the deployment's STAFF_TOKEN_TTL). access.TokenTTL bounds it.
type TokenSpec struct {
	Kind    access.TokenKind
	Label   string
	TTL     time.Duration
	Default time.Duration
}

// IssuedToken is a new staff token: its row and the secret, shown once.
type IssuedToken struct {
	access.StaffToken
	Token string `json:"token"`
}

// NewStaff is a staff member to create (Community uuid.Nil makes an operator) and their
// first token.
type NewStaff struct {
	Community uuid.UUID
	Name      string
	Role      access.StaffRole
	Token     TokenSpec
	// NoToken makes the member without a bearer token: they will sign in to the console
	// with a passkey from an invite link (CreateStaffInvite) instead.
	NoToken bool
}

// CreateStaff adds a staff member and their first token, which is shown once and stored
// only as a hash.
func (tx *Tx) CreateStaff(ctx context.Context, n NewStaff) (access.StaffMember, IssuedToken, error) {
	var m access.StaffMember
	err := tx.x.GetContext(ctx, &m, `INSERT INTO staff (id, community_id, name, role) VALUES ($1, $2, $3, $4)
		RETURNING id, community_id, name, role, created_at, disabled_at`, newID(), nullUUID(n.Community), n.Name, n.Role)
	if err != nil {
		return m, IssuedToken{}, fmt.Errorf("create staff: %w", err)
	}
	if n.NoToken {
		return m, IssuedToken{}, tx.Audit(ctx, n.Community, "staff.create", "staff:"+m.ID.String(),
			map[string]any{"name": n.Name, "role": n.Role})
	}
	tok, err := tx.insertToken(ctx, m.ID, n.Token)
	if err != nil {
		return m, IssuedToken{}, err
	}
	return m, tok, tx.Audit(ctx, n.Community, "staff.create", "staff:"+m.ID.String(),
		map[string]any{"name": n.Name, "role": n.Role, "token_id": tok.ID, "kind": tok.Kind, "expires_at": tok.ExpiresAt})
}

// insertToken makes a token for member staff. The lifetime is checked here too, so that
// no caller can store a token longer-lived than access allows.
func (tx *Tx) insertToken(ctx context.Context, staff uuid.UUID, spec TokenSpec) (IssuedToken, error) {
	if spec.Kind == "" {
		spec.Kind = access.TokenConsole
	}
	ttl, err := access.TokenTTL(spec.Kind, spec.TTL, spec.Default)
	if err != nil {
		return IssuedToken{}, err
	}
	plain, err := secret.New(secret.KindStaff, uuid.Nil)
	if err != nil {
		return IssuedToken{}, err
	}
	out := IssuedToken{Token: plain.Plain}
	err = tx.x.GetContext(ctx, &out.StaffToken, `INSERT INTO staff_tokens (id, token_hash, staff_id, kind, label, expires_at)
		VALUES ($1, $2, $3, $4, $5, now() + $6 * interval '1 microsecond')
		RETURNING `+tokenColumns, newID(), plain.Hash[:], staff, spec.Kind, spec.Label, ttl.Microseconds())
	if err != nil {
		return IssuedToken{}, fmt.Errorf("create staff token: %w", err)
	}
	return out, nil
}

const tokenColumns = `id, staff_id, kind, label, created_at, expires_at, last_used_at, revoked_at`

// StaffByToken authenticates a bearer token. A revoked or expired token, and every token
// of a disabled member, fails at once: nothing is cached. It records when the token was
// last used, at most once every lastUsedEvery.
func (db *DB) StaffByToken(ctx context.Context, plain string) (access.Staff, error) {
	_, h, err := secret.Parse(secret.KindStaff, plain)
	if err != nil {
		return access.Staff{}, access.ErrUnauthorized
	}
	var row struct {
		ID        uuid.UUID     `db:"id"`
		Name      string        `db:"name"`
		Role      string        `db:"role"`
		Community uuid.NullUUID `db:"community_id"`
		Token     uuid.UUID     `db:"token_id"`
		Expires   time.Time     `db:"expires_at"`
		Stale     bool          `db:"stale"`
	}
	// Prepared: every admin request runs it, and on a busy machine each round trip waits
	// for a core.
	err = db.staff.get(ctx, &row, `SELECT s.id, s.name, s.role, s.community_id, t.id AS token_id, t.expires_at,
			t.last_used_at IS NULL OR t.last_used_at < now() - $2 * interval '1 microsecond' AS stale
		FROM staff_tokens t JOIN staff s ON s.id = t.staff_id
		WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > now() AND s.disabled_at IS NULL`,
		h[:], lastUsedEvery.Microseconds())
	if errors.Is(err, sql.ErrNoRows) {
		return access.Staff{}, access.ErrUnauthorized
	}
	if err != nil {
		return access.Staff{}, fmt.Errorf("authenticate staff: %w", err)
	}
	if row.Stale {
		if _, err := db.x.ExecContext(ctx, `UPDATE staff_tokens SET last_used_at = now() WHERE token_hash = $1`, h[:]); err != nil {
			return access.Staff{}, fmt.Errorf("record staff token use: %w", err)
		}
	}
	return access.Staff{ID: row.ID, Name: row.Name, Role: access.StaffRole(row.Role), Community: row.Community.UUID,
		Token: row.Token, TokenExpires: row.Expires}, nil
}

const staffColumns = `id, community_id, name, role, created_at, disabled_at`

// StaffMembers lists the staff of a community.
func (db *DB) StaffMembers(ctx context.Context, c uuid.UUID) ([]access.StaffMember, error) {
	out := []access.StaffMember{}
	err := db.x.SelectContext(ctx, &out, `SELECT `+staffColumns+` FROM staff
		WHERE community_id = $1 ORDER BY name, id`, c)
	if err != nil {
		return nil, fmt.Errorf("list staff: %w", err)
	}
	return out, nil
}

// StaffMember finds a staff member by id, in any community or none (an operator).
func (db *DB) StaffMember(ctx context.Context, id uuid.UUID) (access.StaffMember, error) {
	return staffMemberQ(ctx, db.x, id, "")
}

func staffMemberQ(ctx context.Context, q sqlx.QueryerContext, id uuid.UUID, suffix string) (access.StaffMember, error) {
	var m access.StaffMember
	err := sqlx.GetContext(ctx, q, &m, `SELECT `+staffColumns+` FROM staff WHERE id = $1`+suffix, id)
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("staff member %s: %w", id, access.ErrNotFound)
	}
	if err != nil {
		return m, fmt.Errorf("staff member %s: %w", id, err)
	}
	return m, nil
}

// scope is the community a member belongs to, uuid.Nil for operators: where their
// audit rows go.
func scope(m access.StaffMember) uuid.UUID {
	if m.Community == nil {
		return uuid.Nil
	}
	return *m.Community
}

// lockMember locks a member's community, then the member's row, in that order: Audit
// takes the community's lock too, so a transaction that held the row first could
// deadlock with one that held the community first. The community's lock also serialises
// two admins disabling each other at once, who would otherwise each see the other still
// enabled.
func (tx *Tx) lockMember(ctx context.Context, id uuid.UUID) (access.StaffMember, error) {
	m, err := staffMemberQ(ctx, tx.x, id, "")
	if err != nil {
		return m, err
	}
	if err := tx.lockCommunity(ctx, scope(m)); err != nil {
		return m, err
	}
	return staffMemberQ(ctx, tx.x, id, " FOR UPDATE")
}

// SetStaffDisabled disables or enables a staff member. Disabling is immediate: every
// token of theirs fails from the next request. It leaves the tokens as they are, so
// enabling undoes a mistaken disable; revoke a token to end it for good. The last
// enabled admin of a community (or of the operators) cannot be disabled: ErrLastAdmin.
// Setting what is already set changes nothing and writes no audit row.
func (tx *Tx) SetStaffDisabled(ctx context.Context, id uuid.UUID, disabled bool) (access.StaffMember, error) {
	m, err := tx.lockMember(ctx, id)
	if err != nil {
		return m, err
	}
	c := scope(m)
	if (m.DisabledAt != nil) == disabled {
		return m, nil
	}
	action := "staff.enable"
	if disabled {
		action = "staff.disable"
		if m.Role == access.StaffAdmin {
			var others int
			err := tx.x.GetContext(ctx, &others, `SELECT count(*) FROM staff
				WHERE community_id IS NOT DISTINCT FROM $1 AND role = 'admin' AND disabled_at IS NULL AND id <> $2`, nullUUID(c), id)
			if err != nil {
				return m, fmt.Errorf("disable staff: %w", err)
			}
			if others == 0 {
				return m, ErrLastAdmin
			}
		}
	}
	// The value is chosen here, not by CASE in SQL: Citus refuses a non-immutable function
	// (now()) inside CASE or COALESCE.
	set := "NULL"
	if disabled {
		set = "now()"
	}
	err = tx.x.GetContext(ctx, &m, `UPDATE staff SET disabled_at = `+set+` WHERE id = $1
		RETURNING `+staffColumns, id)
	if err != nil {
		return m, fmt.Errorf("%s: %w", action, err)
	}
	return m, tx.Audit(ctx, c, action, "staff:"+id.String(), map[string]any{"role": m.Role})
}

// StaffTokens lists a member's tokens, live and dead, newest first.
func (db *DB) StaffTokens(ctx context.Context, staff uuid.UUID) ([]access.StaffToken, error) {
	out := []access.StaffToken{}
	err := db.x.SelectContext(ctx, &out, `SELECT `+tokenColumns+` FROM staff_tokens WHERE staff_id = $1
		ORDER BY created_at DESC, id`, staff)
	if err != nil {
		return nil, fmt.Errorf("list staff tokens: %w", err)
	}
	return out, nil
}

// IssueStaffToken gives a member a new token; their other tokens stay as they are.
func (tx *Tx) IssueStaffToken(ctx context.Context, staff uuid.UUID, spec TokenSpec) (IssuedToken, error) {
	m, err := tx.lockMember(ctx, staff)
	if err != nil {
		return IssuedToken{}, err
	}
	if m.DisabledAt != nil {
		return IssuedToken{}, ErrStaffDisabled
	}
	tok, err := tx.insertToken(ctx, staff, spec)
	if err != nil {
		return tok, err
	}
	return tok, tx.Audit(ctx, scope(m), "staff.token_issue", "staff:"+staff.String(),
		map[string]any{"token_id": tok.ID, "kind": tok.Kind, "label": tok.Label, "expires_at": tok.ExpiresAt})
}

// staffToken locks token id of member owner (uuid.Nil: of whoever holds it) and its holder.
func (tx *Tx) staffToken(ctx context.Context, owner, id uuid.UUID) (access.StaffToken, access.StaffMember, error) {
	var t access.StaffToken
	err := tx.x.GetContext(ctx, &t, `SELECT `+tokenColumns+` FROM staff_tokens
		WHERE id = $1 AND ($2::uuid IS NULL OR staff_id = $2) FOR UPDATE`, id, nullUUID(owner))
	if errors.Is(err, sql.ErrNoRows) {
		return t, access.StaffMember{}, fmt.Errorf("staff token %s: %w", id, access.ErrNotFound)
	}
	if err != nil {
		return t, access.StaffMember{}, fmt.Errorf("staff token %s: %w", id, err)
	}
	m, err := staffMemberQ(ctx, tx.x, t.Staff, "")
	return t, m, err
}

// RevokeStaffToken ends token id of member owner (uuid.Nil: whoever holds it) at once.
// Revoking a revoked token changes nothing and writes no audit row.
func (tx *Tx) RevokeStaffToken(ctx context.Context, owner, id uuid.UUID) (access.StaffToken, error) {
	t, m, err := tx.staffToken(ctx, owner, id)
	if err != nil || t.RevokedAt != nil {
		return t, err
	}
	if err := tx.revokeToken(ctx, &t); err != nil {
		return t, err
	}
	return t, tx.Audit(ctx, scope(m), "staff.token_revoke", "staff:"+m.ID.String(), map[string]any{"token_id": id, "kind": t.Kind})
}

func (tx *Tx) revokeToken(ctx context.Context, t *access.StaffToken) error {
	err := tx.x.GetContext(ctx, t, `UPDATE staff_tokens SET revoked_at = now() WHERE id = $1 RETURNING `+tokenColumns, t.ID)
	if err != nil {
		return fmt.Errorf("revoke staff token: %w", err)
	}
	return nil
}

// RotateStaffToken replaces a live token of member owner with a new one of the same
// kind and label, in one transaction: the old token stops as the new one starts, so a
// holder never has two, nor none. spec gives the new lifetime (Kind and Label are the
// old token's).
func (tx *Tx) RotateStaffToken(ctx context.Context, owner, id uuid.UUID, spec TokenSpec) (IssuedToken, error) {
	old, m, err := tx.staffToken(ctx, owner, id)
	if err != nil {
		return IssuedToken{}, err
	}
	if old.RevokedAt != nil || !old.ExpiresAt.After(time.Now()) {
		return IssuedToken{}, ErrTokenDead
	}
	if m.DisabledAt != nil {
		return IssuedToken{}, ErrStaffDisabled
	}
	spec.Kind, spec.Label = old.Kind, old.Label
	tok, err := tx.insertToken(ctx, m.ID, spec)
	if err != nil {
		return tok, err
	}
	if err := tx.revokeToken(ctx, &old); err != nil {
		return tok, err
	}
	return tok, tx.Audit(ctx, scope(m), "staff.token_rotate", "staff:"+m.ID.String(),
		map[string]any{"revoked_token_id": old.ID, "token_id": tok.ID, "kind": tok.Kind, "expires_at": tok.ExpiresAt})
}
