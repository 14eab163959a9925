package credential

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json and the fuzz seed corpus from the current code")

const vectorsFile = "testdata/vectors.json"

type vectorFile struct {
	Description string `json:"description"`
	Prefix      string `json:"prefix"`
	ServerKey   struct {
		KID           uint32 `json:"kid"`
		Community     string `json:"community"`
		Ed25519Seed   string `json:"ed25519_seed"`
		Ed25519Public string `json:"ed25519_public"`
	} `json:"server_key"`
	PhoneKey struct {
		P256Scalar string `json:"p256_private_scalar"`
		P256Public string `json:"p256_public_compressed"`
	} `json:"phone_key"`
	Vectors []vector `json:"vectors"`
}

type vector struct {
	Name   string       `json:"name"`
	Claims vectorClaims `json:"claims"`
	// PresentAt is the phone's clock when it made the presentation (device).
	PresentAt int64 `json:"present_at,omitempty"`
	// VerifyAt is a gate time at which the token verifies.
	VerifyAt int64 `json:"verify_at"`
	// CertHex is the device certificate as CertifyDevice returns it.
	CertHex string `json:"certificate_hex,omitempty"`
	Hex     string `json:"hex"`
	Text    string `json:"text"`
}

// vectorClaims is Claims in a language-neutral form: 64-bit fields as hex
// strings (JSON numbers lose precision past 2^53), times as Unix seconds.
type vectorClaims struct {
	Type         string `json:"type"`
	KID          uint32 `json:"kid"`
	CredentialID string `json:"credential_id"`
	Subject      string `json:"subject"`
	Zones        string `json:"zones"`
	NotBefore    int64  `json:"not_before"`
	ExpiresAt    int64  `json:"expires_at"`
	Nonce        string `json:"nonce,omitempty"`
	DeviceKey    string `json:"device_key,omitempty"`
	Counter      uint32 `json:"counter,omitempty"`
}

func toVector(c Claims) vectorClaims {
	v := vectorClaims{
		Type: c.Type.String(), KID: c.KID, CredentialID: c.CredentialID.String(),
		Subject: c.Subject.String(), Zones: fmt.Sprintf("%016x", c.Zones),
		NotBefore: c.NotBefore.Unix(), ExpiresAt: c.ExpiresAt.Unix(),
	}
	if c.Type == TypeDevice {
		v.DeviceKey, v.Counter = hex.EncodeToString(c.DeviceKey[:]), c.Counter
	} else {
		v.Nonce = fmt.Sprintf("%016x", c.Nonce)
	}
	return v
}

func fromVector(t *testing.T, v vectorClaims) Claims {
	t.Helper()
	types := map[string]Type{"issued": TypeIssued, "device": TypeDevice, "card": TypeCard}
	subjects := map[string]Subject{"resident": SubjectResident, "visitor": SubjectVisitor, "staff": SubjectStaff}
	c := Claims{Type: types[v.Type], KID: v.KID, Subject: subjects[v.Subject],
		NotBefore: time.Unix(v.NotBefore, 0).UTC(), ExpiresAt: time.Unix(v.ExpiresAt, 0).UTC(), Counter: v.Counter}
	var err error
	if c.CredentialID, err = uuid.Parse(v.CredentialID); err != nil {
		t.Fatal(err)
	}
	if c.Zones, err = strconv.ParseUint(v.Zones, 16, 64); err != nil {
		t.Fatal(err)
	}
	if v.Nonce != "" {
		if c.Nonce, err = strconv.ParseUint(v.Nonce, 16, 64); err != nil {
			t.Fatal(err)
		}
	}
	if v.DeviceKey != "" {
		copy(c.DeviceKey[:], mustHex(t, v.DeviceKey))
	}
	if c.Type == 0 || c.Subject == 0 {
		t.Fatalf("vector claims %+v: unknown type or subject", v)
	}
	return c
}

// generateVectors builds the vectors from the fixed keys and templates.
func generateVectors(t *testing.T) vectorFile {
	s := vectorSigner(t)
	phone := vectorPhone(t)
	var f vectorFile
	f.Description = "gatepass credential test vectors; see docs/credential-format.md. " +
		"Device presentations are signed with RFC 6979 deterministic ECDSA (SHA-256); " +
		"a gate accepts any valid ECDSA signature."
	f.Prefix = Prefix
	f.ServerKey.KID = s.KID
	f.ServerKey.Community = community.String()
	f.ServerKey.Ed25519Seed = vectorSeedHex
	f.ServerKey.Ed25519Public = hex.EncodeToString(s.Key.Public().(ed25519.PublicKey))
	f.PhoneKey.P256Scalar = vectorP256Hex
	var dk [DeviceKeySize]byte
	if err := compressP256(&dk, &phone.PublicKey); err != nil {
		t.Fatal(err)
	}
	f.PhoneKey.P256Public = hex.EncodeToString(dk[:])

	add := func(name, text string, presentAt time.Time, cert []byte) {
		tok, err := Parse(text)
		if err != nil {
			t.Fatal(err)
		}
		v := vector{Name: name, Claims: toVector(tok.Claims), VerifyAt: t0.Add(50 * time.Second).Unix(),
			Hex: hex.EncodeToString(rawOf(t, text)), Text: text}
		if cert != nil {
			v.PresentAt, v.CertHex = presentAt.Unix(), hex.EncodeToString(cert)
		}
		f.Vectors = append(f.Vectors, v)
	}
	add("issued", mustMint(t, MintIssued, s, issuedClaims()), time.Time{}, nil)
	add("card", mustMint(t, MintCard, s, cardClaims()), time.Time{}, nil)
	cert, err := CertifyDevice(s, deviceClaims(), &phone.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	presentAt := t0.Add(45 * time.Second)
	text, err := PresentDevice(cert, phone, presentAt)
	if err != nil {
		t.Fatal(err)
	}
	add("device", text, presentAt, cert)
	return f
}

// TestVectors checks both directions: the published bytes are what the code
// mints from the published inputs, and they verify to the published claims.
func TestVectors(t *testing.T) {
	if *update {
		f := generateVectors(t)
		b, err := json.MarshalIndent(f, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsFile, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		writeFuzzSeeds(t, f)
	}
	b, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) != 3 || f.Prefix != Prefix {
		t.Fatalf("%s: %d vectors, prefix %q", vectorsFile, len(f.Vectors), f.Prefix)
	}
	// The keys are rebuilt from the published seed and scalar alone.
	s := Signer{KID: f.ServerKey.KID, Key: ed25519.NewKeyFromSeed(mustHex(t, f.ServerKey.Ed25519Seed))}
	if got := hex.EncodeToString(s.Key.Public().(ed25519.PublicKey)); got != f.ServerKey.Ed25519Public {
		t.Fatalf("public key from seed = %s, file says %s", got, f.ServerKey.Ed25519Public)
	}
	phone := vectorPhone(t)
	if f.PhoneKey.P256Scalar != vectorP256Hex {
		t.Fatal("phone scalar differs from the test's")
	}
	comm := uuid.MustParse(f.ServerKey.Community)
	v := Verifier{Community: comm, Keys: mustKeySet(t, keyOf(s, comm))}
	seen := map[Type]bool{}
	for _, vec := range f.Vectors {
		t.Run(vec.Name, func(t *testing.T) {
			want := fromVector(t, vec.Claims)
			seen[want.Type] = true
			if !bytes.Equal(mustHex(t, vec.Hex), rawOf(t, vec.Text)) {
				t.Fatal("hex and text disagree")
			}
			var minted string
			switch want.Type {
			case TypeIssued:
				minted = mustMint(t, MintIssued, s, want)
			case TypeCard:
				minted = mustMint(t, MintCard, s, want)
			case TypeDevice:
				cert, err := CertifyDevice(s, want, &phone.PublicKey)
				if err != nil {
					t.Fatal(err)
				}
				if got := hex.EncodeToString(cert); got != vec.CertHex || !strings.HasPrefix(vec.Hex, got) {
					t.Fatalf("certificate\n got %s\nwant %s", got, vec.CertHex)
				}
				if minted, err = PresentDevice(cert, phone, time.Unix(vec.PresentAt, 0)); err != nil {
					t.Fatal(err)
				}
			}
			if minted != vec.Text {
				t.Errorf("minted\n%s\nvector\n%s", minted, vec.Text)
			}
			got, err := v.Verify(vec.Text, time.Unix(vec.VerifyAt, 0))
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("verified claims\n got %+v\nwant %+v", got, want)
			}
		})
	}
	if len(seen) != 3 {
		t.Errorf("vectors cover types %v, want all three", seen)
	}
}

// TestDocVectors keeps the published spec in step with the vectors.
func TestDocVectors(t *testing.T) {
	doc, err := os.ReadFile("../../docs/credential-format.md")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	for _, v := range f.Vectors {
		for _, s := range []string{v.Hex, v.Text} {
			if !bytes.Contains(doc, []byte(s)) {
				t.Errorf("docs/credential-format.md lacks the %s vector's %.20s...", v.Name, s)
			}
		}
	}
	for _, s := range []string{f.ServerKey.Ed25519Seed, f.ServerKey.Ed25519Public, f.PhoneKey.P256Scalar, f.PhoneKey.P256Public} {
		if !bytes.Contains(doc, []byte(s)) {
			t.Errorf("docs/credential-format.md lacks key %s", s)
		}
	}
}

const fuzzDir = "testdata/fuzz/FuzzParseVerify"

// writeFuzzSeeds writes the seed corpus: each vector, its near misses, and
// garbage that exercises every early exit.
func writeFuzzSeeds(t *testing.T, f vectorFile) {
	seeds := map[string]string{
		"empty":        "",
		"prefix-only":  Prefix,
		"rfc-example":  Prefix + "BB8",
		"overflow":     Prefix + "GGW",
		"lower-case":   "ga1:bb8",
		"leftover":     Prefix + "BB8A",
		"too-long":     Prefix + strings.Repeat("0", MaxTextLen),
		"unknown-type": Prefix + string(appendBase45(nil, append([]byte{0x04}, make([]byte, simpleLen-1)...))),
	}
	for _, v := range f.Vectors {
		seeds["valid-"+v.Name] = v.Text
		seeds["truncated-"+v.Name] = v.Text[:len(v.Text)-3]
		seeds["trailing-"+v.Name] = v.Text + "000"
		raw := mustHex(t, v.Hex)
		raw[len(raw)-1] ^= 1
		seeds["badsig-"+v.Name] = textOf(raw)
	}
	if err := os.MkdirAll(fuzzDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, s := range seeds {
		body := fmt.Sprintf("go test fuzz v1\nstring(%q)\n", s)
		if err := os.WriteFile(filepath.Join(fuzzDir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
