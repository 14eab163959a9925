package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
)

// UnlockGate queues a manual release ("人工放行") by staff for the gate; the gate learns it
// through its long poll within about a second. Whether the gate is live is checked here
// because it must hold until commit: the gate row stays locked.
func (tx *Tx) UnlockGate(ctx context.Context, c, gate, staff uuid.UUID, reason string) (access.Release, error) {
	if err := tx.liveGate(ctx, c, gate); err != nil {
		return access.Release{}, err
	}
	payload, err := json.Marshal(map[string]string{"reason": reason})
	if err != nil {
		return access.Release{}, fmt.Errorf("unlock: %w", err)
	}
	r := access.Release{ID: newID(), Gate: gate}
	if _, err := tx.x.ExecContext(ctx, `INSERT INTO gate_commands (community_id, id, gate_id, kind, payload, created_by)
		VALUES ($1, $2, $3, 'unlock', $4, $5)`, c, r.ID, gate, string(payload), staff); err != nil {
		return r, fmt.Errorf("unlock: %w", err)
	}
	if err := tx.Change(ctx, c, "command", gate, r.ID, map[string]any{"kind": "unlock"}); err != nil {
		return r, err
	}
	return r, tx.Audit(ctx, c, "gate.unlock", "gate:"+gate.String(), map[string]any{"command_id": r.ID, "reason": reason})
}

// AckGateCommand records a gate's result for one of its commands. Acking twice keeps the
// first result (the gate may resend an ack it did not see answered).
func (db *DB) AckGateCommand(ctx context.Context, g access.GateIdentity, id uuid.UUID, result string) error {
	return db.InTx(ctx, "gate:"+g.ID.String(), func(tx *Tx) error {
		var kind string
		var acked bool
		err := tx.x.GetContext(ctx, &kind, `UPDATE gate_commands SET acked_at = now(), result = $4
			WHERE community_id = $1 AND gate_id = $2 AND id = $3 AND acked_at IS NULL RETURNING kind`, g.Community, g.ID, id, result)
		if errors.Is(err, sql.ErrNoRows) {
			if err := tx.x.GetContext(ctx, &acked, `SELECT acked_at IS NOT NULL FROM gate_commands
				WHERE community_id = $1 AND gate_id = $2 AND id = $3`, g.Community, g.ID, id); err != nil {
				if errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("command %s: %w", id, access.ErrNotFound)
				}
				return fmt.Errorf("ack command: %w", err)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("ack command: %w", err)
		}
		return tx.Audit(ctx, g.Community, "gate.command_ack", "gate:"+g.ID.String(),
			map[string]any{"command_id": id, "kind": kind, "result": result})
	})
}

// GateCommand is a command to a gate as staff follow it: when the gate confirmed it.
type GateCommand struct {
	ID        uuid.UUID  `db:"id" json:"command_id"`
	Gate      uuid.UUID  `db:"gate_id" json:"gate_id"`
	Kind      string     `db:"kind" json:"kind"`
	CreatedAt time.Time  `db:"created_at" json:"created_at"`
	AckedAt   *time.Time `db:"acked_at" json:"acked_at,omitempty"`
	Result    *string    `db:"result" json:"result,omitempty"`
}

// GateCommand finds one command of a gate of community c.
func (db *DB) GateCommand(ctx context.Context, c, gate, id uuid.UUID) (GateCommand, error) {
	var out GateCommand
	err := db.x.GetContext(ctx, &out, `SELECT id, gate_id, kind, created_at, acked_at, result FROM gate_commands
		WHERE community_id = $1 AND gate_id = $2 AND id = $3`, c, gate, id)
	if errors.Is(err, sql.ErrNoRows) {
		return out, fmt.Errorf("command %s: %w", id, access.ErrNotFound)
	}
	if err != nil {
		return out, fmt.Errorf("gate command: %w", err)
	}
	return out, nil
}
