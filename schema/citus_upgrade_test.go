package schema_test

import (
	"context"
	"database/sql"
	"testing"

	"gatepass/internal/dbtest"
	"gatepass/schema"
)

// distributedAt is the newest migration when distribution landed (issue 14): no
// database was distributed before it, and earlier migrations predate Citus (00004 adds a
// constraint in the same ALTER TABLE as columns, 00014 a column with its CHECK, both of
// which Citus refuses on a distributed table). Every later migration must run on a
// distributed database: split such statements (docs/scaling.md).
const distributedAt = 14

// openEach runs each step on a new pool, as successive releases (new processes, new
// connections with the database's settings) would.
func openEach(t *testing.T, url string, steps ...func(*sql.DB) error) {
	t.Helper()
	for i, step := range steps {
		db, err := sql.Open("postgres", url)
		if err != nil {
			t.Fatal(err)
		}
		err = step(db)
		db.Close()
		if err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
	}
}

// A deployment that went to Citus keeps migrating: the migrations written since run on
// distributed tables.
func TestMigrationsAfterDistribution(t *testing.T) {
	if !dbtest.Citus(t) {
		t.Skip("needs a Citus coordinator (make test runs this package there too)")
	}
	ctx := context.Background()
	openEach(t, dbtest.Empty(t),
		func(db *sql.DB) error { return schema.MigrateTo(ctx, db, distributedAt) },
		func(db *sql.DB) error { return schema.Distribute(ctx, db) },
		func(db *sql.DB) error { return schema.Migrate(ctx, db) },
	)
}

// A later release adds a community table in one migration and its foreign keys in the
// next: Migrate distributes the table, co-located, between the two.
func TestLaterTableIsDistributed(t *testing.T) {
	if !dbtest.Citus(t) {
		t.Skip("needs a Citus coordinator (make test runs this package there too)")
	}
	ctx := context.Background()
	url := dbtest.Empty(t)
	later := map[string]string{
		"90001_notes.sql": `-- +goose Up
CREATE TABLE notes (
    community_id uuid NOT NULL REFERENCES communities (id),
    id           uuid NOT NULL,
    resident_id  uuid NOT NULL,
    body         text NOT NULL,
    PRIMARY KEY (community_id, id)
);
-- +goose Down
DROP TABLE notes;
`,
		"90002_notes_fk.sql": `-- +goose Up
ALTER TABLE notes ADD CONSTRAINT notes_resident FOREIGN KEY (community_id, resident_id) REFERENCES residents (community_id, id);
-- +goose Down
ALTER TABLE notes DROP CONSTRAINT notes_resident;
`,
	}
	openEach(t, url,
		func(db *sql.DB) error { return schema.Migrate(ctx, db) },
		func(db *sql.DB) error { return schema.MigrateWith(ctx, db, later) },
	)
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var sameGroup, fk bool
	err = db.QueryRow(`SELECT
		(SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = 'notes'::regclass AND partmethod = 'h') =
		(SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = 'residents'::regclass),
		EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'notes_resident')`).Scan(&sameGroup, &fk)
	if err != nil || !sameGroup || !fk {
		t.Fatalf("notes distributed with residents %v, foreign key %v (%v)", sameGroup, fk, err)
	}
}
