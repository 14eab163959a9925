package gatefault

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/consent"
	"gatepass/internal/dbtest"
	"gatepass/internal/face"
	"gatepass/internal/store"
)

// One-gate enrolment end to end with real processes: a resident consents to face entry
// at gate A only, starts a session (the store call mobile-api's POST /face/enrolment
// makes), the reader at A posts the capture to the agent's POST /face/enrol, the server
// records the enrolment without any template bytes, A grants the resident's face and B
// does not know it; withdrawal purges it at A, acknowledged, and the face is refused.
func TestOneGateEnrolmentAtTheGate(t *testing.T) {
	e := newEnv(t)
	a, b := e.onlineGates()
	e.offerFace()
	gen := face.NewSynthetic(7)
	me := gen.Identity()
	e.oneGateConsent(e.resident, a.id)

	if code, out := a.postEnrol(enrolBody(me, true)); code != http.StatusConflict || errCode(out) != "no_enrolment_session" {
		t.Fatalf("/face/enrol without a session: %d %v", code, out)
	}

	// A session for another resident at gate B opens nothing at A.
	other := e.newResident("Other")
	otherFace := gen.Identity()
	e.oneGateConsent(other, b.id)
	e.startEnrol(other, b.id, time.Minute)
	waitFor(t, 5*time.Second, "session open at B", func() bool { code, _ := b.postEnrol(enrolBody(otherFace, true)); return code == 201 })
	if code, out := a.postEnrol(enrolBody(otherFace, true)); code != http.StatusConflict {
		t.Fatalf("/face/enrol at A during B's session: %d %v", code, out)
	}

	session := e.startEnrol(e.resident, a.id, time.Minute)
	// No liveness and a bad template are refused, and leave the session open.
	waitFor(t, 5*time.Second, "session open at A", func() bool { code, _ := a.postEnrol(enrolBody(me, false)); return code == 422 })
	if code, out := a.postEnrol(`{"model":"synthetic-512","embedding":[1,2,3],"liveness":true}`); code != 422 {
		t.Fatalf("wrong dimension: %d %v", code, out)
	}
	if code, out := a.postEnrol(`{"model":"synthetic-512"`); code != 400 {
		t.Fatalf("malformed: %d %v", code, out)
	}
	code, out := a.postEnrol(enrolBody(me, true))
	if code != 201 || out["result"] != "enrolled" || out["reported"] != true {
		t.Fatalf("/face/enrol: %d %v", code, out)
	}
	if code, out := a.postEnrol(enrolBody(me, true)); code != http.StatusConflict {
		t.Fatalf("second /face/enrol: %d %v", code, out)
	}
	waitFor(t, 5*time.Second, "command acked enrolled", func() bool { return e.commandResult(session) == "enrolled" })
	// The server knows the enrolment and holds no template bytes for the resident.
	resident := dbtest.Eq("resident_id", e.resident)
	rows := dbtest.Count(t, e.db.SQL(), dbtest.FaceTemplates, resident, dbtest.Eq("gate_id", a.id), dbtest.Null("sealed"))
	blobs := dbtest.Count(t, e.db.SQL(), dbtest.FaceTemplates, resident, dbtest.NotNull("sealed"))
	if rows != 1 || blobs != 0 {
		t.Fatalf("face_templates: on-gate rows %d, blobs %d", rows, blobs)
	}
	if logged := dbtest.Count(t, e.db.SQL(), dbtest.ChangeLog, dbtest.Eq("kind", "face_template"), dbtest.Eq("entity_id", e.resident)); logged != 0 {
		t.Fatalf("face_template changes for a one-gate resident: %d", logged)
	}

	probe := gen.Probe(me, 0.7)
	if r := faceReason(a.probe(probe)); r != "granted" {
		t.Fatalf("probe at A: %s", r)
	}
	if n := a.doorOpenings(); n != 1 {
		t.Fatalf("A opened %d times", n)
	}
	if r := faceReason(b.probe(probe)); r != "face_no_match" {
		t.Fatalf("probe at B: %s", r)
	}
	if n := b.doorOpenings(); n != 0 {
		t.Fatalf("B opened %d times", n)
	}
	// The template survives a restart (sealed on A's disk).
	a.kill()
	a.start()
	a.waitOnline(true)
	if r := faceReason(a.probe(probe)); r != "granted" {
		t.Fatalf("probe at A after restart: %s", r)
	}

	// A session that ended before the capture: acked expired, and the reader is refused.
	late := e.startEnrol(e.resident, a.id, time.Second)
	waitFor(t, 10*time.Second, "expired session acked", func() bool { return e.commandResult(late) == "expired" })
	if code, out := a.postEnrol(enrolBody(me, true)); code != http.StatusConflict {
		t.Fatalf("/face/enrol after expiry: %d %v", code, out)
	}

	// Withdrawal purges the locally enrolled template at A, which acknowledges.
	ctx := context.Background()
	err := e.db.InTx(ctx, "resident:"+e.resident, func(tx *store.Tx) error {
		_, err := tx.WithdrawConsent(ctx, uuid.MustParse(e.community), uuid.MustParse(e.resident), uuid.MustParse(e.resident))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "purge acknowledged by A", func() bool {
		return dbtest.Count(t, e.db.SQL(), dbtest.FacePurges, dbtest.Eq("gate_id", a.id), dbtest.Eq("resident_id", e.resident), dbtest.NotNull("acked_at")) == 1
	})
	if r := faceReason(a.probe(probe)); r != "face_no_match" {
		t.Fatalf("probe at A after withdrawal: %s", r)
	}
	a.kill()
	a.start()
	if r := faceReason(a.probe(probe)); r != "face_no_match" {
		t.Fatalf("probe at A after withdrawal and restart: %s", r)
	}
	// The other resident, enrolled at B, is untouched.
	if r := faceReason(b.probe(gen.Probe(otherFace, 0.7))); r != "granted" {
		t.Fatalf("other resident at B: %s", r)
	}
}

// The report of an enrolment survives the server being away (the gate keeps the command
// pending and reports after it is back), and a report the server refuses (consent
// withdrawn during the session) drops the template again.
func TestOneGateEnrolmentReportRetriedOrRefused(t *testing.T) {
	e := newEnv(t)
	a := e.newGate()
	a.start()
	a.waitOnline(true)
	e.offerFace()
	gen := face.NewSynthetic(11)
	me := gen.Identity()
	e.oneGateConsent(e.resident, a.id)
	session := e.startEnrol(e.resident, a.id, time.Minute)
	waitFor(t, 5*time.Second, "session open at A", func() bool { code, _ := a.postEnrol(enrolBody(me, false)); return code == 422 })
	e.killServer()
	if code, out := a.postEnrol(enrolBody(me, true)); code != 201 || out["reported"] != false {
		t.Fatalf("/face/enrol with the server away: %d %v", code, out)
	}
	if r := faceReason(a.probe(gen.Probe(me, 0.7))); r != "granted" {
		t.Fatalf("probe while the server is away: %s", r)
	}
	e.startServer()
	waitFor(t, 10*time.Second, "enrolment reported and acked after the server is back", func() bool {
		rows := dbtest.Count(t, e.db.SQL(), dbtest.FaceTemplates, dbtest.Eq("gate_id", a.id), dbtest.Eq("resident_id", e.resident), dbtest.Null("sealed"))
		return rows == 1 && e.commandResult(session) == "enrolled"
	})

	// Consent withdrawn while the session is open: the server refuses the report, the
	// gate drops the template and acks the command "failed".
	other := e.newResident("Other")
	otherFace := gen.Identity()
	e.oneGateConsent(other, a.id)
	refused := e.startEnrol(other, a.id, time.Minute)
	waitFor(t, 5*time.Second, "second session open at A", func() bool { code, _ := a.postEnrol(enrolBody(otherFace, false)); return code == 422 })
	ctx := context.Background()
	if err := e.db.InTx(ctx, "resident:"+other, func(tx *store.Tx) error {
		_, err := tx.WithdrawConsent(ctx, uuid.MustParse(e.community), uuid.MustParse(other), uuid.MustParse(other))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if code, out := a.postEnrol(enrolBody(otherFace, true)); code != http.StatusConflict || errCode(out) != "enrolment_refused" {
		t.Fatalf("/face/enrol after withdrawal: %d %v", code, out)
	}
	if r := faceReason(a.probe(gen.Probe(otherFace, 0.7))); r != "face_no_match" {
		t.Fatalf("probe of the withdrawn resident: %s", r)
	}
	waitFor(t, 10*time.Second, "refused session acked failed", func() bool { return e.commandResult(refused) == "failed" })
	if rows := dbtest.Count(t, e.db.SQL(), dbtest.FaceTemplates, dbtest.Eq("resident_id", other)); rows != 0 {
		t.Fatalf("server rows for the withdrawn resident: %d", rows)
	}
	a.kill()
	a.start()
	if r := faceReason(a.probe(gen.Probe(otherFace, 0.7))); r != "face_no_match" {
		t.Fatalf("withdrawn resident after restart: %s", r)
	}
	if r := faceReason(a.probe(gen.Probe(me, 0.7))); r != "granted" {
		t.Fatalf("enrolled resident after restart: %s", r)
	}
}

// oneGateConsent records a one_gate consent for gate through the store, as mobile-api
// does after the passkey step-up.
func (e *env) oneGateConsent(resident, gate string) {
	e.t.Helper()
	ctx := context.Background()
	n, err := consent.Current("en")
	if err != nil {
		e.t.Fatal(err)
	}
	r := uuid.MustParse(resident)
	err = e.db.InTx(ctx, "resident:"+resident, func(tx *store.Tx) error {
		_, err := tx.GiveConsent(ctx, store.GiveConsent{Community: uuid.MustParse(e.community), Resident: r, GivenBy: r,
			NoticeVersion: n.Version, NoticeLang: n.Lang, NoticeHash: n.Hash[:], Scope: consent.ScopeOneGate,
			Gate: uuid.MustParse(gate), Channel: "h5"})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// startEnrol opens an enrolment session at gate through the store call of mobile-api.
func (e *env) startEnrol(resident, gate string, ttl time.Duration) uuid.UUID {
	e.t.Helper()
	ctx := context.Background()
	var s access.EnrolSession
	err := e.db.InTx(ctx, "resident:"+resident, func(tx *store.Tx) (err error) {
		s, err = tx.StartGateEnrolment(ctx, store.EnrolStart{Community: uuid.MustParse(e.community), Resident: uuid.MustParse(resident),
			Gate: uuid.MustParse(gate), TTL: ttl})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return s.ID
}

func errCode(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func enrolBody(t face.Template, live bool) string {
	raw, _ := json.Marshal(map[string]any{"model": t.Model, "embedding": t.Embedding, "liveness": live})
	return string(raw)
}

// postEnrol sends a body to the agent's local POST /face/enrol.
func (g *gateAgent) postEnrol(body string) (int, map[string]any) {
	return g.postLocal("/face/enrol", body)
}
