// Package schema holds the numbered SQL migrations of the gatepass database and applies
// them. The migrations are embedded, so the server binary carries its own schema.
package schema

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate brings the database up to the newest migration and, on a Citus coordinator,
// distributes what is not distributed yet (Distribute). Applying it to an up-to-date
// database changes nothing.
func Migrate(ctx context.Context, db *sql.DB) error {
	return migrate(ctx, db, nil)
}

// migrate applies the migrations of fsys (nil: the embedded ones).
func migrate(ctx context.Context, db *sql.DB, fsys fs.FS) error {
	p, err := providerFS(db, fsys)
	if err != nil {
		return err
	}
	done, err := distributed(ctx, db)
	if err != nil {
		return err
	}
	if !done {
		if _, err := p.Up(ctx); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		return Distribute(ctx, db)
	}
	// On a distributed database each migration runs alone and Distribute places what it
	// added before the next one runs. Citus refuses a foreign key from a table it has not
	// distributed yet to one it has, so a new community table comes in one migration and
	// its foreign keys to other community tables in the next (docs/scaling.md).
	for {
		_, err := p.UpByOne(ctx)
		if errors.Is(err, goose.ErrNoNextVersion) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if err := Distribute(ctx, db); err != nil {
			return err
		}
	}
}

// Version reports the newest applied migration.
func Version(ctx context.Context, db *sql.DB) (int64, error) {
	p, err := provider(db)
	if err != nil {
		return 0, err
	}
	return p.GetDBVersion(ctx)
}

func provider(db *sql.DB) (*goose.Provider, error) { return providerFS(db, nil) }

func providerFS(db *sql.DB, dir fs.FS) (*goose.Provider, error) {
	if dir == nil {
		sub, err := fs.Sub(migrations, "migrations")
		if err != nil {
			return nil, err
		}
		dir = sub
	}
	// The session lock lets several server and mobile-api copies start at once.
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, dir, goose.WithSessionLocker(locker))
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return p, nil
}
