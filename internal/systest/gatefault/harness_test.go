// Package gatefault holds the fault tests of the gate: the real server and gate-agent
// binaries as processes, on this package's real PostgreSQL database. It has no code of
// its own; gate-agent itself never imports the store, only these tests do.
package gatefault

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/credential"
	"gatepass/internal/dbtest"
	"gatepass/internal/secret"
	"gatepass/internal/store"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds server and gate-agent once per test run.
func binaries(t *testing.T) (server, agent string) {
	t.Helper()
	buildOnce.Do(func() {
		root, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			buildErr = err
			return
		}
		dir := filepath.Dir(strings.TrimSpace(string(root)))
		// One directory per checkout, reused by every run: builds do not pile up in /tmp.
		sum := sha256.Sum256([]byte(dir))
		binDir = filepath.Join(os.TempDir(), "gatefault-bin-"+hex.EncodeToString(sum[:6]))
		if buildErr = os.MkdirAll(binDir, 0o700); buildErr != nil {
			return
		}
		for _, p := range []string{"server", "gate-agent"} {
			// GATEFAULT_RACE=1 builds with the race detector; a race fails the test.
			args := []string{"build", "-o", filepath.Join(binDir, p)}
			if os.Getenv("GATEFAULT_RACE") == "1" {
				args = append(args, "-race")
			}
			cmd := exec.Command("go", append(args, "./"+p)...)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("build %s: %v: %s", p, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "server"), filepath.Join(binDir, "gate-agent")
}

// env is one server process, its database and a community with a gate.
type env struct {
	t         *testing.T
	serverBin string
	agentBin  string
	db        *store.DB
	dbURL     string // the database the server runs on
	sealer    *secret.Sealer
	keyFile   string
	addr      string
	base      string
	server    *exec.Cmd
	operator  string
	community string
	admin     string
	guard     string
	resident  string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvOn(t, "")
}

// newEnvOn is newEnv on the migrated database at url; "" is this package's test
// database. A test that stops PostgreSQL runs on a cluster of its own (outage_test.go).
func newEnvOn(t *testing.T, url string) *env {
	t.Helper()
	e := &env{t: t, dbURL: url}
	e.serverBin, e.agentBin = binaries(t)
	if url == "" {
		e.db, e.dbURL = dbtest.New(t), dbtest.URL(t)
	} else {
		db, err := store.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		e.db = db
	}
	key := make([]byte, secret.MasterKeySize)
	_, _ = rand.Read(key)
	e.keyFile = filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(e.keyFile, []byte(hex.EncodeToString(key)), 0o600); err != nil {
		t.Fatal(err)
	}
	var err error
	if e.sealer, err = secret.NewSealer(key); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	ln.Close()
	e.base = "http://" + e.addr
	e.startServer()
	t.Cleanup(e.stopServer)
	out, err := e.serverCmd("staff", "create", "--name", "op", "--role", "admin").Output()
	if err != nil {
		t.Fatalf("staff create: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	e.operator = lines[len(lines)-1]
	e.community = e.must(201, "POST", "/admin/v1/communities", e.operator, map[string]any{"name": "Fault " + uuid.NewString()[:8]})["id"].(string)
	base := "/admin/v1/communities/" + e.community
	e.admin = e.must(201, "POST", base+"/staff", e.operator, map[string]any{"name": "A", "role": "admin"})["token"].(string)
	e.guard = e.must(201, "POST", base+"/staff", e.operator, map[string]any{"name": "G", "role": "guard"})["token"].(string)
	b := e.must(201, "POST", base+"/buildings", e.admin, map[string]any{"name": "B1"})["id"].(string)
	u := e.must(201, "POST", base+"/units", e.admin, map[string]any{"building_id": b, "label": "101"})["id"].(string)
	e.resident = e.must(201, "POST", base+"/residents", e.admin, map[string]any{"name": "R", "unit_id": u, "role": "owner"})["id"].(string)
	return e
}

func (e *env) serverCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(e.serverBin, args...)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+e.dbURL, "MASTER_KEY_FILE="+e.keyFile, "LOG_LEVEL=warn")
	return cmd
}

func (e *env) startServer() {
	e.t.Helper()
	e.server = e.serverCmd("serve", "--no-migrate", "--listen", e.addr)
	e.server.Stderr = &prefixWriter{t: e.t, prefix: "server: "}
	if err := e.server.Start(); err != nil {
		e.t.Fatal(err)
	}
	waitFor(e.t, 15*time.Second, "server up", func() bool {
		resp, err := http.Get(e.base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
}

// killServer stops the server hard, as a crash or a pulled cable would.
func (e *env) killServer() {
	if e.server != nil && e.server.Process != nil {
		_ = e.server.Process.Kill()
		_ = e.server.Wait()
		e.server = nil
	}
}

func (e *env) stopServer() { e.killServer() }

// prefixWriter sends a process's log to the test log, errors only (the rest is noise).
type prefixWriter struct {
	t      *testing.T
	prefix string
	mu     sync.Mutex
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, line := range strings.Split(strings.TrimSpace(string(p)), "\n") {
		switch {
		case strings.Contains(line, "DATA RACE"):
			w.t.Error(w.prefix + line)
		case strings.Contains(line, `"level":"ERROR"`):
			w.t.Log(w.prefix + line)
		}
	}
	return len(p), nil
}

func waitFor(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *env) do(method, path, token string, body any) (int, map[string]any) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, e.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &out)
	out["_raw"] = raw
	return resp.StatusCode, out
}

func (e *env) must(want int, method, path, token string, body any) map[string]any {
	e.t.Helper()
	got, out := e.do(method, path, token, body)
	if got != want {
		e.t.Fatalf("%s %s = %d %s, want %d", method, path, got, out["_raw"], want)
	}
	return out
}

// gateAgent is one gate: its enrollment and its agent process.
type gateAgent struct {
	e        *env
	id       string
	state    string
	doorFile string
	args     []string
	wrap     []string    // a program the agent runs under (prlimit ...), if any
	logs     *syncBuffer // when set, the agent's log is kept here too
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	local    string // the agent's local HTTP address
}

// newGate creates a gate through the admin API and enrolls an agent for it.
func (e *env) newGate(extra ...string) *gateAgent {
	e.t.Helper()
	return e.newGateAt(0, "in", extra...)
}

// newGateAt is newGate for a gate of zone and direction.
func (e *env) newGateAt(zone int, direction string, extra ...string) *gateAgent {
	e.t.Helper()
	out := e.must(201, "POST", "/admin/v1/communities/"+e.community+"/gates", e.admin,
		map[string]any{"name": "Gate " + uuid.NewString()[:8], "zone": zone, "direction": direction})
	g := &gateAgent{e: e, id: out["id"].(string), state: filepath.Join(e.t.TempDir(), "state")}
	g.doorFile = filepath.Join(e.t.TempDir(), "door.log")
	enroll := exec.Command(e.agentBin, "enroll", "--server", e.base, "--code", out["enrollment_code"].(string), "--state", g.state)
	if raw, err := enroll.CombinedOutput(); err != nil {
		e.t.Fatalf("enroll: %v: %s", err, raw)
	}
	// The door is a program run without a shell for the payload: it appends a line per
	// opening, so the test counts openings.
	g.args = append([]string{"run", "--state", g.state, "--input", "stdin", "--http", "127.0.0.1:0",
		"--door", "command:/bin/sh", "--door-arg", "-c", "--door-arg", `echo open >> "$0"`, "--door-arg", g.doorFile,
		"--wait", "5s", "--max-backoff", "500ms", "--heartbeat", "1s", "--pulse", "10ms"}, extra...)
	e.t.Cleanup(g.kill)
	return g
}

func (g *gateAgent) start() {
	g.e.t.Helper()
	_ = os.Remove(filepath.Join(g.state, "status.json"))
	if len(g.wrap) > 0 {
		g.cmd = exec.Command(g.wrap[0], append(append(g.wrap[1:len(g.wrap):len(g.wrap)], g.e.agentBin), g.args...)...)
	} else {
		g.cmd = exec.Command(g.e.agentBin, g.args...)
	}
	g.cmd.Stderr = &prefixWriter{t: g.e.t, prefix: "agent: "}
	if g.logs != nil {
		g.cmd.Stderr = io.MultiWriter(g.cmd.Stderr, g.logs)
	}
	var err error
	if g.stdin, err = g.cmd.StdinPipe(); err != nil {
		g.e.t.Fatal(err)
	}
	if err := g.cmd.Start(); err != nil {
		g.e.t.Fatal(err)
	}
	waitFor(g.e.t, 10*time.Second, "agent status", func() bool {
		raw, err := os.ReadFile(filepath.Join(g.state, "status.json"))
		var s struct {
			LocalHTTP string `json:"local_http"`
		}
		if err != nil || json.Unmarshal(raw, &s) != nil || s.LocalHTTP == "" {
			return false
		}
		g.local = s.LocalHTTP
		return true
	})
}

// kill ends the agent with SIGKILL: no chance to flush anything.
func (g *gateAgent) kill() {
	if g.cmd != nil && g.cmd.Process != nil {
		_ = g.cmd.Process.Signal(syscall.SIGKILL)
		_ = g.cmd.Wait()
		g.cmd = nil
	}
}

// alive reports whether the agent process is still running.
func (g *gateAgent) alive() bool {
	return g.cmd != nil && g.cmd.ProcessState == nil && g.cmd.Process.Signal(syscall.Signal(0)) == nil
}

type outcome struct {
	EventID  string `json:"event_id"`
	Result   string `json:"result"`
	Reason   string `json:"reason"`
	Ignored  bool   `json:"duplicate_read"`
	HTTPCode int    `json:"-"`
}

// scan pushes a scan through the agent's local HTTP endpoint and returns its decision.
func (g *gateAgent) scan(text string) outcome {
	g.e.t.Helper()
	o, err := g.tryScan(text)
	if err != nil {
		g.e.t.Fatalf("scan: %v", err)
	}
	return o
}

// tryScan is scan for an agent that may be killed meanwhile.
func (g *gateAgent) tryScan(text string) (outcome, error) {
	var o outcome
	resp, err := http.Post("http://"+g.local+"/scan", "text/plain", strings.NewReader(text))
	if err != nil {
		return o, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&o); err != nil {
		return o, err
	}
	o.HTTPCode = resp.StatusCode
	return o, nil
}

func (g *gateAgent) localStatus() map[string]any {
	resp, err := http.Get("http://" + g.local + "/status")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	out := map[string]any{}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return out
}

func (g *gateAgent) waitOnline(want bool) {
	g.e.t.Helper()
	waitFor(g.e.t, 15*time.Second, fmt.Sprintf("agent online=%v", want), func() bool { return g.localStatus()["online"] == want })
}

// waitDrained waits until the agent has handed every queued event to the server (the
// queue only shrinks once the server has committed them), so counts taken next are not
// racing earlier uploads.
func (g *gateAgent) waitDrained() {
	g.e.t.Helper()
	waitFor(g.e.t, 10*time.Second, "queue empty at gate "+g.id, func() bool { return g.localStatus()["queue_depth"] == 0.0 })
}

// doorOpenings counts the door program's runs, once a running agent has run the pulses
// it queued (it answers a scan before its pulse: GET /status door_pending).
func (g *gateAgent) doorOpenings() int {
	if g.alive() {
		waitFor(g.e.t, 15*time.Second, "door pulses run", func() bool {
			n, ok := g.localStatus()["door_pending"].(float64)
			return !ok || n == 0
		})
	}
	raw, err := os.ReadFile(g.doorFile)
	if err != nil {
		return 0
	}
	return strings.Count(string(raw), "open\n")
}

// serverEvents counts the gate's events on the server, and the distinct ids among them.
func (e *env) serverEvents(gate string) (rows, distinct int) {
	e.t.Helper()
	of := dbtest.Eq("gate_id", gate)
	return dbtest.Count(e.t, e.db.SQL(), dbtest.EntryEvents, of), dbtest.Distinct(e.t, e.db.SQL(), dbtest.EntryEvents, "id", of)
}

// token mints an issued QR code of this community, as mobile-api would, valid from now
// (the real clock) for lifetime.
func (e *env) token(zones uint64) string {
	e.t.Helper()
	return e.tokenAt(e.community, zones, time.Now())
}

func (e *env) tokenAt(community string, zones uint64, from time.Time) string {
	e.t.Helper()
	s, err := e.db.Signer(context.Background(), uuid.MustParse(community), e.sealer)
	if err != nil {
		e.t.Fatal(err)
	}
	text, err := credential.MintIssued(s, credential.Claims{CredentialID: uuid.New(), Subject: credential.SubjectResident,
		Zones: zones, NotBefore: from, ExpiresAt: from.Add(300 * time.Second)})
	if err != nil {
		e.t.Fatal(err)
	}
	return text
}

// typeLine types a line on the agent's stdin, as a keyboard-wedge scanner does.
func (g *gateAgent) typeLine(text string) {
	g.e.t.Helper()
	if _, err := io.WriteString(g.stdin, text+"\n"); err != nil {
		g.e.t.Fatal(err)
	}
}

// syncBuffer is a buffer written by a process's log and read by the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
