package store_test

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/consent"
	"gatepass/internal/dbtest"
	"gatepass/internal/face"
	"gatepass/internal/secret"
	"gatepass/internal/store"
)

// faceFix is a community with two units, an adult and a child in unit A, an adult in unit
// B, and gates enrolled with real X25519 box keys.
type faceFix struct {
	db                       *store.DB
	c                        uuid.UUID
	adult, child, neighbour  uuid.UUID
	gates                    []uuid.UUID
	keys                     []*ecdh.PrivateKey
	gen                      *face.Synthetic
	notice                   consent.Notice
	templates                map[uuid.UUID]face.Template // what each resident enrolled, for scans
	unitA                    uuid.UUID
	unenrolledGate           uuid.UUID
	actorAdult, actorGuardia string
}

var fixSeq int

func newFaceFix(t *testing.T, db *store.DB, gates int) *faceFix {
	t.Helper()
	ctx := context.Background()
	key := make([]byte, secret.MasterKeySize)
	_, _ = rand.Read(key)
	sealer, err := secret.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	fixSeq++
	f := &faceFix{db: db, gen: face.NewSynthetic(uint64(fixSeq)), templates: map[uuid.UUID]face.Template{}}
	f.notice, _ = consent.Current("zh")
	err = db.InTx(ctx, "test", func(tx *store.Tx) error {
		com, err := tx.CreateCommunity(ctx, fmt.Sprintf("face %d %s", fixSeq, uuid.NewString()[:8]), sealer)
		if err != nil {
			return err
		}
		f.c = com.ID
		if err := tx.SetFaceOperator(ctx, f.c, consent.Operator{Name: "Sunshine Property", Contact: "privacy@example.com"}); err != nil {
			return err
		}
		b, err := tx.CreateBuilding(ctx, f.c, "B1")
		if err != nil {
			return err
		}
		ua, err := tx.CreateUnit(ctx, f.c, b.ID, "101")
		if err != nil {
			return err
		}
		ub, err := tx.CreateUnit(ctx, f.c, b.ID, "102")
		if err != nil {
			return err
		}
		f.unitA = ua.ID
		mk := func(unit uuid.UUID, under14 bool, role access.ResidentRole) uuid.UUID {
			if err != nil {
				return uuid.Nil
			}
			var r access.Resident
			r, _, err = tx.CreateResident(ctx, store.NewResident{Community: f.c, Name: "R", Under14: under14, Unit: unit, Role: role})
			return r.ID
		}
		f.adult = mk(ua.ID, false, access.RoleOwner)
		f.child = mk(ua.ID, true, access.RoleFamily)
		f.neighbour = mk(ub.ID, false, access.RoleTenant)
		if err != nil {
			return err
		}
		for i := range gates + 1 {
			g, _, err := tx.CreateGate(ctx, store.NewGate{Community: f.c, Name: fmt.Sprintf("G%d", i), Zone: 0, Direction: "both"})
			if err != nil {
				return err
			}
			if i == gates { // one gate never enrolled: it holds nothing and gets no purge
				f.unenrolledGate = g.ID
				continue
			}
			k, err := face.NewGateKey()
			if err != nil {
				return err
			}
			f.gates, f.keys = append(f.gates, g.ID), append(f.keys, k)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The gate engineer's enrollment sets these; here the fixture does.
	for i, g := range f.gates {
		if _, err := db.SQL().Exec(`UPDATE gates SET box_public_key = $3, enrolled_at = now() WHERE community_id = $1 AND id = $2`,
			f.c, g, f.keys[i].PublicKey().Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *faceFix) give(resident, by uuid.UUID, scope consent.Scope, gate uuid.UUID) (store.Consent, error) {
	var out store.Consent
	err := f.db.InTx(context.Background(), "resident:"+by.String(), func(tx *store.Tx) (err error) {
		out, err = tx.GiveConsent(context.Background(), store.GiveConsent{Community: f.c, Resident: resident, GivenBy: by,
			NoticeVersion: f.notice.Version, NoticeLang: f.notice.Lang, NoticeHash: f.notice.Hash[:], Scope: scope, Gate: gate, Channel: "h5"})
		return err
	})
	return out, err
}

// seal makes the blobs a phone would upload: the same template sealed to every gate.
func (f *faceFix) seal(t *testing.T, resident uuid.UUID) []store.SealedTemplate {
	t.Helper()
	tmpl := f.gen.Identity()
	f.templates[resident] = tmpl
	var out []store.SealedTemplate
	for i, g := range f.gates {
		b, err := face.Seal(tmpl, f.keys[i].PublicKey().Bytes(), face.Binding{Community: f.c, Gate: g, Resident: resident, Model: tmpl.Model})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, store.SealedTemplate{Gate: g, Model: tmpl.Model, Sealed: b})
	}
	return out
}

func (f *faceFix) put(resident uuid.UUID, blobs []store.SealedTemplate) (int, error) {
	var n int
	err := f.db.InTx(context.Background(), "resident:"+resident.String(), func(tx *store.Tx) (err error) {
		n, err = tx.PutSealedTemplates(context.Background(), f.c, resident, blobs)
		return err
	})
	return n, err
}

func (f *faceFix) withdraw(resident, by uuid.UUID) (access.PurgeResult, error) {
	var out access.PurgeResult
	err := f.db.InTx(context.Background(), "resident:"+by.String(), func(tx *store.Tx) (err error) {
		out, err = tx.WithdrawConsent(context.Background(), f.c, resident, by)
		return err
	})
	return out, err
}

type changeRow struct {
	Kind   string        `db:"kind"`
	Gate   uuid.NullUUID `db:"gate_id"`
	Entity uuid.UUID     `db:"entity_id"`
	Data   []byte        `db:"data"`
}

func changes(t *testing.T, f *faceFix, kind string) []changeRow {
	t.Helper()
	rows, err := f.db.SQL().Query(`SELECT kind, gate_id, entity_id, data FROM change_log WHERE community_id = $1 AND kind = $2 ORDER BY seq`, f.c, kind)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []changeRow
	for rows.Next() {
		var r changeRow
		if err := rows.Scan(&r.Kind, &r.Gate, &r.Entity, &r.Data); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func count(t *testing.T, db *store.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.SQL().QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// The whole life: consent -> sealed enrolment -> each gate opens its own blob -> the
// database holds no plaintext template -> withdrawal -> purges per gate -> acks.
func TestFaceLifecycle(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	f := newFaceFix(t, db, 2)

	if _, err := f.put(f.adult, f.seal(t, f.adult)); !errors.Is(err, store.ErrNoConsent) {
		t.Fatalf("templates without consent: %v", err)
	}
	cons, err := f.give(f.adult, f.adult, consent.ScopeCommunity, uuid.Nil)
	if err != nil {
		t.Fatal(err)
	}
	if cons.NoticeVersion != consent.CurrentVersion || cons.NoticeLang != "zh" || !bytes.Equal(cons.NoticeHash, f.notice.Hash[:]) || cons.Channel != "h5" {
		t.Fatalf("consent record %+v", cons)
	}
	if _, err := f.give(f.adult, f.adult, consent.ScopeCommunity, uuid.Nil); !errors.Is(err, store.ErrAlreadyConsented) {
		t.Fatalf("second consent: %v", err)
	}
	blobs := f.seal(t, f.adult)
	if n, err := f.put(f.adult, blobs); err != nil || n != 2 {
		t.Fatalf("PutSealedTemplates = %d, %v", n, err)
	}
	// Each gate receives its own blob through sync and only it can open it.
	tc := changes(t, f, "face_template")
	if len(tc) != 2 {
		t.Fatalf("%d face_template changes", len(tc))
	}
	for i, ch := range tc {
		var data store.FaceTemplateChange
		if err := json.Unmarshal(ch.Data, &data); err != nil {
			t.Fatal(err)
		}
		gi := indexOf(f.gates, ch.Gate.UUID)
		if gi < 0 || ch.Entity != f.adult || data.Resident != f.adult {
			t.Fatalf("change %d: %+v", i, ch)
		}
		bind := face.Binding{Community: f.c, Gate: ch.Gate.UUID, Resident: f.adult, Model: data.Model}
		got, err := face.Open(data.Sealed, f.keys[gi], bind)
		if err != nil {
			t.Fatalf("gate %d cannot open its blob: %v", gi, err)
		}
		if s := face.Dot(got.Embedding, f.templates[f.adult].Embedding); s < 0.9999 {
			t.Fatalf("gate %d opened another template (cos %v)", gi, s)
		}
		if _, err := face.Open(data.Sealed, f.keys[1-gi], bind); !errors.Is(err, face.ErrSealed) {
			t.Fatalf("the other gate opened it: %v", err)
		}
	}
	// Re-enrolment replaces the blobs, and the old blobs leave the sync log.
	if _, err := f.put(f.adult, f.seal(t, f.adult)); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM change_log WHERE community_id = $1 AND kind = 'face_template' AND data ? 'sealed'`, f.c); n != 2 {
		t.Fatalf("%d face_template changes still carry a blob after replacement, want 2", n)
	}
	if n := count(t, db, `SELECT count(*) FROM face_templates WHERE community_id = $1`, f.c); n != 2 {
		t.Fatalf("%d template rows", n)
	}

	// A gate's full sync gets its current blob (the replacement) and nothing else.
	snap, err := db.FaceSnapshot(ctx, f.c, f.gates[1])
	if err != nil || len(snap.Templates) != 1 || len(snap.Purges) != 0 {
		t.Fatalf("snapshot %+v %v", snap, err)
	}
	if got, err := face.Open(snap.Templates[0].Sealed, f.keys[1], face.Binding{Community: f.c, Gate: f.gates[1], Resident: f.adult, Model: snap.Templates[0].Model}); err != nil ||
		face.Dot(got.Embedding, f.templates[f.adult].Embedding) < 0.9999 {
		t.Fatalf("snapshot blob: %v", err)
	}

	fg, err := db.FaceGates(ctx, f.c, f.adult)
	if err != nil || len(fg) != 3 {
		t.Fatalf("FaceGates = %+v, %v", fg, err)
	}
	for _, g := range fg {
		if g.HasTemplate != (g.Gate != f.unenrolledGate) || g.OnGateOnly {
			t.Fatalf("FaceGates: %+v", fg)
		}
	}

	scanForTemplates(t, db, f.templates, 0)

	// Withdrawal by the resident: effective at once, a purge per enrolled gate.
	res, err := f.withdraw(f.adult, f.adult)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Consent || res.Templates != 2 || res.Gates != 2 {
		t.Fatalf("withdraw = %+v", res)
	}
	if n := count(t, db, `SELECT count(*) FROM face_templates WHERE community_id = $1`, f.c); n != 0 {
		t.Fatalf("%d templates left on the server", n)
	}
	if n := count(t, db, `SELECT count(*) FROM change_log WHERE community_id = $1 AND data ? 'sealed'`, f.c); n != 0 {
		t.Fatalf("%d sealed blobs left in the sync log", n)
	}
	pc := changes(t, f, "face_purge")
	if len(pc) != 2 {
		t.Fatalf("%d face_purge changes", len(pc))
	}
	var purges []store.FacePurgeChange
	for _, ch := range pc {
		var p store.FacePurgeChange
		_ = json.Unmarshal(ch.Data, &p)
		if p.Resident != f.adult || p.Reason != consent.ReasonWithdrawal || p.Purge != ch.Entity || indexOf(f.gates, ch.Gate.UUID) < 0 {
			t.Fatalf("purge change %+v %+v", ch, p)
		}
		purges = append(purges, p)
	}
	status, err := db.PurgeStatus(ctx, f.c, f.adult)
	if err != nil || len(status) != 2 || status[0].Acked || status[1].Acked {
		t.Fatalf("PurgeStatus = %+v, %v", status, err)
	}
	if _, err := f.put(f.adult, f.seal(t, f.adult)); !errors.Is(err, store.ErrNoConsent) {
		t.Fatalf("templates after withdrawal: %v", err)
	}
	if _, err := f.withdraw(f.adult, f.adult); !errors.Is(err, store.ErrNoConsent) {
		t.Fatalf("second withdrawal: %v", err)
	}

	// Gate 0 acknowledges (twice: idempotent); gate 1 stays offline.
	gate0 := pc[0].Gate.UUID
	ack := func(c, gate, purge uuid.UUID) error {
		return db.InTx(ctx, "gate:"+gate.String(), func(tx *store.Tx) error { return tx.AckPurge(ctx, c, gate, purge) })
	}
	for range 2 {
		if err := ack(f.c, gate0, purges[0].Purge); err != nil {
			t.Fatal(err)
		}
	}
	if err := ack(f.c, pc[1].Gate.UUID, purges[0].Purge); !errors.Is(err, access.ErrNotFound) {
		t.Fatalf("gate 1 acked gate 0's purge: %v", err)
	}
	for i, g := range []uuid.UUID{gate0, pc[1].Gate.UUID} {
		snap, err := db.FaceSnapshot(ctx, f.c, g)
		if err != nil || len(snap.Templates) != 0 || len(snap.Purges) != i {
			t.Fatalf("snapshot of gate %d after withdrawal: %+v %v", i, snap, err)
		}
	}
	status, _ = db.PurgeStatus(ctx, f.c, f.adult)
	for _, s := range status {
		if s.Acked != (s.Gate == gate0) || (s.AckedAt != nil) != s.Acked {
			t.Fatalf("status after one ack: %+v", status)
		}
	}
	var rep access.ConsentReport
	if err := db.InTx(ctx, "staff:x", func(tx *store.Tx) (err error) {
		rep, err = tx.ConsentReport(ctx, f.c, store.ReportPage{Limit: 100})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if rep.Counts.Live != 0 || rep.Counts.Withdrawn != 1 || rep.Counts.PendingPurges != 1 || len(rep.UnackedGates) != 1 ||
		rep.UnackedGates[0].Gate != pc[1].Gate.UUID || len(rep.Withdrawals) != 1 || rep.Withdrawals[0].By != "resident:"+f.adult.String() ||
		len(rep.Residents) != 1 || rep.Residents[0].Status != "withdrawal" || rep.Residents[0].PendingPurges != 1 {
		t.Fatalf("report %+v", rep)
	}
	if n := count(t, db, `SELECT count(*) FROM audit_log WHERE community_id = $1 AND action IN ('face.consent', 'face.enrol', 'face.purge', 'face.purge_ack', 'consent.report')`, f.c); n != 6 {
		t.Fatalf("%d face audit rows, want 6 (consent, 2 enrolments, purge, ack, report)", n)
	}
	if _, err := db.VerifyAudit(ctx); err != nil {
		t.Fatal(err)
	}

	// The record stays: it cannot be deleted within 3 years, nor altered.
	for _, q := range []string{
		`DELETE FROM consents WHERE community_id = $1`,
		`UPDATE consents SET notice_hash = sha256('x') WHERE community_id = $1`,
		`UPDATE consents SET withdrawn_at = now() - interval '5 years' WHERE community_id = $1`,
	} {
		if _, err := db.SQL().Exec(q, f.c); err == nil || !strings.Contains(err.Error(), "consent record") {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// A fresh consent after withdrawal is a new record.
	if _, err := f.give(f.adult, f.adult, consent.ScopeCommunity, uuid.Nil); err != nil {
		t.Fatal(err)
	}
	if list, _ := db.Consents(ctx, f.c, f.adult); len(list) != 2 || list[0].WithdrawnAt != nil || list[1].WithdrawnAt == nil {
		t.Fatalf("consent history %+v", list)
	}
}

func indexOf(list []uuid.UUID, id uuid.UUID) int {
	for i, v := range list {
		if v == id {
			return i
		}
	}
	return -1
}

func TestFaceConsentRules(t *testing.T) {
	db := dbtest.New(t)
	f := newFaceFix(t, db, 1)
	other := newFaceFix(t, db, 1)
	giveIn := func(c, resident, by uuid.UUID, mod func(*store.GiveConsent)) error {
		return db.InTx(context.Background(), "test", func(tx *store.Tx) error {
			in := store.GiveConsent{Community: c, Resident: resident, GivenBy: by, NoticeVersion: f.notice.Version,
				NoticeLang: f.notice.Lang, NoticeHash: f.notice.Hash[:], Scope: consent.ScopeCommunity, Channel: "h5"}
			if mod != nil {
				mod(&in)
			}
			_, err := tx.GiveConsent(context.Background(), in)
			return err
		})
	}
	en, _ := consent.Current("en")
	cases := []struct {
		name            string
		c, resident, by uuid.UUID
		mod             func(*store.GiveConsent)
		want            error
	}{
		{"child for self", f.c, f.child, f.child, nil, consent.ErrGuardianRequired},
		{"neighbour for child", f.c, f.child, f.neighbour, nil, consent.ErrGuardianRequired},
		{"adult for neighbour", f.c, f.neighbour, f.adult, nil, consent.ErrNotSubject},
		{"resident of another community", other.c, f.adult, f.adult, nil, access.ErrNotFound},
		{"guardian of another community", f.c, f.child, other.adult, nil, access.ErrNotFound},
		{"unknown version", f.c, f.adult, f.adult, func(g *store.GiveConsent) { g.NoticeVersion = "0" }, access.ErrInvalid},
		{"hash of the other language", f.c, f.adult, f.adult, func(g *store.GiveConsent) { g.NoticeHash = en.Hash[:] }, access.ErrInvalid},
		{"no channel", f.c, f.adult, f.adult, func(g *store.GiveConsent) { g.Channel = "" }, access.ErrInvalid},
		{"bad scope", f.c, f.adult, f.adult, func(g *store.GiveConsent) { g.Scope = "everywhere" }, access.ErrInvalid},
		{"one_gate without gate", f.c, f.adult, f.adult, func(g *store.GiveConsent) { g.Scope = consent.ScopeOneGate }, access.ErrInvalid},
		{"one_gate at another community's gate", f.c, f.adult, f.adult, func(g *store.GiveConsent) {
			g.Scope, g.Gate = consent.ScopeOneGate, other.gates[0]
		}, access.ErrInvalid},
		{"community scope with a gate", f.c, f.adult, f.adult, func(g *store.GiveConsent) { g.Gate = f.gates[0] }, access.ErrInvalid},
		{"guardian in the same unit", f.c, f.child, f.adult, nil, nil},
		{"adult for self, one gate", f.c, f.adult, f.adult, func(g *store.GiveConsent) { g.Scope, g.Gate = consent.ScopeOneGate, f.gates[0] }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := count(t, db, `SELECT count(*) FROM consents`)
			err := giveIn(tc.c, tc.resident, tc.by, tc.mod)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("GiveConsent = %v, want %v", err, tc.want)
			}
			if after := count(t, db, `SELECT count(*) FROM consents`); (after == before) != (tc.want != nil) {
				t.Fatalf("consents %d -> %d", before, after)
			}
		})
	}
	// Without a named handler there is no notice, so no consent.
	off := newFaceFix(t, db, 1)
	if _, err := db.SQL().Exec(`UPDATE communities SET face_operator_name = NULL, face_operator_contact = NULL WHERE id = $1`, off.c); err != nil {
		t.Fatal(err)
	}
	if _, err := db.FaceOperator(context.Background(), off.c); !errors.Is(err, store.ErrFaceOff) {
		t.Fatalf("FaceOperator = %v", err)
	}
	if _, err := off.give(off.adult, off.adult, consent.ScopeCommunity, uuid.Nil); !errors.Is(err, store.ErrFaceOff) {
		t.Fatalf("consent without an operator: %v", err)
	}
	if op, err := db.FaceOperator(context.Background(), f.c); err != nil || op.Name != "Sunshine Property" {
		t.Fatalf("FaceOperator = %+v, %v", op, err)
	}
	setOp := func(c uuid.UUID, op consent.Operator) error {
		return db.InTx(context.Background(), "staff:x", func(tx *store.Tx) error { return tx.SetFaceOperator(context.Background(), c, op) })
	}
	for _, op := range []consent.Operator{{Name: " ", Contact: "x"}, {Name: "x", Contact: ""}, {Name: strings.Repeat("x", 201), Contact: "x"}} {
		if err := setOp(f.c, op); !errors.Is(err, access.ErrInvalid) {
			t.Fatalf("SetFaceOperator(%+v) = %v", op, err)
		}
	}
	if err := setOp(uuid.New(), consent.Operator{Name: "x", Contact: "y"}); !errors.Is(err, access.ErrNotFound) {
		t.Fatalf("SetFaceOperator on no community: %v", err)
	}

	// Only a guardian of the unit may withdraw for a child.
	if _, err := f.withdraw(f.child, f.neighbour); !errors.Is(err, consent.ErrGuardianRequired) {
		t.Fatalf("neighbour withdrew for the child: %v", err)
	}
	if _, err := f.withdraw(f.adult, f.neighbour); !errors.Is(err, consent.ErrNotSubject) {
		t.Fatalf("neighbour withdrew for the adult: %v", err)
	}
	if res, err := f.withdraw(f.child, f.adult); err != nil || !res.Consent {
		t.Fatalf("guardian withdrawal: %+v %v", res, err)
	}

	// One-gate consent: no blob may be uploaded; the gate records its own enrolment.
	if _, err := f.put(f.adult, f.seal(t, f.adult)); !errors.Is(err, access.ErrConflict) {
		t.Fatalf("blobs for a one_gate consent: %v", err)
	}
	enrol := func(c, gate, resident uuid.UUID, model string) error {
		return db.InTx(context.Background(), "gate:"+gate.String(), func(tx *store.Tx) error {
			return tx.RecordGateEnrolment(context.Background(), c, gate, resident, model)
		})
	}
	if err := enrol(f.c, f.unenrolledGate, f.adult, "synthetic-512"); !errors.Is(err, store.ErrNoConsent) {
		t.Fatalf("enrolment at another gate: %v", err)
	}
	if err := enrol(other.c, other.gates[0], f.adult, "synthetic-512"); !errors.Is(err, store.ErrNoConsent) {
		t.Fatalf("enrolment in another community: %v", err)
	}
	if err := enrol(f.c, f.gates[0], f.adult, "nope"); !errors.Is(err, access.ErrInvalid) {
		t.Fatalf("unknown model: %v", err)
	}
	if err := enrol(f.c, f.gates[0], f.adult, "synthetic-512"); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM face_templates WHERE community_id = $1 AND sealed IS NULL`, f.c); n != 1 {
		t.Fatalf("%d gate-only template rows", n)
	}
	cnt, err := db.FaceTemplateCount(context.Background(), f.c)
	if err != nil || cnt.Residents != 1 || cnt.Scope != "community" || cnt.Warning {
		t.Fatalf("count %+v %v", cnt, err)
	}
}

func TestPutSealedTemplatesRefusesBadBlobs(t *testing.T) {
	db := dbtest.New(t)
	f := newFaceFix(t, db, 2)
	other := newFaceFix(t, db, 1)
	if _, err := f.give(f.adult, f.adult, consent.ScopeCommunity, uuid.Nil); err != nil {
		t.Fatal(err)
	}
	good := f.seal(t, f.adult)
	mod := func(m func([]store.SealedTemplate) []store.SealedTemplate) []store.SealedTemplate {
		cp := append([]store.SealedTemplate(nil), good...)
		return m(cp)
	}
	cases := []struct {
		name  string
		blobs []store.SealedTemplate
		want  error
	}{
		{"none", nil, access.ErrInvalid},
		{"one gate missing", good[:1], access.ErrInvalid},
		{"same gate twice", mod(func(b []store.SealedTemplate) []store.SealedTemplate { b[1].Gate = b[0].Gate; return b }), access.ErrInvalid},
		{"another community's gate", mod(func(b []store.SealedTemplate) []store.SealedTemplate { b[1].Gate = other.gates[0]; return b }), access.ErrInvalid},
		{"gate without a key", mod(func(b []store.SealedTemplate) []store.SealedTemplate { b[1].Gate = f.unenrolledGate; return b }), access.ErrInvalid},
		{"unknown model", mod(func(b []store.SealedTemplate) []store.SealedTemplate { b[0].Model = "x"; return b }), access.ErrInvalid},
		{"plaintext floats", mod(func(b []store.SealedTemplate) []store.SealedTemplate {
			b[0].Sealed = make([]byte, 2048)
			return b
		}), access.ErrInvalid},
		{"too big", mod(func(b []store.SealedTemplate) []store.SealedTemplate {
			b[0].Sealed = append([]byte("GPF1"), make([]byte, 5000)...)
			return b
		}), access.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := f.put(f.adult, tc.blobs); !errors.Is(err, tc.want) {
				t.Fatalf("PutSealedTemplates = %v, want %v", err, tc.want)
			}
			if n := count(t, db, `SELECT count(*) FROM face_templates WHERE community_id = $1`, f.c); n != 0 {
				t.Fatalf("a refused upload stored %d templates", n)
			}
		})
	}
	// The right blobs under the wrong community are refused: no consent there.
	err := db.InTx(context.Background(), "test", func(tx *store.Tx) error {
		_, err := tx.PutSealedTemplates(context.Background(), other.c, f.adult, good)
		return err
	})
	if !errors.Is(err, store.ErrNoConsent) {
		t.Fatalf("wrong community: %v", err)
	}
}

func TestPurgeOnMoveOutAndRetention(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	f := newFaceFix(t, db, 2)
	for _, r := range []uuid.UUID{f.adult, f.neighbour} {
		if _, err := f.give(r, r, consent.ScopeCommunity, uuid.Nil); err != nil {
			t.Fatal(err)
		}
		if _, err := f.put(r, f.seal(t, r)); err != nil {
			t.Fatal(err)
		}
	}
	// A resident with no face data: a move-out purge is a no-op.
	purge := func(r uuid.UUID, reason consent.Reason) access.PurgeResult {
		var res access.PurgeResult
		err := db.InTx(ctx, "staff:x", func(tx *store.Tx) (err error) { res, err = tx.PurgeFaceData(ctx, f.c, r, reason); return err })
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := purge(f.child, consent.ReasonMoveOut); res != (access.PurgeResult{}) {
		t.Fatalf("purge of a resident without face data: %+v", res)
	}
	if n := count(t, db, `SELECT count(*) FROM face_purges WHERE community_id = $1`, f.c); n != 0 {
		t.Fatalf("%d purges for nothing", n)
	}
	if res := purge(f.adult, consent.ReasonMoveOut); !res.Consent || res.Templates != 2 || res.Gates != 2 {
		t.Fatalf("move-out purge: %+v", res)
	}
	if err := db.InTx(ctx, "x", func(tx *store.Tx) error { _, err := tx.PurgeFaceData(ctx, f.c, f.adult, "whim"); return err }); !errors.Is(err, access.ErrInvalid) {
		t.Fatalf("unknown reason: %v", err)
	}

	// Retention: the neighbour entered by face 100 days from now; a sweep at 200 days
	// with a 180-day period leaves them, one at 290 days purges them.
	later := time.Now().Add(100 * 24 * time.Hour)
	if err := db.InTx(ctx, "gate:x", func(tx *store.Tx) error { return tx.NoteFaceEntry(ctx, f.c, f.neighbour, later) }); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RetentionSweep(ctx, time.Now(), 0); !errors.Is(err, access.ErrInvalid) {
		t.Fatalf("zero period: %v", err)
	}
	// (The sweep is deployment-wide: other tests' communities count in n.)
	if _, err := db.RetentionSweep(ctx, time.Now().Add(200*24*time.Hour), consent.DefaultRetention); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM consents WHERE community_id = $1 AND resident_id = $2 AND withdrawn_at IS NULL`, f.c, f.neighbour); n != 1 {
		t.Fatal("the early sweep purged a resident who entered by face within the period")
	}
	n, err := db.RetentionSweep(ctx, time.Now().Add(290*24*time.Hour), consent.DefaultRetention)
	if err != nil || n < 1 {
		t.Fatalf("sweep purged %d, %v", n, err)
	}
	var reason, by string
	if err := db.SQL().QueryRow(`SELECT end_reason, withdrawn_by FROM consents WHERE community_id = $1 AND resident_id = $2`, f.c, f.neighbour).Scan(&reason, &by); err != nil || reason != "retention" || by != "system:retention" {
		t.Fatalf("retention end: %s %s %v", reason, by, err)
	}
	status, _ := db.PurgeStatus(ctx, f.c, f.neighbour)
	if len(status) != 2 || status[0].Reason != "retention" {
		t.Fatalf("retention purge status %+v", status)
	}
	if n := count(t, db, `SELECT count(*) FROM face_templates WHERE community_id = $1`, f.c); n != 0 {
		t.Fatalf("%d templates left", n)
	}
}

// FaceTemplateCount warns at 90,000 people across the deployment.
func TestFaceTemplateCountWarning(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	f := newFaceFix(t, db, 1)
	before, err := db.FaceTemplateCount(ctx, uuid.Nil)
	if err != nil {
		t.Fatal(err)
	}
	// Bulk rows straight in SQL: 90,000 one-gate enrolments in this community.
	_, err = db.SQL().Exec(`
		WITH r AS (INSERT INTO residents (community_id, id, name) SELECT $1, gen_random_uuid(), 'bulk' FROM generate_series(1, $3) RETURNING id),
		c AS (INSERT INTO consents (community_id, id, resident_id, given_by, purpose, scope, gate_id, notice_version, notice_language, notice_hash, channel)
			SELECT $1, gen_random_uuid(), id, id, 'face_entry', 'one_gate', $2, '1', 'zh', sha256('x'), 'bulk' FROM r RETURNING id, resident_id)
		INSERT INTO face_templates (community_id, id, resident_id, consent_id, gate_id, model)
			SELECT $1, gen_random_uuid(), resident_id, id, $2, 'synthetic-512' FROM c`, f.c, f.gates[0], access.FilingWarnAt-before.Residents-1)
	if err != nil {
		t.Fatal(err)
	}
	below, _ := db.FaceTemplateCount(ctx, uuid.Nil)
	if below.Residents != access.FilingWarnAt-1 || below.Warning || below.Scope != "deployment" {
		t.Fatalf("below: %+v", below.Residents)
	}
	if _, err := f.give(f.adult, f.adult, consent.ScopeCommunity, uuid.Nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.put(f.adult, f.seal(t, f.adult)); err != nil {
		t.Fatal(err)
	}
	at, _ := db.FaceTemplateCount(ctx, uuid.Nil)
	if at.Residents != access.FilingWarnAt || !at.Warning || at.Threshold != 100_000 {
		t.Fatalf("at: %d %v", at.Residents, at.Warning)
	}
}

// scanForTemplates searches every bytea, text, json and jsonb column of the database for
// the templates' floats: raw little- and big-endian bytes (raw and normalised), decimal
// text as JSON would print them, and base64 of the raw bytes. want is the number of hits
// expected (0 after enrolment; > 0 for the positive control).
func scanForTemplates(t *testing.T, db *store.DB, templates map[uuid.UUID]face.Template, want int) {
	t.Helper()
	if len(templates) == 0 {
		t.Fatal("nothing to scan for")
	}
	var needles [][]byte
	for _, tmpl := range templates {
		n, _ := tmpl.Normalized()
		for _, v := range [][]float32{tmpl.Embedding, n.Embedding} {
			for _, order := range []binary.AppendByteOrder{binary.LittleEndian, binary.BigEndian} {
				raw := make([]byte, 0, 4*len(v))
				for _, x := range v {
					raw = order.AppendUint32(raw, math.Float32bits(x))
				}
				for i := 0; i+8 <= len(raw); i += 32 {
					needles = append(needles, raw[i:i+8])
				}
				for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
					for off := range 3 {
						s := enc.EncodeToString(raw[off:])
						needles = append(needles, []byte(s[40:56]))
					}
				}
			}
			for i := 0; i+1 < len(v); i += 16 {
				for _, bits := range []int{32, 64} {
					a, b := strconv.FormatFloat(float64(v[i]), 'g', -1, bits), strconv.FormatFloat(float64(v[i+1]), 'g', -1, bits)
					needles = append(needles, []byte(a+","+b), []byte(a+", "+b)) // json, jsonb
				}
			}
		}
	}
	rows, err := db.SQL().Query(`SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c
		JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
		WHERE c.table_schema = 'public' AND c.data_type IN ('bytea', 'text', 'json', 'jsonb', 'character varying', 'ARRAY')`)
	if err != nil {
		t.Fatal(err)
	}
	type col struct{ table, name, typ string }
	var cols []col
	for rows.Next() {
		var c col
		_ = rows.Scan(&c.table, &c.name, &c.typ)
		cols = append(cols, c)
	}
	rows.Close()
	hits, scanned := 0, 0
	for _, c := range cols {
		expr := fmt.Sprintf("convert_to(%q::text, 'UTF8')", c.name)
		if c.typ == "bytea" {
			expr = fmt.Sprintf("%q", c.name)
		}
		vals, err := db.SQL().Query(fmt.Sprintf("SELECT %s FROM %q WHERE %q IS NOT NULL", expr, c.table, c.name))
		if err != nil {
			t.Fatalf("scan %s.%s: %v", c.table, c.name, err)
		}
		for vals.Next() {
			var b []byte
			_ = vals.Scan(&b)
			scanned++
			for _, nd := range needles {
				if bytes.Contains(b, nd) {
					hits++
					t.Logf("template data in %s.%s", c.table, c.name)
					break
				}
			}
		}
		vals.Close()
	}
	if scanned < 20 {
		t.Fatalf("scanned only %d values", scanned)
	}
	if hits != want {
		t.Fatalf("%d values hold template data in %d columns (%d values scanned), want %d", hits, len(cols), scanned, want)
	}
}

// The scan finds a template stored in clear (so its silence after enrolment means something).
func TestScanFindsPlaintext(t *testing.T) {
	db := dbtest.New(t)
	tmpl := face.NewSynthetic(77).Identity()
	raw := make([]byte, 0, 2048)
	for _, v := range tmpl.Embedding {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
	}
	js, _ := json.Marshal(tmpl)
	if _, err := db.SQL().Exec(`CREATE TABLE scan_control (b bytea, j jsonb, s text)`); err != nil {
		t.Fatal(err)
	}
	defer db.SQL().Exec(`DROP TABLE scan_control`)
	for _, q := range []string{`INSERT INTO scan_control (b) VALUES ($1)`, `INSERT INTO scan_control (j) VALUES ($1)`, `INSERT INTO scan_control (s) VALUES ($1)`} {
		var arg any = raw
		switch {
		case strings.Contains(q, "(j)"):
			arg = string(js)
		case strings.Contains(q, "(s)"):
			arg = base64.StdEncoding.EncodeToString(raw)
		}
		if _, err := db.SQL().Exec(q, arg); err != nil {
			t.Fatal(err)
		}
	}
	f := newFaceFix(t, db, 1) // enough rows for the scan to be meaningful
	_ = f
	scanForTemplates(t, db, map[uuid.UUID]face.Template{uuid.New(): tmpl}, 3)
}

// simGate is what a gate agent does with face data, driven straight from the store: the
// real sealed blobs, keys and matcher; only the HTTP sync in between is left out.
type simGate struct {
	id     uuid.UUID
	key    *ecdh.PrivateKey
	m      *face.Matcher
	cursor int64
}

func (g *simGate) bind(f *faceFix, resident uuid.UUID, model string) face.Binding {
	return face.Binding{Community: f.c, Gate: g.id, Resident: resident, Model: model}
}

// full applies a full snapshot: the templates sealed to this gate.
func (g *simGate) full(t *testing.T, f *faceFix) {
	t.Helper()
	snap, err := f.db.FaceSnapshot(context.Background(), f.c, g.id)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range snap.Templates {
		if err := g.m.PutSealed(tc.Sealed, g.key, g.bind(f, tc.Resident, tc.Model)); err != nil {
			t.Fatal(err)
		}
	}
	_ = f.db.SQL().QueryRow(`SELECT coalesce(max(seq), 0) FROM change_log WHERE community_id = $1`, f.c).Scan(&g.cursor)
}

// delta applies this gate's changes since its cursor and acknowledges purges.
func (g *simGate) delta(t *testing.T, f *faceFix) {
	t.Helper()
	rows, err := f.db.SQL().Query(`SELECT seq, kind, data FROM change_log WHERE community_id = $1 AND seq > $2
		AND (gate_id IS NULL OR gate_id = $3) AND kind IN ('face_template', 'face_purge') ORDER BY seq`, f.c, g.cursor, g.id)
	if err != nil {
		t.Fatal(err)
	}
	type change struct {
		kind string
		data []byte
	}
	var list []change
	for rows.Next() {
		var c change
		_ = rows.Scan(&g.cursor, &c.kind, &c.data)
		list = append(list, c)
	}
	rows.Close()
	for _, c := range list {
		switch c.kind {
		case "face_template":
			var tc store.FaceTemplateChange
			_ = json.Unmarshal(c.data, &tc)
			if len(tc.Sealed) == 0 {
				continue // scrubbed
			}
			if err := g.m.PutSealed(tc.Sealed, g.key, g.bind(f, tc.Resident, tc.Model)); err != nil {
				t.Fatal(err)
			}
		case "face_purge":
			var p store.FacePurgeChange
			_ = json.Unmarshal(c.data, &p)
			g.m.Remove(p.Resident)
			err := f.db.InTx(context.Background(), "gate:"+g.id.String(), func(tx *store.Tx) error {
				return tx.AckPurge(context.Background(), f.c, g.id, p.Purge)
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
}

// Consent -> enrolment -> match at two gates -> withdrawal -> denial at both and every
// gate's acknowledgement recorded.
func TestFaceAtTwoGates(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	f := newFaceFix(t, db, 2)
	var gates []*simGate
	for i, id := range f.gates {
		m, _ := face.NewMatcher(face.DefaultThreshold)
		gates = append(gates, &simGate{id: id, key: f.keys[i], m: m})
	}
	gates[0].full(t, f) // gate 0 synced before anyone enrolled; gate 1 comes up later
	for _, r := range []uuid.UUID{f.adult, f.neighbour} {
		if _, err := f.give(r, r, consent.ScopeCommunity, uuid.Nil); err != nil {
			t.Fatal(err)
		}
		if _, err := f.put(r, f.seal(t, r)); err != nil {
			t.Fatal(err)
		}
	}
	gates[0].delta(t, f)
	gates[1].full(t, f)
	probe := func(g *simGate, r uuid.UUID) face.Result {
		res, err := g.m.Match(f.gen.Probe(f.templates[r], 0.7))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for i, g := range gates {
		for _, r := range []uuid.UUID{f.adult, f.neighbour} {
			if res := probe(g, r); !res.Matched || res.Resident != r {
				t.Fatalf("gate %d, before withdrawal: %+v", i, res)
			}
		}
	}
	if _, err := f.withdraw(f.adult, f.adult); err != nil {
		t.Fatal(err)
	}
	for i, g := range gates {
		g.delta(t, f)
		if res := probe(g, f.adult); res.Matched {
			t.Fatalf("gate %d still matches the withdrawn resident: %+v", i, res)
		}
		if res := probe(g, f.neighbour); !res.Matched || res.Resident != f.neighbour {
			t.Fatalf("gate %d lost the other resident: %+v", i, res)
		}
	}
	status, err := db.PurgeStatus(ctx, f.c, f.adult)
	if err != nil || len(status) != 2 || !status[0].Acked || !status[1].Acked {
		t.Fatalf("purge status %+v %v", status, err)
	}
	var rep access.ConsentReport
	_ = db.InTx(ctx, "staff:x", func(tx *store.Tx) (err error) {
		rep, err = tx.ConsentReport(ctx, f.c, store.ReportPage{Limit: 100})
		return err
	})
	if len(rep.UnackedGates) != 0 || rep.Counts.PendingPurges != 0 || rep.Counts.Live != 1 {
		t.Fatalf("report after every ack: %+v", rep.Counts)
	}
}
