package gatefault

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/consent"
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

	if code, out := a.postEnrol(enrolBody(me, true)); code != http.StatusConflict {
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
	var rows, blobs int
	if err := e.db.SQL().QueryRow(`SELECT count(*) FILTER (WHERE gate_id = $2 AND sealed IS NULL), count(sealed)
		FROM face_templates WHERE resident_id = $1`, e.resident, a.id).Scan(&rows, &blobs); err != nil || rows != 1 || blobs != 0 {
		t.Fatalf("face_templates: on-gate rows %d, blobs %d, %v", rows, blobs, err)
	}
	var logged int
	if err := e.db.SQL().QueryRow(`SELECT count(*) FROM change_log WHERE kind = 'face_template' AND entity_id = $1`, e.resident).Scan(&logged); err != nil || logged != 0 {
		t.Fatalf("face_template changes for a one-gate resident: %d %v", logged, err)
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
		var acked int
		_ = e.db.SQL().QueryRow(`SELECT count(*) FROM face_purges WHERE gate_id = $1 AND resident_id = $2 AND acked_at IS NOT NULL`,
			a.id, e.resident).Scan(&acked)
		return acked == 1
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
	var s store.EnrolSession
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

func enrolBody(t face.Template, live bool) string {
	raw, _ := json.Marshal(map[string]any{"model": t.Model, "embedding": t.Embedding, "liveness": live})
	return string(raw)
}

// postEnrol sends a body to the agent's local POST /face/enrol.
func (g *gateAgent) postEnrol(body string) (int, map[string]any) {
	g.e.t.Helper()
	resp, err := http.Post("http://"+g.local+"/face/enrol", "application/json", strings.NewReader(body))
	if err != nil {
		g.e.t.Fatalf("POST /face/enrol: %v", err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}
