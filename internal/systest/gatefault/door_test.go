package gatefault

import (
	"fmt"
	"gatepass/internal/dbtest"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// setDoorScript replaces the harness's door script (run by /bin/sh with the door file as
// $0 and the pulse in ms as $1); call it before start.
func (g *gateAgent) setDoorScript(script string) {
	g.e.t.Helper()
	for i, a := range g.args {
		if a == `echo open >> "$0"` {
			g.args[i] = script
			return
		}
	}
	g.e.t.Fatal("no door script in the agent's arguments")
}

// doorLines counts the lines the door script wrote that are line.
func (g *gateAgent) doorLines(line string) int {
	raw, _ := os.ReadFile(g.doorFile)
	return strings.Count(string(raw), line+"\n")
}

// Issue 12 item 4: a reader cannot cut the door's pulse. POST /scan answers as soon as
// the decision is stored, and the door runs on the agent's own context: a reader that
// hangs up mid-pulse no longer kills the door program (the event said granted, the
// door script never finished), and /scan no longer blocks for the whole pulse.
func TestDoorPulseOutlivesTheReader(t *testing.T) {
	e := newEnv(t)
	g := e.newGate("--pulse", "1500ms")
	g.setDoorScript(`echo open >> "$0"; sleep 1.5; echo closed >> "$0"`)
	g.start()
	g.waitOnline(true)

	start := time.Now()
	if o := g.scan(e.token(1)); o.Result != "granted" {
		t.Fatalf("scan: %+v", o)
	}
	answered := time.Since(start)
	t.Logf("POST /scan of a grant answered in %v (pulse 1.5 s)", answered)
	if answered > 750*time.Millisecond {
		t.Errorf("POST /scan answered after %v: it waited for the 1.5 s pulse", answered)
	}
	waitFor(t, 10*time.Second, "the first pulse ends", func() bool { return g.doorLines("closed") == 1 })

	// A reader that sends its scan and hangs up while the door is open.
	conn, err := net.Dial("tcp", g.local)
	if err != nil {
		t.Fatal(err)
	}
	text := e.token(1)
	fmt.Fprintf(conn, "POST /scan HTTP/1.1\r\nHost: gate\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(text), text)
	waitFor(t, 10*time.Second, "the second pulse starts", func() bool { return g.doorLines("open") == 2 })
	conn.Close()
	time.Sleep(2500 * time.Millisecond) // the pulse's 1.5 s, and then some
	if n := g.doorLines("closed"); n != 2 {
		t.Errorf("the door program finished %d of 2 pulses: the reader's hang-up cut one", n)
	}
	g.waitDrained()
	if granted := dbtest.Count(t, e.db.SQL(), dbtest.EntryEvents, dbtest.Eq("gate_id", g.id), dbtest.Eq("result", "granted")); granted != 2 {
		t.Fatalf("granted events %d, want 2", granted)
	}
}
