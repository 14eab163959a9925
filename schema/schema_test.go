package schema_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	_ "github.com/lib/pq"

	"gatepass/internal/dbtest"
	"gatepass/schema"
)

func TestMigrateFromEmptyAndAgain(t *testing.T) {
	db, err := sql.Open("postgres", dbtest.Empty(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := schema.Migrate(ctx, db); err != nil {
		t.Fatalf("first migrate: %v", err)
	}
	v1, err := schema.Version(ctx, db)
	if err != nil || v1 < 1 {
		t.Fatalf("version after migrate = %d, %v", v1, err)
	}
	var tables int
	if err := db.QueryRow(`SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if err := schema.Migrate(ctx, db); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	v2, _ := schema.Version(ctx, db)
	var tables2 int
	_ = db.QueryRow(`SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables2)
	if v2 != v1 || tables2 != tables {
		t.Fatalf("re-applying changed the schema: version %d -> %d, tables %d -> %d", v1, v2, tables, tables2)
	}
	for _, want := range []string{"communities", "residents", "gates", "entry_events", "audit_log", "change_log", "face_templates", "consents", "signing_keys"} {
		var ok bool
		if err := db.QueryRow(`SELECT to_regclass($1) IS NOT NULL`, want).Scan(&ok); err != nil || !ok {
			t.Errorf("table %s missing", want)
		}
	}
}

// Every community-owned table keys on community_id, so the schema can be distributed by
// community (docs/scaling.md).
func TestCommunityIDInEveryKey(t *testing.T) {
	db, err := sql.Open("postgres", dbtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT c.conrelid::regclass::text, c.conname
		FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
		WHERE c.contype IN ('p', 'u') AND r.relnamespace = 'public'::regnamespace AND r.relispartition = false
		  AND r.relname NOT IN ('communities', 'staff', 'staff_tokens', 'staff_invites', 'staff_passkeys', 'staff_sessions',
		      'staff_ceremonies', 'goose_db_version')
		  AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) AND a.attname = 'community_id')`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var table, con string
		_ = rows.Scan(&table, &con)
		t.Errorf("%s: key %s does not include community_id", table, con)
	}
}

// Entry events whose month has no partition yet land in the default partition and move
// to their own partition when it is made.
func TestEntryPartitions(t *testing.T) {
	db, err := sql.Open("postgres", dbtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	far := time.Date(2031, 5, 17, 12, 0, 0, 0, time.UTC)
	_, err = db.Exec(`INSERT INTO communities (id, name) VALUES ('00000000-0000-4000-8000-0000000000aa', 'p') ON CONFLICT DO NOTHING`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(`INSERT INTO entry_events (community_id, id, occurred_at, gate_id, method, result, reason)
		VALUES ('00000000-0000-4000-8000-0000000000aa', gen_random_uuid(), $1, gen_random_uuid(), 'qr', 'denied', 'expired')`, far)
	if err != nil {
		t.Fatal(err)
	}
	var created int
	if err := db.QueryRow(`SELECT ensure_entry_partitions('2031-05-01', 1)`).Scan(&created); err != nil || created != 1 {
		t.Fatalf("ensure_entry_partitions = %d, %v", created, err)
	}
	var inDefault, inMonth int
	_ = db.QueryRow(`SELECT count(*) FROM entry_events_default WHERE occurred_at = $1`, far).Scan(&inDefault)
	_ = db.QueryRow(`SELECT count(*) FROM entry_events_2031_05`).Scan(&inMonth)
	if inDefault != 0 || inMonth != 1 {
		t.Fatalf("after partitioning: %d in default, %d in 2031_05", inDefault, inMonth)
	}
	if err := db.QueryRow(`SELECT ensure_entry_partitions('2031-05-01', 1)`).Scan(&created); err != nil || created != 0 {
		t.Fatalf("second call created %d, %v", created, err)
	}
}

func TestMain(m *testing.M) { dbtest.Main(m) }

// Every table has a place on Citus: distributed by community, a reference table, or local
// with a reason (schema.Distribute). On plain PostgreSQL this checks the plan (a table
// with community_id left out of its key has none); on a Citus coordinator it checks that
// migrating placed every table as planned and left no coordinator-local surprises.
func TestEveryTablePlacedOnCitus(t *testing.T) {
	db, err := sql.Open("postgres", dbtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	plan, err := schema.Placements(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"communities", "staff", "staff_tokens"} {
		if plan[name] != schema.Reference {
			t.Errorf("%s: planned %q, want reference", name, plan[name])
		}
	}
	for _, name := range []string{"residents", "entry_events", "audit_log", "audit_heads", "change_log", "webauthn_ceremonies", "face_purges", "consents"} {
		if plan[name] != schema.Distributed {
			t.Errorf("%s: planned %q, want distributed", name, plan[name])
		}
	}
	for name, p := range plan {
		if p == schema.Local && schema.LocalTables[name] == "" {
			t.Errorf("%s stays local without a reason", name)
		}
	}
	if !dbtest.Citus(t) {
		return
	}
	rows, err := db.Query(`SELECT c.relname::text,
		       coalesce((SELECT CASE WHEN p.partmethod = 'h' THEN 'distributed'
		                             WHEN p.partmethod = 'n' AND p.repmodel = 't' THEN 'reference'
		                             ELSE 'citus-local' END
		                 FROM pg_dist_partition p WHERE p.logicalrelid = c.oid), 'local'),
		       (SELECT p.colocationid FROM pg_dist_partition p WHERE p.logicalrelid = c.oid)
		FROM pg_class c
		WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	colocation := map[int64]bool{}
	for rows.Next() {
		var name, has string
		var coloc sql.NullInt64
		if err := rows.Scan(&name, &has, &coloc); err != nil {
			t.Fatal(err)
		}
		if string(plan[name]) != has {
			t.Errorf("%s is %s on Citus, planned %q", name, has, plan[name])
		}
		if has == "distributed" {
			colocation[coloc.Int64] = true
		}
	}
	if len(colocation) != 1 {
		t.Errorf("community tables are in %d colocation groups, want 1: %v", len(colocation), colocation)
	}
	// Distributing again finds nothing to do.
	if err := schema.Distribute(ctx, db); err != nil {
		t.Fatalf("second distribute: %v", err)
	}
	// The kept triggers fire on the workers' shards.
	if _, err := db.Exec(`TRUNCATE audit_log`); err == nil {
		t.Error("TRUNCATE audit_log succeeded on Citus")
	}
}

// TestAppRole: the programs' role may do their work but cannot rewrite the audit log,
// delete its heads, truncate anything or change the schema.
func TestAppRole(t *testing.T) {
	ctx := context.Background()
	ownerURL := dbtest.Empty(t)
	owner, err := sql.Open("postgres", ownerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	if err := schema.Migrate(ctx, owner); err != nil {
		t.Fatal(err)
	}
	role := fmt.Sprintf("gatepass_app_t%d", time.Now().UnixNano()%1e9)
	for _, bad := range []string{"", "App", "a; DROP TABLE x", "a\"b", strings.Repeat("a", 64)} {
		if err := schema.GrantAppRole(ctx, owner, bad); err == nil {
			t.Errorf("role name %q accepted", bad)
		}
	}
	if err := schema.GrantAppRole(ctx, owner, role); err != nil {
		t.Fatal(err)
	}
	if err := schema.GrantAppRole(ctx, owner, role); err != nil { // again: after the next migration
		t.Fatalf("second grant: %v", err)
	}
	t.Cleanup(func() {
		owner.Exec(`DROP OWNED BY ` + role)
		owner.Exec(`DROP ROLE ` + role)
	})
	u, _ := url.Parse(ownerURL)
	u.User = url.User(role)
	app, err := sql.Open("postgres", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	app.SetMaxOpenConns(1)

	c := "01000000-0000-7000-8000-000000000001"
	may := []string{
		`SELECT count(*) FROM residents`,
		`INSERT INTO audit_log (community_id, at, actor, action, target, summary, prev_hash, hash) VALUES ('` + c + `', now(), 'a', 'b', 'c', '{}', decode(repeat('00', 32), 'hex'), decode(repeat('01', 32), 'hex'))`,
		`INSERT INTO audit_heads (community_id, seq, hash, mac) VALUES ('` + c + `', 1, decode(repeat('01', 32), 'hex'), decode(repeat('02', 32), 'hex'))`,
		`UPDATE audit_heads SET seq = 2 WHERE community_id = '` + c + `'`,
		`SELECT ensure_entry_partitions('2001-01-01', 1)`,
		`SELECT drop_entry_partition('entry_events_2001_01')`,
		`SELECT version_id FROM goose_db_version LIMIT 1`,
	}
	for _, q := range may {
		if _, err := app.ExecContext(ctx, q); err != nil {
			t.Errorf("the app role may %s: %v", q, err)
		}
	}
	mayNot := []string{
		`UPDATE audit_log SET actor = 'x'`,
		`DELETE FROM audit_log`,
		`TRUNCATE audit_log`,
		`DELETE FROM audit_heads`,
		`TRUNCATE audit_heads`,
		`TRUNCATE residents`,
		`ALTER TABLE audit_log DISABLE TRIGGER USER`,
		`DROP TABLE entry_events_default`,
		`SELECT drop_entry_partition('entry_events_default')`,
		`CREATE TABLE mine (x int)`,
		`DELETE FROM goose_db_version`,
	}
	for _, q := range mayNot {
		_, err := app.ExecContext(ctx, q)
		if err == nil {
			t.Errorf("the app role may not %s, and did", q)
		}
	}
}
