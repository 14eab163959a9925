package agent

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/face"
	"gatepass/internal/gate"
	"gatepass/internal/gateapi"
)

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

// openTest opens an agent on cfg.StateDir, registered there first if it is not, whose
// server is unreachable: what it does at the door needs no network.
func openTest(t *testing.T, cfg Config) *Agent {
	t.Helper()
	if _, err := LoadRegistration(cfg.StateDir); err != nil {
		key, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		reg := Registration{Server: "http://127.0.0.1:1", Token: "gpg_x", Gate: gateapi.Gate{ID: uuid.New(), Community: uuid.New()}, BoxPrivateKey: key.Bytes()}
		if err := writePrivate(filepath.Join(cfg.StateDir, registrationFile), reg); err != nil {
			t.Fatal(err)
		}
	}
	a, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// queued is every event waiting for upload, oldest first.
func queued(t *testing.T, a *Agent) []gateapi.Event {
	t.Helper()
	raw, _, err := a.local.Pending(gateapi.MaxBatch, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	evs := make([]gateapi.Event, len(raw))
	for i, r := range raw {
		if err := json.Unmarshal(r, &evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	return evs
}

type countingDoor struct{ n int }

func (d *countingDoor) Open(context.Context, time.Duration) error { d.n++; return nil }

// opens is how often the door opened, once every pulse a has queued has run.
func (d *countingDoor) opens(a *Agent) int {
	a.settle()
	return d.n
}

// The door opens only after the event is on disk: when the commit fails, it stays shut.
func TestDoorStaysShutWhenTheEventCannotBeStored(t *testing.T) {
	door := &countingDoor{}
	a := openTest(t, Config{StateDir: t.TempDir(), Door: door})
	// Every decision is stored, the door stays shut for a refusal...
	out, err := a.Scan("test", "GA1:garbage")
	if err != nil || out.Reason != string(gate.Malformed) || a.LocalDB().QueueDepth() != 1 || door.opens(a) != 0 {
		t.Fatalf("garbage: %+v %v depth %d opens %d", out, err, a.LocalDB().QueueDepth(), door.opens(a))
	}
	// ...a manual release opens once, however often it is delivered...
	rel := gateapi.Command{ID: uuid.New(), Kind: "unlock", CreatedAt: time.Now()}
	for i := 0; i < 3; i++ {
		if res := a.command(context.Background(), rel, time.Now()); res != gateapi.ResultExecuted || door.opens(a) != 1 {
			t.Fatalf("delivery %d: %s, %d openings", i, res, door.opens(a))
		}
	}
	// ...and with a broken disk nothing is executed.
	a.Close()
	res := a.command(context.Background(), gateapi.Command{ID: uuid.New(), Kind: "unlock", CreatedAt: time.Now()}, time.Now())
	if res != "failed" || door.opens(a) != 1 {
		t.Fatalf("release without a disk: %s, %d openings", res, door.opens(a))
	}
	if _, err := a.Scan("test2", "GA1:other"); err == nil || door.opens(a) != 1 {
		t.Fatalf("scan without a disk: %v, %d openings", err, door.opens(a))
	}
}

// A scanner's repeated read makes no event; every other read does, oversize input
// included (refused as malformed, before the repeat rule would see it is new).
func TestScanRepeatedReadsAndOversize(t *testing.T) {
	door := &countingDoor{}
	a := openTest(t, Config{StateDir: t.TempDir(), Door: door})
	defer a.Close()
	huge := strings.Repeat("x", gate.MaxInput+1)
	steps := []struct {
		name, source, text string
		want               gate.Reason
		events             int
	}{
		{"first read", "tcp:a", "GA1:X", gate.Malformed, 1},
		{"the scanner repeats it", "tcp:a", "GA1:X", gate.DuplicateRead, 1},
		{"another input", "tcp:b", "GA1:X", gate.Malformed, 2},
		{"oversize", "tcp:a", huge, gate.Malformed, 3},
		{"oversize repeated", "tcp:a", huge, gate.DuplicateRead, 3},
	}
	for _, s := range steps {
		out, err := a.Scan(s.source, s.text)
		if err != nil || out.Reason != string(s.want) || out.Duplicate != (s.want == gate.DuplicateRead) {
			t.Fatalf("%s: %+v %v, want %s", s.name, out, err, s.want)
		}
		if n := len(queued(t, a)); n != s.events {
			t.Fatalf("%s: %d events, want %d", s.name, n, s.events)
		}
	}
	if ev := queued(t, a)[2]; ev.Method != "qr" || ev.Result != "denied" || ev.Reason != string(gate.Malformed) {
		t.Fatalf("oversize event: %+v", ev)
	}
	// Check is the same decision and leaves nothing behind.
	dec, err := a.Check(huge)
	if rep := CheckReport(dec); !errors.Is(err, gate.ErrOversize) || rep.Result != "denied" || rep.Reason != string(gate.Malformed) || rep.Detail != gate.ErrOversize.Error() {
		t.Fatalf("check oversize: %+v %v", rep, err)
	}
	if dec, err := a.Check("GA1:X"); err != nil || dec.Reason != gate.Malformed {
		t.Fatalf("check: %+v %v", dec, err)
	}
	if n := len(queued(t, a)); n != 3 || door.opens(a) != 0 {
		t.Fatalf("after checks: %d events, %d openings", n, door.opens(a))
	}
}

// A face goes through the same path: every decision an event, the door opens for a
// match only, and a probe without liveness is refused unmatched.
func TestFaceDecisions(t *testing.T) {
	beeps := filepath.Join(t.TempDir(), "beeps")
	door := &countingDoor{}
	a := openTest(t, Config{StateDir: t.TempDir(), Door: door, Feedback: []string{"/bin/sh", "-c", `echo "$@" >> "$0"`, beeps}})
	defer a.Close()
	gen := face.NewSynthetic(3)
	me := gen.Identity()
	resident := uuid.New()
	sealed, err := face.Seal(me, a.faceKey.PublicKey().Bytes(), a.binding(resident, me.Model))
	if err != nil {
		t.Fatal(err)
	}
	a.putFace(a.matcher.Load(), resident, me.Model, sealed)

	if _, err := a.Face(face.ProbeRequest{Model: &me.Model}); !errors.As(err, new(errProbe)) {
		t.Fatalf("probe without embedding: %v", err)
	}
	steps := []struct {
		name    string
		probe   face.ProbeRequest
		want    gate.Reason
		matched bool
	}{
		{"no liveness", probeOf(gen.Probe(me, 0.9), false), gate.NoLiveness, false},
		{"a stranger", probeOf(gen.Identity(), true), gate.FaceNoMatch, false},
		{"the resident", probeOf(gen.Probe(me, 0.9), true), gate.Granted, true},
	}
	for i, s := range steps {
		out, err := a.Face(s.probe)
		if err != nil || out.Reason != string(s.want) || (out.Score == nil) != (s.want == gate.NoLiveness) {
			t.Fatalf("%s: %+v %v", s.name, out, err)
		}
		ev := queued(t, a)[i]
		if ev.ID != out.EventID || ev.Method != "face" || ev.Reason != string(s.want) || (ev.Resident != nil) != s.matched {
			t.Fatalf("%s: event %+v", s.name, ev)
		}
	}
	// Never synced: the grant is flagged stale (policy "flag"), in the event and the answer.
	if ev := queued(t, a)[2]; !ev.Stale || *ev.Resident != resident || ev.Subject != "resident" || door.opens(a) != 1 {
		t.Fatalf("grant: %+v, %d openings", ev, door.opens(a))
	}
	a.settle()
	if raw, _ := os.ReadFile(beeps); string(raw) != "denied no_liveness\ndenied face_no_match\ngranted ok\n" {
		t.Fatalf("feedback %q", raw)
	}
}

// A release older than gate.ReleaseMaxAge on arrival is reported and recorded, never
// executed, and not repeated when delivered again. A release answers no one at the
// reader, so it runs no feedback program.
func TestReleaseTooOld(t *testing.T) {
	beeps := filepath.Join(t.TempDir(), "beeps")
	door := &countingDoor{}
	a := openTest(t, Config{StateDir: t.TempDir(), Door: door, Feedback: []string{"/bin/sh", "-c", `echo "$@" >> "$0"`, beeps}})
	defer a.Close()
	serverNow := time.Now()
	staff := uuid.New()
	old := gateapi.Command{ID: uuid.New(), Kind: "unlock", CreatedBy: &staff, CreatedAt: serverNow.Add(-gate.ReleaseMaxAge - time.Second)}
	for i := 0; i < 2; i++ {
		if res := a.command(context.Background(), old, serverNow); res != gateapi.ResultTooOld || door.opens(a) != 0 {
			t.Fatalf("delivery %d: %s, %d openings", i, res, door.opens(a))
		}
	}
	evs := queued(t, a)
	if len(evs) != 1 || evs[0].Method != "manual" || evs[0].Result != "denied" || evs[0].Reason != string(gate.ReleaseExpired) ||
		evs[0].Staff == nil || *evs[0].Staff != staff {
		t.Fatalf("events %+v", evs)
	}
	if _, err := os.Stat(beeps); err == nil {
		t.Fatal("a release ran the feedback program")
	}
}
