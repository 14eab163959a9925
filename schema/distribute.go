package schema

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/lib/pq"
)

// Placement is where a table lives on a Citus cluster.
type Placement string

const (
	// Distributed tables are sharded by community_id; all of them are co-located, so the
	// rows of one community, in every table, live on one worker and a statement that names
	// the community is routed to that one shard group.
	Distributed Placement = "distributed"
	// Reference tables (the few global ones: communities, staff, their tokens) are copied
	// to every node, so community tables can join them and keep foreign keys to them.
	Reference Placement = "reference"
	// Local tables stay on the coordinator only; each has a reason in LocalTables.
	Local Placement = "local"
)

// LocalTables are the tables that stay on the coordinator, deliberately, with why.
// Every other table is distributed (community_id in its primary key) or a reference table.
var LocalTables = map[string]string{
	"goose_db_version": "goose's own record of applied migrations: only `server migrate` on the coordinator reads and writes it, and it joins nothing",
}

// GlobalTables are reference tables although they have a community_id column, with why.
// (A table without one is a reference table anyway: communities, staff_tokens.)
var GlobalTables = map[string]string{
	"staff": "an operator's row has no community (community_id is NULL), so it cannot be distributed by it; staff are few and read on every staff request",
}

// citusTable is one table of the public schema as Distribute sees it.
type citusTable struct {
	Name string
	// Want is where it belongs; Has is where it is now ("" when Citus does not know it, or
	// when Citus turned it into a coordinator-local table because of a foreign key).
	Want, Has Placement
}

// HasCitus reports whether the database has the citus extension, i.e. is a Citus
// coordinator (the programs never connect to a worker).
func HasCitus(ctx context.Context, db *sql.DB) (bool, error) {
	var ok bool
	if err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')`).Scan(&ok); err != nil {
		return false, fmt.Errorf("look for citus: %w", err)
	}
	return ok, nil
}

// distributed reports whether any table of the public schema is placed on Citus.
func distributed(ctx context.Context, db *sql.DB) (bool, error) {
	has, err := HasCitus(ctx, db)
	if err != nil || !has {
		return false, err
	}
	var ok bool
	err = db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_dist_partition p JOIN pg_class c ON c.oid = p.logicalrelid
		WHERE c.relnamespace = 'public'::regnamespace)`).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("look for distributed tables: %w", err)
	}
	return ok, nil
}

// Placements says where every table of the public schema belongs on Citus, whether or
// not the database has Citus: a table whose primary key includes community_id is
// distributed, a table named in LocalTables stays local, and any other table is a
// reference table. A table with a community_id column that its primary key leaves out
// is an error (it could be neither distributed by community nor small and global), so a
// migration that adds one fails its tests here.
func Placements(ctx context.Context, db *sql.DB) (map[string]Placement, error) {
	tables, err := loadTables(ctx, db, false)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Placement, len(tables))
	for _, t := range tables {
		out[t.Name] = t.Want
	}
	return out, nil
}

// Distribute places every table of the public schema on a Citus cluster (Placements):
// community tables are distributed by community_id and co-located, global tables become
// reference tables. Tables already placed are left alone, so it runs after every
// migration (Migrate calls it when the database has the citus extension) and picks up the
// tables that later migrations add. A database without Citus is left as it is.
//
// Citus will not distribute a table while a foreign key joins it to a table that Citus
// does not know yet (making communities a reference table first would turn every table
// that references it into a coordinator-local table, which then cannot be distributed).
// So, in one transaction: drop the foreign keys that touch a table to be placed, place the
// tables, and add the same foreign keys back (Citus checks them on the shards). A failure
// rolls everything back.
//
// The triggers (audit_log and audit_heads append-only, consents_keep) are kept: Citus
// creates them on every shard and they fire on the workers. That is safe here because
// each one looks only at the row in hand (OLD, NEW, now()) and writes nothing, so it
// needs no other shard and cannot deadlock across nodes; citus.enable_unsafe_triggers is
// what allows them (set for this database, so that later migrations may change them).
func Distribute(ctx context.Context, db *sql.DB) error {
	has, err := HasCitus(ctx, db)
	if err != nil || !has {
		return err
	}
	started := time.Now()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("distribute: %w", err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("distribute: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	// Several server copies may start at once; one distributes, the others then find
	// every table placed.
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('gatepass.schema.distribute', 0))`); err != nil {
		return fmt.Errorf("distribute: lock: %w", err)
	}
	tables, err := loadTables(ctx, tx, true)
	if err != nil {
		return err
	}
	var todo []citusTable
	for _, t := range tables {
		if t.Want != Local && t.Has != t.Want {
			todo = append(todo, t)
		}
		if t.Has != "" && t.Has != t.Want {
			if t.Has == Distributed || t.Has == Reference {
				return fmt.Errorf("distribute: %s is a %s table but belongs %s: move it by hand (undistribute_table)", t.Name, t.Has, t.Want)
			}
		}
	}
	if len(todo) == 0 {
		return nil
	}
	for _, set := range []string{
		// DDL on the shards of several tables in one transaction must use one connection
		// per worker.
		`SET LOCAL citus.multi_shard_modify_mode TO 'sequential'`,
		`SET LOCAL citus.enable_unsafe_triggers TO on`,
	} {
		if _, err := tx.ExecContext(ctx, set); err != nil {
			return fmt.Errorf("distribute: %s: %w", set, err)
		}
	}
	fks, err := foreignKeysOf(ctx, tx, todo)
	if err != nil {
		return err
	}
	for _, fk := range fks {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`ALTER TABLE %s DROP CONSTRAINT %s`, quoteIdent(fk.table), quoteIdent(fk.name))); err != nil {
			return fmt.Errorf("distribute: drop foreign key %s.%s: %w", fk.table, fk.name, err)
		}
	}
	anchor := ""
	for _, t := range tables {
		if t.Has == Distributed {
			anchor = t.Name
			break
		}
	}
	// Reference tables first, then distributed ones, each in name order: with the foreign
	// keys gone the order only has to be the same on every run.
	sort.SliceStable(todo, func(i, j int) bool { return todo[i].Want == Reference && todo[j].Want != Reference })
	for _, t := range todo {
		var err error
		switch {
		case t.Want == Reference:
			_, err = tx.ExecContext(ctx, `SELECT create_reference_table($1)`, t.Name)
		case anchor == "":
			// The first community table starts a colocation group of its own; every other
			// one joins it.
			_, err = tx.ExecContext(ctx, `SELECT create_distributed_table($1, 'community_id', colocate_with => 'none')`, t.Name)
			anchor = t.Name
		default:
			_, err = tx.ExecContext(ctx, `SELECT create_distributed_table($1, 'community_id', colocate_with => $2)`, t.Name, anchor)
		}
		if err != nil {
			return fmt.Errorf("distribute: %s as a %s table: %w", t.Name, t.Want, err)
		}
	}
	for _, fk := range fks {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`ALTER TABLE %s ADD CONSTRAINT %s %s`, quoteIdent(fk.table), quoteIdent(fk.name), fk.def)); err != nil {
			return fmt.Errorf("distribute: add foreign key %s.%s back: %w", fk.table, fk.name, err)
		}
	}
	// Settings for the sessions that come after, later migrations above all (each runs in
	// a transaction): triggers on distributed tables may be created, altered and dropped;
	// DDL and multi-shard writes use one connection per worker, without which Citus
	// refuses an index on entry_events whose name on a monthly partition's shard is too
	// long ("could lead to deadlocks ... after a parallel query"). Sequential is slower
	// only for multi-shard writes, which gatepass does only in its background sweeps.
	var dbName string
	if err := tx.QueryRowContext(ctx, `SELECT current_database()`).Scan(&dbName); err != nil {
		return fmt.Errorf("distribute: %w", err)
	}
	for _, set := range []string{`citus.enable_unsafe_triggers TO on`, `citus.multi_shard_modify_mode TO 'sequential'`} {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`ALTER DATABASE %s SET %s`, quoteIdent(dbName), set)); err != nil {
			return fmt.Errorf("distribute: set %s: %w", set, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("distribute: commit: %w", err)
	}
	names := make([]string, len(todo))
	for i, t := range todo {
		names[i] = t.Name
	}
	slog.Info("distributed the schema on Citus", "tables", len(todo), "foreign_keys", len(fks),
		"took", time.Since(started).Round(time.Millisecond), "placed", strings.Join(names, ","))
	return nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// loadTables lists the public schema's tables (partitions go with their parent; tables
// that belong to an extension are the extension's business) and where each belongs.
// withCitus also reads where Citus has each table now.
func loadTables(ctx context.Context, q querier, withCitus bool) ([]citusTable, error) {
	has := `NULL::text`
	if withCitus {
		// partmethod 'h' is hash distribution; 'n' with replication model 't' is a reference
		// table; 'n' with 's' is a coordinator-local table in Citus metadata.
		has = `(SELECT CASE WHEN p.partmethod = 'h' THEN 'distributed'
		                    WHEN p.partmethod = 'n' AND p.repmodel = 't' THEN 'reference' END
		        FROM pg_dist_partition p WHERE p.logicalrelid = c.oid)`
	}
	rows, err := q.QueryContext(ctx, `
		SELECT c.relname::text,
		       EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'community_id' AND NOT a.attisdropped),
		       EXISTS (SELECT 1 FROM pg_constraint k JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey)
		               WHERE k.conrelid = c.oid AND k.contype = 'p' AND a.attname = 'community_id'),
		       coalesce(`+has+`, '')
		FROM pg_class c
		WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
		  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
		ORDER BY c.relname`)
	if err != nil {
		return nil, fmt.Errorf("distribute: list tables: %w", err)
	}
	defer rows.Close()
	var out []citusTable
	var errs []error
	for rows.Next() {
		var t citusTable
		var hasCol, inPK bool
		var has string
		if err := rows.Scan(&t.Name, &hasCol, &inPK, &has); err != nil {
			return nil, fmt.Errorf("distribute: list tables: %w", err)
		}
		t.Has = Placement(has)
		_, local := LocalTables[t.Name]
		_, global := GlobalTables[t.Name]
		switch {
		case local:
			t.Want = Local
		case inPK:
			t.Want = Distributed
		case hasCol && !global:
			errs = append(errs, fmt.Errorf("table %s has a community_id column but its primary key leaves it out: key it by community (to distribute it) or name it in schema.GlobalTables or schema.LocalTables with a reason", t.Name))
			continue
		default:
			t.Want = Reference
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("distribute: list tables: %w", err)
	}
	return out, errors.Join(errs...)
}

type foreignKey struct{ table, name, def string }

// foreignKeysOf lists the foreign keys from or to the given tables, with their
// definitions, to drop and add back around placing them.
func foreignKeysOf(ctx context.Context, q querier, tables []citusTable) ([]foreignKey, error) {
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.Name
	}
	rows, err := q.QueryContext(ctx, `
		SELECT r.relname::text, k.conname::text, pg_get_constraintdef(k.oid)
		FROM pg_constraint k JOIN pg_class r ON r.oid = k.conrelid JOIN pg_class f ON f.oid = k.confrelid
		WHERE k.contype = 'f' AND k.conparentid = 0
		  AND r.relnamespace = 'public'::regnamespace AND f.relnamespace = 'public'::regnamespace
		  AND (r.relname = ANY ($1) OR f.relname = ANY ($1))
		ORDER BY r.relname, k.conname`, pq.Array(names))
	if err != nil {
		return nil, fmt.Errorf("distribute: list foreign keys: %w", err)
	}
	defer rows.Close()
	var out []foreignKey
	for rows.Next() {
		var fk foreignKey
		if err := rows.Scan(&fk.table, &fk.name, &fk.def); err != nil {
			return nil, fmt.Errorf("distribute: list foreign keys: %w", err)
		}
		out = append(out, fk)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("distribute: list foreign keys: %w", err)
	}
	return out, nil
}

// quoteIdent quotes an SQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
