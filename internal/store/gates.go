package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/secret"
)

// NewGate is what staff give to create a gate.
type NewGate struct {
	Community uuid.UUID
	Name      string
	Zone      int
	Direction string
}

// Enrollment is the one-time code an installer gives the gate-agent.
type Enrollment struct {
	Code      string    `json:"enrollment_code"`
	ExpiresAt time.Time `json:"enrollment_expires_at"`
}

const gateSelect = `SELECT community_id, id, name, zone, direction, created_at, enrolled_at, disabled_at,
	last_seen_at, agent_version, queue_depth, clock_offset_ms FROM gates`

// CreateGate adds a gate in a zone and makes its enrollment code.
func (tx *Tx) CreateGate(ctx context.Context, g NewGate) (access.Gate, Enrollment, error) {
	if err := tx.exists(ctx, `SELECT 1 FROM zones WHERE community_id = $1 AND zone = $2`, g.Community, g.Zone); err != nil {
		return access.Gate{}, Enrollment{}, access.Invalid("zone", "zone %d does not exist in this community", g.Zone)
	}
	tok, err := secret.New(secret.KindEnrollment, g.Community)
	if err != nil {
		return access.Gate{}, Enrollment{}, err
	}
	en := Enrollment{Code: tok.Plain, ExpiresAt: time.Now().Add(access.EnrollmentTTL).Truncate(time.Second)}
	var out access.Gate
	err = tx.x.GetContext(ctx, &out, `INSERT INTO gates (community_id, id, name, zone, direction, enrollment_code_hash, enrollment_expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		RETURNING community_id, id, name, zone, direction, created_at, enrolled_at, disabled_at, last_seen_at, agent_version, queue_depth, clock_offset_ms`,
		g.Community, newID(), g.Name, g.Zone, g.Direction, tok.Hash[:], en.ExpiresAt)
	if isUnique(err) {
		return out, en, access.Invalid("name", "a gate named %q exists already", g.Name)
	}
	if err != nil {
		return out, en, fmt.Errorf("create gate: %w", err)
	}
	return out, en, tx.Audit(ctx, g.Community, "gate.create", "gate:"+out.ID.String(),
		map[string]any{"name": g.Name, "zone": g.Zone, "direction": g.Direction})
}

// Gates lists a community's gates with when each was last heard from.
func (db *DB) Gates(ctx context.Context, c uuid.UUID) ([]access.Gate, error) {
	out := []access.Gate{}
	if err := db.x.SelectContext(ctx, &out, gateSelect+` WHERE community_id = $1 ORDER BY name`, c); err != nil {
		return nil, fmt.Errorf("list gates: %w", err)
	}
	return out, nil
}
