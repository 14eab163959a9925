package gatesync_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/credential"
	"gatepass/internal/dbtest"
	"gatepass/internal/store"
	"gatepass/server/internal/servertest"
)

// holders reads a sync answer's holders as credential -> holder.
func holders(t *testing.T, sync map[string]any) map[string]string {
	t.Helper()
	list, ok := sync["holders"].([]any)
	if !ok {
		t.Fatalf("sync without a holders list: %v", sync["holders"])
	}
	out := map[string]string{}
	for _, x := range list {
		h := x.(map[string]any)
		out[h["credential_id"].(string)] = h["holder_id"].(string)
	}
	return out
}

// The sync carries who holds each credential (issue 11, item 4, server side), so that a
// gate keys anti-passback on the person: a full sync lists every live credential of the
// community with its holder (the resident, or the visitor pass), a delta those created
// since the cursor; revoked and long-expired credentials are left out. The change log
// names only the credential (the holder is read at sync time): it never holds a
// resident's id, which erasure must be able to remove (mobile-api TestDeletionErases).
func TestSyncCarriesCredentialHolders(t *testing.T) {
	h := servertest.New(t)
	f, other := h.Community(), h.Community()
	_, tok := h.EnrolledGate(f)
	ctx := context.Background()
	c, resident := uuid.MustParse(f.ID), uuid.MustParse(f.Resident)

	qrCred, err := h.DB.EnsureQRCredential(ctx, c, resident)
	if err != nil {
		t.Fatal(err)
	}
	card := h.Card(f, f.Resident)
	device := newDevice(t, h, f)
	var pass store.VisitorPass
	err = h.DB.InTx(ctx, "test", func(tx *store.Tx) (err error) {
		now := time.Now()
		pass, _, err = tx.CreateVisitorPass(ctx, store.NewVisitorPass{Community: c, Host: resident,
			Label: "plumber", Zones: 1, ValidFrom: now, ValidUntil: now.Add(time.Hour), MaxEntries: 3})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	revoked := h.Card(f, f.Resident)
	h.Must(http.StatusOK, "POST", "/admin/v1/residents/"+f.Resident+"/cards/"+revoked+"/revoke", f.Guard, nil)
	expired := h.Card(f, f.Resident)
	dbtest.Age(t, h.DB.SQL(), dbtest.Credentials, "expires_at", 2*time.Hour, dbtest.Eq("id", expired))
	h.Card(other, other.Resident) // another community's

	snap := h.Must(http.StatusOK, "GET", "/gate/v1/sync?cursor=0", tok, nil)
	want := map[string]string{qrCred.ID.String(): f.Resident, card: f.Resident, device.String(): f.Resident,
		pass.Credential.String(): pass.ID.String()}
	if got := holders(t, snap); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("snapshot holders\n got %v\nwant %v", got, want)
	}
	// A delta carries the credentials created since the cursor, and only those.
	cursor := int64(snap["cursor"].(float64))
	if d := h.Must(http.StatusOK, "GET", fmt.Sprintf("/gate/v1/sync?cursor=%d", cursor), tok, nil); len(holders(t, d)) != 0 {
		t.Fatalf("empty delta holders %v", d["holders"])
	}
	fresh := h.Card(f, f.Resident)
	// One revoked before the gate asks: its revocation goes, its holder does not.
	gone := h.Card(f, f.Resident)
	h.Must(http.StatusOK, "POST", "/admin/v1/residents/"+f.Resident+"/cards/"+gone+"/revoke", f.Guard, nil)
	d := h.Must(http.StatusOK, "GET", fmt.Sprintf("/gate/v1/sync?cursor=%d", cursor), tok, nil)
	if got := holders(t, d); len(got) != 1 || got[fresh] != f.Resident {
		t.Fatalf("delta holders %v, want %s -> %s", got, fresh, f.Resident)
	}
	// The QR credential exists once: asking again makes no second change.
	if _, err := h.DB.EnsureQRCredential(ctx, c, resident); err != nil {
		t.Fatal(err)
	}
	cursor = int64(d["cursor"].(float64))
	if d := h.Must(http.StatusOK, "GET", fmt.Sprintf("/gate/v1/sync?cursor=%d", cursor), tok, nil); len(holders(t, d)) != 0 {
		t.Fatalf("holders after the QR credential was asked for again: %v", d["holders"])
	}
}

// newDevice certifies a phone key for f's resident, as mobile-api does.
func newDevice(t *testing.T, h *servertest.Harness, f servertest.Fixture) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	c := uuid.MustParse(f.ID)
	phone, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := h.DB.Signer(ctx, c, h.Sealer)
	if err != nil {
		t.Fatal(err)
	}
	valid := credential.DeviceValidity(time.Now())
	var dev store.Device
	err = h.DB.InTx(ctx, "resident:"+f.Resident, func(tx *store.Tx) (err error) {
		dev, err = tx.CreateDevice(ctx, store.NewDevice{Community: c, Resident: uuid.MustParse(f.Resident),
			PublicKey: elliptic.MarshalCompressed(elliptic.P256(), phone.X, phone.Y), Label: "phone", Zones: 1, //nolint:staticcheck // SEC 1 form
			NotBefore: valid.NotBefore, ExpiresAt: valid.ExpiresAt, KID: signer.KID})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return dev.ID
}
