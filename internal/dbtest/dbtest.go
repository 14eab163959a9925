// Package dbtest gives each test package its own freshly migrated PostgreSQL database on
// the server named by DATABASE_URL, so packages run in parallel without seeing each other.
// make test starts a throwaway server when DATABASE_URL is unset, and runs the database
// suites again on a Citus cluster (scripts/citus): when DATABASE_URL names a Citus
// coordinator, each test database is made on every node with the citus extension, the
// coordinator's copy knows the workers, and migrating it distributes the schema.
package dbtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	_ "github.com/lib/pq" // the PostgreSQL driver

	"gatepass/internal/audit"
	"gatepass/internal/secret"
	"gatepass/internal/store"
)

var (
	once    sync.Once
	dbURL   string
	dbName  string
	onceErr error
)

// URL returns the connection URL of this package's test database, creating and migrating
// it on first use. Tests fail (not skip) without DATABASE_URL: a test that cannot run
// must not pass.
func URL(t testing.TB) string {
	t.Helper()
	once.Do(func() { dbURL, dbName, onceErr = create() })
	if onceErr != nil {
		t.Fatalf("test database: %v", onceErr)
	}
	return dbURL
}

// MasterKey is the master key of every test: harnesses write it to the MASTER_KEY_FILE
// of the programs they start, so rows one writes (the audit chain, sealed keys) open and
// verify in the other.
var MasterKey = bytes.Repeat([]byte{0x5a}, secret.MasterKeySize)

// Sealer is a secret.Sealer under MasterKey.
func Sealer(t testing.TB) *secret.Sealer {
	t.Helper()
	s, err := secret.NewSealer(MasterKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// MasterKeyFile writes MasterKey to a file (as MASTER_KEY_FILE takes it) that lives as
// long as the test.
func MasterKeyFile(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(path, []byte(hex.EncodeToString(MasterKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// New opens this package's test database, with the audit key of MasterKey.
func New(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), URL(t))
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	db.SetAuditKey(Sealer(t).DeriveKey(audit.KeyLabel))
	t.Cleanup(func() { db.Close() })
	return db
}

// Main runs the package's tests and then drops its database.
func Main(m *testing.M) {
	code := m.Run()
	if dbName != "" {
		if err := drop(dbName); err != nil {
			fmt.Fprintf(os.Stderr, "dbtest: drop %s: %v\n", dbName, err)
		}
	}
	os.Exit(code)
}

func adminURL() (*url.URL, error) {
	raw := os.Getenv("DATABASE_URL")
	if raw == "" {
		return nil, fmt.Errorf("DATABASE_URL is not set: run the tests with `make test`, which starts a throwaway PostgreSQL")
	}
	return url.Parse(raw)
}

// server is the PostgreSQL server of DATABASE_URL: its URL, a pool on its database and,
// on a Citus coordinator, its workers (host:port; nil on plain PostgreSQL).
type server struct {
	url     *url.URL
	db      *sql.DB
	workers []string
}

func openServer() (*server, error) {
	u, err := adminURL()
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("postgres", u.String())
	if err != nil {
		return nil, err
	}
	workers, err := citusWorkers(db)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &server{url: u, db: db, workers: workers}, nil
}

// Empty makes a database with no schema, dropped when the test ends: for migration tests.
func Empty(t testing.TB) string {
	t.Helper()
	var url, name string
	err := serialised(func() (err error) {
		url, name, err = createEmpty()
		return err
	})
	if err != nil {
		t.Fatalf("empty test database: %v", err)
	}
	t.Cleanup(func() {
		if err := drop(name); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	return url
}

func createEmpty() (string, string, error) {
	srv, err := openServer()
	if err != nil {
		return "", "", err
	}
	defer srv.db.Close()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "gatepass_t_" + hex.EncodeToString(b[:])
	u, admin, workers := srv.url, srv.db, srv.workers
	// On Citus every node gets the database (a worker's shards live in the database of the
	// same name) and the extension, and the coordinator's copy learns the nodes.
	for _, w := range workers {
		if err := execAt(nodeURL(u, w, u.Path), `CREATE DATABASE `+name); err != nil {
			return "", "", fmt.Errorf("create database on worker %s: %w", w, err)
		}
	}
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		return "", "", fmt.Errorf("create database: %w", err)
	}
	u.Path = "/" + name
	if workers != nil {
		for _, w := range workers {
			if err := execAt(nodeURL(u, w, u.Path), `CREATE EXTENSION citus`); err != nil {
				return "", "", fmt.Errorf("citus on worker %s: %w", w, err)
			}
		}
		stmts := []string{`CREATE EXTENSION citus`,
			fmt.Sprintf(`SELECT citus_set_coordinator_host(%s, %s)`, quote(u.Hostname()), portOf(u))}
		for _, w := range workers {
			host, port, _ := strings.Cut(w, ":")
			stmts = append(stmts, fmt.Sprintf(`SELECT citus_add_node(%s, %s)`, quote(host), port))
		}
		if err := execAt(u.String(), stmts...); err != nil {
			return "", "", fmt.Errorf("citus in %s: %w", name, err)
		}
	}
	return u.String(), name, nil
}

// citusWorkers lists the workers (host:port) of the Citus coordinator that db is
// connected to, or nil when it is a plain PostgreSQL server.
func citusWorkers(db *sql.DB) ([]string, error) {
	var citus bool
	if err := db.QueryRow(`SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')`).Scan(&citus); err != nil {
		return nil, fmt.Errorf("look for citus: %w", err)
	}
	if !citus {
		return nil, nil
	}
	rows, err := db.Query(`SELECT nodename || ':' || nodeport FROM pg_dist_node WHERE groupid <> 0 AND noderole = 'primary' ORDER BY nodeid`)
	if err != nil {
		return nil, fmt.Errorf("citus workers: %w", err)
	}
	defer rows.Close()
	workers := []string{}
	for rows.Next() {
		var w string
		if err := rows.Scan(&w); err != nil {
			return nil, fmt.Errorf("citus workers: %w", err)
		}
		workers = append(workers, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("citus workers: %w", err)
	}
	if len(workers) == 0 {
		return nil, fmt.Errorf("DATABASE_URL names a Citus coordinator without workers (scripts/citus start registers them)")
	}
	return workers, nil
}

// nodeURL is u (its user and options) pointed at another node and database.
func nodeURL(u *url.URL, hostPort, path string) string {
	n := *u
	n.Host = hostPort
	n.Path = path
	return n.String()
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	return "5432"
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// execAt runs statements on a short-lived connection to url.
func execAt(url string, stmts ...string) error {
	db, err := sql.Open("postgres", url)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

func create() (url, name string, err error) {
	err = serialised(func() error {
		if url, name, err = createEmpty(); err != nil {
			return err
		}
		ctx := context.Background()
		db, err := store.Open(ctx, url)
		if err != nil {
			return err
		}
		defer db.Close()
		return db.Migrate(ctx)
	})
	return url, name, err
}

// serialised runs fn holding a lock shared by every test process on a Citus cluster.
// Registering the workers in a new database and distributing its schema both copy the
// cluster-wide roles to the workers (ALTER ROLE), and two databases doing that at once
// fail with "tuple concurrently updated". On plain PostgreSQL fn just runs.
func serialised(fn func() error) error {
	srv, err := openServer()
	if err != nil {
		return err
	}
	defer srv.db.Close()
	if srv.workers == nil {
		return fn()
	}
	ctx := context.Background()
	conn, err := srv.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	const key = `hashtextextended('gatepass.dbtest.citus', 0)`
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(`+key+`)`); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	defer conn.ExecContext(ctx, `SELECT pg_advisory_unlock(`+key+`)`)
	return fn()
}

func drop(name string) error {
	srv, err := openServer()
	if err != nil {
		return err
	}
	defer srv.db.Close()
	u, admin, workers := srv.url, srv.db, srv.workers
	var errs []error
	if _, err := admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`); err != nil {
		errs = append(errs, err)
	}
	for _, w := range workers {
		if err := execAt(nodeURL(u, w, u.Path), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			errs = append(errs, fmt.Errorf("worker %s: %w", w, err))
		}
	}
	return errors.Join(errs...)
}

// Citus reports whether DATABASE_URL names a Citus coordinator, for the few tests that
// must do something else there (each says why).
func Citus(t testing.TB) bool {
	t.Helper()
	srv, err := openServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.db.Close()
	return srv.workers != nil
}
