package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

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

// Audit appends an audit row for community c (uuid.Nil for deployment-wide actions).
// summary is marshalled to JSON and must hold no secrets.
func (tx *Tx) Audit(ctx context.Context, c uuid.UUID, action, target string, summary any) error {
	if err := tx.lockCommunity(ctx, c); err != nil {
		return err
	}
	text, err := json.Marshal(summary)
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	prev := audit.Genesis
	err = tx.x.GetContext(ctx, &prev, `SELECT hash FROM audit_log WHERE community_id = $1 ORDER BY seq DESC LIMIT 1`, c)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	e := audit.Entry{Community: c, At: time.Now(), Actor: tx.actor, Action: action, Target: target, Summary: text}
	e.Seal(prev)
	_, err = tx.x.ExecContext(ctx, `INSERT INTO audit_log (community_id, at, actor, action, target, summary, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, e.Community, e.At, e.Actor, e.Action, e.Target, string(e.Summary), e.PrevHash, e.Hash)
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}
