package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// FaceSnapshot is what a gate must hold of face entry after a full sync: every template
// sealed to it, and every purge it has not acknowledged yet. Delta syncs carry the same
// data as "face_template" and "face_purge" changes addressed to the gate.
type FaceSnapshot struct {
	Templates []FaceTemplateChange `json:"face_templates"`
	Purges    []FacePurgeChange    `json:"face_purges"`
}

// FaceSnapshot reads a gate's face snapshot.
func (db *DB) FaceSnapshot(ctx context.Context, c, gate uuid.UUID) (FaceSnapshot, error) {
	return faceSnapshot(ctx, db.x, c, gate)
}

// faceSnapshot works on any query handle, so the gate sync can read it inside its own
// repeatable-read transaction, at the same moment as its cursor.
func faceSnapshot(ctx context.Context, q sqlx.QueryerContext, c, gate uuid.UUID) (FaceSnapshot, error) {
	out := FaceSnapshot{Templates: []FaceTemplateChange{}, Purges: []FacePurgeChange{}}
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
		out.Templates = append(out.Templates, FaceTemplateChange{Template: t.ID, Resident: t.Resident, Model: t.Model, Sealed: t.Sealed})
	}
	err = sqlx.SelectContext(ctx, q, &out.Purges, `SELECT id AS purge_id, resident_id, reason FROM face_purges
		WHERE community_id = $1 AND gate_id = $2 AND acked_at IS NULL ORDER BY requested_at, id`, c, gate)
	if err != nil {
		return out, fmt.Errorf("face snapshot: %w", err)
	}
	return out, nil
}

// GateTemplate says whether a gate holds a resident's template.
type GateTemplate struct {
	Gate        uuid.UUID `db:"id" json:"gate_id"`
	Name        string    `db:"name" json:"gate_name"`
	HasTemplate bool      `db:"has_template" json:"has_template"`
	OnGateOnly  bool      `db:"on_gate_only" json:"on_gate_only"`
}

// FaceGates lists the community's enabled gates and whether each holds the resident's
// template, for the app's status page: a gate enrolled after the resident's enrolment has
// none (the server cannot make one), and the app can offer to enrol again.
func (db *DB) FaceGates(ctx context.Context, c, resident uuid.UUID) ([]GateTemplate, error) {
	out := []GateTemplate{}
	err := db.x.SelectContext(ctx, &out, `SELECT g.id, g.name,
			EXISTS (SELECT 1 FROM face_templates t WHERE t.community_id = g.community_id AND t.gate_id = g.id AND t.resident_id = $2) AS has_template,
			EXISTS (SELECT 1 FROM face_templates t WHERE t.community_id = g.community_id AND t.gate_id = g.id AND t.resident_id = $2
				AND t.sealed IS NULL) AS on_gate_only
		FROM gates g WHERE g.community_id = $1 AND g.disabled_at IS NULL ORDER BY g.name, g.id`, c, resident)
	if err != nil {
		return nil, fmt.Errorf("face gates: %w", err)
	}
	return out, nil
}
