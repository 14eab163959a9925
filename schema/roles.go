package schema

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"

	"github.com/lib/pq"
)

// roleName is what GrantAppRole accepts: a plain PostgreSQL identifier.
var roleName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// GrantAppRole makes role (a login role, created if missing) able to do what server and
// mobile-api do at run time, and no more: read and write the community tables, append to
// the audit log but never change, delete or truncate it, move the audit heads forward
// but never delete them, make and drop entry-log partitions through the owner's
// functions, and no DDL. Run it as the owner after every migration (new tables need
// their grants); `server grant --role NAME` does both.
func GrantAppRole(ctx context.Context, db *sql.DB, role string) error {
	if !roleName.MatchString(role) {
		return fmt.Errorf("grant: role %q: want a lower-case identifier", role)
	}
	r := pq.QuoteIdentifier(role)
	stmts := []string{
		fmt.Sprintf(`DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = %s) THEN CREATE ROLE %s LOGIN; END IF; END $$`, pq.QuoteLiteral(role), r),
		`GRANT USAGE ON SCHEMA public TO ` + r,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ` + r,
		`GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO ` + r,
		`REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM ` + r,
		`REVOKE UPDATE, DELETE ON audit_log FROM ` + r,
		`REVOKE DELETE ON audit_heads FROM ` + r,
		`REVOKE INSERT, UPDATE, DELETE ON goose_db_version FROM ` + r,
		`GRANT EXECUTE ON FUNCTION ensure_entry_partitions(date, integer), drop_entry_partition(text) TO ` + r,
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("grant: %w", err)
	}
	defer tx.Rollback()
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("grant %s: %w", role, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("grant %s: %w", role, err)
	}
	return nil
}
