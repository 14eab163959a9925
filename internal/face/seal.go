package face

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hpke"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/google/uuid"
)

// A template travels only sealed to one gate's X25519 key with HPKE (RFC 9180, Go's
// crypto/hpke): DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305, base mode.
// The standard library has it, so no dependency is needed; it is the construction
// nacl/box SealAnonymous approximates, with a published spec and test vectors.
//
// Wire format of a sealed template (what the server stores and relays):
//
//	"GPF1" | HPKE encapsulated key (32) | HPKE ciphertext of the plaintext below (+16 tag)
//
// The binding (community, gate, resident, model) is the HPKE info string, so a blob
// copied to another gate, resident or community does not even decrypt; it is repeated in
// the plaintext header and compared on open, so the gate also learns what it opened:
//
//	community (16) | gate (16) | resident (16) | len(model) (1) | model | dim (2, BE) |
//	dim x float32 (little endian, the normalised embedding)

// Binding names the one place a sealed template is valid.
type Binding struct {
	Community uuid.UUID `json:"community_id"`
	Gate      uuid.UUID `json:"gate_id"`
	Resident  uuid.UUID `json:"resident_id"`
	Model     string    `json:"model"`
}

// GateKeySize is the length of a gate's X25519 public key (gates.box_public_key).
const GateKeySize = 32

const sealMagic = "GPF1"

// MinSealedSize and MaxSealedSize bound a well-formed sealed template, for servers that
// store blobs they cannot read.
var (
	MinSealedSize = len(sealMagic) + 32 + 16*3 + 1 + 1 + 2 + 4 + 16
	MaxSealedSize = len(sealMagic) + 32 + 16*3 + 1 + 255 + 2 + 4*maxDim() + 16
)

func maxDim() int {
	m := 0
	for _, d := range Models {
		m = max(m, d)
	}
	return m
}

// Errors of Open; test with errors.Is.
var (
	// ErrSealed: the blob is malformed, was sealed to another key or binding, or was
	// changed. The three are indistinguishable on purpose.
	ErrSealed = errors.New("sealed face template does not open")
	// ErrBinding: the plaintext names another binding than the HPKE info (only a sealer
	// that lied could make one).
	ErrBinding = errors.New("sealed face template names another binding")
)

func suite() (hpke.KDF, hpke.AEAD) { return hpke.HKDFSHA256(), hpke.ChaCha20Poly1305() }

// NewGateKey makes a gate's X25519 key pair; the public half (PublicKey().Bytes()) goes
// to the server at enrollment, the private half never leaves the gate.
func NewGateKey() (*ecdh.PrivateKey, error) {
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("face gate key: %w", err)
	}
	return k, nil
}

// GateKey parses the 32 bytes of a stored private key (PrivateKey.Bytes()).
func GateKey(raw []byte) (*ecdh.PrivateKey, error) {
	k, err := ecdh.X25519().NewPrivateKey(raw)
	if err != nil {
		return nil, fmt.Errorf("face gate key: %w", err)
	}
	return k, nil
}

// infoLabel separates this use of HPKE from any other.
const infoLabel = "gatepass face template v1\x00"

// header is the binding as bytes: the plaintext header, and after infoLabel the info.
func (b Binding) header() ([]byte, error) {
	if len(b.Model) == 0 || len(b.Model) > 255 {
		return nil, fmt.Errorf("binding model %q: %w", b.Model, ErrUnknownModel)
	}
	out := make([]byte, 0, 48+1+len(b.Model))
	out = append(out, b.Community[:]...)
	out = append(out, b.Gate[:]...)
	out = append(out, b.Resident[:]...)
	out = append(out, byte(len(b.Model)))
	return append(out, b.Model...), nil
}

// Seal validates and normalises t and seals it to one gate's public key for binding b.
func Seal(t Template, gatePublic []byte, b Binding) ([]byte, error) {
	if t.Model != b.Model {
		return nil, invalid(ErrUnknownModel, "model", "template of model %q sealed for model %q", t.Model, b.Model)
	}
	n, err := t.Normalized()
	if err != nil {
		return nil, err
	}
	defer n.Wipe()
	pub, err := ecdh.X25519().NewPublicKey(gatePublic)
	if err != nil {
		return nil, fmt.Errorf("gate public key: %w", err)
	}
	pk, err := hpke.NewDHKEMPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("gate public key: %w", err)
	}
	head, err := b.header()
	if err != nil {
		return nil, err
	}
	info := append([]byte(infoLabel), head...)
	plain := binary.BigEndian.AppendUint16(head, uint16(len(n.Embedding)))
	for _, v := range n.Embedding {
		plain = binary.LittleEndian.AppendUint32(plain, math.Float32bits(v))
	}
	defer clear(plain)
	kdf, aead := suite()
	ct, err := hpke.Seal(pk, kdf, aead, info, plain)
	if err != nil {
		return nil, fmt.Errorf("seal face template: %w", err)
	}
	return append([]byte(sealMagic), ct...), nil
}

// CheckSealed checks what a server can check of a blob it cannot open: the format tag
// and a plausible length.
func CheckSealed(sealed []byte) error {
	if len(sealed) < MinSealedSize || len(sealed) > MaxSealedSize || !bytes.HasPrefix(sealed, []byte(sealMagic)) {
		return fmt.Errorf("not a sealed face template (%d bytes): %w", len(sealed), ErrSealed)
	}
	return nil
}

// Open decrypts a sealed template with the gate's private key, requires it to be bound
// to want, and validates it.
func Open(sealed []byte, gate *ecdh.PrivateKey, want Binding) (Template, error) {
	if err := CheckSealed(sealed); err != nil {
		return Template{}, err
	}
	sk, err := hpke.NewDHKEMPrivateKey(gate)
	if err != nil {
		return Template{}, fmt.Errorf("gate private key: %w", err)
	}
	head, err := want.header()
	if err != nil {
		return Template{}, err
	}
	kdf, aead := suite()
	plain, err := hpke.Open(sk, kdf, aead, append([]byte(infoLabel), head...), sealed[len(sealMagic):])
	if err != nil {
		return Template{}, ErrSealed
	}
	defer clear(plain)
	if !bytes.HasPrefix(plain, head) {
		return Template{}, ErrBinding
	}
	rest := plain[len(head):]
	if len(rest) < 2 {
		return Template{}, ErrSealed
	}
	dim := int(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	if len(rest) != 4*dim {
		return Template{}, ErrSealed
	}
	t := Template{Model: want.Model, Embedding: make([]float32, dim)}
	for i := range t.Embedding {
		t.Embedding[i] = math.Float32frombits(binary.LittleEndian.Uint32(rest[4*i:]))
	}
	if err := t.Validate(); err != nil {
		t.Wipe()
		return Template{}, err
	}
	return t, nil
}

// PutSealed opens a sealed template with the gate's private key and puts it in the
// matcher for b.Resident; the decrypted copy is wiped once the matcher has its own. This
// is what a gate does with a "face_template" sync change, and with the blobs it keeps on
// disk when it starts (kept sealed at rest, they need no second encryption).
//
// A blob that does not open still replaces: the resident's template of b.Model is
// removed, so the matcher never keeps a template the server has superseded and the gate's
// disk no longer holds (it would match until the next restart and then vanish).
func (m *Matcher) PutSealed(sealed []byte, gate *ecdh.PrivateKey, b Binding) error {
	t, err := Open(sealed, gate, b)
	if err != nil {
		m.mu.Lock()
		m.removeLocked(b.Model, b.Resident)
		m.mu.Unlock()
		return err
	}
	defer t.Wipe()
	return m.Put(b.Resident, t)
}
