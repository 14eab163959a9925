package access_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/credential"
	"gatepass/internal/gate"
)

// The revocation rule as a gate applies it (issue 11, item 2): a gate drops a revocation
// at its forget_after, so at the last second a revoked card or code still verifies under
// the gate's skew the revocation must still be held, and the decision must be revoked.
// With the old margin (expiry + 10 min) a gate with skew 3600 granted the card.
func TestRevokedCredentialDeniedAtEverySkew(t *testing.T) {
	community := uuid.New()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer := credential.Signer{KID: 41, Key: priv}
	revokedAt := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	keys, err := credential.NewKeySet(credential.Key{KID: signer.KID, Community: community,
		Public: priv.Public().(ed25519.PublicKey), NotBefore: revokedAt.Add(-48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	cardID, qrID := uuid.New(), uuid.New()
	cardExp := revokedAt.Add(24 * time.Hour)
	card, err := credential.MintCard(signer, credential.Claims{CredentialID: cardID, Subject: credential.SubjectResident,
		Zones: 1, NotBefore: revokedAt.Add(-24 * time.Hour), ExpiresAt: cardExp})
	if err != nil {
		t.Fatal(err)
	}
	// The longest-lived code the phone can have been given just before the revocation.
	codeExp := revokedAt.Add(credential.MaxIssuedLifetime)
	code, err := credential.MintIssued(signer, credential.Claims{CredentialID: qrID, Subject: credential.SubjectResident,
		Zones: 1, NotBefore: revokedAt, ExpiresAt: codeExp})
	if err != nil {
		t.Fatal(err)
	}
	creds := []struct {
		name    string
		id      uuid.UUID
		text    string
		expires *time.Time // the credential row's expiry
		last    time.Time  // the token's own expiry
	}{
		{"card", cardID, card, &cardExp, cardExp},
		{"issued code", qrID, code, nil, codeExp},
	}
	for _, c := range creds {
		forget := access.ForgetRevocationAfter(revokedAt, c.expires)
		for _, skew := range []int{0, 1, 30, 600, 1200, 1801, 3540, access.MaxSkewSeconds - 1, access.MaxSkewSeconds} {
			t.Run(fmt.Sprintf("%s skew %d", c.name, skew), func(t *testing.T) {
				s := time.Duration(skew) * time.Second
				now := c.last.Add(s - time.Second) // the token's last whole second in the window
				// The gate keeps a revocation while its forget time is ahead (agent Prune).
				revoked := map[uuid.UUID]int64{}
				if forget.Unix() > now.Unix() {
					revoked[c.id] = forget.Unix()
				}
				d := gate.NewDecider(gate.NewMemory())
				d.SetState(&gate.State{Keys: keys, Revoked: revoked, SyncedAt: now.Add(-time.Second),
					Policy: gate.Policy{Community: community, Zone: 0, Skew: s, StaleAfter: time.Hour}})
				if dec := d.Decide(c.text, now); dec.Reason != gate.Revoked {
					t.Fatalf("at expiry + skew - 1s: %s (%v), want revoked; forget_after %v", dec.Reason, dec.Detail, forget)
				}
			})
		}
	}
}
