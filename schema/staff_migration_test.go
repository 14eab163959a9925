package schema_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"gatepass/internal/dbtest"
	"gatepass/schema"
)

// Tokens made before 00008 had no expiry. They get one 90 days from the migration, not
// from their creation: a two-year-old token must keep working on the day of the upgrade,
// and stop on its own within the default lifetime.
func TestStaffTokensGetAnExpiry(t *testing.T) {
	db, err := sql.Open("postgres", dbtest.Empty(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := schema.MigrateTo(ctx, db, 7); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO staff (id, name, role) VALUES ('00000000-0000-4000-8000-000000000001', 'old operator', 'admin')`,
		`INSERT INTO staff_tokens (token_hash, staff_id, created_at) VALUES (decode(repeat('ab', 32), 'hex'), '00000000-0000-4000-8000-000000000001', now() - interval '2 years')`,
		`INSERT INTO staff_tokens (token_hash, staff_id, revoked_at) VALUES (decode(repeat('cd', 32), 'hex'), '00000000-0000-4000-8000-000000000001', now())`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := schema.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(`SELECT id, kind, label, extract(epoch FROM expires_at - now()) / 86400 FROM staff_tokens`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	ids := map[string]bool{}
	for rows.Next() {
		var id, kind, label string
		var days float64
		if err := rows.Scan(&id, &kind, &label, &days); err != nil {
			t.Fatal(err)
		}
		ids[id] = true
		if kind != "console" || label != "" {
			t.Errorf("token %s: kind %q, label %q", id, kind, label)
		}
		if days < 89.9 || days > 90 {
			t.Errorf("token %s expires in %.2f days, want 90 days from now", id, days)
		}
	}
	if len(ids) != 2 {
		t.Fatalf("token ids %v, want two distinct", ids)
	}
	// From now on the schema itself refuses a token that expires before it is made.
	_, err = db.Exec(`INSERT INTO staff_tokens (id, token_hash, staff_id, expires_at) VALUES (gen_random_uuid(), decode(repeat('ef', 32), 'hex'), '00000000-0000-4000-8000-000000000001', $1)`,
		time.Now().Add(-time.Hour))
	if err == nil {
		t.Fatal("a token that expired before it was made was stored")
	}
}
