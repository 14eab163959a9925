package agent

import (
	"bufio"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/gate"
	"gatepass/internal/gateapi"
)

func TestReadLine(t *testing.T) {
	in := "GA1:ABC\r\n" + strings.Repeat("x", gate.MaxInput*3) + "\n\x00\xff\nlast"
	br := bufio.NewReaderSize(strings.NewReader(in), gate.MaxInput+2)
	var got []int
	for {
		line, err := readLine(br)
		if line != nil {
			got = append(got, len(strings.TrimRight(string(line), "\r")))
		}
		if err != nil {
			break
		}
	}
	// The oversize line comes back cut to more than gate.MaxInput, so Scan refuses it whole.
	if len(got) != 4 || got[0] != 7 || got[1] <= gate.MaxInput || got[2] != 2 || got[3] != 4 {
		t.Fatalf("lines %v", got)
	}
}

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

func TestLocalDBQueueAndPrune(t *testing.T) {
	st, err := OpenLocalDB(filepath.Join(t.TempDir(), "agent.db"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	var ids []uuid.UUID
	for i := 0; i < 50; i++ {
		ev := gateapi.Event{ID: uuid.Must(uuid.NewV7()), OccurredAt: now, Method: "qr", Result: "denied", Reason: strings.Repeat("r", 60)}
		if err := st.Commit(ev, gate.Decision{}, time.Time{}, nil); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.ID)
	}
	batch, got, err := st.Pending(1000, 2000)
	if err != nil || len(batch) == 0 || len(batch) >= 50 || got[0] != ids[0] {
		t.Fatalf("pending by bytes: %d %v", len(batch), err)
	}
	if err := st.Delete(got); err != nil || st.QueueDepth() != 50-len(got) {
		t.Fatalf("after delete: %d %v", st.QueueDepth(), err)
	}
	sync := &gateapi.Sync{Full: true, Cursor: 9, Revocations: []gateapi.Revocation{
		{Credential: uuid.New(), ForgetAfter: now.Add(-time.Minute)}, {Credential: uuid.New(), ForgetAfter: now.Add(time.Hour)}}}
	if err := st.ApplySync(sync, now); err != nil {
		t.Fatal(err)
	}
	if err := st.Prune(now); err != nil || st.RevocationCount() != 1 {
		t.Fatalf("revocations after prune: %d %v", st.RevocationCount(), err)
	}
	if c, _ := st.Cursor(); c != 9 {
		t.Fatalf("cursor %d", c)
	}
}

func TestRejectedIndex(t *testing.T) {
	for body, want := range map[string]int{
		`{"error":{"code":"invalid_field","field":"events[7]","message":"x"}}`: 7,
		`{"error":{"code":"invalid_field","field":"events","message":"x"}}`:    -1,
		`{"error":{"field":"events[x]"}}`:                                      -1,
		`not json`:                                                             -1,
	} {
		i, ok := rejectedIndex(body)
		if (want < 0 && ok) || (want >= 0 && (!ok || i != want)) {
			t.Errorf("%s: %d %v, want %d", body, i, ok, want)
		}
	}
}

func TestLocalDBRejectSetsAside(t *testing.T) {
	st, err := OpenLocalDB(filepath.Join(t.TempDir(), "agent.db"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ev := gateapi.Event{ID: uuid.Must(uuid.NewV7()), Method: "qr", Result: "denied", Reason: "x"}
	if err := st.Commit(ev, gate.Decision{}, time.Time{}, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.Reject(ev.ID); err != nil || st.QueueDepth() != 0 {
		t.Fatalf("after reject: depth %d %v", st.QueueDepth(), err)
	}
}

// Feedback runs the configured program with the result and reason, never the payload.
func TestFeedbackProgram(t *testing.T) {
	out := filepath.Join(t.TempDir(), "beeps")
	a := &Agent{cfg: Config{Feedback: []string{"/bin/sh", "-c", `echo "$@" >> "$0"`, out}}}
	a.feedback(context.Background(), "denied", "revoked")
	raw, err := os.ReadFile(out)
	if err != nil || string(raw) != "denied revoked\n" {
		t.Fatalf("feedback wrote %q %v", raw, err)
	}
}

// Retry delays grow, stay under the cap and are jittered (a fleet does not retry in step).
func TestBackoff(t *testing.T) {
	max := 30 * time.Second
	seen := map[time.Duration]bool{}
	for n := 0; n < 40; n++ {
		d := backoff(n, max)
		if d <= 0 || d > max {
			t.Fatalf("backoff(%d) = %v", n, d)
		}
		seen[d] = true
	}
	if backoff(0, max) > 200*time.Millisecond || backoff(30, max) < max/2 {
		t.Fatalf("backoff(0) = %v, backoff(30) = %v", backoff(0, max), backoff(30, max))
	}
	if len(seen) < 30 {
		t.Fatalf("only %d distinct delays in 40: no jitter", len(seen))
	}
}

type countingDoor struct{ opens int }

func (d *countingDoor) Open(context.Context, time.Duration) error { d.opens++; return nil }

// The door opens only after the event is on disk: when the commit fails, it stays shut.
func TestDoorStaysShutWhenTheEventCannotBeStored(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	reg := Registration{Server: "http://127.0.0.1:1", Token: "gpg_x", Gate: gateapi.Gate{ID: uuid.New(), Community: uuid.New()}, BoxPrivateKey: key.Bytes()}
	if err := writePrivate(filepath.Join(dir, registrationFile), reg); err != nil {
		t.Fatal(err)
	}
	door := &countingDoor{}
	a, err := Open(Config{StateDir: dir, Door: door})
	if err != nil {
		t.Fatal(err)
	}
	// Every decision is stored, the door stays shut for a refusal...
	out, err := a.Scan(context.Background(), "test", "GA1:garbage")
	if err != nil || out.Reason != string(gate.NotEnrolled) || a.LocalDB().QueueDepth() != 1 || door.opens != 0 {
		t.Fatalf("garbage: %+v %v depth %d opens %d", out, err, a.LocalDB().QueueDepth(), door.opens)
	}
	// ...a manual release opens once, however often it is delivered...
	rel := gateapi.Command{ID: uuid.New(), Kind: "unlock", CreatedAt: time.Now()}
	for i := 0; i < 3; i++ {
		if res := a.command(context.Background(), rel, time.Now()); res != gateapi.ResultExecuted || door.opens != 1 {
			t.Fatalf("delivery %d: %s, %d openings", i, res, door.opens)
		}
	}
	// ...and with a broken disk nothing is executed.
	a.Close()
	res := a.command(context.Background(), gateapi.Command{ID: uuid.New(), Kind: "unlock", CreatedAt: time.Now()}, time.Now())
	if res != "failed" || door.opens != 1 {
		t.Fatalf("release without a disk: %s, %d openings", res, door.opens)
	}
	if _, err := a.Scan(context.Background(), "test2", "GA1:other"); err == nil || door.opens != 1 {
		t.Fatalf("scan without a disk: %v, %d openings", err, door.opens)
	}
}
