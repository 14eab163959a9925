package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/apitest"
	"gatepass/internal/browsertest"
	"gatepass/internal/consent"
	"gatepass/internal/dbtest"
	"gatepass/internal/store"
)

// gateIDs lists community f's gates, oldest first.
func (h *harness) gateIDs(f community) []uuid.UUID {
	h.t.Helper()
	var out []uuid.UUID
	dbtest.List(h.t, h.sql, &out, dbtest.Gates, "id", dbtest.Eq("community_id", f.id))
	created := map[uuid.UUID]time.Time{}
	for _, g := range out {
		var at time.Time
		dbtest.Get(h.t, h.sql, &at, dbtest.Gates, "created_at", dbtest.Eq("id", g))
		created[g] = at
	}
	slices.SortStableFunc(out, func(a, b uuid.UUID) int { return created[a].Compare(created[b]) }) // ties stay in id order
	return out
}

// consentTo records a consent through the store, as POST /face/consent does after the
// passkey step-up (tested there); gate is uuid.Nil for scope community.
func (h *harness) consentTo(f community, m member, scope consent.Scope, gate uuid.UUID) {
	h.t.Helper()
	ctx := context.Background()
	n, err := consent.Current("en")
	if err != nil {
		h.t.Fatal(err)
	}
	err = h.db.InTx(ctx, "test", func(tx *store.Tx) error {
		_, err := tx.GiveConsent(ctx, store.GiveConsent{Community: f.id, Resident: m.id, GivenBy: m.id, NoticeVersion: n.Version,
			NoticeLang: n.Lang, NoticeHash: n.Hash[:], Scope: scope, Gate: gate, Channel: "h5"})
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) offerFace(f community) {
	h.t.Helper()
	ctx := context.Background()
	if err := h.db.InTx(ctx, "test", func(tx *store.Tx) error {
		return tx.SetFaceOperator(ctx, f.id, consent.Operator{Name: "Sunshine Property", Contact: "privacy@example.com"})
	}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) commands() int {
	h.t.Helper()
	return dbtest.Count(h.t, h.sql, dbtest.GateCommands)
}

func TestFaceEnrolmentSession(t *testing.T) {
	h := newHarness(t, testLimits)
	f, elsewhere := h.community(), h.community()
	h.offerFace(f)
	h.faceGates(f, 2)
	h.faceGates(elsewhere, 1)
	gates, foreign := h.gateIDs(f), h.gateIDs(elsewhere)[0]
	m, other, whole := h.signUp(f), h.signUp(f), h.signUp(f)
	const path = "/api/v1/face/enrolment"
	start := map[string]any{"gate_id": gates[0].String()}

	h.consentTo(f, whole, consent.ScopeCommunity, uuid.Nil)
	h.consentTo(f, m, consent.ScopeOneGate, gates[1])
	before, cmds := h.snapshot(), h.commands()
	for _, tok := range []string{"", "not-a-token", "gpr_" + strings.Repeat("A", 64)} {
		h.MustFail(401, "unauthorized", "POST", path, tok, start)
		h.MustFail(401, "unauthorized", "GET", path+"/"+uuid.NewString(), tok, nil)
	}
	// No consent; a community-scope consent (enrols on the phone, not here); a one-gate
	// consent for the other gate.
	h.MustFail(409, "no_one_gate_consent", "POST", path, other.token, start)
	h.MustFail(409, "no_one_gate_consent", "POST", path, whole.token, start)
	h.MustFail(409, "no_one_gate_consent", "POST", path, m.token, start)
	// Gates that are not this community's are not found, whatever the consent.
	h.MustFail(404, "not_found", "POST", path, m.token, map[string]any{"gate_id": foreign.String()})
	h.MustFail(404, "not_found", "POST", path, m.token, map[string]any{"gate_id": uuid.NewString()})
	// Bad input.
	for _, bad := range []struct {
		body   string
		status int
	}{{`not json`, 400}, {`{"gate_id":"` + gates[1].String() + `","x":1}`, 400}, {`{"gate_id":1}`, 400},
		{`{}`, 422}, {`{"gate_id":"nope"}`, 422}} {
		if got, out := h.Do("POST", path, other.token, bad.body); got != bad.status {
			t.Fatalf("%s: %d %v, want %d", bad.body, got, out, bad.status)
		}
	}
	h.MustFail(404, "not_found", "GET", path+"/not-a-uuid", m.token, nil)
	h.MustFail(404, "not_found", "GET", path+"/"+uuid.NewString(), m.token, nil)
	h.unchanged(before, "refused enrolment sessions")
	if h.commands() != cmds {
		t.Fatal("a refused session queued a gate command")
	}

	// The consented gate: a face_enrol command for that gate, with a change to wake it.
	out := h.Must(201, "POST", path, m.token, map[string]any{"gate_id": gates[1].String()})
	expires, err := time.Parse(time.RFC3339Nano, out["expires_at"].(string))
	if err != nil || out["state"] != "waiting" || out["gate_id"] != gates[1].String() ||
		time.Until(expires) < access.EnrolSessionTTL-30*time.Second || time.Until(expires) > access.EnrolSessionTTL+30*time.Second {
		t.Fatalf("session %v (%v)", out, err)
	}
	id := out["id"].(string)
	var kind, changes string
	var payload []byte
	command := []dbtest.Cond{dbtest.Eq("id", id), dbtest.Eq("gate_id", gates[1]), dbtest.Null("acked_at")}
	dbtest.Get(t, h.sql, &kind, dbtest.GateCommands, "kind", command...)
	dbtest.Get(t, h.sql, &payload, dbtest.GateCommands, "payload", command...)
	dbtest.Get(t, h.sql, &changes, dbtest.ChangeLog, "kind", dbtest.Eq("community_id", f.id), dbtest.Eq("entity_id", id), dbtest.Eq("gate_id", gates[1]))
	var p struct {
		Resident string `json:"resident_id"`
	}
	if err := json.Unmarshal(payload, &p); err != nil || kind != "face_enrol" || p.Resident != m.id.String() || changes != "command" {
		t.Fatalf("command %s %s %s %v", kind, p.Resident, changes, err)
	}
	if audited := dbtest.Count(t, h.sql, dbtest.AuditLog, dbtest.Eq("action", "face.enrol_session"), dbtest.Eq("target", "resident:"+m.id.String())); audited != 1 {
		t.Fatalf("audit %d", audited)
	}

	// The resident follows their session; nobody else sees it.
	if got := h.Must(200, "GET", path+"/"+id, m.token, nil); got["state"] != "waiting" || got["id"] != id {
		t.Fatalf("status %v", got)
	}
	h.MustFail(404, "not_found", "GET", path+"/"+id, other.token, nil)
	dbtest.Set(t, h.sql, dbtest.GateCommands, dbtest.Values{"acked_at": dbtest.Now(), "result": "enrolled"}, dbtest.Eq("id", id))
	if got := h.Must(200, "GET", path+"/"+id, m.token, nil); got["state"] != "enrolled" {
		t.Fatalf("status after the gate's ack %v", got)
	}
	second := h.Must(201, "POST", path, m.token, map[string]any{"gate_id": gates[1].String()})["id"].(string)
	lapse := func(id string) {
		var payload []byte
		dbtest.Get(t, h.sql, &payload, dbtest.GateCommands, "payload", dbtest.Eq("id", id))
		var p map[string]any
		if err := json.Unmarshal(payload, &p); err != nil {
			t.Fatal(err)
		}
		p["expires_at"] = time.Now().Add(-time.Minute)
		dbtest.Set(t, h.sql, dbtest.GateCommands, dbtest.Values{"created_at": dbtest.Ago(3 * time.Minute), "payload": string(apitest.MustJSON(t, p))}, dbtest.Eq("id", id))
	}
	lapse(second)
	if got := h.Must(200, "GET", path+"/"+second, m.token, nil); got["state"] != "expired" {
		t.Fatalf("status of a lapsed session %v", got)
	}

	// Withdrawn consent: no more sessions.
	if err := h.db.InTx(context.Background(), "test", func(tx *store.Tx) error {
		_, err := tx.WithdrawConsent(context.Background(), f.id, m.id, m.id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	h.MustFail(409, "no_one_gate_consent", "POST", path, m.token, map[string]any{"gate_id": gates[1].String()})
}

func TestFaceEnrolmentRateLimit(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	m := h.signUp(f)
	for i := 0; i < faceEnrolLimit; i++ {
		h.MustFail(404, "not_found", "POST", "/api/v1/face/enrolment", m.token, map[string]any{"gate_id": uuid.NewString()})
	}
	h.MustFail(429, "rate_limited", "POST", "/api/v1/face/enrolment", m.token, map[string]any{"gate_id": uuid.NewString()})
}

// TestRealBrowserFaceEnrol drives the web app in Chromium: a resident with a one-gate
// consent taps "Enrol at <gate>", is told to stand at that gate's reader, and the page
// shows the gate's confirmation when the session's command is acknowledged "enrolled".
func TestRealBrowserFaceEnrol(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	resident, code := h.invite(f)
	h.offerFace(f)
	h.faceGates(f, 1)
	gate := h.gateIDs(f)[0]
	ctx := browsertest.New(t, 90*time.Second)
	h.redeemInBrowser(ctx, code)
	h.consentTo(f, member{id: resident}, consent.ScopeOneGate, gate)
	var name, state string
	dbtest.Get(t, h.sql, &name, dbtest.Gates, "name", dbtest.Eq("id", gate))
	err := chromedp.Run(ctx,
		chromedp.Click(`button[data-tab="data"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#face-enrol-start", chromedp.ByID),
		chromedp.Click("#face-enrol-start", chromedp.ByID),
		chromedp.Poll(`document.getElementById('face-enrol-start').disabled`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Text("#face-enrol-state", &state, chromedp.ByID),
		chromedp.ActionFunc(func(ctx context.Context) error { browsertest.Screenshot(t, ctx, "face-enrol"); return nil }),
	)
	if err != nil || !strings.Contains(state, name) {
		t.Fatalf("start enrolment in the app: %q %v\n%s", state, err, h.logs.String())
	}
	var id uuid.UUID
	dbtest.Get(t, h.sql, &id, dbtest.GateCommands, "id", dbtest.Eq("gate_id", gate), dbtest.Eq("kind", "face_enrol"), dbtest.Field("payload", "resident_id", resident.String()))
	// The gate's acknowledgement (the gate side is tested in internal/systest/gatefault).
	dbtest.Set(t, h.sql, dbtest.GateCommands, dbtest.Values{"acked_at": dbtest.Now(), "result": "enrolled"}, dbtest.Eq("id", id))
	err = chromedp.Run(ctx, chromedp.Poll(`document.getElementById('face-enrol-state').textContent.includes('`+name+`') &&
		!document.getElementById('face-enrol-start').disabled`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Text("#face-enrol-state", &state, chromedp.ByID))
	if err != nil || state == "" || strings.Contains(state, "Stand") || strings.Contains(state, "站到") {
		t.Fatalf("confirmation in the app: %q %v", state, err)
	}
	t.Logf("page says: %s", state)
	// Close the browser gracefully before the profile directory is removed (a killed
	// Chromium's helpers may still be writing into it).
	if err := chromedp.Cancel(ctx); err != nil {
		t.Logf("close browser: %v", err)
	}
}
