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
