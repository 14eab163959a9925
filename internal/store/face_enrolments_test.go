package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/consent"
	"gatepass/internal/dbtest"
	"gatepass/internal/store"
)

func (f *faceFix) startEnrol(resident, gate uuid.UUID, ttl time.Duration) (access.EnrolSession, error) {
	var s access.EnrolSession
	err := f.db.InTx(context.Background(), "resident:"+resident.String(), func(tx *store.Tx) (err error) {
		s, err = tx.StartGateEnrolment(context.Background(), store.EnrolStart{Community: f.c, Resident: resident, Gate: gate, TTL: ttl})
		return err
	})
	return s, err
}

func TestGateEnrolmentSessions(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	f, other := newFaceFix(t, db, 2), newFaceFix(t, db, 1)
	if _, err := f.give(f.adult, f.adult, consent.ScopeOneGate, f.gates[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := f.give(f.neighbour, f.neighbour, consent.ScopeCommunity, uuid.Nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL().Exec(`UPDATE gates SET disabled_at = now() WHERE id = $1`, f.unenrolledGate); err != nil {
		t.Fatal(err)
	}
	q := `SELECT (SELECT count(*) FROM gate_commands) + (SELECT count(*) FROM change_log) + (SELECT count(*) FROM audit_log)`
	before := count(t, db, q)
	for _, c := range []struct {
		name           string
		resident, gate uuid.UUID
		want           error
	}{
		{"another gate than the consent's", f.adult, f.gates[0], store.ErrNoOneGateConsent},
		{"community-scope consent", f.neighbour, f.gates[1], store.ErrNoOneGateConsent},
		{"no consent", f.child, f.gates[1], store.ErrNoOneGateConsent},
		{"another community's gate", f.adult, other.gates[0], access.ErrNotFound},
		{"no such gate", f.adult, uuid.New(), access.ErrNotFound},
		{"disabled gate", f.adult, f.unenrolledGate, access.ErrConflict},
	} {
		if _, err := f.startEnrol(c.resident, c.gate, 0); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if after := count(t, db, q); after != before {
		t.Fatalf("refused sessions changed %d rows", after-before)
	}

	s, err := f.startEnrol(f.adult, f.gates[1], 0)
	if err != nil {
		t.Fatal(err)
	}
	if d := s.ExpiresAt.Sub(s.CreatedAt); d != access.EnrolSessionTTL || s.Gate != f.gates[1] {
		t.Fatalf("session %+v", s)
	}
	if n := count(t, db, `SELECT count(*) FROM audit_log WHERE community_id = $1 AND action = 'face.enrol_session'`, f.c); n != 1 {
		t.Fatalf("audited %d", n)
	}
	// The gate receives it with its payload; the other gate does not.
	g := access.GateIdentity{ID: f.gates[1], Community: f.c}
	sync, _, err := db.GateSync(ctx, g, 0)
	if err != nil || len(sync.Commands) != 1 || sync.Commands[0].Kind != "face_enrol" {
		t.Fatalf("sync %+v %v", sync.Commands, err)
	}
	var p struct { // what the gate reads of a face_enrol payload
		Resident  uuid.UUID `json:"resident_id"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal(sync.Commands[0].Payload, &p); err != nil || p.Resident != f.adult || !p.ExpiresAt.Equal(s.ExpiresAt) {
		t.Fatalf("payload %s: %+v %v", sync.Commands[0].Payload, p, err)
	}
	if s0, _, err := db.GateSync(ctx, access.GateIdentity{ID: f.gates[0], Community: f.c}, 0); err != nil || len(s0.Commands) != 0 {
		t.Fatalf("other gate's commands %+v %v", s0.Commands, err)
	}
	// The resident follows it; another resident or community does not find it.
	got, err := db.GateEnrolment(ctx, f.c, f.adult, s.ID)
	if err != nil || got.ID != s.ID || got.Result != nil || !got.ExpiresAt.Equal(s.ExpiresAt) {
		t.Fatalf("session %+v %v", got, err)
	}
	for _, who := range []struct{ c, r uuid.UUID }{{f.c, f.neighbour}, {other.c, f.adult}} {
		if _, err := db.GateEnrolment(ctx, who.c, who.r, s.ID); !errors.Is(err, access.ErrNotFound) {
			t.Fatalf("foreign lookup: %v", err)
		}
	}
	// The gate acks "enrolled" (gateapi.ResultEnrolled), the app sees it.
	if err := db.AckGateCommand(ctx, g, s.ID, "enrolled"); err != nil {
		t.Fatal(err)
	}
	if got, err := db.GateEnrolment(ctx, f.c, f.adult, s.ID); err != nil || got.Result == nil || *got.Result != "enrolled" || got.AckedAt == nil {
		t.Fatalf("after ack %+v %v", got, err)
	}
	// The migration's checks: a face_enrol command needs its resident and end.
	if _, err := db.SQL().Exec(`INSERT INTO gate_commands (community_id, id, gate_id, kind, payload) VALUES ($1, $2, $3, 'face_enrol', '{}')`,
		f.c, uuid.New(), f.gates[1]); err == nil {
		t.Fatal("a face_enrol command without payload was stored")
	}
	// After withdrawal no session starts.
	if _, err := f.withdraw(f.adult, f.adult); err != nil {
		t.Fatal(err)
	}
	if _, err := f.startEnrol(f.adult, f.gates[1], 0); !errors.Is(err, store.ErrNoOneGateConsent) {
		t.Fatalf("after withdrawal: %v", err)
	}
}
