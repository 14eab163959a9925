package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
)

// pool is one of the DB's connection pools (store.go), with a bounded wait for a
// connection and statements prepared once.
type pool struct {
	name string
	x    *sqlx.DB
	// slots, when set, holds one token per connection of x: work on this pool takes one
	// first, so it never waits inside database/sql, and the wait for one is bounded.
	// Only the gates' pools have them: every use of those goes through acquire. The staff
	// pool's many direct queries do not, so it bounds only InTx's wait (begin).
	slots    chan struct{}
	wait     time.Duration
	stmts    sync.Map // query text -> *sqlx.Stmt
	prepared atomic.Int64
}

// BusyError is a request refused because no database connection came free within its
// pool's bounded wait: the API answers 503 with Retry-After (RetryAfter), and gate agents
// come back after about that long, instead of the request queueing for seconds.
type BusyError struct {
	Pool string
	Wait time.Duration
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("database busy: no %s connection came free within %v", e.Pool, e.Wait)
}

// RetryAfter is when to try again.
func (e *BusyError) RetryAfter() time.Duration { return time.Second }

// acquire takes a slot of the pool, waiting at most p.wait (less if ctx ends sooner).
// Pools without slots acquire nothing.
func (p *pool) acquire(ctx context.Context) (release func(), err error) {
	if p.slots == nil {
		return func() {}, nil
	}
	select {
	case p.slots <- struct{}{}:
		return p.release, nil
	default:
	}
	t := time.NewTimer(p.wait)
	defer t.Stop()
	select {
	case p.slots <- struct{}{}:
		return p.release, nil
	case <-t.C:
		return nil, &BusyError{Pool: p.name, Wait: p.wait}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *pool) release() { <-p.slots }

// begin starts a transaction within the bounded wait. release gives the slot (or the
// connection) back: call it once the transaction has ended.
func (p *pool) begin(ctx context.Context, opts *sql.TxOptions) (*sqlx.Tx, func(), error) {
	if p.slots != nil {
		release, err := p.acquire(ctx)
		if err != nil {
			return nil, nil, err
		}
		x, err := p.x.BeginTxx(ctx, opts)
		if err != nil {
			release()
			return nil, nil, fmt.Errorf("begin: %w", err)
		}
		return x, release, nil
	}
	// No slots: the connection itself is taken within the bound, then the transaction
	// begins on it with the caller's context.
	wctx, cancel := context.WithTimeout(ctx, p.wait)
	conn, err := p.x.Connx(wctx)
	cancel()
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return nil, nil, &BusyError{Pool: p.name, Wait: p.wait}
		}
		return nil, nil, fmt.Errorf("begin: %w", err)
	}
	x, err := conn.BeginTxx(ctx, opts)
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("begin: %w", err)
	}
	return x, func() { conn.Close() }, nil
}

// stmt is query prepared on the pool: database/sql prepares it on each connection the
// first time it runs there and keeps it, so that a hot statement costs one round trip
// (Bind/Execute) instead of lib/pq's two (Parse/Describe, then Bind/Execute).
//
// Only constant statement texts come here; past maxStmts (a statement built per call
// would be one), stmt answers nil and the caller runs the statement unprepared.
func (p *pool) stmt(ctx context.Context, query string) (*sqlx.Stmt, error) {
	if st, ok := p.stmts.Load(query); ok {
		return st.(*sqlx.Stmt), nil
	}
	if p.prepared.Load() >= maxStmts {
		return nil, nil
	}
	st, err := p.x.PreparexContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	if prev, loaded := p.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sqlx.Stmt), nil
	}
	p.prepared.Add(1)
	return st, nil
}

// maxStmts bounds the statements a pool keeps prepared.
const maxStmts = 256

// withStmt calls use with query prepared on the pool (bound to tx's connection when tx is
// not nil), or plain when the pool keeps no more statements (stmt's nil).
func (p *pool) withStmt(ctx context.Context, tx *sqlx.Tx, query string, use func(*sqlx.Stmt) error, plain func() error) error {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return err
	}
	if st == nil {
		return plain()
	}
	if tx != nil {
		st = tx.StmtxContext(ctx, st)
	}
	return use(st)
}

// get runs a prepared one-row query on the pool within the bounded wait.
func (p *pool) get(ctx context.Context, dest any, query string, args ...any) error {
	release, err := p.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	return p.withStmt(ctx, nil, query, func(st *sqlx.Stmt) error { return st.GetContext(ctx, dest, args...) },
		func() error { return p.x.GetContext(ctx, dest, query, args...) })
}

// sel runs a prepared query on the pool within the bounded wait.
func (p *pool) sel(ctx context.Context, dest any, query string, args ...any) error {
	release, err := p.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	return p.withStmt(ctx, nil, query, func(st *sqlx.Stmt) error { return st.SelectContext(ctx, dest, args...) },
		func() error { return p.x.SelectContext(ctx, dest, query, args...) })
}

// preparedTx runs the statements of a transaction as the pool's prepared ones. It
// satisfies getSelecter, so the read helpers shared with the staff side (publishedKeys,
// liveHolders, ...) take it as they take a *sqlx.Tx.
type preparedTx struct {
	p *pool
	x *sqlx.Tx
}

func (t preparedTx) GetContext(ctx context.Context, dest any, query string, args ...any) error {
	return t.p.withStmt(ctx, t.x, query, func(st *sqlx.Stmt) error { return st.GetContext(ctx, dest, args...) },
		func() error { return t.x.GetContext(ctx, dest, query, args...) })
}

func (t preparedTx) SelectContext(ctx context.Context, dest any, query string, args ...any) error {
	return t.p.withStmt(ctx, t.x, query, func(st *sqlx.Stmt) error { return st.SelectContext(ctx, dest, args...) },
		func() error { return t.x.SelectContext(ctx, dest, query, args...) })
}

func (t preparedTx) QueryxContext(ctx context.Context, query string, args ...any) (rows *sqlx.Rows, err error) {
	err = t.p.withStmt(ctx, t.x, query, func(st *sqlx.Stmt) (err error) { rows, err = st.QueryxContext(ctx, args...); return },
		func() (err error) { rows, err = t.x.QueryxContext(ctx, query, args...); return })
	return rows, err
}

func (t preparedTx) QueryRowxContext(ctx context.Context, query string, args ...any) (row *sqlx.Row) {
	err := t.p.withStmt(ctx, t.x, query, func(st *sqlx.Stmt) error { row = st.QueryRowxContext(ctx, args...); return nil },
		func() error { row = t.x.QueryRowxContext(ctx, query, args...); return nil })
	if err != nil {
		return t.x.QueryRowxContext(ctx, query, args...) // reports the same error
	}
	return row
}

func (t preparedTx) ExecContext(ctx context.Context, query string, args ...any) (res sql.Result, err error) {
	err = t.p.withStmt(ctx, t.x, query, func(st *sqlx.Stmt) (err error) { res, err = st.ExecContext(ctx, args...); return },
		func() (err error) { res, err = t.x.ExecContext(ctx, query, args...); return })
	return res, err
}

func (t preparedTx) QueryContext(ctx context.Context, query string, args ...any) (rows *sql.Rows, err error) {
	err = t.p.withStmt(ctx, t.x, query, func(st *sqlx.Stmt) (err error) { rows, err = st.QueryContext(ctx, args...); return },
		func() (err error) { rows, err = t.x.QueryContext(ctx, query, args...); return })
	return rows, err
}
