package store

import (
	"context"
	"fmt"
	"time"
)

// EnsurePartitions makes sure the entry log has monthly partitions from last month to
// three months ahead, and returns how many it created.
func (db *DB) EnsurePartitions(ctx context.Context, now time.Time) (int, error) {
	var n int
	from := now.UTC().AddDate(0, -1, 0)
	if err := db.x.GetContext(ctx, &n, `SELECT ensure_entry_partitions($1::date, 5)`, from.Format("2006-01-02")); err != nil {
		return 0, fmt.Errorf("ensure partitions: %w", err)
	}
	return n, nil
}

// PurgeEvents deletes entry events that happened before cutoff: whole monthly partitions
// that end by the cutoff are dropped (cheap, no dead rows), the rest row by row. It
// returns the number of partitions dropped and rows deleted.
func (db *DB) PurgeEvents(ctx context.Context, cutoff time.Time) (partitions int, rows int64, err error) {
	var names []string
	err = db.x.SelectContext(ctx, &names, `SELECT c.relname FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'entry_events'::regclass AND c.relname ~ '^entry_events_[0-9]{4}_[0-9]{2}$'`)
	if err != nil {
		return 0, 0, fmt.Errorf("purge events: %w", err)
	}
	for _, name := range names {
		month, err := time.Parse("entry_events_2006_01", name)
		if err != nil || month.AddDate(0, 1, 0).After(cutoff) {
			continue
		}
		// Through the owner's function: the programs' role does not own entry_events.
		if _, err := db.x.ExecContext(ctx, `SELECT drop_entry_partition($1)`, name); err != nil {
			return partitions, 0, fmt.Errorf("purge events: drop %s: %w", name, err)
		}
		partitions++
	}
	res, err := db.x.ExecContext(ctx, `DELETE FROM entry_events WHERE occurred_at < $1`, cutoff)
	if err != nil {
		return partitions, 0, fmt.Errorf("purge events: %w", err)
	}
	rows, _ = res.RowsAffected()
	return partitions, rows, nil
}
