package secret

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestTokenRoundTrip(t *testing.T) {
	c := uuid.New()
	for _, kind := range []string{KindStaff, KindGate, KindInvite, KindEnrollment, KindSession, KindVisitor} {
		tok, err := New(kind, c)
		if err != nil {
			t.Fatal(err)
		}
		got, h, err := Parse(kind, tok.Plain)
		if err != nil {
			t.Fatalf("%s: parse: %v", kind, err)
		}
		if got != c || h != tok.Hash {
			t.Fatalf("%s: round trip gave %s %x", kind, got, h)
		}
	}
	a, _ := New(KindStaff, c)
	b, _ := New(KindStaff, c)
	if a.Plain == b.Plain {
		t.Fatal("two tokens are equal")
	}
}

func TestTokenParseRejects(t *testing.T) {
	good, _ := New(KindStaff, uuid.New())
	body := strings.TrimPrefix(good.Plain, KindStaff+"_")
	cases := map[string]string{
		"empty":        "",
		"other kind":   KindGate + "_" + body,
		"no prefix":    body,
		"short":        good.Plain[:len(good.Plain)-1],
		"long":         good.Plain + "A",
		"bad alphabet": good.Plain[:len(good.Plain)-1] + "*",
		"padding":      good.Plain[:len(good.Plain)-2] + "==",
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			if _, _, err := Parse(KindStaff, in); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse(%q) = %v, want ErrMalformed", in, err)
			}
		})
	}
}

func TestSealer(t *testing.T) {
	key := bytes.Repeat([]byte{7}, MasterKeySize)
	s, err := NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal([]byte("seed"), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("seed")) {
		t.Fatal("plaintext visible in sealed bytes")
	}
	if pt, err := s.Open(sealed, []byte("ad")); err != nil || string(pt) != "seed" {
		t.Fatalf("open = %q, %v", pt, err)
	}
	other, _ := NewSealer(bytes.Repeat([]byte{8}, MasterKeySize))
	tampered := append([]byte(nil), sealed...)
	tampered[len(tampered)-1] ^= 1
	for name, open := range map[string]func() ([]byte, error){
		"wrong ad":  func() ([]byte, error) { return s.Open(sealed, []byte("other")) },
		"wrong key": func() ([]byte, error) { return other.Open(sealed, []byte("ad")) },
		"tampered":  func() ([]byte, error) { return s.Open(tampered, []byte("ad")) },
		"short":     func() ([]byte, error) { return s.Open(sealed[:5], []byte("ad")) },
	} {
		if _, err := open(); !errors.Is(err, ErrOpen) {
			t.Errorf("%s: err = %v, want ErrOpen", name, err)
		}
	}
	if _, err := NewSealer(key[:16]); err == nil {
		t.Fatal("short master key accepted")
	}
}

func TestParseMasterKey(t *testing.T) {
	key := bytes.Repeat([]byte{0xab}, MasterKeySize)
	for name, in := range map[string]string{
		"hex":    strings.Repeat("ab", 32) + "\n",
		"base64": "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=",
	} {
		got, err := ParseMasterKey([]byte(in))
		if err != nil || !bytes.Equal(got, key) {
			t.Errorf("%s: %x, %v", name, got, err)
		}
	}
	for _, in := range []string{"", "abcd", strings.Repeat("ab", 31), strings.Repeat("zz", 32)} {
		if _, err := ParseMasterKey([]byte(in)); err == nil {
			t.Errorf("ParseMasterKey(%q) accepted", in)
		}
	}
}
