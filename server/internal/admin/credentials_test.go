package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/apitest"
	"gatepass/internal/credential"
	"gatepass/internal/dbtest"
	"gatepass/internal/qr"
	"gatepass/server/internal/servertest"
)

func (h *harness) verifier(community string) *credential.Verifier {
	h.T.Helper()
	keys, err := h.DB.TrustedKeys(context.Background(), uuid.MustParse(community))
	if err != nil {
		h.T.Fatal(err)
	}
	set, err := credential.NewKeySet(keys...)
	if err != nil {
		h.T.Fatal(err)
	}
	return &credential.Verifier{Community: uuid.MustParse(community), Keys: set}
}

// TestPrintedCard prints a card, reads it back with a real QR decoder, verifies it,
// rotates the community's key, and revokes the card.
func TestPrintedCard(t *testing.T) {
	h := newHarness(t)
	f, other := h.Community(), h.Community()
	resp := apitest.Do(t, "POST", h.Base+"/admin/v1/residents/"+f.Resident+"/cards", f.Guard, `{"valid_days": 30}`)
	png := resp.Body
	if resp.Status != http.StatusCreated || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("issue card: %d %s %.200s", resp.Status, resp.Header.Get("Content-Type"), png)
	}
	id := resp.Header.Get("X-Credential-Id")
	text, err := qr.Decode(png)
	if err != nil {
		t.Fatalf("decode the card's QR: %v", err)
	}
	claims, err := h.verifier(f.ID).Verify(text, time.Now())
	if err != nil {
		t.Fatalf("verify the printed card: %v", err)
	}
	if claims.Type != credential.TypeCard || claims.CredentialID.String() != id || claims.Subject != credential.SubjectResident || claims.Zones&1 == 0 {
		t.Fatalf("card claims %+v, credential %s", claims, id)
	}
	if d := claims.ExpiresAt.Sub(claims.NotBefore); d != 30*24*time.Hour {
		t.Fatalf("card valid for %v, want 30 days", d)
	}
	if _, err := h.verifier(other.ID).Verify(text, time.Now()); !errors.Is(err, credential.ErrUnknownKey) {
		t.Fatalf("another community's gate: %v, want ErrUnknownKey", err)
	}
	// A verifier that knows both communities' keys still refuses A's card for B.
	keysA, _ := h.DB.TrustedKeys(context.Background(), uuid.MustParse(f.ID))
	keysB, _ := h.DB.TrustedKeys(context.Background(), uuid.MustParse(other.ID))
	both, err := credential.NewKeySet(append(keysA, keysB...)...)
	if err != nil {
		t.Fatal(err)
	}
	wide := credential.Verifier{Community: uuid.MustParse(other.ID), Keys: both}
	if _, err := wide.Verify(text, time.Now()); !errors.Is(err, credential.ErrWrongCommunity) {
		t.Fatalf("a key of another community: %v, want ErrWrongCommunity", err)
	}

	// Rotation: the card signed with the old key still verifies; new cards use the new kid.
	rotated := h.Must(http.StatusCreated, "POST", "/admin/v1/communities/"+f.ID+"/keys/rotate", f.Admin, nil)
	if uint32(rotated["kid"].(float64)) == claims.KID {
		t.Fatal("rotation kept the kid")
	}
	if _, err := h.verifier(f.ID).Verify(text, time.Now()); err != nil {
		t.Fatalf("card signed before the rotation, after it: %v", err)
	}
	// A signer cached in a mobile-api copy keeps minting with the old key for a few
	// seconds after the rotation; those codes still pass.
	oldSigner := credential.Signer{KID: claims.KID}
	if oldSigner, err = h.DB.SignerByKID(context.Background(), uuid.MustParse(f.ID), claims.KID, h.Sealer); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(2 * time.Second).Truncate(time.Second)
	late, err := credential.MintIssued(oldSigner, credential.Claims{CredentialID: uuid.New(), Subject: credential.SubjectResident, Zones: 1, NotBefore: now, ExpiresAt: now.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.verifier(f.ID).Verify(late, now); err != nil {
		t.Fatalf("a code from a signer cached across the rotation: %v", err)
	}
	keys := h.Must(http.StatusOK, "GET", "/admin/v1/communities/"+f.ID+"/keys", f.Auditor, nil)["keys"].([]any)
	if len(keys) != 2 || keys[1].(map[string]any)["retired_at"] == nil || keys[0].(map[string]any)["retired_at"] != nil {
		t.Fatalf("keys after rotation: %v", keys)
	}
	resp = apitest.Do(t, "POST", h.Base+"/admin/v1/residents/"+f.Resident+"/cards", f.Admin, nil)
	text2, err := qr.Decode(resp.Body)
	if resp.Status != http.StatusCreated || err != nil {
		t.Fatalf("second card: %d %v", resp.Status, err)
	}
	c2, err := h.verifier(f.ID).Verify(text2, time.Now())
	if err != nil || c2.KID != uint32(rotated["kid"].(float64)) {
		t.Fatalf("card after rotation: kid %d, %v", c2.KID, err)
	}

	// Revocation is immediate: it goes to the gates' change log.
	h.Must(http.StatusOK, "POST", "/admin/v1/residents/"+f.Resident+"/cards/"+id+"/revoke", f.Guard, nil)
	h.Must(http.StatusConflict, "POST", "/admin/v1/residents/"+f.Resident+"/cards/"+id+"/revoke", f.Guard, nil)
	h.Must(http.StatusNotFound, "POST", "/admin/v1/residents/"+f.Resident+"/cards/"+uuid.NewString()+"/revoke", f.Guard, nil)
	var data []byte
	dbtest.Get(t, h.DB.SQL(), &data, dbtest.ChangeLog, "data", dbtest.Eq("community_id", f.ID), dbtest.Eq("kind", "revocation"), dbtest.Eq("entity_id", id))
	var revocation struct {
		ForgetAfter time.Time `json:"forget_after"`
	}
	err = json.Unmarshal(data, &revocation)
	if forget := revocation.ForgetAfter; err != nil || forget.Before(claims.ExpiresAt) {
		t.Fatalf("revocation forget_after %v (card expires %v): %v", forget, claims.ExpiresAt, err)
	}
	cards := h.Must(http.StatusOK, "GET", "/admin/v1/residents/"+f.Resident+"/cards", f.Guard, nil)["cards"].([]any)
	if len(cards) != 2 {
		t.Fatalf("cards: %v", cards)
	}

	// A moved-out resident gets no card; a card is at most a year.
	h.Must(http.StatusUnprocessableEntity, "POST", "/admin/v1/residents/"+f.Resident+"/cards", f.Admin, `{"valid_days": 400}`)
	h.Must(http.StatusOK, "POST", "/admin/v1/communities/"+f.ID+"/residents/"+f.Resident+"/move-out", f.Admin, nil)
	h.Must(http.StatusConflict, "POST", "/admin/v1/residents/"+f.Resident+"/cards", f.Admin, nil)
}

// Private signing keys are only ever stored sealed under the master key.
func TestSigningKeysSealed(t *testing.T) {
	h := newHarness(t)
	f := h.Community()
	signer, err := h.DB.Signer(context.Background(), uuid.MustParse(f.ID), h.Sealer)
	if err != nil {
		t.Fatal(err)
	}
	var sealed []byte
	dbtest.Get(t, h.DB.SQL(), &sealed, dbtest.SigningKeys, "private_key_enc", dbtest.Eq("community_id", f.ID))
	if bytes.Contains(sealed, signer.Key.Seed()) || bytes.Contains(sealed, signer.Key) {
		t.Fatal("private key stored in clear")
	}
	if _, err := h.DB.Signer(context.Background(), uuid.MustParse(f.ID), servertest.NewSealer(t)); err == nil {
		t.Fatal("a different master key opened the signing key")
	}
	// Moving the sealed key to another community does not make it usable there.
	other := h.Community()
	dbtest.Tamper(t, h.DB.SQL(), dbtest.SigningKeys, dbtest.Values{"private_key_enc": sealed}, dbtest.Eq("community_id", other.ID))
	if _, err := h.DB.Signer(context.Background(), uuid.MustParse(other.ID), h.Sealer); err == nil {
		t.Fatal("a sealed key opened in another community")
	}
}
