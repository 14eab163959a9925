package gatefault

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/google/uuid"

	"gatepass/internal/apitest"
	"gatepass/internal/credential"
	"gatepass/internal/dbtest"
	"gatepass/internal/store"
)

// (a) The server is down: 200 scans are decided offline; when it is back, exactly 200
// events arrive, each once.
func TestOfflineScansArriveExactlyOnce(t *testing.T) {
	e := newEnv(t)
	g := e.newGate()
	g.start()
	g.waitOnline(true)
	e.killServer()
	g.waitOnline(false)
	for i := 0; i < 200; i++ {
		if o := g.scan(e.token(1)); o.Result != "granted" {
			t.Fatalf("offline scan %d: %+v", i, o)
		}
	}
	if n := g.doorOpenings(); n != 200 {
		t.Fatalf("door opened %d times for 200 grants", n)
	}
	e.startServer()
	waitFor(t, 20*time.Second, "200 events on the server", func() bool { rows, _ := e.serverEvents(g.id); return rows >= 200 })
	time.Sleep(1500 * time.Millisecond) // a late duplicate upload would land now
	rows, distinct := e.serverEvents(g.id)
	offline := dbtest.Count(t, e.db.SQL(), dbtest.EntryEvents, dbtest.Eq("gate_id", g.id), dbtest.Eq("offline", true), dbtest.Eq("result", "granted"))
	if rows != 200 || distinct != 200 || offline != 200 {
		t.Fatalf("server has %d events (%d distinct, %d offline grants), want 200", rows, distinct, offline)
	}
	g.waitDrained()
}

// (b) The agent is SIGKILLed at random moments of 20 cycles of scanning and uploading:
// every decision it answered reaches the server, none twice; decisions cut off by the kill
// arrive at most once; and the replay cache survives the kills.
func TestAgentKilledDuringUploadsLosesNothing(t *testing.T) {
	e := newEnv(t)
	g := e.newGate()
	answered := map[string]bool{} // event ids of the decisions the agent answered
	var firstToken string
	attempted, midUpload := 0, 0
	for cycle := 0; cycle < 20; cycle++ {
		g.start()
		if cycle == 0 {
			g.waitOnline(true) // the first keys; later starts load them from disk
			firstToken = e.token(1)
			if o := g.scan(firstToken); o.Result != "granted" {
				t.Fatalf("first scan: %+v", o)
			}
		}
		// Scans stream in while the uploader sends them; the kill lands anywhere:
		// mid-commit, mid-upload, between the server's answer and the local delete.
		tokens := make([]string, 40)
		for i := range tokens {
			tokens[i] = e.token(1)
		}
		done := make(chan struct{})
		got := make(chan string, len(tokens))
		go func() {
			defer close(done)
			for _, text := range tokens {
				o, err := g.tryScan(text)
				if err != nil {
					return // killed
				}
				if o.Result != "granted" {
					t.Errorf("cycle %d: %+v", cycle, o)
					return
				}
				got <- o.EventID
			}
		}()
		n, _ := rand.Int(rand.Reader, big.NewInt(80))
		time.Sleep(time.Duration(20+n.Int64()) * time.Millisecond)
		if g.localStatus()["queue_depth"] != 0.0 {
			midUpload++ // killed with events not yet acknowledged
		}
		g.kill()
		<-done
		close(got)
		for id := range got {
			answered[id] = true
		}
		attempted += len(tokens)
	}
	t.Logf("%d of 20 kills came with events still queued; %d decisions answered of %d attempted", midUpload, len(answered), attempted)
	if midUpload == 0 {
		t.Fatal("no kill landed while events were queued: the test did not test")
	}
	g.start()
	if o := g.scan(firstToken); o.Reason != "replayed" {
		t.Fatalf("a token granted before 20 kills is %+v, want replayed", o)
	}
	want := len(answered) + 2 // and the first grant and the replay denial
	waitFor(t, 20*time.Second, "every answered event uploaded", func() bool { rows, _ := e.serverEvents(g.id); return rows >= want })
	g.waitDrained()
	rows, distinct := e.serverEvents(g.id)
	if rows != distinct || rows > attempted+2 {
		t.Fatalf("server has %d events, %d distinct (attempted %d)", rows, distinct, attempted+2)
	}
	missing := 0
	for id := range answered {
		if dbtest.Count(t, e.db.SQL(), dbtest.EntryEvents, dbtest.Eq("id", id)) != 1 {
			missing++
		}
	}
	if missing != 0 {
		t.Fatalf("%d answered decisions are not on the server exactly once", missing)
	}
}

// (c) Staff revoke a card; a scan 2 s later is denied at an online gate.
func TestRevokedCardDeniedTwoSecondsLater(t *testing.T) {
	e := newEnv(t)
	g := e.newGate()
	g.start()
	g.waitOnline(true)
	card, text := e.issueCard(365)
	waitFor(t, 10*time.Second, "card's key synced", func() bool { return g.scan(text).Result == "granted" })
	e.must(200, "POST", "/admin/v1/residents/"+e.resident+"/cards/"+card+"/revoke", e.guard, nil)
	time.Sleep(2 * time.Second)
	if o := g.scan(text); o.Result != "denied" || o.Reason != "revoked" {
		t.Fatalf("revoked card 2 s later: %+v", o)
	}
}

// (d) A gate clock 10 minutes ahead shows in the heartbeat, and tokens are judged by the
// gate's clock with the configured skew.
func TestGateClockOffInHeartbeatAndSkew(t *testing.T) {
	e := newEnv(t)
	g := e.newGate("--clock-offset", "10m")
	g.start()
	g.waitOnline(true)
	waitFor(t, 10*time.Second, "clock offset in the gate list", func() bool {
		for _, x := range e.must(200, "GET", "/admin/v1/communities/"+e.community+"/gates", e.guard, nil)["gates"].([]any) {
			gm := x.(map[string]any)
			if off, ok := gm["clock_offset_ms"].(float64); ok && gm["id"] == g.id && off > 595000 && off < 605000 {
				return true
			}
		}
		return false
	})
	// A fresh 300 s token is 10 minutes old by the gate's clock.
	if o := g.scan(e.token(1)); o.Reason != "expired" {
		t.Fatalf("with 30 s skew: %+v", o)
	}
	e.must(200, "PUT", "/admin/v1/gates/"+g.id+"/settings", e.admin, map[string]any{"skew_seconds": 900})
	waitFor(t, 10*time.Second, "skew 900 s applied", func() bool { return g.scan(e.token(1)).Result == "granted" })
	// The gate's clock is 300 s past the token's end: a skew of 200 s is not enough.
	e.must(200, "PUT", "/admin/v1/gates/"+g.id+"/settings", e.admin, map[string]any{"skew_seconds": 200})
	waitFor(t, 10*time.Second, "skew 200 s applied", func() bool { return g.scan(e.token(1)).Reason == "expired" })
}

// (e) A serial scanner, simulated on a pseudo-terminal, with garbage lines in between.
func TestSerialScannerOnPTY(t *testing.T) {
	e := newEnv(t)
	master, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	defer tty.Close()
	g := e.newGate("--input", "serial:"+tty.Name(), "--baud", "115200")
	g.start()
	g.waitOnline(true)
	garbage := []string{strings.Repeat("Z", 10000), "\x00\x01\x02\xff\xfe", "GA1:%%%"}
	for _, line := range append(garbage, e.token(1)) {
		if _, err := io.WriteString(master, line+"\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "door opened by the serial scan", func() bool { return g.doorOpenings() == 1 })
	waitFor(t, 10*time.Second, "4 events uploaded", func() bool { rows, _ := e.serverEvents(g.id); return rows == 4 })
	if denied := dbtest.Count(t, e.db.SQL(), dbtest.EntryEvents, dbtest.Eq("gate_id", g.id), dbtest.Eq("result", "denied"), dbtest.Eq("reason", "malformed")); denied != 3 {
		t.Fatalf("malformed denials %d", denied)
	}
	if !g.alive() {
		t.Fatal("agent died on garbage")
	}
}

// (f) A manual release reaches the online gate within 2 s, opens once even when
// delivered twice, is recorded with the staff member; a stale release does not open.
func TestManualReleaseOpensOnce(t *testing.T) {
	e := newEnv(t)
	g := e.newGate()
	g.start()
	g.waitOnline(true)
	time.Sleep(300 * time.Millisecond) // the agent is in its long poll
	start := time.Now()
	rel := e.must(201, "POST", "/admin/v1/gates/"+g.id+"/unlock", e.guard, map[string]any{"reason": "resident without phone"})
	waitFor(t, 2*time.Second, "door opened by manual release", func() bool { return g.doorOpenings() == 1 })
	t.Logf("manual release opened the door after %v", time.Since(start))
	cmd := uuid.MustParse(rel["command_id"].(string))
	waitFor(t, 5*time.Second, "release acked", func() bool { return e.commandResult(cmd) == "executed" })
	// Deliver it again: un-ack it on the server and wake the gate.
	e.redeliver(cmd, g.id)
	waitFor(t, 5*time.Second, "second delivery acked", func() bool { return e.commandResult(cmd) == "executed" })
	time.Sleep(500 * time.Millisecond)
	if n := g.doorOpenings(); n != 1 {
		t.Fatalf("door opened %d times for one release delivered twice", n)
	}
	// A release older than 60 s on arrival is reported, not executed.
	old := uuid.New()
	dbtest.Insert(t, e.db.SQL(), dbtest.GateCommands, dbtest.Values{"community_id": e.community, "id": old, "gate_id": g.id, "kind": "unlock",
		"payload": `{"reason":"late"}`, "created_at": dbtest.Ago(2 * time.Minute)})
	e.redeliver(old, g.id)
	waitFor(t, 5*time.Second, "stale release reported", func() bool { return e.commandResult(old) == "expired" })
	if n := g.doorOpenings(); n != 1 {
		t.Fatalf("a stale release opened the door (%d openings)", n)
	}
	waitFor(t, 10*time.Second, "manual events uploaded", func() bool { rows, _ := e.serverEvents(g.id); return rows == 2 })
	var staff *uuid.UUID // who asked for the release
	dbtest.Get(t, e.db.SQL(), &staff, dbtest.GateCommands, "created_by", dbtest.Eq("community_id", e.community), dbtest.Eq("id", cmd))
	manual := []dbtest.Cond{dbtest.Eq("community_id", e.community), dbtest.Eq("gate_id", g.id), dbtest.Eq("method", "manual")}
	staffOK := 0
	if staff != nil {
		staffOK = dbtest.Count(t, e.db.SQL(), dbtest.EntryEvents, append(manual, dbtest.Eq("staff_id", *staff))...)
	}
	granted := dbtest.Count(t, e.db.SQL(), dbtest.EntryEvents, append(manual, dbtest.Eq("result", "granted"))...)
	if staffOK != 1 || granted != 1 {
		t.Fatalf("manual events: with staff %d, granted %d", staffOK, granted)
	}
}

func (e *env) commandResult(id uuid.UUID) string {
	var r *string
	dbtest.Get(e.t, e.db.SQL(), &r, dbtest.GateCommands, "result", dbtest.Eq("id", id))
	if r == nil {
		return ""
	}
	return *r
}

// redeliver makes a command pending again and tells the gate, as a lost ack would.
func (e *env) redeliver(id uuid.UUID, gate string) {
	e.t.Helper()
	ctx := context.Background()
	err := e.db.InTx(ctx, "test", func(tx *store.Tx) error {
		return tx.Change(ctx, uuid.MustParse(e.community), "command", uuid.MustParse(gate), id, map[string]any{"kind": "unlock"})
	})
	if err != nil {
		e.t.Fatal(err)
	}
	dbtest.Set(e.t, e.db.SQL(), dbtest.GateCommands, dbtest.Values{"acked_at": nil, "result": nil}, dbtest.Eq("id", id))
	// The change above woke the long poll possibly before the un-ack; wake it again.
	err = e.db.InTx(ctx, "test", func(tx *store.Tx) error {
		return tx.Change(ctx, uuid.MustParse(e.community), "command", uuid.MustParse(gate), id, map[string]any{"kind": "unlock"})
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// base45 encodes per RFC 9285, for garbage that passes the prefix and alphabet checks.
func base45(b []byte) string {
	const alpha = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
	var sb strings.Builder
	for i := 0; i+1 < len(b); i += 2 {
		n := int(b[i])<<8 | int(b[i+1])
		sb.WriteByte(alpha[n%45])
		sb.WriteByte(alpha[n/45%45])
		sb.WriteByte(alpha[n/2025])
	}
	if len(b)%2 == 1 {
		n := int(b[len(b)-1])
		sb.WriteByte(alpha[n%45])
		sb.WriteByte(alpha[n/45])
	}
	return sb.String()
}

// Garbage at the gate: each gets its typed denial, and the agent keeps running.
func TestGarbageScans(t *testing.T) {
	e := newEnv(t)
	// Another community's code: TestForeignCommunityCodeIsWrongCommunity.
	tcpAddr := apitest.FreeAddr(t)
	g := e.newGate("--input", "tcp:"+tcpAddr)
	g.start()
	g.waitOnline(true)
	randomBytes := make([]byte, 300)
	_, _ = rand.Read(randomBytes)
	valid := e.token(1)
	tok, err := credential.Parse(valid)
	if err != nil {
		t.Fatal(err)
	}
	tok.Sig[10] ^= 0x40
	tampered := tok.Text()
	replayed := e.token(1)
	if o := g.scan(replayed); o.Result != "granted" {
		t.Fatalf("first scan: %+v", o)
	}
	time.Sleep(2100 * time.Millisecond) // past the scanner's 2 s duplicate-read window
	cases := []struct {
		name, text, reason string
	}{
		{"random bytes", string(randomBytes), "malformed"},
		{"huge line", "GA1:" + strings.Repeat("0", 100000), "malformed"},
		{"Base45 of garbage", "GA1:" + base45(randomBytes[:90]), "malformed"},
		{"unknown type", "GA1:" + base45(append([]byte{0x7f}, randomBytes[:80]...)), "malformed"},
		{"tampered signature", tampered, "bad_signature"},
		{"wrong zone", e.token(1 << 5), "wrong_zone"},
		{"not yet valid", e.tokenAt(e.community, 1, time.Now().Add(10*time.Minute)), "not_yet_valid"},
		{"replay", replayed, "replayed"},
	}
	for _, c := range cases {
		if o := g.scan(c.text); o.Result != "denied" || o.Reason != c.reason {
			t.Errorf("%s: %+v, want denied %s", c.name, o, c.reason)
		}
	}
	// The same garbage and a valid code over the TCP line input.
	conn, err := net.Dial("tcp", tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "%s\n%s\n%s\n", strings.Repeat("x", 50000), randomBytes, valid)
	conn.Close()
	waitFor(t, 5*time.Second, "valid code after garbage opens the door", func() bool { return g.doorOpenings() == 2 })
	// Still alive and still deciding.
	if o := g.scan(e.token(1)); o.Result != "granted" || !g.alive() {
		t.Fatalf("after garbage: %+v alive=%v", o, g.alive())
	}
}
