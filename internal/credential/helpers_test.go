package credential

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/hex"
	"testing"
	"time"

	"github.com/google/uuid"
)

// Fixed keys, published with the test vectors. The Ed25519 seed is the
// secret key of RFC 8032 §7.1 TEST 1 and the P-256 scalar the private key of
// RFC 6979 A.2.5, so both can be cross-checked against those documents.
const (
	vectorSeedHex   = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
	vectorP256Hex   = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721"
	vectorKID       = 0x47410001
	vectorCommunity = "3f2a8c1e-5b7d-4e90-a1c2-6d8e9f0a1b2c"
)

var (
	community = uuid.MustParse(vectorCommunity)
	otherComm = uuid.MustParse("00000000-0000-4000-8000-000000000002")
	t0        = time.Date(2030, 1, 1, 8, 0, 0, 0, time.UTC) // 1893484800
	credA     = uuid.MustParse("0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9")
	credB     = uuid.MustParse("1a2b3c4d-5e6f-4a0b-9c1d-2e3f4a5b6c7d")
	credC     = uuid.MustParse("c0ffee00-1234-4567-89ab-cdef01234567")
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func vectorSigner(t testing.TB) Signer {
	return Signer{KID: vectorKID, Key: ed25519.NewKeyFromSeed(mustHex(t, vectorSeedHex))}
}

func vectorPhone(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), mustHex(t, vectorP256Hex))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newPhone(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func keyOf(s Signer, comm uuid.UUID) Key {
	return Key{KID: s.KID, Community: comm, Public: s.Key.Public().(ed25519.PublicKey)}
}

func newSigner(t testing.TB, kid uint32) Signer {
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return Signer{KID: kid, Key: priv}
}

func mustKeySet(t testing.TB, keys ...Key) *KeySet {
	t.Helper()
	s, err := NewKeySet(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func vectorVerifier(t testing.TB) *Verifier {
	return &Verifier{Community: community, Keys: mustKeySet(t, keyOf(vectorSigner(t), community))}
}

// Claim templates: a resident's issued code, a card, a device certificate.
func issuedClaims() Claims {
	return Claims{CredentialID: credA, Subject: SubjectResident, Zones: 0b1011,
		NotBefore: t0, ExpiresAt: t0.Add(120 * time.Second), Nonce: 0x0123456789abcdef}
}

func cardClaims() Claims {
	return Claims{CredentialID: credB, Subject: SubjectResident, Zones: 1,
		NotBefore: t0, ExpiresAt: t0.Add(365 * 24 * time.Hour), Nonce: 0xfedcba9876543210}
}

func deviceClaims() Claims {
	return Claims{CredentialID: credC, Subject: SubjectStaff, Zones: 0x8000000000000003,
		NotBefore: t0, ExpiresAt: t0.Add(30 * 24 * time.Hour)}
}

func mustMint(t testing.TB, f func(Signer, Claims) (string, error), s Signer, c Claims) string {
	t.Helper()
	text, err := f(s, c)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

func mustDevice(t testing.TB, s Signer, c Claims, phone *ecdsa.PrivateKey, at time.Time) string {
	t.Helper()
	cert, err := CertifyDevice(s, c, &phone.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	text, err := PresentDevice(cert, phone, at)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// rawOf decodes a QR text to its binary token.
func rawOf(t testing.TB, text string) []byte {
	t.Helper()
	b := make([]byte, base45DecodedLen(len(text)-len(Prefix)))
	n, err := decodeBase45(b, text[len(Prefix):])
	if err != nil {
		t.Fatal(err)
	}
	return b[:n]
}

func textOf(raw []byte) string {
	return string(appendBase45([]byte(Prefix), raw))
}
