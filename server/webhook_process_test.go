package main

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gatepass/internal/apitest"
	"gatepass/internal/dbtest"
	"gatepass/internal/webhook"
	"gatepass/server/internal/servertest"
)

// hookReceiver is a receiver as an integrator writes one: it verifies every signature,
// and keeps the event ids it has seen (its idempotency check) with how often each came.
type hookReceiver struct {
	t       *testing.T
	mu      sync.Mutex
	secret  string
	seen    map[string]int
	bad     int
	hold    chan struct{} // while open, requests are held: the server is mid-delivery
	waiting int           // requests being held now
}

func (r *hookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	_, err := webhook.Verify(req.Header.Get(webhook.SignatureHeader), body, r.secret, 0, time.Now())
	var env webhook.Envelope
	if err == nil {
		err = json.Unmarshal(body, &env)
	}
	if err != nil || env.ID.String() != req.Header.Get(webhook.EventIDHeader) {
		r.bad++
		r.mu.Unlock()
		r.t.Errorf("a delivery does not verify: %v", err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	r.seen[env.ID.String()]++
	hold := r.hold
	r.waiting++
	r.mu.Unlock()
	<-hold
	r.mu.Lock()
	r.waiting--
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (r *hookReceiver) state() (seen map[string]int, waiting int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.seen))
	for k, v := range r.seen {
		out[k] = v
	}
	return out, r.waiting
}

// waitFor polls cond until it holds or the time is up.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Issue 16: the server is killed (SIGKILL) while deliveries are in flight and started
// again: every event still arrives, at least once, each signature verifies, and the
// receiver's idempotency check sees the ids that came twice.
func TestWebhooksSurviveAKilledServer(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "server")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	rcv := &hookReceiver{t: t, seen: map[string]int{}, hold: make(chan struct{})}
	ts := httptest.NewTLSServer(rcv)
	defer ts.Close()
	defer func() {
		rcv.mu.Lock()
		select {
		case <-rcv.hold:
		default:
			close(rcv.hold)
		}
		rcv.mu.Unlock()
	}()
	// The server trusts the receiver's certificate as a system root (SSL_CERT_FILE).
	caFile := filepath.Join(dir, "receiver.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}

	h := servertest.New(t) // fixtures straight into the same database
	f := h.Community()
	gate, code := h.NewGateCode(f)

	addr, metricsAddr := apitest.FreeAddr(t), apitest.FreeAddr(t)
	base := "http://" + addr
	var logs bytes.Buffer
	var mu sync.Mutex
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "serve", "--listen", addr)
		cmd.Env = append(os.Environ(), "DATABASE_URL="+dbtest.URL(t), "MASTER_KEY_FILE="+dbtest.MasterKeyFile(t),
			"METRICS_ADDR="+metricsAddr, "SSL_CERT_FILE="+caFile, "WEBHOOK_ALLOW_LOOPBACK=true", "WEBHOOK_TIMEOUT=3s", "WEBHOOK_RETRY_BASE=1s")
		cmd.Stderr = lockedWriter{&mu, &logs}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, "the server to come up", func() bool { c, _, _ := getFrom(addr, "/healthz"); return c == 200 })
		return cmd
	}
	cmd := start()
	defer func() { _ = cmd.Process.Kill() }()

	client := apitest.Client{T: t, Base: base}
	gateToken := client.Must(http.StatusCreated, "POST", "/gate/v1/enroll", "", map[string]any{"code": code,
		"box_public_key": servertest.BoxKey(), "agent_version": "test"})["gate_token"].(string)
	ep := client.Must(http.StatusCreated, "POST", "/admin/v1/communities/"+f.ID+"/webhooks", f.Admin,
		map[string]any{"url": ts.URL + "/gatepass", "events": []string{"entry.created"}})
	rcv.mu.Lock()
	rcv.secret = ep["secret"].(string)
	rcv.mu.Unlock()

	want := map[string]bool{}
	upload := func(n int) {
		var batch []any
		for i := 0; i < n; i++ {
			ev := servertest.GateEvent(gate, "granted")
			want[ev["id"].(string)] = true
			batch = append(batch, ev)
		}
		client.Must(http.StatusOK, "POST", "/gate/v1/events", gateToken, map[string]any{"events": batch})
	}
	upload(20)
	// Deliveries are held at the receiver: the server is mid-delivery when it dies.
	waitFor(t, 30*time.Second, "deliveries in flight", func() bool { _, w := rcv.state(); return w >= 3 })
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	held, _ := rcv.state()
	rcv.mu.Lock()
	close(rcv.hold) // the held requests answer a dead connection
	rcv.mu.Unlock()

	cmd = start()
	upload(10)
	waitFor(t, 90*time.Second, "every event at the receiver", func() bool {
		seen, _ := rcv.state()
		for id := range want {
			if seen[id] == 0 {
				return false
			}
		}
		return true
	})
	seen, _ := rcv.state()
	twice := 0
	for id := range held {
		if !want[id] {
			t.Fatalf("the receiver got an event nobody made: %s", id)
		}
		// What was in flight when the server died is delivered again; the receiver's
		// idempotency check is what makes that harmless.
		waitFor(t, 60*time.Second, "the interrupted delivery to be sent again", func() bool { s, _ := rcv.state(); return s[id] >= 2 })
		twice++
	}
	if twice == 0 || len(seen) != len(want) || rcv.bad != 0 {
		t.Fatalf("%d events, %d seen, %d interrupted and repeated, %d bad signatures", len(want), len(seen), twice, rcv.bad)
	}
	// The log has every event delivered; an interrupted one as its second attempt (the
	// first, cut off by the kill, counts though the dead process could not log it).
	delivered := map[string]float64{}
	waitFor(t, 30*time.Second, "the delivery log", func() bool {
		log := client.Must(http.StatusOK, "GET", "/admin/v1/communities/"+f.ID+"/webhooks/"+ep["id"].(string)+"/deliveries?limit=500", f.Auditor, nil)
		for _, a := range log["deliveries"].([]any) {
			a := a.(map[string]any)
			if a["delivery_state"] == "delivered" && a["status_code"] == float64(http.StatusNoContent) {
				delivered[a["event_id"].(string)] = a["attempt"].(float64)
			}
		}
		return len(delivered) == len(want)
	})
	for id := range held {
		if delivered[id] < 2 {
			t.Fatalf("interrupted event %s delivered as attempt %v", id, delivered[id])
		}
	}
	// The restarted server counted its deliveries (all 30 were still to send when the
	// first one died).
	_, metrics, _ := getFrom(metricsAddr, "/metrics")
	if !strings.Contains(metrics, `gatepass_webhook_attempts_total{outcome="delivered"} 30`) {
		t.Errorf("metrics lack 30 delivered webhook attempts:\n%s", grepLines(metrics, "webhook"))
	}
	stopWithin(t, cmd, 20*time.Second, func() string { mu.Lock(); defer mu.Unlock(); return logs.String() })
}

// lockedWriter lets two server processes in turn write one log buffer.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// grepLines keeps the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
