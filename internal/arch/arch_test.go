package arch

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// file is one parsed Go file of the module.
type file struct {
	path    string // relative to the module root
	pkg     string // import path of its directory
	test    bool
	imports []string
	ast     *ast.File
}

func moduleFiles(t *testing.T) []file {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	var out []file
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "testdata" || name == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		dir := filepath.ToSlash(filepath.Dir(rel))
		pkg := Module
		if dir != "." {
			pkg = path.Join(Module, dir)
		}
		fl := file{path: filepath.ToSlash(rel), pkg: pkg, test: strings.HasSuffix(name, "_test.go")}
		for _, im := range f.Imports {
			s, _ := strconv.Unquote(im.Path.Value)
			fl.imports = append(fl.imports, s)
		}
		out = append(out, fl)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 50 {
		t.Fatalf("found only %d Go files: wrong root?", len(out))
	}
	return out
}

func TestPurePackagesDoNoIO(t *testing.T) {
	for _, f := range moduleFiles(t) {
		if f.test || !slices.Contains(Pure, f.pkg) {
			continue
		}
		for _, im := range f.imports {
			if slices.Contains(IO, im) {
				t.Errorf("%s imports %s: %s must do no I/O", f.path, im, f.pkg)
			}
		}
	}
}

func TestSQLOnlyInItsHomes(t *testing.T) {
	for _, f := range moduleFiles(t) {
		if f.test || slices.Contains(SQLHomes, f.pkg) || slices.Contains(Baselines, f.pkg) {
			continue
		}
		for _, im := range f.imports {
			if slices.Contains(SQLImports, im) {
				t.Errorf("%s imports %s: only %v talk SQL", f.path, im, SQLHomes)
			}
		}
	}
}

// sqlStatement matches a string that starts like a SQL statement.
var sqlStatement = regexp.MustCompile(`^\s*(SELECT\s|INSERT\s+INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s|ALTER\s+TABLE\s|CREATE\s+TABLE\s|TRUNCATE\s)`)

func TestNoSQLStatementsOutsideItsHomes(t *testing.T) {
	root, _ := filepath.Abs("../..")
	fset := token.NewFileSet()
	withSQL := map[string]bool{}
	for _, f := range moduleFiles(t) {
		if slices.Contains(SQLHomes, f.pkg) || (!f.test && slices.Contains(Baselines, f.pkg)) {
			continue
		}
		af, err := parser.ParseFile(fset, filepath.Join(root, f.path), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		allowed := f.test && slices.Contains(SQLInTestsAllowed, f.path)
		ast.Inspect(af, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			if s, err := strconv.Unquote(lit.Value); err == nil && sqlStatement.MatchString(s) {
				withSQL[f.path] = true
				switch {
				case allowed:
				case f.test:
					t.Errorf("%s: SQL statement in a test: %.40q; age, tamper, count or read rows with internal/dbtest", fset.Position(lit.Pos()), s)
				default:
					t.Errorf("%s: SQL statement outside the store: %.40q", fset.Position(lit.Pos()), s)
				}
			}
			return true
		})
	}
	for _, p := range SQLInTestsAllowed {
		if !withSQL[p] {
			t.Errorf("%s is in SQLInTestsAllowed but holds no SQL statement (or is gone): take it off the list", p)
		}
	}
}

func TestGatesideNeverReachesTheStore(t *testing.T) {
	deps := map[string][]string{} // package -> module imports of its non-test files
	for _, f := range moduleFiles(t) {
		if f.test {
			continue
		}
		for _, im := range f.imports {
			if im == Module || strings.HasPrefix(im, Module+"/") {
				deps[f.pkg] = append(deps[f.pkg], im)
			}
		}
	}
	for _, start := range Gateside {
		seen := map[string]string{start: ""} // package -> who imported it
		queue := []string{start}
		for len(queue) > 0 {
			p := queue[0]
			queue = queue[1:]
			for _, d := range deps[p] {
				if _, ok := seen[d]; ok {
					continue
				}
				seen[d] = p
				queue = append(queue, d)
			}
		}
		for _, bad := range Forbidden {
			if via, ok := seen[bad]; ok {
				chain := []string{bad}
				for p := via; p != ""; p = seen[p] {
					chain = append([]string{p}, chain...)
				}
				t.Errorf("%s reaches %s: %s", start, bad, strings.Join(chain, " -> "))
			}
		}
	}
}

func TestImportRules(t *testing.T) {
	for _, f := range moduleFiles(t) {
		for _, r := range ImportRules {
			if f.pkg != r.Package {
				continue
			}
			for _, im := range f.imports {
				if r.Forbids(im) {
					t.Errorf("%s imports %s: %s", f.path, im, r.Why)
				}
			}
		}
	}
}

func TestImportRuleForbids(t *testing.T) {
	r := ImportRule{Forbidden: []string{"gatepass/internal/gateapi", "net/http/..."}}
	for path, want := range map[string]bool{
		"gatepass/internal/gateapi": true, "gatepass/internal/gateapi/x": false,
		"net/http": true, "net/http/httptest": true, "net/httpx": false, "net": false,
	} {
		if got := r.Forbids(path); got != want {
			t.Errorf("Forbids(%q) = %v, want %v", path, got, want)
		}
	}
}

// TestRulesCatchABreak makes sure the checks above can fail: a rule table that names
// packages that no longer exist would pass forever.
func TestRulesNameRealPackages(t *testing.T) {
	have := map[string]bool{}
	for _, f := range moduleFiles(t) {
		have[f.pkg] = true
	}
	named := slices.Concat(Pure, SQLHomes, Baselines, Gateside, Forbidden)
	for _, r := range ImportRules {
		named = append(named, r.Package)
	}
	for _, p := range named {
		if !have[p] {
			t.Errorf("rule names %s, which has no Go files", p)
		}
	}
}
