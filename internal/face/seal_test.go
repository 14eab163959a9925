package face

import (
	"bytes"
	"crypto/hpke"
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/google/uuid"
)

// floatBytes returns the little-endian bytes of a template's floats as they would appear
// in memory or in a careless serialisation; tests search stored data for runs of them.
func floatBytes(v []float32) []byte {
	out := make([]byte, 0, 4*len(v))
	for _, f := range v {
		out = binary.LittleEndian.AppendUint32(out, math.Float32bits(f))
	}
	return out
}

func TestSealOpen(t *testing.T) {
	gen := NewSynthetic(5)
	tmpl := gen.Identity()
	// Scale it so the raw and the normalised floats differ: neither may leak.
	raw := Template{Model: tmpl.Model, Embedding: make([]float32, len(tmpl.Embedding))}
	for i, v := range tmpl.Embedding {
		raw.Embedding[i] = 3 * v
	}
	gateA, _ := NewGateKey()
	gateB, _ := NewGateKey()
	bind := Binding{Community: uuid.New(), Gate: uuid.New(), Resident: uuid.New(), Model: tmpl.Model}
	sealed, err := Seal(raw, gateA.PublicKey().Bytes(), bind)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckSealed(sealed); err != nil {
		t.Fatal(err)
	}
	for _, v := range [][]float32{raw.Embedding, tmpl.Embedding} {
		fb := floatBytes(v)
		for i := 0; i+8 <= len(fb); i += 4 {
			if bytes.Contains(sealed, fb[i:i+8]) {
				t.Fatalf("sealed blob contains two consecutive template floats at %d", i)
			}
		}
	}
	got, err := Open(sealed, gateA, bind)
	if err != nil {
		t.Fatal(err)
	}
	if got.Model != bind.Model || len(got.Embedding) != 512 {
		t.Fatalf("opened %s/%d", got.Model, len(got.Embedding))
	}
	if s := Dot(got.Embedding, tmpl.Embedding); math.Abs(float64(s)-1) > 1e-5 {
		t.Fatalf("opened template differs: cosine %v", s)
	}
	// Stored keys reload.
	again, _ := GateKey(gateA.Bytes())
	if _, err := Open(sealed, again, bind); err != nil {
		t.Fatalf("reloaded key: %v", err)
	}

	moved := func(f func(*Binding)) Binding { b := bind; f(&b); return b }
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-20] ^= 1
	cases := []struct {
		name   string
		sealed []byte
		key    int // 0: gate A, 1: gate B
		bind   Binding
		want   error
	}{
		{"other gate's key", sealed, 1, bind, ErrSealed},
		{"moved to another gate", sealed, 0, moved(func(b *Binding) { b.Gate = uuid.New() }), ErrSealed},
		{"moved to another resident", sealed, 0, moved(func(b *Binding) { b.Resident = uuid.New() }), ErrSealed},
		{"moved to another community", sealed, 0, moved(func(b *Binding) { b.Community = uuid.New() }), ErrSealed},
		{"another model", sealed, 0, moved(func(b *Binding) { b.Model = "arcface-r100-512" }), ErrSealed},
		{"one bit changed", flipped, 0, bind, ErrSealed},
		{"truncated", sealed[:len(sealed)-1], 0, bind, ErrSealed},
		{"no tag", sealed[4:], 0, bind, ErrSealed},
		{"empty", nil, 0, bind, ErrSealed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := gateA
			if c.key == 1 {
				k = gateB
			}
			if _, err := Open(c.sealed, k, c.bind); !errors.Is(err, c.want) {
				t.Fatalf("Open = %v, want %v", err, c.want)
			}
		})
	}
}

func TestSealRefusesBadInput(t *testing.T) {
	gate, _ := NewGateKey()
	bind := Binding{Community: uuid.New(), Gate: uuid.New(), Resident: uuid.New(), Model: "synthetic-512"}
	good := NewSynthetic(6).Identity()
	if _, err := Seal(Template{"synthetic-512", vec(512, float32(math.NaN()))}, gate.PublicKey().Bytes(), bind); !errors.Is(err, ErrNotFinite) {
		t.Fatalf("NaN: %v", err)
	}
	if _, err := Seal(Template{"arcface-r100-512", good.Embedding}, gate.PublicKey().Bytes(), bind); !errors.Is(err, ErrUnknownModel) {
		t.Fatalf("model differs from binding: %v", err)
	}
	if _, err := Seal(good, []byte("short"), bind); err == nil {
		t.Fatal("bad public key accepted")
	}
}

// A sealer that puts one binding in the HPKE info and another in the header is caught.
func TestOpenChecksHeader(t *testing.T) {
	gate, _ := NewGateKey()
	bind := Binding{Community: uuid.New(), Gate: uuid.New(), Resident: uuid.New(), Model: "synthetic-512"}
	liar := bind
	liar.Resident = uuid.New()
	head, _ := bind.header()
	lie, _ := liar.header()
	plain := binary.BigEndian.AppendUint16(lie, 512)
	plain = append(plain, floatBytes(NewSynthetic(8).Identity().Embedding)...)
	pk, _ := hpke.NewDHKEMPublicKey(gate.PublicKey())
	kdf, aead := suite()
	ct, err := hpke.Seal(pk, kdf, aead, append([]byte(infoLabel), head...), plain)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(append([]byte(sealMagic), ct...), gate, bind); !errors.Is(err, ErrBinding) {
		t.Fatalf("Open = %v, want ErrBinding", err)
	}
}
