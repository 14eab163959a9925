package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

type changeRow struct {
	Seq  int64         `db:"seq"`
	Kind string        `db:"kind"`
	Gate uuid.NullUUID `db:"gate_id"`
	Data []byte        `db:"data"`
}

// Change records something gates of community c must learn through sync. gate is
// uuid.Nil for changes that concern every gate.
func (tx *Tx) Change(ctx context.Context, c uuid.UUID, kind string, gate, entity uuid.UUID, data any) error {
	if err := tx.lockCommunity(ctx, c); err != nil {
		return err
	}
	text, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("change %s: %w", kind, err)
	}
	var g *uuid.UUID
	if gate != uuid.Nil {
		g = &gate
	}
	var seq int64
	if err := tx.x.GetContext(ctx, &seq, `INSERT INTO change_log (community_id, kind, gate_id, entity_id, data) VALUES ($1, $2, $3, $4, $5)
		RETURNING seq`, c, kind, g, entity, string(text)); err != nil {
		return fmt.Errorf("change %s: %w", kind, err)
	}
	// Wake the long-polling gates it concerns (ChangeHub.notified): the community's, or
	// the one gate it is addressed to. Delivered at commit, dropped on rollback. A
	// statement of its own, never part of the INSERT: on Citus that would run on the
	// worker, whose notifications no server hears.
	payload := notifyPayload(c, seq, gate, kind)
	if _, err := tx.x.ExecContext(ctx, `SELECT pg_notify('gatepass_changes', $1)`, payload); err != nil {
		return fmt.Errorf("change %s: %w", kind, err)
	}
	// This process's own hubs hear of it at commit, without the round trip through
	// LISTEN (whose copy they then let go).
	tx.notes = append(tx.notes, payload)
	return nil
}

// PruneChanges deletes change-log rows written before cutoff, keeping each community's
// newest row so that its cursor stays continuable. A gate whose cursor falls before
// what is kept gets a full snapshot at its next sync (GateSync), so pruning loses
// nothing a gate needs; it only bounds the table (and the sealed face blobs it relays).
func (db *DB) PruneChanges(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := db.x.ExecContext(ctx, `DELETE FROM change_log c WHERE c.created_at < $1
		AND c.seq < (SELECT max(m.seq) FROM change_log m WHERE m.community_id = c.community_id)`, cutoff)
	if err != nil {
		return 0, fmt.Errorf("prune change log: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
