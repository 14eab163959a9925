package secret

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestShortCode(t *testing.T) {
	c := uuid.New()
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		s, err := NewShort(c)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Plain) != 14 || s.Plain[4] != '-' || s.Plain[9] != '-' || strings.ReplaceAll(s.Plain, "-", "") != s.Normal {
			t.Fatalf("short code %q (%q) is not three groups of four", s.Plain, s.Normal)
		}
		normal, bucket, err := ParseShort(s.Plain)
		if err != nil || normal != s.Normal || bucket != ShortBucket(c) {
			t.Fatalf("ParseShort(%q) = %q %d %v, want %q %d", s.Plain, normal, bucket, err, s.Normal, ShortBucket(c))
		}
		if seen[s.Normal] {
			t.Fatalf("the same code twice: %s", s.Normal)
		}
		seen[s.Normal] = true
	}
}

// Typing is forgiving about what people confuse, and strict about everything else.
func TestParseShort(t *testing.T) {
	cases := []struct {
		typed, want string
	}{
		{"7K2M-QX9D-4HTR", "7K2MQX9D4HTR"},
		{"7k2m qx9d 4htr", "7K2MQX9D4HTR"},
		{" 7K2MQX9D4HTR ", "7K2MQX9D4HTR"},
		{"OIL0-QX9D-4HTR", "0110QX9D4HTR"},
		{"7K2M-QX9D-4HT", ""},   // too short
		{"7K2M-QX9D-4HTRR", ""}, // too long
		{"7K2M-QX9D-4HTU", ""},  // U is not in the alphabet
		{"7K2M_QX9D_4HTR", ""},
		{"７K2M-QX9D-4HTR", ""}, // a full-width digit
		{"gpi_7K2MQX9D4HTR", ""},
		{"", ""},
	}
	for _, c := range cases {
		got, _, err := ParseShort(c.typed)
		if c.want == "" {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("ParseShort(%q) = %q, %v, want ErrMalformed", c.typed, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseShort(%q) = %q, %v, want %q", c.typed, got, err, c.want)
		}
	}
	if ShortHash([]byte("k"), "7K2MQX9D4HTR") == ShortHash([]byte("other key"), "7K2MQX9D4HTR") {
		t.Error("the short code's hash does not depend on the key")
	}
}
