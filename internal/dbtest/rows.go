package dbtest

// Helpers that age, tamper with, count and read rows, so that tests outside the store
// say what they mean (this session was verified six minutes ago; nothing was written)
// instead of writing SQL. Values are always bound; table and column names are
// identifiers checked against Tables and a strict pattern, never spliced from data.

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// Conn is what the helpers need of a database handle: a *sql.DB (store.DB.SQL()) or a
// *sqlx.DB.
type Conn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Table names a table of the schema.
type Table string

// The tables tests may read or change.
const (
	AccessGroups       Table = "access_groups"
	AccessPolicies     Table = "access_policies"
	AuditHeads         Table = "audit_heads"
	AuditLog           Table = "audit_log"
	Buildings          Table = "buildings"
	ChangeLog          Table = "change_log"
	Communities        Table = "communities"
	Consents           Table = "consents"
	Credentials        Table = "credentials"
	EntryEvents        Table = "entry_events"
	FacePurges         Table = "face_purges"
	FaceTemplates      Table = "face_templates"
	GateCommands       Table = "gate_commands"
	GateLiveness       Table = "gate_liveness"
	Gates              Table = "gates"
	Invites            Table = "invites"
	Lockdowns          Table = "lockdowns"
	Passholders        Table = "passholders"
	Passkeys           Table = "passkeys"
	Residencies        Table = "residencies"
	Residents          Table = "residents"
	Sessions           Table = "sessions"
	SigningKeys        Table = "signing_keys"
	Staff              Table = "staff"
	StaffTokens        Table = "staff_tokens"
	StaffCeremonies    Table = "staff_ceremonies"
	StaffInvites       Table = "staff_invites"
	StaffPasskeys      Table = "staff_passkeys"
	StaffSessions      Table = "staff_sessions"
	Units              Table = "units"
	VisitorPasses      Table = "visitor_passes"
	WebauthnCeremonies Table = "webauthn_ceremonies"
	WebhookAttempts    Table = "webhook_attempts"
	WebhookDeliveries  Table = "webhook_deliveries"
	WebhookEndpoints   Table = "webhook_endpoints"
	WechatBindings     Table = "wechat_bindings"
	Zones              Table = "zones"
)

// Tables is the fixed list every helper checks its table against.
var Tables = []Table{AccessGroups, AccessPolicies, AuditHeads, AuditLog, Buildings, ChangeLog, Communities, Consents, Credentials,
	EntryEvents, FacePurges, FaceTemplates, GateCommands, GateLiveness, Gates, Invites, Lockdowns, Passholders, Passkeys,
	Residencies, Residents, Sessions, SigningKeys, Staff, StaffCeremonies, StaffInvites, StaffPasskeys,
	StaffSessions, StaffTokens, Units, VisitorPasses,
	WebauthnCeremonies, WebhookAttempts, WebhookDeliveries, WebhookEndpoints, WechatBindings, Zones}

var ident = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

func table(t testing.TB, tb Table) string {
	t.Helper()
	if !slices.Contains(Tables, tb) {
		t.Fatalf("dbtest: unknown table %q", tb)
	}
	return `"` + string(tb) + `"`
}

func column(t testing.TB, c string) string {
	t.Helper()
	if !ident.MatchString(c) {
		t.Fatalf("dbtest: bad column name %q", c)
	}
	return `"` + c + `"`
}

// A Cond is one condition on a row; all of a call's conditions must hold.
type Cond struct {
	col string
	op  string // "=", "<>", "<", ">", "null", "notnull", "haskey", "hash", "contains", "holds", "field"
	val any
}

// Eq holds when column = v.
func Eq(col string, v any) Cond { return Cond{col, "=", v} }

// Ne holds when column <> v.
func Ne(col string, v any) Cond { return Cond{col, "<>", v} }

// Lt holds when column < v.
func Lt(col string, v any) Cond { return Cond{col, "<", v} }

// Gt holds when column > v.
func Gt(col string, v any) Cond { return Cond{col, ">", v} }

// Null holds when column IS NULL; NotNull when it is not.
func Null(col string) Cond { return Cond{col, "null", nil} }

// NotNull holds when column IS NOT NULL.
func NotNull(col string) Cond { return Cond{col, "notnull", nil} }

// HasKey holds when the JSON column has the top-level key.
func HasKey(col, key string) Cond { return Cond{col, "haskey", key} }

// Field holds when the JSON column's top-level key holds v as text (payload ->> key).
func Field(col, key string, v string) Cond { return Cond{col, "field", [2]string{key, v}} }

// Contains holds when the bytes column holds b anywhere (a secret stored in clear).
func Contains(col string, b []byte) Cond { return Cond{col, "contains", b} }

// Holds holds when the array column holds v.
func Holds(col string, v any) Cond { return Cond{col, "holds", v} }

// Hashes holds when the column is the SHA-256 of the secret (token_hash, code_hash).
func Hashes(col, secret string) Cond { return Cond{col, "hash", secret} }

func where(t testing.TB, conds []Cond, args []any) (string, []any) {
	t.Helper()
	if len(conds) == 0 {
		return "", args
	}
	parts := make([]string, 0, len(conds))
	for _, c := range conds {
		col := column(t, c.col)
		switch c.op {
		case "null":
			parts = append(parts, col+" IS NULL")
		case "notnull":
			parts = append(parts, col+" IS NOT NULL")
		case "haskey":
			args = append(args, c.val)
			parts = append(parts, fmt.Sprintf("%s ? $%d", col, len(args)))
		case "contains":
			args = append(args, c.val)
			parts = append(parts, fmt.Sprintf("position($%d::bytea in %s) > 0", len(args), col))
		case "field":
			kv := c.val.([2]string)
			args = append(args, kv[0], kv[1])
			parts = append(parts, fmt.Sprintf("%s ->> $%d = $%d", col, len(args)-1, len(args)))
		case "holds":
			args = append(args, c.val)
			parts = append(parts, fmt.Sprintf("$%d = ANY(%s)", len(args), col))
		case "hash":
			args = append(args, c.val)
			parts = append(parts, fmt.Sprintf("%s = sha256(convert_to($%d, 'UTF8'))", col, len(args)))
		case "=", "<>", "<", ">":
			args = append(args, c.val)
			parts = append(parts, fmt.Sprintf("%s %s $%d", col, c.op, len(args)))
		default:
			t.Fatalf("dbtest: bad condition %q", c.op)
		}
	}
	return " WHERE " + strings.Join(parts, " AND "), args
}

// Count returns how many rows of tb meet every condition.
func Count(t testing.TB, db Conn, tb Table, conds ...Cond) int {
	t.Helper()
	w, args := where(t, conds, nil)
	var n int
	if err := db.QueryRowContext(context.Background(), "SELECT count(*) FROM "+table(t, tb)+w, args...).Scan(&n); err != nil {
		t.Fatalf("dbtest: count %s: %v", tb, err)
	}
	return n
}

// Get reads column col of the one row of tb that meets the conditions into dest (as
// Scan does). It fails the test unless exactly one row matches.
func Get(t testing.TB, db Conn, dest any, tb Table, col string, conds ...Cond) {
	t.Helper()
	w, args := where(t, conds, nil)
	rows, err := db.QueryContext(context.Background(), "SELECT "+column(t, col)+" FROM "+table(t, tb)+w+" LIMIT 2", args...)
	if err != nil {
		t.Fatalf("dbtest: read %s.%s: %v", tb, col, err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatalf("dbtest: read %s.%s: no row (%v)", tb, col, rows.Err())
	}
	if err := rows.Scan(dest); err != nil {
		t.Fatalf("dbtest: read %s.%s: %v", tb, col, err)
	}
	if rows.Next() {
		t.Fatalf("dbtest: read %s.%s: more than one row", tb, col)
	}
}

// Distinct returns how many distinct values column col takes in the rows of tb that
// meet the conditions (NULL not counted).
func Distinct(t testing.TB, db Conn, tb Table, col string, conds ...Cond) int {
	t.Helper()
	w, args := where(t, conds, nil)
	var n int
	if err := db.QueryRowContext(context.Background(), "SELECT count(DISTINCT "+column(t, col)+") FROM "+table(t, tb)+w, args...).Scan(&n); err != nil {
		t.Fatalf("dbtest: count distinct %s.%s: %v", tb, col, err)
	}
	return n
}

// List appends column col of every row of tb that meets the conditions, in the column's
// order, to the slice dest points to (as Scan fills one element).
func List(t testing.TB, db Conn, dest any, tb Table, col string, conds ...Cond) {
	t.Helper()
	out := reflect.ValueOf(dest)
	if out.Kind() != reflect.Pointer || out.Elem().Kind() != reflect.Slice {
		t.Fatalf("dbtest: List needs a pointer to a slice, not %T", dest)
	}
	w, args := where(t, conds, nil)
	c := column(t, col)
	rows, err := db.QueryContext(context.Background(), "SELECT "+c+" FROM "+table(t, tb)+w+" ORDER BY "+c, args...)
	if err != nil {
		t.Fatalf("dbtest: list %s.%s: %v", tb, col, err)
	}
	defer rows.Close()
	for rows.Next() {
		v := reflect.New(out.Elem().Type().Elem())
		if err := rows.Scan(v.Interface()); err != nil {
			t.Fatalf("dbtest: list %s.%s: %v", tb, col, err)
		}
		out.Elem().Set(reflect.Append(out.Elem(), v.Elem()))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("dbtest: list %s.%s: %v", tb, col, err)
	}
}

// Ago is a Set value: the database's now() less d. FromNow(d) is now() plus d, Now() is
// now().
type Ago time.Duration

// FromNow is a Set value: now() plus d.
func FromNow(d time.Duration) Ago { return Ago(-d) }

// Now is a Set value: now().
func Now() Ago { return Ago(0) }

// Values are column values for Set, Tamper and Insert. A nil value stores NULL.
type Values map[string]any

func sets(t testing.TB, vals Values, args []any) (string, []any) {
	t.Helper()
	if len(vals) == 0 {
		t.Fatal("dbtest: nothing to set")
	}
	cols := make([]string, 0, len(vals))
	for c := range vals {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	parts := make([]string, 0, len(cols))
	for _, c := range cols {
		parts = append(parts, column(t, c)+" = "+value(vals[c], &args))
	}
	return strings.Join(parts, ", "), args
}

// value binds v and returns its placeholder expression.
func value(v any, args *[]any) string {
	if a, ok := v.(Ago); ok {
		*args = append(*args, time.Duration(a).Microseconds())
		return fmt.Sprintf("now() - $%d::bigint * interval '1 microsecond'", len(*args))
	}
	*args = append(*args, v)
	return fmt.Sprintf("$%d", len(*args))
}

// Set changes the rows of tb that meet the conditions, as a test stages a state the
// product's API cannot reach (an expired invite, a session verified long ago), and
// returns how many rows it changed.
func Set(t testing.TB, db Conn, tb Table, vals Values, conds ...Cond) int64 {
	t.Helper()
	s, args := sets(t, vals, nil)
	w, args := where(t, conds, args)
	res, err := db.ExecContext(context.Background(), "UPDATE "+table(t, tb)+" SET "+s+w, args...)
	if err != nil {
		t.Fatalf("dbtest: set %s: %v", tb, err)
	}
	n, _ := res.RowsAffected()
	return n
}

// Age sets column col of the rows of tb that meet the conditions to now() less d.
func Age(t testing.TB, db Conn, tb Table, col string, d time.Duration, conds ...Cond) int64 {
	t.Helper()
	return Set(t, db, tb, Values{col: Ago(d)}, conds...)
}

// SetErr is Set returning the database's error instead of failing, for tests that
// check the database refuses a change (an append-only table's trigger).
func SetErr(t testing.TB, db Conn, tb Table, vals Values, conds ...Cond) error {
	t.Helper()
	s, args := sets(t, vals, nil)
	w, args := where(t, conds, args)
	_, err := db.ExecContext(context.Background(), "UPDATE "+table(t, tb)+" SET "+s+w, args...)
	return err
}

// Tamper is Set going around the table's triggers (the append-only guard of audit_log,
// the seal check of signing_keys), as someone with the database owner's rights would:
// for tests that the product detects it. The triggers are off only for the update (in
// separate statements, as Citus takes them).
func Tamper(t testing.TB, db Conn, tb Table, vals Values, conds ...Cond) int64 {
	t.Helper()
	ctx := context.Background()
	name := table(t, tb)
	if _, err := db.ExecContext(ctx, "ALTER TABLE "+name+" DISABLE TRIGGER USER"); err != nil {
		t.Fatalf("dbtest: tamper %s: %v", tb, err)
	}
	defer func() {
		if _, err := db.ExecContext(ctx, "ALTER TABLE "+name+" ENABLE TRIGGER USER"); err != nil {
			t.Errorf("dbtest: tamper %s: triggers left off: %v", tb, err)
		}
	}()
	return Set(t, db, tb, vals, conds...)
}

// Insert writes one row to tb, for a state the product would take many steps (or a
// gate) to reach.
func Insert(t testing.TB, db Conn, tb Table, vals Values) {
	t.Helper()
	cols := make([]string, 0, len(vals))
	for c := range vals {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	var args []any
	names := make([]string, len(cols))
	phs := make([]string, len(cols))
	for i, c := range cols {
		names[i] = column(t, c)
		phs[i] = value(vals[c], &args)
	}
	q := "INSERT INTO " + table(t, tb) + " (" + strings.Join(names, ", ") + ") VALUES (" + strings.Join(phs, ", ") + ")"
	if _, err := db.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("dbtest: insert into %s: %v", tb, err)
	}
}

// Delete removes the rows of tb that meet the conditions and returns how many.
func Delete(t testing.TB, db Conn, tb Table, conds ...Cond) int64 {
	t.Helper()
	w, args := where(t, conds, nil)
	res, err := db.ExecContext(context.Background(), "DELETE FROM "+table(t, tb)+w, args...)
	if err != nil {
		t.Fatalf("dbtest: delete from %s: %v", tb, err)
	}
	n, _ := res.RowsAffected()
	return n
}

// Fingerprint is the row count of every table of the schema (partitions counted in
// their parent), for tests that check a refused request wrote nothing: compare the
// fingerprints taken before and after.
func Fingerprint(t testing.TB, db Conn) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, n := range catalog(t, db, `SELECT relname FROM pg_class WHERE relkind IN ('r', 'p') AND NOT relispartition
		AND relnamespace = 'public'::regnamespace AND relname <> 'goose_db_version' ORDER BY relname`) {
		var c int
		if err := db.QueryRowContext(context.Background(), `SELECT count(*) FROM "`+n+`"`).Scan(&c); err != nil {
			t.Fatalf("dbtest: count %s: %v", n, err)
		}
		out[n] = c
	}
	return out
}

// CommunityDigest digests every row of community c, in every table that has a
// community_id, and its staff's tokens (less when they were last used): it changes if
// anything of c does.
func CommunityDigest(t testing.TB, db Conn, c any) string {
	t.Helper()
	ctx := context.Background()
	var sum strings.Builder
	for _, tbl := range catalog(t, db, `SELECT k.relname FROM pg_attribute a JOIN pg_class k ON k.oid = a.attrelid
		WHERE a.attname = 'community_id' AND k.relkind IN ('r', 'p') AND NOT k.relispartition
		  AND k.relnamespace = 'public'::regnamespace ORDER BY k.relname`) {
		var md5 string
		q := `SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM "` + tbl + `" t WHERE community_id = $1`
		if err := db.QueryRowContext(ctx, q, c).Scan(&md5); err != nil {
			t.Fatalf("dbtest: digest %s: %v", tbl, err)
		}
		sum.WriteString(tbl + "=" + md5 + " ")
	}
	var tokens string
	err := db.QueryRowContext(ctx, `SELECT coalesce(md5(string_agg(concat_ws(',', t.id, t.expires_at, t.revoked_at, t.kind, t.label), '|' ORDER BY t.id)), '')
		FROM staff_tokens t JOIN staff s ON s.id = t.staff_id WHERE s.community_id = $1`, c).Scan(&tokens)
	if err != nil {
		t.Fatalf("dbtest: digest staff_tokens: %v", err)
	}
	return sum.String() + "staff_tokens=" + tokens
}

// catalog returns the names a catalog query lists; they come from the database's own
// catalog, and are quoted where used.
func catalog(t testing.TB, db Conn, query string) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), query)
	if err != nil {
		t.Fatalf("dbtest: catalog: %v", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatalf("dbtest: catalog: %v", err)
		}
		if !ident.MatchString(n) {
			t.Fatalf("dbtest: catalog: odd table name %q", n)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("dbtest: catalog: %v", err)
	}
	return names
}
