package store_test

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"testing"

	"gatepass/internal/access"
	"gatepass/internal/dbtest"
	"gatepass/internal/store"
)

// Two assertions of one passkey with the same counter (a key and its clone, used at the
// same moment) are decided one after the other on the stored row: one is used, the other
// is a regression that suspends the passkey.
func TestUsePasskeyRace(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t)
	c, resident := residentFix(t, db, "holder")
	credID := make([]byte, 32)
	_, _ = rand.Read(credID)
	err := db.InTx(ctx, "test", func(tx *store.Tx) error {
		return tx.AddPasskey(ctx, &store.Passkey{Community: c, Resident: resident, CredentialID: credID, PublicKey: []byte{1}, SignCount: 5})
	})
	if err != nil {
		t.Fatal(err)
	}
	use := store.PasskeyUse{Community: c, Resident: resident, CredentialID: credID, Count: 6, UserVerified: true}
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); _, errs[i] = db.UsePasskey(ctx, use) }()
	}
	wg.Wait()
	var ok, regressed, suspended int
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, access.ErrCounterRegressed):
			regressed++
		case errors.Is(err, access.ErrPasskeySuspended):
			suspended++
		default:
			t.Fatalf("UsePasskey: %v", err)
		}
	}
	if ok != 1 || regressed != 1 || suspended != len(errs)-2 {
		t.Fatalf("used %d, regressed %d, refused as suspended %d", ok, regressed, suspended)
	}
	pks, err := db.Passkeys(ctx, c, resident)
	if err != nil || len(pks) != 1 || pks[0].SuspendedAt == nil || *pks[0].SuspendReason != access.SuspendCounterRegressed || pks[0].SignCount != 6 {
		t.Fatalf("passkey after the race: %+v %v", pks, err)
	}
	// Suspended for good: a counter far ahead does not bring it back.
	use.Count = 1000
	if _, err := db.UsePasskey(ctx, use); !errors.Is(err, access.ErrPasskeySuspended) {
		t.Fatalf("suspended passkey used: %v", err)
	}
}
