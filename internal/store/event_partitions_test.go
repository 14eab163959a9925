package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func TestPurgeEvents(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	now := time.Date(2027, 3, 15, 12, 0, 0, 0, time.UTC)
	if _, err := db.EnsurePartitions(ctx, now.AddDate(0, -8, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.EnsurePartitions(ctx, now); err != nil {
		t.Fatal(err)
	}
	c := uuid.New()
	if _, err := db.SQL().Exec(`INSERT INTO communities (id, name) VALUES ($1, 'purge')`, c); err != nil {
		t.Fatal(err)
	}
	ages := map[string]time.Duration{"200d": 200 * 24 * time.Hour, "185d": 185 * 24 * time.Hour, "179d": 179 * 24 * time.Hour, "1d": 24 * time.Hour, "future clock": -400 * 24 * time.Hour}
	for _, age := range ages {
		_, err := db.SQL().Exec(`INSERT INTO entry_events (community_id, id, occurred_at, gate_id, method, result, reason)
			VALUES ($1, $2, $3, $4, 'qr', 'granted', 'ok')`, c, uuid.New(), now.Add(-age), uuid.New())
		if err != nil {
			t.Fatal(err)
		}
	}
	cutoff := now.Add(-180 * 24 * time.Hour)
	parts, rows, err := db.PurgeEvents(ctx, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	var left int
	_ = db.SQL().QueryRow(`SELECT count(*) FROM entry_events WHERE community_id = $1`, c).Scan(&left)
	var old int
	_ = db.SQL().QueryRow(`SELECT count(*) FROM entry_events WHERE community_id = $1 AND occurred_at < $2`, c, cutoff).Scan(&old)
	if left != 3 || old != 0 || parts == 0 {
		t.Fatalf("after purge: %d events left (%d older than the cutoff), %d partitions dropped, %d rows deleted", left, old, parts, rows)
	}
}
