package schema

import (
	"context"
	"database/sql"
	"fmt"
)

// MigrateTo applies the migrations up to version, for tests of one migration's data.
func MigrateTo(ctx context.Context, db *sql.DB, version int64) error {
	p, err := provider(db)
	if err != nil {
		return err
	}
	if _, err := p.UpTo(ctx, version); err != nil {
		return fmt.Errorf("migrate to %d: %w", version, err)
	}
	return nil
}
