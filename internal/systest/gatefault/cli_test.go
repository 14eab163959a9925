package gatefault

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The installer's commands: status before and while running, check without opening,
// the keyboard-wedge scanner on stdin, and private state files.
func TestStatusCheckAndStdinScanner(t *testing.T) {
	e := newEnv(t)
	g := e.newGate()
	for _, f := range []string{"enrollment.json", "agent.db"} {
		fi, err := os.Stat(filepath.Join(g.state, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v, want mode 0600", f, fi.Mode(), err)
		}
	}
	status := func() map[string]any { return runJSON(t, e.agentBin, "status", "--state", g.state) }
	if s := status(); s["gate"].(map[string]any)["gate_id"] != g.id || s["cursor"] != 0.0 {
		t.Fatalf("status before run: %v", s)
	}
	check := func(payload string) map[string]any {
		return runJSON(t, e.agentBin, "check", "--state", g.state, payload)
	}
	text := e.token(1)
	if c := check(text); c["reason"] != "no_trusted_key" {
		t.Fatalf("check before any sync: %v", c)
	}
	g.start()
	g.waitOnline(true)
	// While the agent runs, check asks it; nothing opens and nothing is recorded.
	if c := check(text); c["result"] != "granted" || c["reason"] != "ok" || c["credential_id"] == nil {
		t.Fatalf("check while running: %v", c)
	}
	if c := check("GA1:garbage"); c["result"] != "denied" || c["reason"] != "malformed" {
		t.Fatalf("check garbage: %v", c)
	}
	// One framing rule (issue 11): past 4096 bytes check answers the decision the
	// agent's 413 carries; an empty payload is an error (exit 1), never an empty result.
	if c := check(strings.Repeat("x", 5000)); c["reason"] != "malformed" || c["detail"] != "input longer than the gate reads" {
		t.Fatalf("check oversize: %v", c)
	}
	if out, err := exec.Command(e.agentBin, "check", "--state", g.state, "").CombinedOutput(); err == nil {
		t.Fatalf("check of an empty payload exited 0: %s", out)
	}
	if g.doorOpenings() != 0 {
		t.Fatal("check opened the door")
	}
	g.typeLine(text)
	g.typeLine(text) // the same read twice within 2 s: one read
	waitFor(t, 5*time.Second, "stdin scan opens the door", func() bool { return g.doorOpenings() == 1 })
	waitFor(t, 10*time.Second, "status shows the sync and an empty queue", func() bool {
		s := status()
		return s["running"] == true && s["queue_depth"] == 0.0 && s["last_sync_at"] != "0001-01-01T00:00:00Z" && s["cursor"].(float64) > 0
	})
	time.Sleep(300 * time.Millisecond)
	if rows, _ := e.serverEvents(g.id); rows != 1 || g.doorOpenings() != 1 {
		t.Fatalf("events %d, openings %d: the repeated read counted", rows, g.doorOpenings())
	}
}

// runJSON runs a gate-agent command and decodes its JSON output.
func runJSON(t *testing.T, bin string, args ...string) map[string]any {
	t.Helper()
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("gate-agent %s: %v", args[0], err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("gate-agent %s output %q", args[0], out)
	}
	return m
}
