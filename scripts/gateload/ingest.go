package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
)

// ingest is the most events/s POST /gate/v1/events stores with batches of batch events:
// workers concurrent uploads for d, each request from the next gate in turn (so no gate
// nears its own rate limit, 60 batches per 10 s).
func ingest(gates []*gate, cred uuid.UUID, batch, workers int, d time.Duration) (rate float64, p50, p99 time.Duration, stored int64, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var n, failed, limited, busy atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var next atomic.Int64
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for ctx.Err() == nil {
				g := gates[int(next.Add(1))%len(gates)]
				events := g.events(batch, cred) // made before the clock starts: the gate has them on disk
				r0 := time.Now()
				k, err := g.upload(ctx, events)
				if ctx.Err() != nil {
					break // cut off at the end: not counted either way
				}
				if err != nil {
					failed.Add(1)
					var ae *apiError
					if errors.As(err, &ae) && ae.status == http.StatusTooManyRequests {
						limited.Add(1)
						sleep(ctx, ae.retryAfter)
					}
					if errors.As(err, &ae) && ae.status == http.StatusServiceUnavailable && ae.retryAfter > 0 {
						busy.Add(1)
						sleep(ctx, ae.retryAfter/2+rand.N(ae.retryAfter/2+1))
					}
					continue
				}
				mine = append(mine, time.Since(r0))
				n.Add(int64(k))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	secs := time.Since(t0).Seconds()
	if f := failed.Load(); f > 0 {
		fmt.Printf("  batch %d: %d uploads failed, %d of them rate-limited (429), %d busy (503)\n", batch, f, limited.Load(), busy.Load())
	}
	return float64(n.Load()) / secs, quantile(lat, 0.5), quantile(lat, 0.99), n.Load(), nil
}

// bareCopy stores rows events of the same shape as the gates' straight into entry_events
// with COPY (lib/pq CopyIn), one transaction per chunk rows (the API's largest batch),
// each committed durably as StoreEvents commits: the floor under what any ingest path
// on this database can do. It returns rows/s.
func bareCopy(dbURL string, community uuid.UUID, g *gate, cred uuid.UUID, rows, chunk int) (float64, error) {
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		return 0, fmt.Errorf("bare copy: %w", err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Rows are made up front, as the gates' batches are made before their clock starts.
	batches := make([][]any, 0, rows/chunk+1)
	for left := rows; left > 0; left -= chunk {
		for _, e := range g.events(min(chunk, left), cred) {
			batches = append(batches, []any{community, e.ID, e.OccurredAt, e.GateID, e.Credential.String(), e.Subject,
				e.Method, e.Result, e.Reason, e.Offline, e.Stale, e.ReplayKey})
		}
	}
	t0 := time.Now()
	for i := 0; i < len(batches); i += chunk {
		if err := copyChunk(ctx, db, batches[i:min(i+chunk, len(batches))]); err != nil {
			return 0, err
		}
	}
	return float64(len(batches)) / time.Since(t0).Seconds(), nil
}

func copyChunk(ctx context.Context, db *sql.DB, rows [][]any) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("bare copy: %w", err)
	}
	defer tx.Rollback()
	// The devdb cluster runs with synchronous_commit off; the server turns it on for
	// event batches (internal/store/events.go), so the floor does too.
	if _, err := tx.ExecContext(ctx, `SET LOCAL synchronous_commit = on`); err != nil {
		return fmt.Errorf("bare copy: %w", err)
	}
	stmt, err := tx.PrepareContext(ctx, pq.CopyIn("entry_events", "community_id", "id", "occurred_at", "gate_id", "credential_id",
		"subject", "method", "result", "reason", "offline", "stale", "replay_key"))
	if err != nil {
		return fmt.Errorf("bare copy: %w", err)
	}
	for _, r := range rows {
		if _, err := stmt.ExecContext(ctx, r...); err != nil {
			return fmt.Errorf("bare copy: %w", err)
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		return fmt.Errorf("bare copy: %w", err)
	}
	if err := stmt.Close(); err != nil {
		return fmt.Errorf("bare copy: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("bare copy: %w", err)
	}
	return nil
}

// eventBytes is what an entry event costs on disk: the entry log's partitions with their
// indexes and TOAST, over its rows. Not on Citus (the shards are on the workers).
func eventBytes(dbURL string) (float64, int64, error) {
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var citus bool
	if err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')`).Scan(&citus); err != nil || citus {
		return 0, 0, err // on Citus the rows are on the workers: not measured here
	}
	var size, rows int64
	err = db.QueryRowContext(ctx, `SELECT (SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('entry_events')),
		(SELECT count(*) FROM entry_events)`).Scan(&size, &rows)
	if err != nil || rows == 0 {
		return 0, rows, err
	}
	return float64(size) / float64(rows), rows, nil
}
