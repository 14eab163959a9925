package store

import (
	"context"
	"fmt"
	"gatepass/internal/access"
	"gatepass/internal/consent"
	"time"

	"github.com/google/uuid"
)

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
	// least(ended_at, now()) keeps a moved-out resident's end (always an earlier now()) and
	// sets it for an active one (least skips NULL). Not COALESCE: Citus refuses a
	// non-immutable function inside COALESCE or CASE.
	r, err := tx.x.ExecContext(ctx, `UPDATE residents SET status = 'deleted', name = 'deleted', phone = NULL,
		ended_at = least(ended_at, now()) WHERE community_id = $1 AND id = $2 AND status <> 'deleted'`, c, resident)
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

// maxExportEntries bounds the entries in one export; older ones are in the paged history.
const maxExportEntries = 10000
