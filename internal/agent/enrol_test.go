package agent

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/face"
	"gatepass/internal/gateapi"
)

// openOffline opens an agent whose server is unreachable (the report path is tested with
// real processes in internal/systest/gatefault).
func openOffline(t *testing.T, dir string) *Agent {
	t.Helper()
	return openTest(t, Config{StateDir: dir, Door: &countingDoor{}})
}

func enrolCommand(t *testing.T, resident uuid.UUID, model string, expires time.Time) gateapi.Command {
	raw, err := json.Marshal(map[string]any{"resident_id": resident, "model": model, "expires_at": expires})
	if err != nil {
		t.Fatal(err)
	}
	return gateapi.Command{ID: uuid.New(), Kind: kindFaceEnrol, CreatedAt: time.Now(), Payload: raw}
}

func probeOf(t face.Template, live bool) face.ProbeRequest {
	return face.ProbeRequest{Model: &t.Model, Embedding: append([]float32(nil), t.Embedding...), Liveness: &live}
}

// A session opens only from a live command, takes one valid live capture of its model,
// stores it sealed like a synced template (it survives a restart) and a purge deletes it.
func TestEnrolSession(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a := openOffline(t, dir)
	gen := face.NewSynthetic(3)
	me := gen.Identity()
	resident := uuid.New()
	now := time.Now()

	if _, err := a.Enrol(ctx, probeOf(me, true)); !errors.Is(err, errNoSession) {
		t.Fatalf("without a session: %v", err)
	}
	// Expired on arrival (by the server's clock) and malformed commands are done at once.
	if r := a.command(ctx, enrolCommand(t, resident, "", now.Add(-time.Second)), now); r != gateapi.ResultTooOld {
		t.Fatalf("expired command: %q", r)
	}
	bad := gateapi.Command{ID: uuid.New(), Kind: kindFaceEnrol, CreatedAt: now, Payload: json.RawMessage(`{"model":"x"}`)}
	if r := a.command(ctx, bad, now); r != "failed" {
		t.Fatalf("command without resident: %q", r)
	}
	if _, err := a.Enrol(ctx, probeOf(me, true)); !errors.Is(err, errNoSession) {
		t.Fatalf("after refused commands: %v", err)
	}
	// A session that lapses on the gate's clock closes.
	short := enrolCommand(t, resident, "", now.Add(50*time.Millisecond))
	if r := a.command(ctx, short, now); r != "" {
		t.Fatalf("open session acked %q", r)
	}
	time.Sleep(100 * time.Millisecond)
	if _, err := a.Enrol(ctx, probeOf(me, true)); !errors.Is(err, errNoSession) {
		t.Fatalf("after the window: %v", err)
	}

	cmd := enrolCommand(t, resident, me.Model, now.Add(time.Minute))
	if r := a.command(ctx, cmd, now); r != "" {
		t.Fatalf("open session acked %q", r)
	}
	other := "mobilefacenet-128"
	for name, p := range map[string]face.ProbeRequest{
		"no liveness": probeOf(me, false),
		"wrong model": {Model: &other, Embedding: make([]float32, 128), Liveness: probeOf(me, true).Liveness},
		"bad vector":  {Model: &me.Model, Embedding: []float32{1, 2}, Liveness: probeOf(me, true).Liveness},
	} {
		if _, err := a.Enrol(ctx, p); !errors.As(err, new(errProbe)) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	out, err := a.Enrol(ctx, probeOf(me, true))
	if err != nil || out.Result != gateapi.ResultEnrolled || out.Command != cmd.ID || out.Reported {
		t.Fatalf("enrol: %+v %v", out, err)
	}
	if _, err := a.Enrol(ctx, probeOf(me, true)); !errors.Is(err, errNoSession) {
		t.Fatalf("second capture: %v", err)
	}
	if r, _ := a.matcher.Load().Match(gen.Probe(me, 0.7)); !r.Matched || r.Resident != resident {
		t.Fatalf("match after enrolment: %+v", r)
	}
	// Unreported (the server is unreachable): the command stays pending, not acked.
	if r := a.command(ctx, cmd, now); r != "" {
		t.Fatalf("unreported enrolment acked %q", r)
	}

	// On disk sealed to this gate's key, like a synced blob: a restart matches it again.
	a.Close()
	a = openOffline(t, dir)
	defer a.Close()
	var sealed []byte
	if err := a.local.EachFace(func(r uuid.UUID, model string, s []byte) {
		if r == resident && model == me.Model {
			sealed = s
		}
	}); err != nil || len(sealed) == 0 {
		t.Fatalf("stored blob: %d bytes %v", len(sealed), err)
	}
	if _, err := face.Open(sealed, a.faceKey, a.binding(resident, me.Model)); err != nil {
		t.Fatalf("stored blob does not open for this gate: %v", err)
	}
	if r, _ := a.matcher.Load().Match(gen.Probe(me, 0.7)); !r.Matched || r.Resident != resident {
		t.Fatalf("match after restart: %+v", r)
	}
	held := func() int {
		n := 0
		_ = a.local.EachFace(func(uuid.UUID, string, []byte) { n++ })
		return n
	}
	sync := func(s *gateapi.Sync) {
		t.Helper()
		if err := a.local.ApplySync(s, time.Now(), nil, false); err != nil {
			t.Fatal(err)
		}
		a.keepLocalFaces(s)
	}
	// A full snapshot has no blob for it (the server never had one): it is kept.
	sync(&gateapi.Sync{Cursor: 1, Full: true})
	if n := held(); n != 1 {
		t.Fatalf("%d templates after a full sync", n)
	}
	// A purge for the resident deletes it from disk as it does synced templates, and a
	// later full sync does not bring it back.
	purge := uuid.New()
	sync(&gateapi.Sync{Cursor: 2, FacePurges: []gateapi.FacePurge{{Purge: purge, Resident: resident, Reason: "withdrawal"}}})
	if n := held(); n != 0 {
		t.Fatalf("%d templates after the purge", n)
	}
	if ids, err := a.local.PendingPurgeAcks(); err != nil || len(ids) != 1 || ids[0] != purge {
		t.Fatalf("purge to ack: %v %v", ids, err)
	}
	sync(&gateapi.Sync{Cursor: 3, Full: true})
	if n := held(); n != 0 {
		t.Fatalf("%d templates after the purge and a full sync", n)
	}
}
