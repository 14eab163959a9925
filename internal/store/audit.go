package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"gatepass/internal/audit"
)

// AuditFilter selects audit rows, newest first.
type AuditFilter struct {
	Community uuid.UUID // uuid.Nil: every community (operators only)
	BeforeSeq int64     // 0: from the newest
	Limit     int
}

// AuditEntries lists audit rows of the communities a filter names.
func (db *DB) AuditEntries(ctx context.Context, f AuditFilter) ([]audit.Entry, error) {
	out := []audit.Entry{}
	err := db.x.SelectContext(ctx, &out, `SELECT community_id, seq, at, actor, action, target, convert_to(summary::text, 'UTF8') AS summary, prev_hash, hash
		FROM audit_log WHERE ($1::uuid IS NULL OR community_id = $1) AND ($2 = 0 OR seq < $2)
		ORDER BY seq DESC LIMIT $3`, nullUUID(f.Community), f.BeforeSeq, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return out, nil
}

// VerifyAudit recomputes every community's chain, streaming rows, and returns the number
// of rows checked and the first break (wrapping audit.ErrBroken).
func (db *DB) VerifyAudit(ctx context.Context) (int, error) {
	rows, err := db.x.QueryxContext(ctx, `SELECT community_id, seq, at, actor, action, target, convert_to(summary::text, 'UTF8') AS summary, prev_hash, hash
		FROM audit_log ORDER BY community_id, seq`)
	if err != nil {
		return 0, fmt.Errorf("verify audit: %w", err)
	}
	defer rows.Close()
	total := 0
	var cur uuid.UUID
	var v *audit.Verifier
	for rows.Next() {
		var e audit.Entry
		if err := rows.StructScan(&e); err != nil {
			return total, fmt.Errorf("verify audit: %w", err)
		}
		if v == nil || e.Community != cur {
			cur, v = e.Community, &audit.Verifier{}
		}
		if err := v.Next(&e); err != nil {
			return total, err
		}
		total++
	}
	return total, rows.Err()
}
