package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/apitest"
	"gatepass/internal/credential"
	"gatepass/internal/qr"
)

// card issues a card through the store and returns its id.
func (h *harness) card(f fixture, resident string) string {
	h.t.Helper()
	card, _, err := h.db.IssueCard(context.Background(), "test", uuid.MustParse(f.id), uuid.MustParse(resident), 24*time.Hour, h.sealer)
	if err != nil {
		h.t.Fatal(err)
	}
	return card.ID.String()
}

func (h *harness) verifier(community string) *credential.Verifier {
	h.t.Helper()
	keys, err := h.db.TrustedKeys(context.Background(), uuid.MustParse(community))
	if err != nil {
		h.t.Fatal(err)
	}
	set, err := credential.NewKeySet(keys...)
	if err != nil {
		h.t.Fatal(err)
	}
	return &credential.Verifier{Community: uuid.MustParse(community), Keys: set}
}

// TestPrintedCard prints a card, reads it back with a real QR decoder, verifies it,
// rotates the community's key, and revokes the card.
func TestPrintedCard(t *testing.T) {
	h := newHarness(t)
	f, other := h.community(), h.community()
	resp := apitest.Do(t, "POST", h.base+"/admin/v1/residents/"+f.resident+"/cards", f.guard, `{"valid_days": 30}`)
	png := resp.Body
	if resp.Status != http.StatusCreated || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("issue card: %d %s %.200s", resp.Status, resp.Header.Get("Content-Type"), png)
	}
	id := resp.Header.Get("X-Credential-Id")
	text, err := qr.Decode(png)
	if err != nil {
		t.Fatalf("decode the card's QR: %v", err)
	}
	claims, err := h.verifier(f.id).Verify(text, time.Now())
	if err != nil {
		t.Fatalf("verify the printed card: %v", err)
	}
	if claims.Type != credential.TypeCard || claims.CredentialID.String() != id || claims.Subject != credential.SubjectResident || claims.Zones&1 == 0 {
		t.Fatalf("card claims %+v, credential %s", claims, id)
	}
	if d := claims.ExpiresAt.Sub(claims.NotBefore); d != 30*24*time.Hour {
		t.Fatalf("card valid for %v, want 30 days", d)
	}
	if _, err := h.verifier(other.id).Verify(text, time.Now()); !errors.Is(err, credential.ErrUnknownKey) {
		t.Fatalf("another community's gate: %v, want ErrUnknownKey", err)
	}
	// A verifier that knows both communities' keys still refuses A's card for B.
	keysA, _ := h.db.TrustedKeys(context.Background(), uuid.MustParse(f.id))
	keysB, _ := h.db.TrustedKeys(context.Background(), uuid.MustParse(other.id))
	both, err := credential.NewKeySet(append(keysA, keysB...)...)
	if err != nil {
		t.Fatal(err)
	}
	wide := credential.Verifier{Community: uuid.MustParse(other.id), Keys: both}
	if _, err := wide.Verify(text, time.Now()); !errors.Is(err, credential.ErrWrongCommunity) {
		t.Fatalf("a key of another community: %v, want ErrWrongCommunity", err)
	}

	// Rotation: the card signed with the old key still verifies; new cards use the new kid.
	rotated := h.must(http.StatusCreated, "POST", "/admin/v1/communities/"+f.id+"/keys/rotate", f.admin, nil)
	if uint32(rotated["kid"].(float64)) == claims.KID {
		t.Fatal("rotation kept the kid")
	}
	if _, err := h.verifier(f.id).Verify(text, time.Now()); err != nil {
		t.Fatalf("card signed before the rotation, after it: %v", err)
	}
	// A signer cached in a mobile-api copy keeps minting with the old key for a few
	// seconds after the rotation; those codes still pass.
	oldSigner := credential.Signer{KID: claims.KID}
	if oldSigner, err = h.db.SignerByKID(context.Background(), uuid.MustParse(f.id), claims.KID, h.sealer); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(2 * time.Second).Truncate(time.Second)
	late, err := credential.MintIssued(oldSigner, credential.Claims{CredentialID: uuid.New(), Subject: credential.SubjectResident, Zones: 1, NotBefore: now, ExpiresAt: now.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.verifier(f.id).Verify(late, now); err != nil {
		t.Fatalf("a code from a signer cached across the rotation: %v", err)
	}
	keys := h.must(http.StatusOK, "GET", "/admin/v1/communities/"+f.id+"/keys", f.auditor, nil)["keys"].([]any)
	if len(keys) != 2 || keys[1].(map[string]any)["retired_at"] == nil || keys[0].(map[string]any)["retired_at"] != nil {
		t.Fatalf("keys after rotation: %v", keys)
	}
	resp = apitest.Do(t, "POST", h.base+"/admin/v1/residents/"+f.resident+"/cards", f.admin, nil)
	text2, err := qr.Decode(resp.Body)
	if resp.Status != http.StatusCreated || err != nil {
		t.Fatalf("second card: %d %v", resp.Status, err)
	}
	c2, err := h.verifier(f.id).Verify(text2, time.Now())
	if err != nil || c2.KID != uint32(rotated["kid"].(float64)) {
		t.Fatalf("card after rotation: kid %d, %v", c2.KID, err)
	}

	// Revocation is immediate: it goes to the gates' change log.
	h.must(http.StatusOK, "POST", "/admin/v1/residents/"+f.resident+"/cards/"+id+"/revoke", f.guard, nil)
	h.must(http.StatusConflict, "POST", "/admin/v1/residents/"+f.resident+"/cards/"+id+"/revoke", f.guard, nil)
	h.must(http.StatusNotFound, "POST", "/admin/v1/residents/"+f.resident+"/cards/"+uuid.NewString()+"/revoke", f.guard, nil)
	var forget time.Time
	err = h.db.SQL().QueryRow(`SELECT (data->>'forget_after')::timestamptz FROM change_log WHERE community_id = $1 AND kind = 'revocation' AND entity_id = $2`, f.id, id).Scan(&forget)
	if err != nil || forget.Before(claims.ExpiresAt) {
		t.Fatalf("revocation forget_after %v (card expires %v): %v", forget, claims.ExpiresAt, err)
	}
	cards := h.must(http.StatusOK, "GET", "/admin/v1/residents/"+f.resident+"/cards", f.guard, nil)["cards"].([]any)
	if len(cards) != 2 {
		t.Fatalf("cards: %v", cards)
	}

	// A moved-out resident gets no card; a card is at most a year.
	h.must(http.StatusUnprocessableEntity, "POST", "/admin/v1/residents/"+f.resident+"/cards", f.admin, `{"valid_days": 400}`)
	h.must(http.StatusOK, "POST", "/admin/v1/communities/"+f.id+"/residents/"+f.resident+"/move-out", f.admin, nil)
	h.must(http.StatusConflict, "POST", "/admin/v1/residents/"+f.resident+"/cards", f.admin, nil)
}

// Private signing keys are only ever stored sealed under the master key.
func TestSigningKeysSealed(t *testing.T) {
	h := newHarness(t)
	f := h.community()
	signer, err := h.db.Signer(context.Background(), uuid.MustParse(f.id), h.sealer)
	if err != nil {
		t.Fatal(err)
	}
	var sealed []byte
	if err := h.db.SQL().QueryRow(`SELECT private_key_enc FROM signing_keys WHERE community_id = $1`, f.id).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, signer.Key.Seed()) || bytes.Contains(sealed, signer.Key) {
		t.Fatal("private key stored in clear")
	}
	if _, err := h.db.Signer(context.Background(), uuid.MustParse(f.id), testSealer(t)); err == nil {
		t.Fatal("a different master key opened the signing key")
	}
	// Moving the sealed key to another community does not make it usable there.
	other := h.community()
	if _, err := h.db.SQL().Exec(`ALTER TABLE signing_keys DISABLE TRIGGER ALL; UPDATE signing_keys SET private_key_enc = $1 WHERE community_id = $2; ALTER TABLE signing_keys ENABLE TRIGGER ALL`, sealed, other.id); err == nil {
		if _, err := h.db.Signer(context.Background(), uuid.MustParse(other.id), h.sealer); err == nil {
			t.Fatal("a sealed key opened in another community")
		}
	}
}
