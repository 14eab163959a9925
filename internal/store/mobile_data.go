package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/consent"
)

// Entry is one of a resident's own entry events.
type Entry struct {
	ID         uuid.UUID `db:"id" json:"id"`
	OccurredAt time.Time `db:"occurred_at" json:"occurred_at"`
	Gate       uuid.UUID `db:"gate_id" json:"gate_id"`
	GateName   *string   `db:"gate_name" json:"gate_name,omitempty"`
	Credential uuid.UUID `db:"credential_id" json:"credential_id"`
	Method     string    `db:"method" json:"method"`
	Result     string    `db:"result" json:"result"`
	Reason     string    `db:"reason" json:"reason"`
	Offline    bool      `db:"offline" json:"offline"`
}

// EntryPage is a page of entries, newest first.
type EntryPage struct {
	Entries    []Entry `json:"entries"`
	NextCursor string  `json:"next_cursor,omitempty"`
}

type entryCursor struct {
	At time.Time `json:"t"`
	ID uuid.UUID `json:"i"`
}

// ResidentEntries lists the entry events of the resident's own credentials (QR, device,
// card), newest first, with keyset pagination. Visitors' entries are not the host's.
func (db *DB) ResidentEntries(ctx context.Context, c, resident uuid.UUID, cursor string, limit int) (EntryPage, error) {
	var at, id any
	if cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(cursor)
		var cur entryCursor
		if err != nil || json.Unmarshal(raw, &cur) != nil || cur.ID == uuid.Nil {
			return EntryPage{}, ErrBadCursor
		}
		at, id = cur.At, cur.ID
	}
	page := EntryPage{Entries: []Entry{}}
	err := db.x.SelectContext(ctx, &page.Entries, `SELECT e.id, e.occurred_at, e.gate_id, g.name AS gate_name, e.credential_id,
		e.method, e.result, e.reason, e.offline
		FROM entry_events e LEFT JOIN gates g ON g.community_id = e.community_id AND g.id = e.gate_id
		WHERE e.community_id = $1 AND e.credential_id IN (SELECT id FROM credentials WHERE community_id = $1 AND resident_id = $2)
		AND ($3::timestamptz IS NULL OR (e.occurred_at, e.id) < ($3::timestamptz, $4::uuid))
		ORDER BY e.occurred_at DESC, e.id DESC LIMIT $5`, c, resident, at, id, limit+1)
	if err != nil {
		return page, fmt.Errorf("list entries: %w", err)
	}
	if len(page.Entries) > limit {
		page.Entries = page.Entries[:limit]
		last := page.Entries[limit-1]
		raw, _ := json.Marshal(entryCursor{At: last.OccurredAt, ID: last.ID})
		page.NextCursor = base64.RawURLEncoding.EncodeToString(raw)
	}
	return page, nil
}

// Export is everything gatepass holds about one resident, for the right of access.
type Export struct {
	ExportedAt    time.Time         `json:"exported_at"`
	Resident      access.Resident   `json:"resident"`
	Residencies   []exportResidency `json:"residencies"`
	Passkeys      []Passkey         `json:"passkeys"`
	Sessions      []exportSession   `json:"sessions"`
	Credentials   []exportCred      `json:"credentials"`
	VisitorPasses []VisitorPass     `json:"visitor_passes"`
	Consents      []Consent         `json:"consents"`
	FacePurges    []GatePurge       `json:"face_purges"`
	Entries       []Entry           `json:"entries"`
}

type exportResidency struct {
	Unit      uuid.UUID  `db:"unit_id" json:"unit_id"`
	UnitLabel string     `db:"label" json:"unit_label"`
	Role      string     `db:"role" json:"role"`
	ValidFrom time.Time  `db:"valid_from" json:"valid_from"`
	ValidTo   *time.Time `db:"valid_to" json:"valid_to,omitempty"`
}

type exportSession struct {
	CreatedAt  time.Time  `db:"created_at" json:"created_at"`
	LastSeenAt time.Time  `db:"last_seen_at" json:"last_seen_at"`
	ExpiresAt  time.Time  `db:"expires_at" json:"expires_at"`
	RevokedAt  *time.Time `db:"revoked_at" json:"revoked_at,omitempty"`
}

type exportCred struct {
	ID           uuid.UUID  `db:"id" json:"id"`
	Kind         string     `db:"kind" json:"kind"`
	Zones        int64      `db:"zones" json:"zones"`
	Label        string     `db:"label" json:"label"`
	CreatedAt    time.Time  `db:"created_at" json:"created_at"`
	ExpiresAt    *time.Time `db:"expires_at" json:"expires_at,omitempty"`
	RevokedAt    *time.Time `db:"revoked_at" json:"revoked_at,omitempty"`
	RevokeReason *string    `db:"revoke_reason" json:"revoke_reason,omitempty"`
}

// maxExportEntries bounds the entries in one export; older ones are in the paged history.
const maxExportEntries = 10000

// ExportResident gathers everything held about the resident. Secrets (session and
// invite hashes, passkey public keys) are not personal data the resident gave and
// are left out.
func (db *DB) ExportResident(ctx context.Context, c, resident uuid.UUID) (Export, error) {
	out := Export{ExportedAt: time.Now().UTC()}
	var err error
	if out.Resident, err = residentQ(ctx, db.x, c, resident); err != nil {
		return out, err
	}
	if out.Passkeys, err = db.Passkeys(ctx, c, resident); err != nil {
		return out, err
	}
	if out.VisitorPasses, err = db.VisitorPasses(ctx, c, resident, maxExportEntries); err != nil {
		return out, err
	}
	lists := []struct {
		dest  any
		query string
	}{
		{&out.Residencies, `SELECT rs.unit_id, u.label, rs.role, rs.valid_from, rs.valid_to FROM residencies rs
			JOIN units u ON u.community_id = rs.community_id AND u.id = rs.unit_id
			WHERE rs.community_id = $1 AND rs.resident_id = $2 ORDER BY rs.valid_from`},
		{&out.Sessions, `SELECT created_at, last_seen_at, expires_at, revoked_at FROM sessions
			WHERE community_id = $1 AND resident_id = $2 ORDER BY created_at`},
		{&out.Credentials, `SELECT id, kind, zones, label, created_at, expires_at, revoked_at, revoke_reason FROM credentials
			WHERE community_id = $1 AND resident_id = $2 ORDER BY created_at`},
	}
	out.Residencies, out.Sessions, out.Credentials = []exportResidency{}, []exportSession{}, []exportCred{}
	for _, l := range lists {
		if err := db.x.SelectContext(ctx, l.dest, l.query, c, resident); err != nil {
			return out, fmt.Errorf("export: %w", err)
		}
	}
	if out.Consents, err = db.Consents(ctx, c, resident); err != nil {
		return out, err
	}
	if out.FacePurges, err = db.PurgeStatus(ctx, c, resident); err != nil {
		return out, err
	}
	page, err := db.ResidentEntries(ctx, c, resident, "", maxExportEntries)
	if err != nil {
		return out, err
	}
	out.Entries = page.Entries
	return out, nil
}

// DeleteResult says what a resident's deletion ended.
type DeleteResult struct {
	Credentials   int         `json:"credentials_revoked"`
	Sessions      int         `json:"sessions_ended"`
	Passkeys      int         `json:"passkeys_deleted"`
	VisitorPasses int         `json:"visitor_passes_revoked"`
	Entries       int         `json:"entries_anonymised"`
	Face          PurgeResult `json:"face"`
}

// DeleteResident is the resident's right to erasure: every credential, session, passkey,
// invite and visitor pass ends; name and phone are erased; face consent ends and every
// gate is told to delete the template (PurgeFaceData); entry
// events stay (the community's record of who-knows-whom came through its gates) but lose
// the credential id that tied them to the person.
func (tx *Tx) DeleteResident(ctx context.Context, c, resident uuid.UUID) (DeleteResult, error) {
	var res DeleteResult
	r, err := tx.x.ExecContext(ctx, `UPDATE residents SET status = 'deleted', name = 'deleted', phone = NULL,
		ended_at = COALESCE(ended_at, now()) WHERE community_id = $1 AND id = $2 AND status <> 'deleted'`, c, resident)
	if err != nil {
		return res, fmt.Errorf("delete resident: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return res, fmt.Errorf("resident %s: %w", resident, access.ErrNotFound)
	}
	steps := []step{
		{`UPDATE entry_events SET credential_id = NULL, replay_key = NULL WHERE community_id = $1
			AND credential_id IN (SELECT id FROM credentials WHERE community_id = $1 AND resident_id = $2)`, &res.Entries},
		{`DELETE FROM passkeys WHERE community_id = $1 AND resident_id = $2`, &res.Passkeys},
	}
	if err := tx.execSteps(ctx, "delete resident", steps, c, resident); err != nil {
		return res, err
	}
	e, err := tx.endResidency(ctx, c, resident, "resident_deleted", consent.ReasonDeletion)
	if err != nil {
		return res, err
	}
	res.Credentials, res.Sessions, res.VisitorPasses, res.Face = e.Credentials, e.Sessions, e.VisitorPasses, e.Face
	return res, tx.Audit(ctx, c, "resident.delete", "resident:"+resident.String(), res)
}
