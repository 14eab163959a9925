package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gatepass/internal/apitest"
	"gatepass/internal/dbtest"
	"gatepass/internal/store"
)

// A real gate for the browser tests: the server (its gate API) and a gate-agent, both
// the programs themselves, on this package's database, so a code read off the app's
// screen is decided exactly as at a door.

// builtPrograms builds server and gate-agent into a directory once per test run.
var builtPrograms = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "gatepass-mobile-gate-")
	if err != nil {
		return "", err
	}
	if out, err := exec.Command("go", "build", "-o", dir+"/", "gatepass/server", "gatepass/gate-agent").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build server and gate-agent: %w\n%s", err, out)
	}
	return dir, nil
})

// background runs a program until the test ends; its output is shown if the test fails.
func background(t *testing.T, env []string, prog string, args ...string) {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Env = env
	var out bytes.Buffer
	var mu sync.Mutex
	cmd.Stdout = writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) })
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", prog, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			mu.Lock()
			t.Logf("--- %s ---\n%s", filepath.Base(prog), out.String())
			mu.Unlock()
		}
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// until polls ok every 100 ms for at most limit.
func until(limit time.Duration, ok func() bool) bool {
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if ok() {
			return true
		}
	}
	return ok()
}

// realGate is a gate of community f with its agent running; scan decides a code there.
type realGate struct {
	t     *testing.T
	local string // the agent's local HTTP address (POST /scan)
}

func (h *harness) realGate(f community) *realGate {
	t := h.t.(*testing.T)
	bin, err := builtPrograms()
	if err != nil {
		t.Fatal(err)
	}
	server, agent := filepath.Join(bin, "server"), filepath.Join(bin, "gate-agent")
	env := append(os.Environ(), "DATABASE_URL="+dbtest.URL(t), "MASTER_KEY_FILE="+dbtest.MasterKeyFile(t), "METRICS_ADDR=off", "LOG_LEVEL=warn")
	addr := apitest.FreeAddr(t)
	background(t, env, server, "serve", "--no-migrate", "--listen", addr)
	if !until(20*time.Second, func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	}) {
		t.Fatal("server not ready in 20 s")
	}
	ctx := context.Background()
	var code string
	if err := h.db.InTx(ctx, "test", func(tx *store.Tx) error {
		_, enrol, err := tx.CreateGate(ctx, store.NewGate{Community: f.id, Name: "Garage gate", Zone: 0, Direction: "both"})
		code = enrol.Code
		return err
	}); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	if out, err := exec.Command(agent, "enroll", "--server", "http://"+addr, "--code", code, "--state", state).CombinedOutput(); err != nil {
		t.Fatalf("gate-agent enroll: %v\n%s", err, out)
	}
	background(t, env, agent, "run", "--state", state, "--http", "127.0.0.1:0", "--door", "log", "--wait", "5s", "--max-backoff", "500ms")
	g := &realGate{t: t}
	if !until(15*time.Second, func() bool {
		var s struct {
			LocalHTTP string `json:"local_http"`
			Online    bool   `json:"online"`
		}
		raw, err := os.ReadFile(filepath.Join(state, "status.json"))
		if err != nil || json.Unmarshal(raw, &s) != nil {
			return false
		}
		g.local = s.LocalHTTP
		return s.LocalHTTP != "" && s.Online
	}) {
		t.Fatal("gate-agent not online in 15 s")
	}
	return g
}

// scan shows a code to the gate's reader and returns its decision.
func (g *realGate) scan(text string) (result, reason string) { return g.post("/scan", text) }

// check asks the gate what it would decide for a code, without a read or an event
// (gate-agent check, for installers).
func (g *realGate) check(text string) (result, reason string) { return g.post("/check", text) }

func (g *realGate) post(path, text string) (result, reason string) {
	g.t.Helper()
	resp, err := http.Post("http://"+g.local+path, "text/plain", strings.NewReader(text))
	if err != nil {
		g.t.Fatalf("%s: %v", path, err)
	}
	defer resp.Body.Close()
	var out struct{ Result, Reason string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		g.t.Fatalf("%s answer: %v", path, err)
	}
	return out.Result, out.Reason
}
