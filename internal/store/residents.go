package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/consent"
	"gatepass/internal/webhook"
)

// NewResident is what staff give to create a resident.
type NewResident struct {
	Community uuid.UUID
	Name      string
	Phone     *string
	Under14   bool
	Unit      uuid.UUID
	Role      access.ResidentRole
}

// CreateResident adds a resident living in a unit and makes their invite. Whether the
// unit exists is checked here because only the database knows.
func (tx *Tx) CreateResident(ctx context.Context, r NewResident) (access.Resident, Invite, error) {
	if err := tx.exists(ctx, `SELECT 1 FROM units WHERE community_id = $1 AND id = $2`, r.Community, r.Unit); err != nil {
		return access.Resident{}, Invite{}, access.Invalid("unit_id", "no such unit in this community")
	}
	id := newID()
	_, err := tx.x.ExecContext(ctx, `INSERT INTO residents (community_id, id, name, phone, under_14) VALUES ($1, $2, $3, $4, $5)`,
		r.Community, id, r.Name, r.Phone, r.Under14)
	if err != nil {
		return access.Resident{}, Invite{}, fmt.Errorf("create resident: %w", err)
	}
	_, err = tx.x.ExecContext(ctx, `INSERT INTO residencies (community_id, id, resident_id, unit_id, role) VALUES ($1, $2, $3, $4, $5)`,
		r.Community, newID(), id, r.Unit, r.Role)
	if err != nil {
		return access.Resident{}, Invite{}, fmt.Errorf("create resident: %w", err)
	}
	inv, err := tx.newInvite(ctx, r.Community, id)
	if err != nil {
		return access.Resident{}, Invite{}, err
	}
	res, err := residentQ(ctx, tx.x, r.Community, id)
	if err != nil {
		return res, inv, err
	}
	// Names and phone numbers stay out of the audit log: it outlives move-outs.
	return res, inv, tx.Audit(ctx, r.Community, "resident.create", "resident:"+id.String(),
		map[string]any{"unit_id": r.Unit, "role": r.Role, "under_14": r.Under14})
}

// residentSelect is followed by WHERE r.community_id = $1. The lateral subquery names the
// community as $1 too: Citus routes a statement to one shard only when every distributed
// table in it is filtered by the same constant (with r.community_id it asked every shard).
const residentSelect = `SELECT r.community_id, r.id, r.name, r.phone, r.under_14, r.status, r.created_at, r.ended_at,
	rs.unit_id, rs.role, u.label AS unit_label
FROM residents r
LEFT JOIN LATERAL (SELECT unit_id, role FROM residencies
	WHERE community_id = $1 AND resident_id = r.id ORDER BY valid_from DESC LIMIT 1) rs ON true
LEFT JOIN units u ON u.community_id = r.community_id AND u.id = rs.unit_id`

type getter interface {
	GetContext(ctx context.Context, dest any, query string, args ...any) error
}

func residentQ(ctx context.Context, q getter, c, id uuid.UUID) (access.Resident, error) {
	var r access.Resident
	err := q.GetContext(ctx, &r, residentSelect+` WHERE r.community_id = $1 AND r.id = $2`, c, id)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("resident %s: %w", id, access.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("get resident: %w", err)
	}
	return r, nil
}

// Resident returns one resident of community c.
func (db *DB) Resident(ctx context.Context, c, id uuid.UUID) (access.Resident, error) {
	return residentQ(ctx, db.x, c, id)
}

// ResidentFilter selects a page of residents.
type ResidentFilter struct {
	Query  string // part of the name or unit label (or phone number, with Phone)
	Phone  bool   // Query also matches phone numbers: for callers who see them whole
	Status access.ResidentStatus
	Cursor string // from the previous page's NextCursor
	Limit  int
}

type residentCursor struct {
	Name string    `json:"n"`
	ID   uuid.UUID `json:"i"`
}

// ErrBadCursor is returned for a cursor this store did not make.
var ErrBadCursor = access.Invalid("cursor", "is not a cursor from a previous page")

// Residents lists a community's residents by name with keyset pagination, so a page
// costs the same at the start and the end of 50,000 residents.
func (db *DB) Residents(ctx context.Context, c uuid.UUID, f ResidentFilter) (access.ResidentPage, error) {
	var after *residentCursor
	if f.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(f.Cursor)
		after = &residentCursor{}
		// A cursor is only ever one we made: anything PostgreSQL could not take as text
		// (a NUL, invalid UTF-8) is a forged one, refused before it reaches SQL.
		if err != nil || !utf8.Valid(raw) || json.Unmarshal(raw, after) != nil || after.ID == uuid.Nil || strings.ContainsRune(after.Name, 0) {
			return access.ResidentPage{}, ErrBadCursor
		}
	}
	var afterName, afterID any
	if after != nil {
		afterName, afterID = after.Name, after.ID
	}
	var pattern any
	if f.Query != "" {
		pattern = "%" + likeEscaper.Replace(f.Query) + "%"
	}
	var status any
	if f.Status != "" {
		status = string(f.Status)
	}
	page := access.ResidentPage{Residents: []access.Resident{}}
	err := db.x.SelectContext(ctx, &page.Residents, residentSelect+`
		WHERE r.community_id = $1
		  AND ($2::text IS NULL OR r.name ILIKE $2 OR ($7 AND r.phone ILIKE $2) OR r.id IN (SELECT h.resident_id FROM residencies h
			JOIN units hu ON hu.community_id = $1 AND hu.id = h.unit_id
			WHERE h.community_id = $1 AND h.valid_to IS NULL AND hu.label ILIKE $2))
		  AND ($3::text IS NULL OR r.status = $3)
		  AND ($4::text IS NULL OR (r.name, r.id) > ($4::text, $5::uuid))
		ORDER BY r.name, r.id LIMIT $6`, c, pattern, status, afterName, afterID, f.Limit+1, f.Phone && phoneLike(f.Query))
	if err != nil {
		return page, fmt.Errorf("list residents: %w", err)
	}
	if len(page.Residents) > f.Limit {
		page.Residents = page.Residents[:f.Limit]
		last := page.Residents[f.Limit-1]
		raw, _ := json.Marshal(residentCursor{Name: last.Name, ID: last.ID})
		page.NextCursor = base64.RawURLEncoding.EncodeToString(raw)
	}
	return page, nil
}

// phoneLike reports whether a search looks like (part of) a phone number: digits and
// the separators people type. Only such a search is matched against phone numbers, which
// spares every name search a second scan of the community's residents.
func phoneLike(q string) bool {
	digits := 0
	for _, r := range q {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' || r == '-' || r == ' ' || r == '(' || r == ')':
		default:
			return false
		}
	}
	return digits > 0
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// MoveOut ends a resident's residency and revokes every credential, session, pending
// invite and visitor pass of theirs, and purges their face data, all in this one
// transaction.
func (tx *Tx) MoveOut(ctx context.Context, c, resident uuid.UUID) (access.MoveOutResult, error) {
	var res access.MoveOutResult
	r, err := tx.x.ExecContext(ctx, `UPDATE residents SET status = 'moved_out', ended_at = now()
		WHERE community_id = $1 AND id = $2 AND status = 'active'`, c, resident)
	if err != nil {
		return res, fmt.Errorf("move out: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		if _, err := residentQ(ctx, tx.x, c, resident); err != nil {
			return res, err
		}
		return res, fmt.Errorf("resident is not active: %w", access.ErrConflict)
	}
	e, err := tx.endResidency(ctx, c, resident, "moved_out", consent.ReasonMoveOut)
	if err != nil {
		return res, err
	}
	res = access.MoveOutResult{Credentials: e.Credentials, Sessions: e.Sessions, VisitorPasses: e.VisitorPasses,
		FaceData: e.Face.Consent || e.Face.Templates > 0}
	if err := tx.EnqueueWebhook(ctx, c, webhook.ResidentMovedOut, webhook.MovedOut{Resident: resident, Credentials: e.Credentials}); err != nil {
		return res, err
	}
	return res, tx.Audit(ctx, c, "resident.move_out", "resident:"+resident.String(), res)
}

// ended counts what endResidency stopped.
type ended struct {
	Credentials, Sessions, VisitorPasses int
	Face                                 access.PurgeResult
}

// endResidency stops everything that lets a resident in, for move-out and deletion
// alike: the residency, pending invites, sessions, the WeChat binding, the visitor passes they host, every
// credential of theirs and of those passes (gates are told), and their face data (every
// gate is told to purge).
func (tx *Tx) endResidency(ctx context.Context, c, resident uuid.UUID, revokeReason string, faceReason consent.Reason) (ended, error) {
	var e ended
	steps := []step{
		{`UPDATE residencies SET valid_to = now() WHERE community_id = $1 AND resident_id = $2 AND valid_to IS NULL`, nil},
		{`UPDATE invites SET expires_at = now() WHERE community_id = $1 AND resident_id = $2 AND used_at IS NULL AND expires_at > now()`, nil},
		{`UPDATE sessions SET revoked_at = now() WHERE community_id = $1 AND resident_id = $2 AND revoked_at IS NULL`, &e.Sessions},
		// A WeChat binding lets its WeChat user sign in: it ends with the residency.
		{`DELETE FROM wechat_bindings WHERE community_id = $1 AND resident_id = $2`, nil},
		{`UPDATE visitor_passes SET revoked_at = now() WHERE community_id = $1 AND host_resident_id = $2 AND revoked_at IS NULL`, &e.VisitorPasses},
	}
	if err := tx.execSteps(ctx, "end residency", steps, c, resident); err != nil {
		return e, err
	}
	var err error
	e.Credentials, err = tx.revokeCredentials(ctx, c, revokeReason,
		`c.resident_id = $3 OR c.visitor_pass_id IN (SELECT id FROM visitor_passes WHERE community_id = $1 AND host_resident_id = $3)`, resident)
	if err != nil {
		return e, err
	}
	e.Face, err = tx.PurgeFaceData(ctx, c, resident, faceReason)
	return e, err
}

// step is one statement over (community $1, resident $2); count, when set, receives the
// number of rows it touched.
type step struct {
	query string
	count *int
}

// execSteps runs statements over (community, resident) in order.
func (tx *Tx) execSteps(ctx context.Context, what string, steps []step, c, resident uuid.UUID) error {
	for _, s := range steps {
		r, err := tx.x.ExecContext(ctx, s.query, c, resident)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if s.count != nil {
			n, _ := r.RowsAffected()
			*s.count = int(n)
		}
	}
	return nil
}

// ResidentCommunity finds the community of a resident, for paths that name only the
// resident.
func (db *DB) ResidentCommunity(ctx context.Context, resident uuid.UUID) (uuid.UUID, error) {
	return db.communityOf(ctx, "residents", "resident", resident)
}

// communityOf finds the community of a row of table by its id alone (an index on id
// serves it); what names the row in errors.
func (db *DB) communityOf(ctx context.Context, table, what string, id uuid.UUID) (uuid.UUID, error) {
	var c uuid.UUID
	err := db.x.GetContext(ctx, &c, `SELECT community_id FROM `+table+` WHERE id = $1`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return uuid.Nil, fmt.Errorf("%s %s: %w", what, id, access.ErrNotFound)
	}
	if err != nil {
		return uuid.Nil, fmt.Errorf("%s community: %w", what, err)
	}
	return c, nil
}

// ResidentZones is the zone mask a resident's credentials carry.
func (db *DB) ResidentZones(ctx context.Context, c uuid.UUID) (access.ZoneMask, error) {
	return residentZones(ctx, db.x, c)
}

type selecter interface {
	SelectContext(ctx context.Context, dest any, query string, args ...any) error
}

func residentZones(ctx context.Context, q selecter, c uuid.UUID) (access.ZoneMask, error) {
	var zones []int
	if err := q.SelectContext(ctx, &zones, `SELECT zone FROM zones WHERE community_id = $1`, c); err != nil {
		return 0, fmt.Errorf("resident zones: %w", err)
	}
	return access.ZonesForResident(zones), nil
}
