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
		FROM audit_log WHERE ($1::uuid IS NULL OR community_id = $1) AND ($2::bigint = 0 OR seq < $2::bigint)
		ORDER BY seq DESC LIMIT $3`, nullUUID(f.Community), f.BeforeSeq, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return out, nil
}

// VerifyAudit recomputes every community's chain with the audit key, streaming rows,
// and checks each community's signed head. It returns the number of rows checked and the
// first break (wrapping audit.ErrBroken), naming the first bad or missing row.
func (db *DB) VerifyAudit(ctx context.Context) (int, error) { return db.verifyAudit(ctx, uuid.Nil) }

// VerifyCommunityAudit is VerifyAudit for the chain of one community.
func (db *DB) VerifyCommunityAudit(ctx context.Context, c uuid.UUID) (int, error) {
	return db.verifyAudit(ctx, c)
}

// verifyAudit verifies the chain of community only, or of every community (uuid.Nil).
func (db *DB) verifyAudit(ctx context.Context, only uuid.UUID) (int, error) {
	key, err := db.auditKeyOrErr()
	if err != nil {
		return 0, err
	}
	var list []audit.Head
	if err := db.x.SelectContext(ctx, &list, `SELECT community_id, seq, hash, mac FROM audit_heads
		WHERE $1::uuid IS NULL OR community_id = $1`, nullUUID(only)); err != nil {
		return 0, fmt.Errorf("verify audit: %w", err)
	}
	heads := make(map[uuid.UUID]*audit.Head, len(list))
	for i := range list {
		heads[list[i].Community] = &list[i]
	}
	rows, err := db.x.QueryxContext(ctx, `SELECT community_id, seq, at, actor, action, target, convert_to(summary::text, 'UTF8') AS summary, version, prev_hash, hash
		FROM audit_log WHERE $1::uuid IS NULL OR community_id = $1 ORDER BY community_id, seq`, nullUUID(only))
	if err != nil {
		return 0, fmt.Errorf("verify audit: %w", err)
	}
	defer rows.Close()
	total := 0
	var cur uuid.UUID
	var v *audit.Verifier
	end := func() error {
		if v == nil {
			return nil
		}
		h := heads[cur]
		delete(heads, cur)
		return v.End(cur, h)
	}
	for rows.Next() {
		var e audit.Entry
		if err := rows.StructScan(&e); err != nil {
			return total, fmt.Errorf("verify audit: %w", err)
		}
		if v == nil || e.Community != cur {
			if err := end(); err != nil {
				return total, err
			}
			cur, v = e.Community, audit.NewVerifier(key)
		}
		if err := v.Next(&e); err != nil {
			return total, err
		}
		total++
	}
	if err := rows.Err(); err != nil {
		return total, fmt.Errorf("verify audit: %w", err)
	}
	if err := end(); err != nil {
		return total, err
	}
	for c, h := range heads { // heads whose community has no rows left at all
		if err := audit.NewVerifier(key).End(c, h); err != nil {
			return total, err
		}
	}
	return total, nil
}

// SetAuditKey gives the store the key that MACs the audit chain (derived from the master
// key with audit.KeyLabel). Writing or verifying audit rows without it is an error.
func (db *DB) SetAuditKey(key []byte) { db.auditKey = append([]byte(nil), key...) }

func (db *DB) auditKeyOrErr() ([]byte, error) {
	if len(db.auditKey) == 0 {
		return nil, errors.New("audit: no audit key set (the program must derive it from the master key)")
	}
	return db.auditKey, nil
}

// Audit appends an audit row for community c (uuid.Nil for deployment-wide actions) and
// moves the community's signed head to it, in the caller's transaction. summary is
// marshalled to JSON and must hold no secrets.
func (tx *Tx) Audit(ctx context.Context, c uuid.UUID, action, target string, summary any) error {
	key, err := tx.db.auditKeyOrErr()
	if err != nil {
		return err
	}
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
	e.Seal(key, prev)
	err = tx.x.GetContext(ctx, &e.Seq, `INSERT INTO audit_log (community_id, at, actor, action, target, summary, version, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING seq`, e.Community, e.At, e.Actor, e.Action, e.Target, string(e.Summary), e.Version, e.PrevHash, e.Hash)
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	h := audit.NewHead(key, &e)
	if _, err := tx.x.ExecContext(ctx, `INSERT INTO audit_heads (community_id, seq, hash, mac) VALUES ($1, $2, $3, $4)
		ON CONFLICT (community_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, mac = excluded.mac`,
		h.Community, h.Seq, h.Hash, h.MAC); err != nil {
		return fmt.Errorf("audit %s: head: %w", action, err)
	}
	return nil
}
