package main

import (
	"encoding/base64"
	"encoding/binary"
	"testing"
	"time"

	"gatepass/internal/credential"
	"gatepass/internal/dbtest"
)

// A device renews its certificate without a passkey prompt by presenting its current
// one; nothing else renews it: not another device's presentation, not another
// resident's session, not a revoked device.
func TestDeviceRenewal(t *testing.T) {
	h := newHarness(t, testLimits)
	f := h.community()
	m, other := h.signUp(f), h.signUp(f) // sign-up leaves a fresh step-up
	certify := func(token string) (string, func(time.Time) string) {
		t.Helper()
		phone, pub := phoneKey(t)
		out := h.Must(201, "POST", "/api/v1/devices", token, map[string]any{"public_key": pub, "label": "this phone"})
		cert, err := base64.StdEncoding.DecodeString(out["certificate"].(string))
		if err != nil {
			t.Fatal(err)
		}
		return out["device"].(map[string]any)["id"].(string), func(at time.Time) string {
			text, err := credential.PresentDevice(cert, phone, at)
			if err != nil {
				t.Fatal(err)
			}
			return text
		}
	}
	id, present := certify(m.token)
	otherID, otherPresent := certify(other.token)
	path := "/api/v1/devices/" + id + "/renew"

	// Refused: no proof, someone else's device's proof, a stale one, another resident.
	before := h.snapshot()
	for _, proof := range []string{"GA1:", otherPresent(time.Now()), present(time.Now().Add(-5 * time.Minute))} {
		h.MustFail(422, "device_proof_invalid", "POST", path, m.token, map[string]any{"presentation": proof})
	}
	h.MustFail(404, "not_found", "POST", path, other.token, map[string]any{"presentation": present(time.Now())})
	h.MustFail(404, "not_found", "POST", "/api/v1/devices/"+otherID+"/renew", m.token, map[string]any{"presentation": otherPresent(time.Now())})
	h.unchanged(before, "refused renewals")

	// Renewed: a new 30-day certificate for the same credential, and the row follows.
	dbtest.Set(t, h.sql, dbtest.Credentials, dbtest.Values{"expires_at": dbtest.FromNow(24 * time.Hour)}, dbtest.Eq("id", id))
	out := h.Must(200, "POST", path, m.token, map[string]any{"presentation": present(time.Now())})
	cert, err := base64.StdEncoding.DecodeString(out["certificate"].(string))
	if err != nil {
		t.Fatal(err)
	}
	// A certificate alone is not a token: its end is at a fixed offset (credential-format.md).
	end := time.Unix(int64(binary.BigEndian.Uint32(cert[34:38])), 0)
	if d := time.Until(end); d < 29*24*time.Hour || d > 30*24*time.Hour {
		t.Fatalf("renewed certificate ends in %v", d)
	}
	var rowEnd time.Time
	if dbtest.Get(t, h.sql, &rowEnd, dbtest.Credentials, "expires_at", dbtest.Eq("id", id)); !rowEnd.Equal(end) {
		t.Fatalf("row ends %v, certificate %v", rowEnd, end)
	}

	// Revoked: no renewal.
	h.Must(200, "DELETE", "/api/v1/devices/"+id, m.token, nil)
	h.MustFail(404, "not_found", "POST", path, m.token, map[string]any{"presentation": present(time.Now())})
}
