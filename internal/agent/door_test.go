package agent

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type fakeLine struct{ values []int }

func (f *fakeLine) SetValue(v int) error { f.values = append(f.values, v); return nil }

func TestGPIODoorPulsesHighThenLow(t *testing.T) {
	line := &fakeLine{}
	var slept time.Duration
	d := GPIODoor{Line: line, Sleep: func(d time.Duration) { slept = d }}
	if err := d.Open(context.Background(), 750*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if len(line.values) != 2 || line.values[0] != 1 || line.values[1] != 0 || slept != 750*time.Millisecond {
		t.Fatalf("line %v slept %v", line.values, slept)
	}
}

func TestHTTPDoor(t *testing.T) {
	var got map[string]int64
	status := http.StatusNoContent
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewDecoder(r.Body).Decode(&got)
		w.WriteHeader(status)
	}))
	defer srv.Close()
	d := HTTPDoor{URL: srv.URL}
	if err := d.Open(context.Background(), 1200*time.Millisecond); err != nil || got["pulse_ms"] != 1200 {
		t.Fatalf("open: %v %v", err, got)
	}
	status = http.StatusInternalServerError
	if err := d.Open(context.Background(), time.Second); err == nil {
		t.Fatal("a 500 from the controller is not an error")
	}
}

// The command door passes its arguments as they are: nothing is ever shell-expanded.
func TestCommandDoorRunsWithoutShell(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "args")
	d := CommandDoor{Path: "/bin/sh", Args: []string{"-c", `printf '%s\n' "$@" > "$0"`, out, "$(touch " + filepath.Join(dir, "pwned") + ")"}}
	if err := d.Open(context.Background(), 250*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(out)
	if !strings.Contains(string(raw), "$(touch") || !strings.HasSuffix(string(raw), "250\n") {
		t.Fatalf("args %q", raw)
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
		t.Fatal("an argument was expanded")
	}
	if err := (CommandDoor{Path: "/nonexistent"}).Open(context.Background(), time.Second); err == nil {
		t.Fatal("missing program is not an error")
	}
}
