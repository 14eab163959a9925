// Package store keeps gatepass's state in PostgreSQL. It is the only package that writes
// SQL; it speaks storage only, in the domain types of package access: no wire types of an
// API and nothing of HTTP (internal/arch checks), so that the API packages convert at
// their own edge and the domain rules live in the domain.
//
// One file per entity or aggregate, named for what it stores, not for who calls it:
// communities (with buildings, units, zones), residents, invites, staff, keys, credentials
// (QR and the revocation of any kind), cards, devices, visitor passes, passkeys,
// ceremonies, sessions, gates, gate commands, gate sync, changes (the change log gates
// sync from) and change_hub (the LISTEN side), events (with event_partitions), consents,
// consent_report, face templates, face purges, face enrolments, resident_data (export
// and erasure), webhooks (endpoints, outbox, delivery log, gate liveness) and audit.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"gatepass/schema"
)

// DB is the database handle shared by all requests.
type DB struct {
	x        *sqlx.DB
	url      string // for the LISTEN connection of gate long polls (change_hub.go)
	auditKey []byte // MACs the audit chain; see SetAuditKey
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
	db    *DB
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
	tx := &Tx{x: x, db: db, actor: actor, locked: map[uuid.UUID]bool{}}
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

// isUnique reports a unique-constraint violation, optionally of a named constraint.
func isUnique(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && pe.Code == "23505"
}

// newID makes a time-ordered UUID, which keeps primary key indexes compact.
func newID() uuid.UUID { return uuid.Must(uuid.NewV7()) }
