// Package arch states the import rules that keep gatepass's layers apart, as data that
// its test checks against every Go file of the module (docs/architecture.md explains
// them). A rule broken by a change fails make test, naming the file and the import.
package arch

import "strings"

// Module is the module path of gatepass.
const Module = "gatepass"

// Pure lists the packages that make decisions and must do no I/O: no network, no
// database, no files, no HTTP framework. They run the same on a server, on a gate and
// in a test.
var Pure = []string{
	"gatepass/internal/access",
	"gatepass/internal/credential",
	"gatepass/internal/gate",
}

// IO lists the imports a pure package must not have.
var IO = []string{
	"net", "net/http", "net/url", "os", "os/exec", "io/fs", "io/ioutil", "path/filepath",
	"database/sql", "syscall", "log", "log/slog",
	"github.com/gofiber/fiber/v2", "github.com/lib/pq", "github.com/jmoiron/sqlx",
	"go.etcd.io/bbolt",
}

// SQLHomes are the only packages that may talk SQL: import a database driver or
// database/sql, or hold a SQL statement. internal/dbtest makes and drops test databases,
// and ages, tampers with, counts and reads rows for tests (rows.go).
var SQLHomes = []string{
	"gatepass/internal/store",
	"gatepass/schema",
	"gatepass/internal/dbtest",
}

// SQLInTestsAllowed are the test files outside SQLHomes that still write SQL: tests say
// what they mean through internal/dbtest (Count, Get, Set, Age, Tamper, Insert, Delete,
// Fingerprint) instead. This list only shrinks: a new test file with a SQL statement
// fails TestNoSQLStatementsOutsideItsHomes, and so does a listed file with none left.
var SQLInTestsAllowed = []string{
	// Finds every text, uuid, bytea and JSON column in information_schema and looks for
	// an erased resident's traces in each, and joins entries to credentials: a scan of
	// the whole schema, not a row a test ages or reads.
	"mobile-api/erase_test.go",
	// Inserts 100,000 revoked credentials with generate_series in one statement.
	"internal/systest/gatefault/scale_test.go",
	// Inserts 10,500 signing keys with generate_series in one statement, to page the
	// kid list.
	"server/internal/gatesync/foreign_kids_test.go",
}

// Baselines are load programs that time a bare database operation (a COPY of the same
// rows) next to the product's path, in the same run, so that the product's figure is a
// ratio to the floor (docs/benchmarks.md). They may talk SQL for that and nothing else.
var Baselines = []string{
	"gatepass/scripts/gateload",
	"gatepass/scripts/citusbench",
}

// SQLImports are the imports that mean talking SQL.
var SQLImports = []string{"database/sql", "github.com/lib/pq", "github.com/jmoiron/sqlx"}

// Gateside lists the packages that run on a gate. The gate has no database connection,
// only the gate API, so nothing they import, directly or through other packages of
// this module, may be the store.
var Gateside = []string{
	"gatepass/gate-agent",
	"gatepass/internal/agent",
	"gatepass/internal/gate",
}

// Forbidden is what Gateside packages must never reach.
var Forbidden = []string{"gatepass/internal/store", "gatepass/internal/dbtest"}

// ImportRule forbids a package, in every one of its Go files (tests too), some imports.
// A forbidden entry ending in "/..." also forbids every package under it.
type ImportRule struct {
	Package   string
	Forbidden []string
	Why       string
}

// ImportRules are the import rules that name one package.
var ImportRules = []ImportRule{
	{
		Package:   "gatepass/internal/store",
		Forbidden: []string{"gatepass/internal/gateapi", "net/http/...", "github.com/gofiber/fiber/v2/..."},
		Why:       "the store speaks storage only, in the domain types of internal/access; wire types and HTTP belong to the API packages, which convert at their edge",
	},
}

// Forbids reports whether the rule forbids importing path.
func (r ImportRule) Forbids(path string) bool {
	for _, f := range r.Forbidden {
		if tree, ok := strings.CutSuffix(f, "/..."); ok {
			if path == tree || strings.HasPrefix(path, tree+"/") {
				return true
			}
		} else if path == f {
			return true
		}
	}
	return false
}
