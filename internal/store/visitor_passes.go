package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"gatepass/internal/access"
	"gatepass/internal/secret"
)

// VisitorPass is a host's time-limited pass for a visitor without an account.
type VisitorPass struct {
	Community   uuid.UUID  `db:"community_id" json:"community_id"`
	ID          uuid.UUID  `db:"id" json:"id"`
	Host        uuid.UUID  `db:"host_resident_id" json:"host_resident_id"`
	Label       string     `db:"label" json:"label"`
	Zones       int64      `db:"zones" json:"zones"`
	ValidFrom   time.Time  `db:"valid_from" json:"valid_from"`
	ValidUntil  time.Time  `db:"valid_until" json:"valid_until"`
	MaxEntries  int        `db:"max_entries" json:"max_entries"`
	EntriesUsed int        `db:"entries_used" json:"entries_used"`
	CreatedAt   time.Time  `db:"created_at" json:"created_at"`
	RevokedAt   *time.Time `db:"revoked_at" json:"revoked_at,omitempty"`
	// Credential is the id gates see in the pass's QR codes and revoke.
	Credential uuid.UUID `db:"credential_id" json:"credential_id"`
	// HostStatus is the host's status now: a pass stops when its host leaves. Callers
	// answer State, not this.
	HostStatus access.ResidentStatus `db:"host_status" json:"-"`
}

// State is the pass's state at now, by the resident rules (access.VisitorPass): what
// the host, the visitor and staff are shown.
func (p VisitorPass) State(now time.Time) access.VisitorState {
	return access.VisitorPass{ValidFrom: p.ValidFrom, ValidUntil: p.ValidUntil, MaxEntries: p.MaxEntries, Used: p.EntriesUsed,
		Revoked: p.RevokedAt != nil, HostStatus: p.HostStatus}.State(now)
}

// VisitorPassView is a pass with its state at one moment, as both APIs answer it.
type VisitorPassView struct {
	VisitorPass
	State access.VisitorState `json:"state"`
}

// View is the pass with its state at now.
func (p VisitorPass) View(now time.Time) VisitorPassView {
	return VisitorPassView{VisitorPass: p, State: p.State(now)}
}

// Views gives each pass its state at now.
func Views(list []VisitorPass, now time.Time) []VisitorPassView {
	out := make([]VisitorPassView, len(list))
	for i, p := range list {
		out[i] = p.View(now)
	}
	return out
}

const visitorSelect = `SELECT v.community_id, v.id, v.host_resident_id, v.label, v.zones, v.valid_from, v.valid_until,
	v.max_entries, v.entries_used, v.created_at, v.revoked_at, c.id AS credential_id, r.status AS host_status
FROM visitor_passes v
JOIN credentials c ON c.community_id = v.community_id AND c.visitor_pass_id = v.id AND c.kind = 'visitor'
JOIN residents r ON r.community_id = v.community_id AND r.id = v.host_resident_id`

// NewVisitorPass is what a host asks for.
type NewVisitorPass struct {
	Community, Host       uuid.UUID
	Label                 string
	Zones                 access.ZoneMask
	ValidFrom, ValidUntil time.Time
	MaxEntries            int
}

// CreateVisitorPass makes a pass and its share token (shown once, stored hashed). The
// zones must be within what the host's own access groups open (issue 16: a resident of
// building 3 cannot let a visitor into building 1), as they are in this transaction.
func (tx *Tx) CreateVisitorPass(ctx context.Context, p NewVisitorPass) (VisitorPass, string, error) {
	if err := tx.activeResident(ctx, p.Community, p.Host); err != nil {
		return VisitorPass{}, "", err
	}
	hostZones, err := residentGroupZones(ctx, tx.x, p.Community, p.Host)
	if err != nil {
		return VisitorPass{}, "", err
	}
	if err := access.CheckVisitorZones(p.Zones, hostZones); err != nil {
		return VisitorPass{}, "", err
	}
	tok, err := secret.New(secret.KindVisitor, p.Community)
	if err != nil {
		return VisitorPass{}, "", err
	}
	id := newID()
	_, err = tx.x.ExecContext(ctx, `INSERT INTO visitor_passes (community_id, id, host_resident_id, label, token_hash, zones, valid_from, valid_until, max_entries)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		p.Community, id, p.Host, p.Label, tok.Hash[:], int64(p.Zones), p.ValidFrom, p.ValidUntil, p.MaxEntries)
	if err != nil {
		return VisitorPass{}, "", fmt.Errorf("create visitor pass: %w", err)
	}
	credID := newID()
	_, err = tx.x.ExecContext(ctx, `INSERT INTO credentials (community_id, id, kind, subject, visitor_pass_id, zones, label, expires_at)
		VALUES ($1, $2, 'visitor', 'visitor', $3, $4, $5, $6)`, p.Community, credID, id, int64(p.Zones), p.Label, p.ValidUntil)
	if err != nil {
		return VisitorPass{}, "", fmt.Errorf("create visitor pass: %w", err)
	}
	if err := tx.credentialCreated(ctx, p.Community, credID); err != nil {
		return VisitorPass{}, "", err
	}
	var out VisitorPass
	if err := tx.x.GetContext(ctx, &out, visitorSelect+` WHERE v.community_id = $1 AND v.id = $2`, p.Community, id); err != nil {
		return out, "", fmt.Errorf("create visitor pass: %w", err)
	}
	return out, tok.Plain, tx.Audit(ctx, p.Community, "visitor_pass.create", "resident:"+p.Host.String(),
		map[string]any{"visitor_pass_id": id, "valid_from": p.ValidFrom, "valid_until": p.ValidUntil, "max_entries": p.MaxEntries, "zones": int64(p.Zones)})
}

// VisitorPasses lists passes newest first: a host's (host set) or the community's (host
// uuid.Nil, for staff), at most limit. Each one's State says whether it works now.
func (db *DB) VisitorPasses(ctx context.Context, c, host uuid.UUID, limit int) ([]VisitorPass, error) {
	out := []VisitorPass{}
	err := db.x.SelectContext(ctx, &out, visitorSelect+` WHERE v.community_id = $1 AND ($2::uuid IS NULL OR v.host_resident_id = $2)
		ORDER BY v.created_at DESC, v.id LIMIT $3`, c, nullUUID(host), limit)
	if err != nil {
		return nil, fmt.Errorf("list visitor passes: %w", err)
	}
	return out, nil
}

// VisitorPassByToken finds a pass by its share token, whatever its state: the caller
// decides by its State whether it may show a code now.
func (db *DB) VisitorPassByToken(ctx context.Context, plain string) (VisitorPass, error) {
	c, h, err := secret.Parse(secret.KindVisitor, plain)
	if err != nil {
		return VisitorPass{}, fmt.Errorf("visitor pass: %w", access.ErrNotFound)
	}
	var out VisitorPass
	err = db.x.GetContext(ctx, &out, visitorSelect+` WHERE v.community_id = $1 AND v.token_hash = $2`, c, h[:])
	if errors.Is(err, sql.ErrNoRows) {
		return VisitorPass{}, fmt.Errorf("visitor pass: %w", access.ErrNotFound)
	}
	if err != nil {
		return VisitorPass{}, fmt.Errorf("visitor pass: %w", err)
	}
	return out, nil
}

// RevokeVisitorPass revokes a pass and its credential. host limits it to one host's
// passes (uuid.Nil: staff, any pass of the community).
func (tx *Tx) RevokeVisitorPass(ctx context.Context, c, host, pass uuid.UUID) error {
	var revoked bool
	err := tx.x.GetContext(ctx, &revoked, `SELECT revoked_at IS NOT NULL FROM visitor_passes
		WHERE community_id = $1 AND id = $2 AND ($3::uuid IS NULL OR host_resident_id = $3) FOR UPDATE`, c, pass, nullUUID(host))
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("visitor pass %s: %w", pass, access.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("revoke visitor pass: %w", err)
	}
	if revoked {
		return fmt.Errorf("visitor pass already revoked: %w", access.ErrConflict)
	}
	if _, err := tx.x.ExecContext(ctx, `UPDATE visitor_passes SET revoked_at = now() WHERE community_id = $1 AND id = $2`, c, pass); err != nil {
		return fmt.Errorf("revoke visitor pass: %w", err)
	}
	if _, err := tx.revokeCredentials(ctx, c, "visitor_pass_revoked", `c.visitor_pass_id = $3`, pass); err != nil {
		return err
	}
	return tx.Audit(ctx, c, "visitor_pass.revoke", "visitor_pass:"+pass.String(), map[string]any{"by_host": host != uuid.Nil})
}

// CountVisitorEntries adds granted entries to their visitor passes' entries_used, so a
// pass stops showing codes once its entries are used. credentials are the credential ids
// of newly stored granted entry events (one per entry; other kinds are ignored). The gate
// API calls it for the events a batch actually inserted, which keeps it idempotent.
func (db *DB) CountVisitorEntries(ctx context.Context, c uuid.UUID, credentials []uuid.UUID) (int, error) {
	return countVisitorEntries(ctx, db.x, c, credentials)
}

func countVisitorEntries(ctx context.Context, x sqlx.ExecerContext, c uuid.UUID, credentials []uuid.UUID) (int, error) {
	if len(credentials) == 0 {
		return 0, nil
	}
	ids := make([]string, len(credentials))
	for i, id := range credentials {
		ids[i] = id.String()
	}
	r, err := x.ExecContext(ctx, `UPDATE visitor_passes v SET entries_used = v.entries_used + n.entries
		FROM (SELECT c.visitor_pass_id, count(*) AS entries FROM unnest($2::uuid[]) AS u(id)
			JOIN credentials c ON c.community_id = $1 AND c.id = u.id AND c.kind = 'visitor'
			GROUP BY c.visitor_pass_id) n
		WHERE v.community_id = $1 AND v.id = n.visitor_pass_id`, c, pq.Array(ids))
	if err != nil {
		return 0, fmt.Errorf("count visitor entries: %w", err)
	}
	n, _ := r.RowsAffected()
	return int(n), nil
}
