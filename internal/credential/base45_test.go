package credential

import (
	"bytes"
	"errors"
	"testing"
)

func TestBase45RFC9285(t *testing.T) {
	for _, tc := range []struct{ bin, text string }{
		{"AB", "BB8"},
		{"Hello!!", "%69 VD92EX0"},
		{"base-45", "UJCLQE7W581"},
		{"ietf!", "QED8WEX0"},
		{"", ""},
		{"\x00", "00"},
		{"\xff", "U5"},      // largest single byte
		{"\xff\xff", "FGW"}, // largest group
		{"\x00\x00", "000"}, // smallest group
		{"\x00\x00\x00", "00000"},
	} {
		if got := string(appendBase45(nil, []byte(tc.bin))); got != tc.text {
			t.Errorf("encode %q = %q, want %q", tc.bin, got, tc.text)
		}
		if got := base45EncodedLen(len(tc.bin)); got != len(tc.text) {
			t.Errorf("encoded len of %q = %d", tc.bin, got)
		}
		dst := make([]byte, base45DecodedLen(len(tc.text)))
		n, err := decodeBase45(dst, tc.text)
		if err != nil || !bytes.Equal(dst[:n], []byte(tc.bin)) {
			t.Errorf("decode %q = %q, %v; want %q", tc.text, dst[:n], err, tc.bin)
		}
	}
}

func TestBase45Invalid(t *testing.T) {
	for _, tc := range []struct {
		text string
		want error
	}{
		{"GGW", errBase45Overflow},    // RFC 9285 §4.3: 65536
		{":::", errBase45Overflow},    // 91124, the largest three digits can say
		{"V5", errBase45Overflow},     // 256 in a two-character tail
		{"::", errBase45Overflow},     // 2024
		{"A", errBase45Length},        // one character left over
		{"BB8A", errBase45Length},     // ditto after a group
		{"bb8", errBase45Alphabet},    // no case folding
		{"BB!", errBase45Alphabet},    // not in the alphabet
		{"B\x008", errBase45Alphabet}, // NUL
		{"B\xff8", errBase45Alphabet},
		{"BB8Z!", errBase45Alphabet}, // bad character in the tail
	} {
		var dst [16]byte
		_, err := decodeBase45(dst[:], tc.text)
		if err != tc.want {
			t.Errorf("decode %q: err = %v, want %v", tc.text, err, tc.want)
		}
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("decode %q: %v is not ErrMalformed", tc.text, err)
		}
	}
	// A destination too short for the text is refused, not overrun.
	var small [1]byte
	if _, err := decodeBase45(small[:], "BB8"); err == nil {
		t.Error("decode into a short buffer succeeded")
	}
}

// FuzzBase45 checks that decoding is the exact inverse of encoding: any text
// that decodes re-encodes to itself (no two texts for one byte string).
func FuzzBase45(f *testing.F) {
	for _, s := range []string{"BB8", "%69 VD92EX0", "GGW", "FGW", "U5", "V5", "A", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		dst := make([]byte, len(s))
		n, err := decodeBase45(dst, s)
		if err != nil {
			return
		}
		if got := string(appendBase45(nil, dst[:n])); got != s {
			t.Fatalf("decode(%q) re-encodes to %q", s, got)
		}
		if n != base45DecodedLen(len(s)) {
			t.Fatalf("decoded %d bytes, predicted %d", n, base45DecodedLen(len(s)))
		}
	})
}
