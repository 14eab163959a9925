package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"gatepass/internal/access"
	"gatepass/internal/consent"
	"gatepass/internal/face"
)

// FaceGateKeys lists the box keys of a community's enabled gates: the gates a template of
// a community-scope consent is sealed to.
func (db *DB) FaceGateKeys(ctx context.Context, c uuid.UUID) ([]access.GateBoxKey, error) {
	out := []access.GateBoxKey{}
	err := db.x.SelectContext(ctx, &out, `SELECT id, box_public_key FROM gates
		WHERE community_id = $1 AND box_public_key IS NOT NULL AND disabled_at IS NULL ORDER BY id`, c)
	if err != nil {
		return nil, fmt.Errorf("list gate box keys: %w", err)
	}
	return out, nil
}

// SealedTemplate is a template sealed (face.Seal) to one gate.
type SealedTemplate struct {
	Gate   uuid.UUID
	Model  string
	Sealed []byte
}

// faceTemplateChange is the stored data (change_log.data) of a "face_template" change for
// one gate (the change's gate_id is that gate, its entity_id the resident). Sealed is the
// face.Seal blob for face.Binding{community, gate, resident, model}; the gate opens it
// with its private key. A change whose Sealed is empty was scrubbed after a purge or a
// replacement: skip it.
type faceTemplateChange struct {
	Template uuid.UUID `json:"template_id"`
	Resident uuid.UUID `json:"resident_id"`
	Model    string    `json:"model"`
	Sealed   []byte    `json:"sealed,omitempty"`
}

// PutSealedTemplates stores a resident's templates sealed to every gate of the community
// that has a box key, one blob per gate, and sends each gate its own blob through sync.
// It needs a live community-scope consent to the current notice. The server checks only
// the form of each blob: it cannot open them.
//
// Every check is made here, after the consent is locked, and in this order, so that a
// request wrong in several ways gets the same error as ever: the consent and the set of
// keyed gates need the transaction, and the form checks (face.Models, face.CheckSealed)
// are the face package's rules, only applied here.
func (tx *Tx) PutSealedTemplates(ctx context.Context, c, resident uuid.UUID, blobs []SealedTemplate) (int, error) {
	cons, err := tx.liveConsent(ctx, c, resident)
	if err != nil {
		return 0, err
	}
	if !cons.CurrentVersion {
		return 0, ErrNoConsent
	}
	if cons.Scope != consent.ScopeCommunity {
		return 0, fmt.Errorf("a one_gate template never leaves its gate: %w", access.ErrConflict)
	}
	var keyed []uuid.UUID
	if err := tx.x.SelectContext(ctx, &keyed, `SELECT id FROM gates WHERE community_id = $1 AND box_public_key IS NOT NULL
		AND disabled_at IS NULL`, c); err != nil {
		return 0, fmt.Errorf("list gates: %w", err)
	}
	want := map[uuid.UUID]bool{}
	for _, g := range keyed {
		want[g] = true
	}
	if len(blobs) == 0 || len(blobs) != len(want) {
		return 0, access.Invalid("templates", "need one sealed template for each of the %d gates with a key", len(want))
	}
	seen := map[uuid.UUID]bool{}
	for i, b := range blobs {
		field := fmt.Sprintf("templates[%d]", i)
		switch {
		case !want[b.Gate]:
			return 0, access.Invalid(field+".gate_id", "no gate with a key of this id in this community")
		case seen[b.Gate]:
			return 0, access.Invalid(field+".gate_id", "two templates for one gate")
		case face.Models[b.Model] == 0:
			return 0, access.Invalid(field+".model", "unknown model %q", b.Model)
		case face.CheckSealed(b.Sealed) != nil:
			return 0, access.Invalid(field+".sealed", "is not a sealed face template")
		}
		seen[b.Gate] = true
	}
	// excluded.created_at (the column default, now()) and not now() in DO UPDATE: Citus
	// takes only immutable functions there.
	for _, b := range blobs {
		var id uuid.UUID
		err := tx.x.GetContext(ctx, &id, `INSERT INTO face_templates (community_id, id, resident_id, consent_id, gate_id, model, sealed)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (community_id, resident_id, gate_id, model)
			DO UPDATE SET sealed = excluded.sealed, consent_id = excluded.consent_id, created_at = excluded.created_at
			RETURNING id`, c, newID(), resident, cons.ID, b.Gate, b.Model, b.Sealed)
		if err != nil {
			return 0, fmt.Errorf("store sealed template: %w", err)
		}
		// A replaced blob must not live on in the change log.
		if err := tx.scrubTemplateChanges(ctx, c, resident, b.Gate); err != nil {
			return 0, err
		}
		ch := faceTemplateChange{Template: id, Resident: resident, Model: b.Model, Sealed: b.Sealed}
		if err := tx.Change(ctx, c, "face_template", b.Gate, resident, ch); err != nil {
			return 0, err
		}
	}
	return len(blobs), tx.Audit(ctx, c, "face.enrol", "resident:"+resident.String(),
		map[string]any{"consent_id": cons.ID, "gates": len(blobs), "model": blobs[0].Model})
}

// RecordGateEnrolment records that a gate enrolled a resident of a one_gate consent on
// the gate itself: the template stays there (no blob on the server), and the row lets
// purges and the filing count know about it. The gate API calls it. The model is checked
// after the locked consent, as ever, so that a gate without consent learns nothing more.
func (tx *Tx) RecordGateEnrolment(ctx context.Context, c, gate, resident uuid.UUID, model string) error {
	cons, err := tx.liveConsent(ctx, c, resident)
	if err != nil {
		return err
	}
	if !cons.CurrentVersion || cons.Scope != consent.ScopeOneGate || cons.Gate == nil || *cons.Gate != gate {
		return ErrNoConsent
	}
	if face.Models[model] == 0 {
		return access.Invalid("model", "unknown model %q", model)
	}
	// excluded.created_at, not now(): see PutSealedTemplates.
	_, err = tx.x.ExecContext(ctx, `INSERT INTO face_templates (community_id, id, resident_id, consent_id, gate_id, model, sealed)
		VALUES ($1, $2, $3, $4, $5, $6, NULL)
		ON CONFLICT (community_id, resident_id, gate_id, model) DO UPDATE SET created_at = excluded.created_at`,
		c, newID(), resident, cons.ID, gate, model)
	if err != nil {
		return fmt.Errorf("record gate enrolment: %w", err)
	}
	return tx.Audit(ctx, c, "face.enrol", "resident:"+resident.String(),
		map[string]any{"consent_id": cons.ID, "gate_id": gate, "model": model, "on_gate_only": true})
}

// NoteFaceEntry moves the retention clock of a resident's live consent to the time of a
// granted face entry. The gate API calls it when it stores a granted event of method face.
func (tx *Tx) NoteFaceEntry(ctx context.Context, c, resident uuid.UUID, at time.Time) error {
	_, err := tx.x.ExecContext(ctx, `UPDATE consents SET last_face_entry_at = greatest(last_face_entry_at, $3)
		WHERE community_id = $1 AND resident_id = $2 AND withdrawn_at IS NULL`, c, resident, at)
	if err != nil {
		return fmt.Errorf("note face entry: %w", err)
	}
	return nil
}

// scrubTemplateChanges removes the sealed blobs of a resident's earlier "face_template"
// changes (of one gate, or every gate for uuid.Nil): after a replacement or a purge the
// server keeps no copy of them, not even in the sync log. Gates skip scrubbed changes.
func (tx *Tx) scrubTemplateChanges(ctx context.Context, c, resident, gate uuid.UUID) error {
	_, err := tx.x.ExecContext(ctx, `UPDATE change_log SET data = data - 'sealed'
		WHERE community_id = $1 AND kind = 'face_template' AND entity_id = $2
		  AND ($3::uuid IS NULL OR gate_id = $3) AND data ? 'sealed'`, c, resident, nullUUID(gate))
	if err != nil {
		return fmt.Errorf("scrub template changes: %w", err)
	}
	return nil
}

// FaceTemplateCount counts distinct people with a face template (held on the server
// sealed, or on a gate only) in one community, or the whole deployment for uuid.Nil:
// the deployment's operator is the handler whose total the filing threshold counts.
func (db *DB) FaceTemplateCount(ctx context.Context, community uuid.UUID) (access.TemplateCount, error) {
	per := []access.CommunityCount{}
	err := db.x.SelectContext(ctx, &per, `SELECT community_id, count(DISTINCT resident_id) AS residents
		FROM face_templates WHERE ($1::uuid IS NULL OR community_id = $1)
		GROUP BY community_id ORDER BY residents DESC, community_id`, nullUUID(community))
	if err != nil {
		return access.TemplateCount{}, fmt.Errorf("count face templates: %w", err)
	}
	return access.CountTemplates(per, community == uuid.Nil), nil
}

// FaceSnapshot reads a gate's face snapshot. Delta syncs carry the same data as
// "face_template" and "face_purge" changes addressed to the gate.
func (db *DB) FaceSnapshot(ctx context.Context, c, gate uuid.UUID) (access.FaceSnapshot, error) {
	return faceSnapshot(ctx, db.x, c, gate)
}

// faceSnapshot works on any query handle, so the gate sync can read it inside its own
// repeatable-read transaction, at the same moment as its cursor.
func faceSnapshot(ctx context.Context, q sqlx.QueryerContext, c, gate uuid.UUID) (access.FaceSnapshot, error) {
	out := access.FaceSnapshot{Templates: []access.GateFaceTemplate{}, Purges: []access.FacePurge{}}
	var tmpl []struct {
		ID       uuid.UUID `db:"id"`
		Resident uuid.UUID `db:"resident_id"`
		Model    string    `db:"model"`
		Sealed   []byte    `db:"sealed"`
	}
	err := sqlx.SelectContext(ctx, q, &tmpl, `SELECT id, resident_id, model, sealed FROM face_templates
		WHERE community_id = $1 AND gate_id = $2 AND sealed IS NOT NULL ORDER BY resident_id, model`, c, gate)
	if err != nil {
		return out, fmt.Errorf("face snapshot: %w", err)
	}
	for _, t := range tmpl {
		out.Templates = append(out.Templates, access.GateFaceTemplate{Template: t.ID, Resident: t.Resident, Model: t.Model, Sealed: t.Sealed})
	}
	var purges []facePurgeChange
	err = sqlx.SelectContext(ctx, q, &purges, `SELECT id AS purge_id, resident_id, reason FROM face_purges
		WHERE community_id = $1 AND gate_id = $2 AND acked_at IS NULL ORDER BY requested_at, id`, c, gate)
	if err != nil {
		return out, fmt.Errorf("face snapshot: %w", err)
	}
	for _, p := range purges {
		out.Purges = append(out.Purges, p.domain())
	}
	return out, nil
}

// FaceGates lists the community's enabled gates and whether each holds the resident's
// template, for the app's status page: a gate enrolled after the resident's enrolment has
// none (the server cannot make one), and the app can offer to enrol again.
func (db *DB) FaceGates(ctx context.Context, c, resident uuid.UUID) ([]access.GateTemplate, error) {
	out := []access.GateTemplate{}
	// The subqueries name the community as $1, not g.community_id, so that Citus sends
	// this to the community's shard only.
	err := db.x.SelectContext(ctx, &out, `SELECT g.id, g.name,
			EXISTS (SELECT 1 FROM face_templates t WHERE t.community_id = $1 AND t.gate_id = g.id AND t.resident_id = $2) AS has_template,
			EXISTS (SELECT 1 FROM face_templates t WHERE t.community_id = $1 AND t.gate_id = g.id AND t.resident_id = $2
				AND t.sealed IS NULL) AS on_gate_only
		FROM gates g WHERE g.community_id = $1 AND g.disabled_at IS NULL ORDER BY g.name, g.id`, c, resident)
	if err != nil {
		return nil, fmt.Errorf("face gates: %w", err)
	}
	return out, nil
}

// RecordFaceEnrolment records a one-gate enrolment made on the gate itself.
func (db *DB) RecordFaceEnrolment(ctx context.Context, g access.GateIdentity, resident uuid.UUID, model string) error {
	return db.InTx(ctx, "gate:"+g.ID.String(), func(tx *Tx) error {
		return tx.RecordGateEnrolment(ctx, g.Community, g.ID, resident, model)
	})
}
