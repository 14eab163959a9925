package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/gateapi"
)

// GateCommunity finds the community of a gate, for admin paths that name only the gate.
func (db *DB) GateCommunity(ctx context.Context, gate uuid.UUID) (uuid.UUID, error) {
	return db.communityOf(ctx, "gates", "gate", gate)
}

// Release is a manual release queued for a gate.
type Release struct {
	ID   uuid.UUID `db:"id" json:"command_id"`
	Gate uuid.UUID `db:"gate_id" json:"gate_id"`
}

// liveGate checks that gate is a gate of c that is not disabled.
func (tx *Tx) liveGate(ctx context.Context, c, gate uuid.UUID) error {
	var disabled bool
	err := tx.x.GetContext(ctx, &disabled, `SELECT disabled_at IS NOT NULL FROM gates WHERE community_id = $1 AND id = $2 FOR UPDATE`, c, gate)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("gate %s: %w", gate, access.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("gate: %w", err)
	}
	if disabled {
		return fmt.Errorf("gate %s is disabled: %w", gate, access.ErrConflict)
	}
	return nil
}

// UnlockGate queues a manual release ("人工放行") by staff for the gate; the gate learns it
// through its long poll within about a second.
func (tx *Tx) UnlockGate(ctx context.Context, c, gate, staff uuid.UUID, reason string) (Release, error) {
	if err := tx.liveGate(ctx, c, gate); err != nil {
		return Release{}, err
	}
	payload, err := json.Marshal(map[string]string{"reason": reason})
	if err != nil {
		return Release{}, fmt.Errorf("unlock: %w", err)
	}
	r := Release{ID: newID(), Gate: gate}
	if _, err := tx.x.ExecContext(ctx, `INSERT INTO gate_commands (community_id, id, gate_id, kind, payload, created_by)
		VALUES ($1, $2, $3, 'unlock', $4, $5)`, c, r.ID, gate, string(payload), staff); err != nil {
		return r, fmt.Errorf("unlock: %w", err)
	}
	if err := tx.Change(ctx, c, "command", gate, r.ID, map[string]any{"kind": "unlock"}); err != nil {
		return r, err
	}
	return r, tx.Audit(ctx, c, "gate.unlock", "gate:"+gate.String(), map[string]any{"command_id": r.ID, "reason": reason})
}

// DisableGate disables a gate: its token fails from this commit on.
func (tx *Tx) DisableGate(ctx context.Context, c, gate uuid.UUID) error {
	if err := tx.liveGate(ctx, c, gate); err != nil {
		return err
	}
	if _, err := tx.x.ExecContext(ctx, `UPDATE gates SET disabled_at = now() WHERE community_id = $1 AND id = $2`, c, gate); err != nil {
		return fmt.Errorf("disable gate: %w", err)
	}
	// Wake its long poll so that the next request meets the closed door.
	if err := tx.Change(ctx, c, "gate", gate, gate, map[string]any{"disabled": true}); err != nil {
		return err
	}
	return tx.Audit(ctx, c, "gate.disable", "gate:"+gate.String(), map[string]any{})
}

// SetGateSettings replaces a gate's agent settings; the gate gets them on its next sync.
func (tx *Tx) SetGateSettings(ctx context.Context, c, gate uuid.UUID, s gateapi.Settings) error {
	if err := tx.liveGate(ctx, c, gate); err != nil {
		return err
	}
	text, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("gate settings: %w", err)
	}
	if _, err := tx.x.ExecContext(ctx, `UPDATE gates SET settings = $3 WHERE community_id = $1 AND id = $2`, c, gate, string(text)); err != nil {
		return fmt.Errorf("gate settings: %w", err)
	}
	if err := tx.Change(ctx, c, "gate", gate, gate, s); err != nil {
		return err
	}
	return tx.Audit(ctx, c, "gate.settings", "gate:"+gate.String(), s)
}
