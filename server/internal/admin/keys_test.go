package admin_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/apitest"
	"gatepass/internal/credential"
	"gatepass/internal/dbtest"
	"gatepass/internal/qr"
	"gatepass/internal/store"
	"gatepass/server/internal/servertest"
)

// printCard prints a card through the admin API and returns its id and kid.
func (h *harness) printCard(f servertest.Fixture, resident string) (id string, kid uint32) {
	h.T.Helper()
	resp := apitest.Do(h.T, "POST", h.Base+"/admin/v1/residents/"+resident+"/cards", f.Guard, nil)
	text, err := qr.Decode(resp.Body)
	if resp.Status != http.StatusCreated || err != nil {
		h.T.Fatalf("print card: %d %v", resp.Status, err)
	}
	claims, err := h.verifier(f.ID).Verify(text, time.Now())
	if err != nil {
		h.T.Fatal(err)
	}
	return resp.Header.Get("X-Credential-Id"), claims.KID
}

// certifyDevice records a device credential as mobile-api does, signed by kid.
func (h *harness) certifyDevice(f servertest.Fixture, kid uint32) (uuid.UUID, error) {
	h.T.Helper()
	phone, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		h.T.Fatal(err)
	}
	ctx := context.Background()
	valid := credential.DeviceValidity(time.Now())
	var dev store.Device
	err = h.DB.InTx(ctx, "resident:"+f.Resident, func(tx *store.Tx) (err error) {
		dev, err = tx.CreateDevice(ctx, store.NewDevice{Community: uuid.MustParse(f.ID), Resident: uuid.MustParse(f.Resident),
			PublicKey: elliptic.MarshalCompressed(elliptic.P256(), phone.X, phone.Y), Label: "phone", Zones: 1, //nolint:staticcheck // SEC 1 form
			NotBefore: valid.NotBefore, ExpiresAt: valid.ExpiresAt, KID: kid})
		return err
	})
	return dev.ID, err
}

func (h *harness) syncKIDs(tok string) []uint32 {
	h.T.Helper()
	var out []uint32
	for _, k := range h.Must(http.StatusOK, "GET", "/gate/v1/sync?cursor=0", tok, nil)["keys"].([]any) {
		out = append(out, uint32(k.(map[string]any)["kid"].(float64)))
	}
	return out
}

// A compromised key is withdrawn for good (issue 11, item 3): gates no longer get it,
// everything it signed is revoked, the cards to reprint are listed, a new key signs if it
// was signing, and it signs nothing again.
func TestCompromiseKey(t *testing.T) {
	h := newHarness(t)
	f, other := h.Community(), h.Community()
	_, gateTok := h.EnrolledGate(f)
	ctx := context.Background()
	c := uuid.MustParse(f.ID)

	card1, k1 := h.printCard(f, f.Resident)
	legacy, _ := h.printCard(f, f.Resident)
	// A card printed before kids were recorded: found by when it was issued.
	dbtest.Set(t, h.DB.SQL(), dbtest.Credentials, dbtest.Values{"kid": nil}, dbtest.Eq("id", legacy))
	device, err := h.certifyDevice(f, k1)
	if err != nil {
		t.Fatal(err)
	}
	h.Must(http.StatusCreated, "POST", "/admin/v1/communities/"+f.ID+"/keys/rotate", f.Admin, nil)
	card2, k2 := h.printCard(f, f.Resident)
	if k2 == k1 || !slices.Contains(h.syncKIDs(gateTok), k1) {
		t.Fatalf("after the rotation: card kid %d, gate keys %v", k2, h.syncKIDs(gateTok))
	}
	kids := fmt.Sprint(k1)
	path := "/admin/v1/communities/" + f.ID + "/keys/" + kids + "/compromise"

	// Bad input changes nothing.
	h.Must(http.StatusUnprocessableEntity, "POST", path, f.Admin, map[string]any{})
	h.Must(http.StatusUnprocessableEntity, "POST", "/admin/v1/communities/"+f.ID+"/keys/0/compromise", f.Admin, map[string]any{"reason": "x"})
	h.Must(http.StatusUnprocessableEntity, "POST", "/admin/v1/communities/"+f.ID+"/keys/4294967296/compromise", f.Admin, map[string]any{"reason": "x"})
	h.Must(http.StatusUnprocessableEntity, "POST", "/admin/v1/communities/"+f.ID+"/keys/abc/compromise", f.Admin, map[string]any{"reason": "x"})
	h.Must(http.StatusNotFound, "POST", "/admin/v1/communities/"+other.ID+"/keys/"+kids+"/compromise", other.Admin, map[string]any{"reason": "x"})
	h.Must(http.StatusForbidden, "POST", path, f.Guard, map[string]any{"reason": "x"})

	out := h.Must(http.StatusOK, "POST", path, f.Admin, map[string]any{"reason": "backup tape lost"})
	if out["kid"] != float64(k1) || out["new_key"] != nil || out["revoked"] != 3.0 || out["devices_revoked"] != 1.0 || out["compromised_at"] == nil {
		t.Fatalf("compromise of a retired key: %v", out)
	}
	var reprint []string
	for _, x := range out["cards_to_reprint"].([]any) {
		card := x.(map[string]any)
		if card["resident_id"] != f.Resident || card["issued_at"] == nil || card["resident_name"] == "" {
			t.Fatalf("card to reprint %v", card)
		}
		reprint = append(reprint, card["card_id"].(string))
	}
	slices.Sort(reprint)
	want := []string{card1, legacy}
	slices.Sort(want)
	if !slices.Equal(reprint, want) {
		t.Fatalf("cards to reprint %v, want %v", reprint, want)
	}
	revoked := func(id string) string {
		var reason sql.NullString
		dbtest.Get(t, h.DB.SQL(), &reason, dbtest.Credentials, "revoke_reason", dbtest.Eq("id", id))
		return reason.String
	}
	for _, id := range []string{card1, legacy, device.String()} {
		if r := revoked(id); r != access.RevokeKeyCompromised {
			t.Fatalf("credential %s revoke reason %q", id, r)
		}
	}
	if r := revoked(card2); r != "" {
		t.Fatalf("the new key's card was revoked: %q", r)
	}
	// Gates: the key is gone from the (complete) key list, the revocations are there.
	if kids := h.syncKIDs(gateTok); slices.Contains(kids, k1) || !slices.Contains(kids, k2) {
		t.Fatalf("gate keys after the compromise: %v", kids)
	}
	var gateRevs []string
	for _, r := range h.Must(http.StatusOK, "GET", "/gate/v1/sync?cursor=0", gateTok, nil)["revocations"].([]any) {
		gateRevs = append(gateRevs, r.(map[string]any)["credential_id"].(string))
	}
	for _, id := range []string{card1, legacy, device.String()} {
		if !slices.Contains(gateRevs, id) {
			t.Fatalf("revocation of %s not synced: %v", id, gateRevs)
		}
	}
	keys := h.Must(http.StatusOK, "GET", "/admin/v1/communities/"+f.ID+"/keys", f.Auditor, nil)["keys"].([]any)
	for _, k := range keys {
		k := k.(map[string]any)
		if (k["kid"] == float64(k1)) != (k["compromised_at"] != nil) {
			t.Fatalf("keys list %v", keys)
		}
	}
	// Never again: not twice, not to sign, not for a new credential.
	h.Must(http.StatusConflict, "POST", path, f.Admin, map[string]any{"reason": "again"})
	if _, err := h.DB.SignerByKID(ctx, c, k1, h.Sealer); !errors.Is(err, access.ErrNotFound) {
		t.Fatalf("signer of a compromised key: %v", err)
	}
	if _, err := h.certifyDevice(f, k1); !errors.Is(err, access.ErrKeyCompromised) {
		t.Fatalf("device certified by a compromised key: %v", err)
	}
	if audited := dbtest.Count(t, h.DB.SQL(), dbtest.AuditLog, dbtest.Eq("community_id", c), dbtest.Eq("action", "key.compromise")); audited != 1 {
		t.Fatalf("audit rows %d", audited)
	}

	// The signing key itself: a new key takes over at once, and signs the next card.
	out = h.Must(http.StatusOK, "POST", "/admin/v1/communities/"+f.ID+"/keys/"+fmt.Sprint(k2)+"/compromise", f.Admin, map[string]any{"reason": "server breach"})
	newKey, _ := out["new_key"].(map[string]any)
	if newKey == nil || out["revoked"] != 1.0 || len(out["cards_to_reprint"].([]any)) != 1 {
		t.Fatalf("compromise of the signing key: %v", out)
	}
	k3 := uint32(newKey["kid"].(float64))
	if _, kid := h.printCard(f, f.Resident); kid != k3 {
		t.Fatalf("card after the compromise signed by %d, want %d", kid, k3)
	}
	if kids := h.syncKIDs(gateTok); !slices.Equal(kids, []uint32{k3}) {
		t.Fatalf("gate keys %v, want only %d", kids, k3)
	}
}
