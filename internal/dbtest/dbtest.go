// Package dbtest gives each test package its own freshly migrated PostgreSQL database on
// the server named by DATABASE_URL, so packages run in parallel without seeing each other.
// make test starts a throwaway server when DATABASE_URL is unset.
package dbtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
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

// Empty makes a database with no schema, dropped when the test ends: for migration tests.
func Empty(t testing.TB) string {
	t.Helper()
	url, name, err := createEmpty()
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
	u, err := adminURL()
	if err != nil {
		return "", "", err
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "gatepass_t_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("postgres", u.String())
	if err != nil {
		return "", "", err
	}
	defer admin.Close()
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		return "", "", fmt.Errorf("create database: %w", err)
	}
	u.Path = "/" + name
	return u.String(), name, nil
}

func create() (string, string, error) {
	url, name, err := createEmpty()
	if err != nil {
		return "", "", err
	}
	ctx := context.Background()
	db, err := store.Open(ctx, url)
	if err != nil {
		return "", "", err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return "", "", err
	}
	return url, name, nil
}

func drop(name string) error {
	u, err := adminURL()
	if err != nil {
		return err
	}
	admin, err := sql.Open("postgres", u.String())
	if err != nil {
		return err
	}
	defer admin.Close()
	_, err = admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
	return err
}
