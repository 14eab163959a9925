package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"gatepass/internal/access"
	"gatepass/internal/store"
)

// Issue 20 item 3: the gates' work and the staff's use separate connections, and work
// that finds no connection free within its pool's bound is refused with a BusyError
// (503 with Retry-After) instead of queueing.
func TestPoolsIsolatedAndBounded(t *testing.T) {
	f := newHubFix(t, 1)
	ctx := context.Background()
	gateCtx := store.WithWork(ctx, store.GateWriteWork)
	// Every connection of the gates' writes pool held by a transaction.
	hold := make(chan struct{})
	var held, wg sync.WaitGroup
	for range store.WritesConns {
		held.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := f.db.InTx(gateCtx, "test", func(*store.Tx) error {
				held.Done()
				<-hold
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	held.Wait()
	defer func() { close(hold); wg.Wait() }()

	// One more gate upload: refused within the bound.
	start := time.Now()
	_, err := f.db.GateHeartbeat(gateCtx, f.gates[0], "test", 0, 0, nil)
	var busy *store.BusyError
	if !errors.As(err, &busy) || busy.RetryAfter() <= 0 {
		t.Fatalf("a gate upload with its pool taken: %v, want a BusyError", err)
	}
	if d := time.Since(start); d < store.WritesWait || d > store.WritesWait+time.Second {
		t.Fatalf("refused after %v, want after the %v bound", d, store.WritesWait)
	}
	// Staff meanwhile: at once.
	start = time.Now()
	if _, err := f.db.Gates(ctx, f.c); err != nil {
		t.Fatal(err)
	}
	if err := f.db.InTx(ctx, "test", func(tx *store.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	// Sharing the pool, it would wait for ever (the transactions above never end): any
	// time short of the staff's own bound says it did not.
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Fatalf("staff work waited %v behind the gates' pool", d)
	}
	// The gates' syncs have their own pool too.
	if _, _, err := f.hub.Sync(ctx, f.gates[0], access.SyncRequest{}); err != nil {
		t.Fatal(err)
	}
}

// The connections that store the gates' event batches commit synchronously whatever the
// cluster's default (scripts/devdb runs with synchronous_commit=off, as a cluster tuned
// for speed might): a gate deletes what the server acknowledged.
func TestGateWritesCommitDurably(t *testing.T) {
	db := newHubFix(t, 0).db
	cluster, err := db.Setting(context.Background(), false, "synchronous_commit")
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.Setting(context.Background(), true, "synchronous_commit")
	if err != nil {
		t.Fatal(err)
	}
	want := cluster
	if cluster == "off" {
		want = "on"
	}
	if got != want {
		t.Fatalf("synchronous_commit on the gates' writes pool: %q (cluster %q), want %q", got, cluster, want)
	}
}
