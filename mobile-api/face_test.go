package main

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/apitest"
	"gatepass/internal/consent"
	"gatepass/internal/dbtest"
	"gatepass/internal/face"
	"gatepass/internal/store"
)

// faceGates enrols n gates of community f with box keys, as gate enrollment does.
func (h *harness) faceGates(f community, n int) {
	h.t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		var g uuid.UUID
		err := h.db.InTx(ctx, "test", func(tx *store.Tx) error {
			gate, _, err := tx.CreateGate(ctx, store.NewGate{Community: f.id, Name: apitest.Unique("Gate"), Zone: 0, Direction: "both"})
			g = gate.ID
			return err
		})
		if err != nil {
			h.t.Fatal(err)
		}
		k, err := face.NewGateKey()
		if err != nil {
			h.t.Fatal(err)
		}
		dbtest.Set(h.t, h.sql, dbtest.Gates, dbtest.Values{"box_public_key": k.PublicKey().Bytes(), "enrolled_at": dbtest.Now()}, dbtest.Eq("id", g))
	}
}

// seal makes a face template for m and seals it to each of gates (the answer of GET
// /api/v1/face/gates), as a native app does before POST /api/v1/face/templates.
func (h *harness) seal(f community, m member, gates []any) []map[string]any {
	h.t.Helper()
	tmpl := face.NewSynthetic(7).Identity()
	var blobs []map[string]any
	for _, g := range gates {
		gate := g.(map[string]any)
		pub, _ := base64.StdEncoding.DecodeString(gate["box_public_key"].(string))
		sealed, err := face.Seal(tmpl, pub, face.Binding{Community: f.id, Gate: uuid.MustParse(gate["gate_id"].(string)), Resident: m.id, Model: tmpl.Model})
		if err != nil {
			h.t.Fatal(err)
		}
		blobs = append(blobs, map[string]any{"gate_id": gate["gate_id"], "model": tmpl.Model, "sealed": base64.StdEncoding.EncodeToString(sealed)})
	}
	return blobs
}

func TestFaceEntryFlow(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	m, other := h.signUp(f), h.signUp(f)

	// Not offered until the community names its data handler.
	if st := h.Must(200, "GET", "/api/v1/face/status", m.token, nil); st["offered"] != false {
		t.Fatalf("status before set-up: %v", st)
	}
	h.MustFail(409, "face_off", "GET", "/api/v1/face/notice?lang=en", m.token, nil)
	ctx := context.Background()
	if err := h.db.InTx(ctx, "test", func(tx *store.Tx) error {
		return tx.SetFaceOperator(ctx, f.id, consent.Operator{Name: "Sunshine Property", Contact: "privacy@example.com"})
	}); err != nil {
		t.Fatal(err)
	}
	h.faceGates(f, 2)

	notice := h.Must(200, "GET", "/api/v1/face/notice?lang=en", m.token, nil)
	if notice["version"] != consent.CurrentVersion || !strings.Contains(notice["text"].(string), "Sunshine Property") || len(notice["hash"].(string)) != 64 {
		t.Fatalf("notice %v", notice)
	}
	give := map[string]any{"notice_version": notice["version"], "notice_lang": "en", "notice_hash": notice["hash"], "scope": "community"}

	// Consent needs a passkey verification made for it; the one of sign-up is too old.
	dbtest.Age(t, h.sql, dbtest.Sessions, "verified_at", 6*time.Minute)
	before := h.snapshot()
	h.MustFail(403, "step_up_required", "POST", "/api/v1/face/consent", m.token, give)
	h.stepUp(m, m.key)
	bad := map[string]any{"notice_version": notice["version"], "notice_lang": "en", "notice_hash": strings.Repeat("0", 64), "scope": "community"}
	h.MustFail(422, "invalid_field", "POST", "/api/v1/face/consent", m.token, bad)
	h.MustFail(422, "invalid_field", "POST", "/api/v1/face/consent", m.token, map[string]any{"notice_version": "1", "notice_lang": "fr", "notice_hash": notice["hash"], "scope": "community"})
	h.unchanged(before, "refused consents")
	// The refused consents rolled back: the step-up is still there for the real one.
	out := h.Must(201, "POST", "/api/v1/face/consent", m.token, give)
	if out["channel"] != "native_app" || out["scope"] != "community" || out["given_by"] != m.id.String() {
		t.Fatalf("consent %v", out)
	}
	// The verification was used up: a second act needs its own.
	h.MustFail(403, "step_up_required", "POST", "/api/v1/face/consent", m.token, give)

	// The phone seals its template to each gate's key and uploads the blobs.
	gates := h.Must(200, "GET", "/api/v1/face/gates", m.token, nil)["gates"].([]any)
	if len(gates) != 2 {
		t.Fatalf("gates to seal to: %v", gates)
	}
	blobs := h.seal(f, m, gates)
	h.MustFail(422, "", "POST", "/api/v1/face/templates", m.token, map[string]any{"templates": blobs[:1]}) // one gate missing
	if got := h.Must(201, "POST", "/api/v1/face/templates", m.token, map[string]any{"templates": blobs}); got["templates_stored"] != 2.0 {
		t.Fatalf("templates %v", got)
	}
	status := h.Must(200, "GET", "/api/v1/face/status", m.token, nil)
	for _, g := range status["gates"].([]any) {
		if g.(map[string]any)["has_template"] != true {
			t.Fatalf("gate without the template: %v", status)
		}
	}

	// Another resident learns nothing and withdraws nothing.
	before = h.snapshot()
	h.MustFail(404, "not_found", "GET", "/api/v1/face/status?resident_id="+m.id.String(), other.token, nil)
	h.MustFail(404, "not_found", "POST", "/api/v1/face/withdraw", other.token, map[string]any{"resident_id": m.id.String()})
	h.MustFail(404, "not_found", "POST", "/api/v1/face/templates", other.token, map[string]any{"resident_id": m.id.String(), "templates": blobs})
	h.unchanged(before, "another resident's face requests")

	// Withdrawal: one call, every gate told; the app then shows each gate's confirmation.
	purge := h.Must(200, "POST", "/api/v1/face/withdraw", m.token, nil)
	if purge["consent_ended"] != true || purge["templates_deleted"] != 2.0 || purge["gates_notified"] != 2.0 {
		t.Fatalf("withdraw %v", purge)
	}
	status = h.Must(200, "GET", "/api/v1/face/status", m.token, nil)
	if len(status["purges"].([]any)) != 2 || status["purges"].([]any)[0].(map[string]any)["acked"] != false {
		t.Fatalf("purge status %v", status)
	}
	export := h.Must(200, "GET", "/api/v1/me/export", m.token, nil)
	if len(export["consents"].([]any)) != 1 || len(export["face_purges"].([]any)) != 2 {
		t.Fatalf("export of face data: consents %v purges %v", export["consents"], export["face_purges"])
	}

	// Deleting the account purges face data in the same transaction.
	h.stepUp(other, other.key)
	h.Must(201, "POST", "/api/v1/face/consent", other.token, give)
	h.stepUp(other, other.key)
	deleted := h.Must(200, "DELETE", "/api/v1/me", other.token, nil)
	if deleted["face"].(map[string]any)["consent_ended"] != true || deleted["face"].(map[string]any)["gates_notified"] != 2.0 {
		t.Fatalf("delete %v", deleted)
	}
}
