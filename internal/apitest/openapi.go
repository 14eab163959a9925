package apitest

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// DocumentedOperations reads the "METHOD /path" pairs of every OpenAPI document that
// glob matches, with a line scan: paths sit at two spaces of indent, their methods at
// four. Route tables are held to it (every route documented).
func DocumentedOperations(t testing.TB, glob string) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(glob)
	if err != nil || len(files) == 0 {
		t.Fatalf("no OpenAPI documents match %s: %v", glob, err)
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

// OpenAPIPath writes a Fiber route path (":param") as OpenAPI does ("{param}").
func OpenAPIPath(path string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, ":") {
			parts[i] = "{" + p[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}
