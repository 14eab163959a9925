package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/consent"
)

// facePurgeChange is the stored data (change_log.data) of a "face_purge" change for one
// gate (the change's gate_id is that gate, its entity_id the purge id), and a face_purges
// row: delete every template of the resident from memory and disk, then acknowledge the
// purge id (AckPurge).
type facePurgeChange struct {
	Purge    uuid.UUID      `db:"purge_id" json:"purge_id"`
	Resident uuid.UUID      `db:"resident_id" json:"resident_id"`
	Reason   consent.Reason `db:"reason" json:"reason"`
}

func (p facePurgeChange) domain() access.FacePurge {
	return access.FacePurge{Purge: p.Purge, Resident: p.Resident, Reason: string(p.Reason)}
}

// PurgeFaceData ends a resident's live face consent, deletes their templates on the
// server, scrubs the sealed blobs from the sync log and sends every gate of the community
// a purge to acknowledge, all in this transaction, audited. A resident who never had
// face data gets a zero result and nothing changes. MoveOut and account deletion call it
// (reason move_out, deletion), as does the retention sweep.
func (tx *Tx) PurgeFaceData(ctx context.Context, c, resident uuid.UUID, reason consent.Reason) (access.PurgeResult, error) {
	// The rule is consent's; callers pass constants, so this only catches a programming
	// error before anything is written.
	if !reason.Valid() {
		return access.PurgeResult{}, fmt.Errorf("purge reason %q: %w", reason, access.ErrInvalid)
	}
	var res access.PurgeResult
	r, err := tx.x.ExecContext(ctx, `UPDATE consents SET withdrawn_at = now(), withdrawn_by = $3, end_reason = $4
		WHERE community_id = $1 AND resident_id = $2 AND withdrawn_at IS NULL`, c, resident, tx.actor, reason)
	if err != nil {
		return res, fmt.Errorf("end consent: %w", err)
	}
	n, _ := r.RowsAffected()
	res.Consent = n > 0
	if r, err = tx.x.ExecContext(ctx, `DELETE FROM face_templates WHERE community_id = $1 AND resident_id = $2`, c, resident); err != nil {
		return res, fmt.Errorf("delete templates: %w", err)
	}
	n, _ = r.RowsAffected()
	res.Templates = int(n)
	if !res.Consent && res.Templates == 0 {
		return res, nil
	}
	if err := tx.scrubTemplateChanges(ctx, c, resident, uuid.Nil); err != nil {
		return res, err
	}
	// Every gate that may hold a template: enrolled ones, disabled or not (a disabled
	// gate's purge stays pending, which the consent report shows).
	var gates []uuid.UUID
	if err := tx.x.SelectContext(ctx, &gates, `SELECT id FROM gates WHERE community_id = $1
		AND (enrolled_at IS NOT NULL OR box_public_key IS NOT NULL) ORDER BY id`, c); err != nil {
		return res, fmt.Errorf("list gates: %w", err)
	}
	res.Request = newID()
	for _, g := range gates {
		id := newID()
		if _, err := tx.x.ExecContext(ctx, `INSERT INTO face_purges (community_id, id, request_id, resident_id, gate_id, reason)
			VALUES ($1, $2, $3, $4, $5, $6)`, c, id, res.Request, resident, g, reason); err != nil {
			return res, fmt.Errorf("request purge: %w", err)
		}
		if err := tx.Change(ctx, c, "face_purge", g, id, facePurgeChange{Purge: id, Resident: resident, Reason: reason}); err != nil {
			return res, err
		}
	}
	res.Gates = len(gates)
	return res, tx.Audit(ctx, c, "face.purge", "resident:"+resident.String(), map[string]any{
		"reason": reason, "purge_request_id": res.Request, "consent_ended": res.Consent,
		"templates_deleted": res.Templates, "gates_notified": res.Gates,
	})
}

// AckPurge records a gate's acknowledgement that it deleted the template of a purge.
// Acknowledging twice is fine; a purge of another gate or community is ErrNotFound.
func (tx *Tx) AckPurge(ctx context.Context, c, gate, purge uuid.UUID) error {
	var resident uuid.UUID
	err := tx.x.GetContext(ctx, &resident, `UPDATE face_purges SET acked_at = now()
		WHERE community_id = $1 AND gate_id = $2 AND id = $3 AND acked_at IS NULL RETURNING resident_id`, c, gate, purge)
	if errors.Is(err, sql.ErrNoRows) {
		if err := tx.exists(ctx, `SELECT 1 FROM face_purges WHERE community_id = $1 AND gate_id = $2 AND id = $3`, c, gate, purge); err != nil {
			return fmt.Errorf("purge %s: %w", purge, access.ErrNotFound)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("ack purge: %w", err)
	}
	return tx.Audit(ctx, c, "face.purge_ack", "gate:"+gate.String(), map[string]any{"purge_id": purge, "resident_id": resident})
}

// PurgeStatus lists, per gate, the resident's latest purge and whether the gate has
// confirmed it (the resident's app shows it after a withdrawal).
func (db *DB) PurgeStatus(ctx context.Context, c, resident uuid.UUID) ([]access.GatePurge, error) {
	out := []access.GatePurge{}
	err := db.x.SelectContext(ctx, &out, `SELECT DISTINCT ON (p.gate_id) p.gate_id, g.name AS gate_name, p.id, p.request_id,
			p.reason, p.requested_at, p.acked_at, p.acked_at IS NOT NULL AS acked
		FROM face_purges p JOIN gates g ON g.community_id = p.community_id AND g.id = p.gate_id
		WHERE p.community_id = $1 AND p.resident_id = $2
		ORDER BY p.gate_id, p.requested_at DESC, p.id DESC`, c, resident)
	if err != nil {
		return nil, fmt.Errorf("purge status: %w", err)
	}
	return out, nil
}

// RetentionSweep purges the face data of every resident whose live consent saw no face
// entry (or, before the first, was granted) more than period before now, one transaction
// per resident, as actor "system:retention". It returns how many residents it purged.
func (db *DB) RetentionSweep(ctx context.Context, now time.Time, period time.Duration) (int, error) {
	if period <= 0 { // the cut-off would be now or later: everyone's face data would go
		return 0, fmt.Errorf("retention period %v: %w", period, access.ErrInvalid)
	}
	var due []struct {
		Community uuid.UUID `db:"community_id"`
		Resident  uuid.UUID `db:"resident_id"`
	}
	err := db.x.SelectContext(ctx, &due, `SELECT community_id, resident_id FROM consents
		WHERE withdrawn_at IS NULL AND coalesce(last_face_entry_at, granted_at) < $1`, now.Add(-period))
	if err != nil {
		return 0, fmt.Errorf("retention sweep: %w", err)
	}
	done := 0
	for _, d := range due {
		purged := false
		err := db.InTx(ctx, "system:retention", func(tx *Tx) error {
			// Re-check under the row lock: a face entry may have arrived meanwhile.
			live, err := tx.liveConsent(ctx, d.Community, d.Resident)
			if errors.Is(err, ErrNoConsent) {
				return nil
			}
			if err != nil {
				return err
			}
			last := live.GrantedAt
			if live.LastFaceEntry != nil {
				last = *live.LastFaceEntry
			}
			if !last.Before(now.Add(-period)) {
				return nil
			}
			_, err = tx.PurgeFaceData(ctx, d.Community, d.Resident, consent.ReasonRetention)
			purged = err == nil
			return err
		})
		if err != nil {
			return done, fmt.Errorf("retention purge of resident %s: %w", d.Resident, err)
		}
		if purged {
			done++
		}
	}
	return done, nil
}

// AckFacePurge records that the gate deleted the templates of a purge (idempotent).
func (db *DB) AckFacePurge(ctx context.Context, g access.GateIdentity, purge uuid.UUID) error {
	return db.InTx(ctx, "gate:"+g.ID.String(), func(tx *Tx) error { return tx.AckPurge(ctx, g.Community, g.ID, purge) })
}
