package gatefault

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gatepass/internal/qr"
)

// issueCard prints a card for the env's resident valid for days, through the admin API,
// and reads it back as a scanner would: its credential id and its text.
func (e *env) issueCard(days int) (id, text string) {
	e.t.Helper()
	return e.cardAt("/admin/v1/residents/"+e.resident+"/cards", days)
}

// cardAt prints a card at an admin path (a resident's or a passholder's cards) as a
// guard, valid for days, and reads it back as a scanner would.
func (e *env) cardAt(path string, days int) (id, text string) {
	e.t.Helper()
	req, err := http.NewRequest("POST", e.base+path, strings.NewReader(`{"valid_days": `+strconv.Itoa(days)+`}`))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.guard)
	req.Header.Set("Content-Type", "application/json")
	r, err := http.DefaultClient.Do(req)
	if err != nil || r.StatusCode != 201 {
		e.t.Fatalf("issue card: %v %v", err, r)
	}
	png, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if text, err = qr.Decode(png); err != nil {
		e.t.Fatal(err)
	}
	return r.Header.Get("X-Credential-Id"), text
}

// statusFile reads the status the running agent writes.
func (g *gateAgent) statusFile() map[string]any {
	raw, err := os.ReadFile(filepath.Join(g.state, "status.json"))
	out := map[string]any{}
	if err == nil {
		_ = json.Unmarshal(raw, &out)
	}
	return out
}

// Issue 11, item 1: a revocation survives a wrong gate clock. The card is revoked; the
// agent runs for a while with its clock 25 h ahead (past the revocation's forget_after,
// which the server computed); then it runs again with the right clock. Before the fix
// the wrong-clock run pruned the revocation, and the revoked card opened the door at
// every channel until a full sync.
func TestRevocationSurvivesWrongGateClock(t *testing.T) {
	e := newEnv(t)
	g := e.newGate()
	base := g.args
	g.start()
	g.waitOnline(true)
	card, text := e.issueCard(1) // forget_after = expiry + margin: about 24 h from now
	waitFor(t, 10*time.Second, "card's key synced", func() bool { return g.scan(text).Result == "granted" })
	e.must(200, "POST", "/admin/v1/residents/"+e.resident+"/cards/"+card+"/revoke", e.guard, nil)
	waitFor(t, 5*time.Second, "revocation synced", func() bool { return g.scan(text).Reason == "revoked" })
	g.kill()

	g.args = append(append([]string{}, base...), "--clock-offset", "25h")
	g.logs = &syncBuffer{}
	g.start()
	g.waitOnline(true)
	// The wrong clock shows: offset in the status file, the alarm flag raised.
	waitFor(t, 10*time.Second, "clock alarm in the status file", func() bool {
		s := g.statusFile()
		off, _ := s["clock_offset_ms"].(float64)
		return s["clock_alarm"] == true && off > 24*3600e3
	})
	time.Sleep(3 * time.Second) // housekeeping runs meanwhile
	// The offset jumped against the last run's (kept on disk): a full snapshot is asked for.
	if !strings.Contains(g.logs.String(), "next sync is a full snapshot") {
		t.Fatal("the clock jump was not seen")
	}
	g.kill()

	g.args = base
	opened := g.doorOpenings()
	g.start()
	// Before any sync: the revocation is still on disk.
	if o := g.scan(text); o.Result != "denied" || o.Reason != "revoked" {
		t.Fatalf("HTTP scan after the wrong-clock run: %+v", o)
	}
	g.typeLine(text)
	if c := runJSON(t, e.agentBin, "check", "--state", g.state, text); c["reason"] != "revoked" {
		t.Fatalf("check after the wrong-clock run: %v", c)
	}
	g.waitOnline(true)
	// Past the scanner's 2 s duplicate-read window of the scan above (waitOnline no longer
	// takes that long: the gate is online as soon as its sync is in).
	time.Sleep(2100 * time.Millisecond)
	if o := g.scan(text + "\n"); o.Result != "denied" || o.Reason != "revoked" {
		t.Fatalf("HTTP scan after the sync: %+v", o)
	}
	if n := g.doorOpenings(); n != opened {
		t.Fatalf("the revoked card opened the door %d times", n-opened)
	}
	if s := g.statusFile(); s["clock_alarm"] == true {
		t.Fatalf("clock alarm still raised with the right clock: %v", s)
	}
}
