package gatefault

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A gate of a community with 100,000 live revocations: the snapshot's size, the agent's
// resident memory once it holds them all, and that it still decides.
func TestHundredThousandRevocations(t *testing.T) {
	e := newEnv(t)
	start := time.Now()
	_, err := e.db.SQL().Exec(`INSERT INTO credentials (community_id, id, kind, subject, resident_id, zones, expires_at, revoked_at, revoke_reason)
		SELECT $1, gen_random_uuid(), 'card', 'resident', $2, 1, now() + interval '300 days', now(), 'test'
		FROM generate_series(1, 100000)`, e.community, e.resident)
	if err != nil {
		t.Fatal(err)
	}
	g := e.newGate()
	// The snapshot a new gate downloads.
	var token string
	raw, _ := os.ReadFile(g.state + "/enrollment.json")
	if i := strings.Index(string(raw), `"gate_token": "`); i >= 0 {
		token = strings.SplitN(string(raw)[i+15:], `"`, 2)[0]
	}
	req, _ := http.NewRequest("GET", e.base+"/gate/v1/sync?cursor=0", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept-Encoding", "identity")
	t1 := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("snapshot: %v %v", err, resp)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	snapshotTime := time.Since(t1)
	req.Header.Set("Accept-Encoding", "gzip")
	gz, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil || gz.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("gzip snapshot: %v %v", err, gz)
	}
	gzBytes, _ := io.Copy(io.Discard, gz.Body)
	gz.Body.Close()
	if n := strings.Count(string(body), `"credential_id"`); n != 100000 {
		t.Fatalf("snapshot holds %d revocations", n)
	}
	g.start()
	// This test measures size and memory, not speed: the first sync of 100,000
	// revocations on a loaded 2-core machine can take well over the usual 15 s.
	waitFor(t, 90*time.Second, "agent online with its first snapshot", func() bool { return g.localStatus()["online"] == true })
	waitFor(t, 60*time.Second, "100,000 revocations stored", func() bool {
		raw, _ := os.ReadFile(g.state + "/status.json")
		return strings.Contains(string(raw), `"revocations": 100000`)
	})
	if o := g.scan(e.token(1)); o.Result != "granted" {
		t.Fatalf("scan with 100,000 revocations: %+v", o)
	}
	rss := vmRSS(t, g.cmd.Process.Pid)
	t.Logf("FIGURES: snapshot %d bytes (%.1f MB; gzip %d bytes) in %v; agent VmRSS %d kB with 100,000 revocations; setup %v",
		len(body), float64(len(body))/1e6, gzBytes, snapshotTime, rss, time.Since(start))
	if rss > 50*1024 {
		t.Fatalf("agent resident memory %d kB, want < 50 MB", rss)
	}
}

func vmRSS(t *testing.T, pid int) int {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}
