// Package store keeps gatepass's state in PostgreSQL. It is the only package that writes
// SQL; it speaks in the domain types of package access.
package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"gatepass/internal/audit"
	"gatepass/schema"
)

// DB is the database handle shared by all requests.
type DB struct {
	x   *sqlx.DB
	url string // for the LISTEN connection of gate long polls (gate_notify.go)
}

// Open connects and checks the connection.
func Open(ctx context.Context, url string) (*DB, error) {
	x, err := sqlx.Open("postgres", url)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	x.SetMaxOpenConns(40)
	x.SetMaxIdleConns(40)
	x.SetConnMaxIdleTime(5 * time.Minute)
	if err := x.PingContext(ctx); err != nil {
		x.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	return &DB{x: x, url: url}, nil
}

// Close closes the pool.
func (db *DB) Close() error { return db.x.Close() }

// SQL exposes the pool for metrics and migrations.
func (db *DB) SQL() *sql.DB { return db.x.DB }

// Migrate applies the schema.
func (db *DB) Migrate(ctx context.Context) error { return schema.Migrate(ctx, db.x.DB) }

// Ping checks the database answers (readiness).
func (db *DB) Ping(ctx context.Context) error { return db.x.PingContext(ctx) }

// Tx is one transaction. Mutations that staff make go through a Tx with an Actor, so the
// audit row is written in the same transaction as the change it records.
type Tx struct {
	x     *sqlx.Tx
	actor string
	// locked remembers the communities whose advisory lock this transaction holds.
	locked map[uuid.UUID]bool
}

// InTx runs fn in a transaction, committing when it returns nil. actor names who acts
// ("staff:<id>", "cli", "resident:<id>", "gate:<id>") in audit rows.
func (db *DB) InTx(ctx context.Context, actor string, fn func(*Tx) error) error {
	x, err := db.x.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	tx := &Tx{x: x, actor: actor, locked: map[uuid.UUID]bool{}}
	if err := fn(tx); err != nil {
		_ = x.Rollback()
		return err
	}
	if err := x.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// lockCommunity serialises writers of one community's audit chain and change log, so
// that sequence order is commit order (a syncing gate never skips a late commit).
func (tx *Tx) lockCommunity(ctx context.Context, c uuid.UUID) error {
	if tx.locked[c] {
		return nil
	}
	if _, err := tx.x.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, c.String()); err != nil {
		return fmt.Errorf("lock community: %w", err)
	}
	tx.locked[c] = true
	return nil
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
	if _, err := tx.x.ExecContext(ctx, `INSERT INTO change_log (community_id, kind, gate_id, entity_id, data) VALUES ($1, $2, $3, $4, $5)`,
		c, kind, g, entity, string(text)); err != nil {
		return fmt.Errorf("change %s: %w", kind, err)
	}
	// Wake long-polling gates; delivered at commit, dropped on rollback.
	if _, err := tx.x.ExecContext(ctx, `SELECT pg_notify('gatepass_changes', $1)`, c.String()); err != nil {
		return fmt.Errorf("change %s: %w", kind, err)
	}
	return nil
}

// isUnique reports a unique-constraint violation, optionally of a named constraint.
func isUnique(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && pe.Code == "23505"
}

// newID makes a time-ordered UUID, which keeps primary key indexes compact.
func newID() uuid.UUID { return uuid.Must(uuid.NewV7()) }
