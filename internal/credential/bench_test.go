package credential

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/asn1"
	"math/big"
	"testing"
)

// The Bare* benchmarks run only the cryptography a Verify or Mint call
// contains, on the same message lengths, so that the ratio Verify/Bare is
// the cost of this package's own work (parsing, Base45, lookups, checks).

type bareIssued struct {
	pub      ed25519.PublicKey
	msg, sig []byte
}

func newBareIssued(t testing.TB, text string) *bareIssued {
	raw := rawOf(t, text)
	label := labelIssued
	if Type(raw[0]) == TypeCard {
		label = labelCard
	}
	s := vectorSigner(t)
	return &bareIssued{
		pub: s.Key.Public().(ed25519.PublicKey),
		msg: append([]byte(label), raw[:simpleBody]...),
		sig: raw[offSig:simpleLen],
	}
}

func (b *bareIssued) verify() bool { return ed25519.Verify(b.pub, b.msg, b.sig) }

// bareDevice is the crypto of a device token: Ed25519 over the certificate,
// SHA-256 of the presentation, decompressing the phone key (the standard
// library parses only uncompressed keys) and ECDSA P-256.
type bareDevice struct {
	pub              ed25519.PublicKey
	certMsg, certSig []byte
	presMsg, der     []byte
	devKey           []byte
	point            [65]byte // the caller's buffer, as Verify pools its own
}

func newBareDevice(t testing.TB, text string) *bareDevice {
	raw := rawOf(t, text)
	var sig struct{ R, S *big.Int }
	sig.R = new(big.Int).SetBytes(raw[offPhoneSig : offPhoneSig+32])
	sig.S = new(big.Int).SetBytes(raw[offPhoneSig+32 : deviceLen])
	der, err := asn1.Marshal(sig)
	if err != nil {
		t.Fatal(err)
	}
	return &bareDevice{
		pub:     vectorSigner(t).Key.Public().(ed25519.PublicKey),
		certMsg: append([]byte(labelDeviceCert), raw[:certBody]...),
		certSig: raw[offCertSig:certLen],
		presMsg: append([]byte(labelPresentation), raw[:presBody]...),
		der:     der,
		devKey:  raw[offDeviceKey:certBody],
	}
}

func (b *bareDevice) verify() bool {
	if !ed25519.Verify(b.pub, b.certMsg, b.certSig) {
		return false
	}
	digest := sha256.Sum256(b.presMsg)
	x, y := elliptic.UnmarshalCompressed(elliptic.P256(), b.devKey)
	if x == nil {
		return false
	}
	b.point[0] = 4
	x.FillBytes(b.point[1:33])
	y.FillBytes(b.point[33:])
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), b.point[:])
	if err != nil {
		return false
	}
	return ecdsa.VerifyASN1(pub, digest[:], b.der)
}

func benchVerify(b *testing.B, text string) {
	v := vectorVerifier(b)
	if _, err := v.Verify(text, t0); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(text, t0); err != nil {
			b.Fatal(err)
		}
	}
}

func benchBare(b *testing.B, verify func() bool) {
	if !verify() {
		b.Fatal("bare verify failed")
	}
	b.ReportAllocs()
	for b.Loop() {
		if !verify() {
			b.Fatal("bare verify failed")
		}
	}
}

func BenchmarkVerifyIssued(b *testing.B) {
	benchVerify(b, mustMint(b, MintIssued, vectorSigner(b), issuedClaims()))
}

func BenchmarkBareEd25519Verify(b *testing.B) {
	benchBare(b, newBareIssued(b, mustMint(b, MintIssued, vectorSigner(b), issuedClaims())).verify)
}

func BenchmarkVerifyCard(b *testing.B) {
	benchVerify(b, mustMint(b, MintCard, vectorSigner(b), cardClaims()))
}

func BenchmarkVerifyDevice(b *testing.B) {
	benchVerify(b, mustDevice(b, vectorSigner(b), deviceClaims(), vectorPhone(b), t0))
}

func BenchmarkBareDeviceCrypto(b *testing.B) {
	benchBare(b, newBareDevice(b, mustDevice(b, vectorSigner(b), deviceClaims(), vectorPhone(b), t0)).verify)
}

func BenchmarkMintIssued(b *testing.B) {
	s := vectorSigner(b)
	c := issuedClaims()
	c.Nonce = 0 // as in production: a fresh random nonce per token
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MintIssued(s, c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBareEd25519Sign(b *testing.B) {
	s := vectorSigner(b)
	msg := make([]byte, len(labelIssued)+simpleBody)
	b.ReportAllocs()
	for b.Loop() {
		ed25519.Sign(s.Key, msg)
	}
}

// BenchmarkRejectGarbage is the flood case: a scanner fed junk.
func BenchmarkRejectGarbage(b *testing.B) {
	v := vectorVerifier(b)
	text := mustMint(b, MintIssued, vectorSigner(b), issuedClaims())
	text = text[:len(text)-3] + "GGW"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(text, t0); err == nil {
			b.Fatal("garbage verified")
		}
	}
}
