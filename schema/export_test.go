package schema

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"testing/fstest"
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

// MigrateWith applies the embedded migrations and extra ones (file name → SQL), as a
// later release would bring them.
func MigrateWith(ctx context.Context, db *sql.DB, extra map[string]string) error {
	dir, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	all := fstest.MapFS{}
	names, err := fs.Glob(dir, "*.sql")
	if err != nil {
		return err
	}
	for _, n := range names {
		b, err := fs.ReadFile(dir, n)
		if err != nil {
			return err
		}
		all[n] = &fstest.MapFile{Data: b}
	}
	for n, text := range extra {
		all[n] = &fstest.MapFile{Data: []byte(text)}
	}
	return migrate(ctx, db, all)
}
