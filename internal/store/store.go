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
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"gatepass/schema"
)

// DB is the database handle shared by all requests. It holds three connection pools, so
// that the gates' traffic and the staff's never wait for each other (issue 20): a
// thousand gates uploading at their maximum once made a revocation wait seconds for a
// connection, and admin reads with it.
//
//   - x, the staff's and everyone else's (admin API, mobile-api, the CLI, maintenance);
//   - sync, the gates' long polls: the shared sync computations (sync_hub.go) and the
//     token lookups of sync requests;
//   - writes, what gates send: event batches, heartbeats, acknowledgements and their
//     token lookups.
//
// A request of the gate API says which it is with WithWork; anything else is staff work.
// The gates' pools bound the wait for a connection (pool.acquire): past it the request
// fails with a BusyError, which the API answers 503 with Retry-After instead of queueing
// it for seconds; a staff transaction (InTx) has a bounded wait too.
type DB struct {
	x        *sqlx.DB
	staff    *pool // x, for InTx's bounded wait and prepared statements
	sync     *pool
	writes   *pool
	url      string // for the LISTEN connection of gate long polls (change_hub.go)
	auditKey []byte // MACs the audit chain; see SetAuditKey
	tokens   tokenCache
	hubs     hubs // this process's change hubs (change_hub.go)
}

// Pool sizes and bounded waits. 48 connections at most for the server (mobile-api uses
// only the staff pool), under a PostgreSQL's default max_connections of 100 beside
// mobile-api's. The sync pool is small because a community's change is computed once for
// all its gates; the writes pool is what event ingest can use at once, which on the
// measured machine saturates the database well before 16 (docs/benchmarks.md).
const (
	staffConns  = 24
	syncConns   = 8
	writesConns = 16
	// staffWait bounds how long a staff transaction waits for a connection; the gates'
	// work waits less, and an agent retries a 503 after about a second.
	staffWait  = 2 * time.Second
	syncWait   = 2 * time.Second
	writesWait = 500 * time.Millisecond
)

// Work is whose request a context carries, which decides the pool it is served from.
type Work int

const (
	StaffWork     Work = iota // the default: staff, residents, the CLI
	GateSyncWork              // a gate's sync long poll
	GateWriteWork             // a gate's upload: events, heartbeats, acks, enrolments
)

type workKey struct{}

// WithWork marks ctx as a request of kind w (the gate API marks each of its requests).
func WithWork(ctx context.Context, w Work) context.Context {
	return context.WithValue(ctx, workKey{}, w)
}

func workOf(ctx context.Context) Work {
	w, _ := ctx.Value(workKey{}).(Work)
	return w
}

// poolFor is the pool serving ctx's work.
func (db *DB) poolFor(ctx context.Context) *pool {
	switch workOf(ctx) {
	case GateSyncWork:
		return db.sync
	case GateWriteWork:
		return db.writes
	}
	return db.staff
}

// Open connects and checks the connection.
func Open(ctx context.Context, url string) (*DB, error) {
	x, err := openPool(url, staffConns)
	if err != nil {
		return nil, err
	}
	if err := x.PingContext(ctx); err != nil {
		x.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	db := &DB{x: x, url: url, staff: &pool{name: "staff", x: x, wait: staffWait}}
	// The gates' pools connect on first use.
	sx, err := openPool(url, syncConns)
	if err != nil {
		db.Close()
		return nil, err
	}
	db.sync = &pool{name: "gate sync", x: sx, wait: syncWait, slots: make(chan struct{}, syncConns)}
	wx, err := openDurablePool(url, writesConns)
	if err != nil {
		db.Close()
		return nil, err
	}
	db.writes = &pool{name: "gate writes", x: wx, wait: writesWait, slots: make(chan struct{}, writesConns)}
	return db, nil
}

// openDurablePool opens the gates' writes pool, whose every connection commits
// synchronously (durable.Connect): a gate deletes an event as soon as the server
// acknowledges it, so the commit of an event batch must survive a crash whatever the
// cluster's default. A connection lives at most durableLifetime, so that a stronger
// setting an operator makes later (remote_apply) is taken up.
func openDurablePool(url string, conns int) (*sqlx.DB, error) {
	c, err := pq.NewConnector(url)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	x := sqlx.NewDb(sql.OpenDB(durable{c}), "postgres")
	x.SetMaxOpenConns(conns)
	x.SetMaxIdleConns(conns)
	x.SetConnMaxIdleTime(5 * time.Minute)
	x.SetConnMaxLifetime(durableLifetime)
	return x, nil
}

const durableLifetime = 10 * time.Minute

// durable makes connections that commit synchronously: synchronous_commit is raised to
// on for the session when the cluster's is off (synchronous_commit=off loses the last
// ~600 ms of commits in a crash), and any other value (on, or a stronger remote_apply)
// is kept as it is, fixed for the session so that a later reload cannot lower it. Each
// event batch was one round trip longer when every transaction raised it itself.
type durable struct{ driver.Connector }

func (d durable) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := d.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	ex, ok := conn.(driver.ExecerContext)
	if !ok {
		conn.Close()
		return nil, errors.New("durable connection: the driver cannot execute")
	}
	if _, err := ex.ExecContext(ctx, `SELECT set_config('synchronous_commit',
			CASE current_setting('synchronous_commit') WHEN 'off' THEN 'on' ELSE current_setting('synchronous_commit') END, false)`, nil); err != nil {
		conn.Close()
		return nil, fmt.Errorf("durable connection: %w", err)
	}
	return conn, nil
}

func openPool(url string, conns int) (*sqlx.DB, error) {
	x, err := sqlx.Open("postgres", url)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	x.SetMaxOpenConns(conns)
	x.SetMaxIdleConns(conns)
	x.SetConnMaxIdleTime(5 * time.Minute)
	return x, nil
}

// Close closes the pools.
func (db *DB) Close() error {
	var errs []error
	for _, p := range []*pool{db.sync, db.writes} {
		if p != nil {
			errs = append(errs, p.x.Close())
		}
	}
	return errors.Join(append(errs, db.x.Close())...)
}

// SQL exposes the staff pool for metrics and migrations.
func (db *DB) SQL() *sql.DB { return db.x.DB }

// Pools are the pools by name, for metrics (gatepass_<name>_... in the server's).
func (db *DB) Pools() map[string]*sql.DB {
	return map[string]*sql.DB{"staff": db.x.DB, "gate_sync": db.sync.x.DB, "gate_writes": db.writes.x.DB}
}

// Migrate applies the schema.
func (db *DB) Migrate(ctx context.Context) error { return schema.Migrate(ctx, db.x.DB) }

// Ping checks the database answers (readiness).
func (db *DB) Ping(ctx context.Context) error { return db.x.PingContext(ctx) }

// Tx is one transaction. Mutations that staff make go through a Tx with an Actor, so the
// audit row is written in the same transaction as the change it records.
type Tx struct {
	x     *sqlx.Tx
	p     *pool // whose connection it runs on (prepared statements)
	db    *DB
	actor string
	// locked remembers the communities whose advisory lock this transaction holds.
	locked map[uuid.UUID]bool
	// committed runs after a successful commit (caches to forget).
	committed []func()
	// notes are the change notifications of the transaction, for this process's hubs.
	notes []string
}

// InTx runs fn in a transaction, committing when it returns nil. actor names who acts
// ("staff:<id>", "cli", "resident:<id>", "gate:<id>") in audit rows. The transaction
// runs on the pool of ctx's work (WithWork) and waits for a connection no longer than
// that pool's bound (a BusyError past it).
func (db *DB) InTx(ctx context.Context, actor string, fn func(*Tx) error) error {
	return db.poolFor(ctx).inTx(ctx, db, actor, nil, fn)
}

func (p *pool) inTx(ctx context.Context, db *DB, actor string, opts *sql.TxOptions, fn func(*Tx) error) error {
	x, release, err := p.begin(ctx, opts)
	if err != nil {
		return err
	}
	defer release()
	tx := &Tx{x: x, p: p, db: db, actor: actor, locked: map[uuid.UUID]bool{}}
	if err := fn(tx); err != nil {
		_ = x.Rollback()
		return err
	}
	if err := x.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	for _, f := range tx.committed {
		f()
	}
	if len(tx.notes) > 0 {
		db.hubs.committed(tx.notes)
	}
	return nil
}

// prepared runs the transaction's statements as its pool's prepared ones: for the hot
// statements, one round trip each.
func (tx *Tx) prepared() preparedTx { return preparedTx{p: tx.p, x: tx.x} }

// afterCommit runs f once the transaction has committed.
func (tx *Tx) afterCommit(f func()) { tx.committed = append(tx.committed, f) }

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
