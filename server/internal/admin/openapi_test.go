package admin_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatepass/server/internal/admin"
)

// documentedOperations reads the "METHOD /path" pairs of every docs/openapi*.yaml with a
// line scan: paths sit at two spaces of indent, their methods at four.
func documentedOperations(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob("../../../docs/openapi*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no OpenAPI documents in docs/: %v", err)
	}
	ops := map[string]bool{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		path := ""
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "  /") && strings.HasSuffix(line, ":"):
				path = strings.TrimSuffix(strings.TrimSpace(line), ":")
			case strings.HasPrefix(line, "    ") && !strings.HasPrefix(line, "     ") && path != "":
				m := strings.TrimSuffix(strings.TrimSpace(line), ":")
				switch m {
				case "get", "post", "put", "patch", "delete":
					ops[strings.ToUpper(m)+" "+path] = true
				}
			case !strings.HasPrefix(line, " "):
				path = ""
			}
		}
		fh.Close()
	}
	return ops
}

func TestEveryAdminRouteIsDocumented(t *testing.T) {
	ops := documentedOperations(t)
	for _, r := range admin.Routes() {
		parts := strings.Split(r.Path, "/")
		for i, p := range parts {
			if strings.HasPrefix(p, ":") {
				parts[i] = "{" + p[1:] + "}"
			}
		}
		key := r.Method + " /admin/v1" + strings.Join(parts, "/")
		if !ops[key] {
			t.Errorf("%s is not in docs/openapi*.yaml", key)
		}
	}
}
