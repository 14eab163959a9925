package gate

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestFrame(t *testing.T) {
	max := strings.Repeat("x", MaxInput)
	cases := []struct {
		name string
		raw  string
		cut  bool
		want string
		err  error
	}{
		{"bare", "GA1:AB", false, "GA1:AB", nil},
		{"LF", "GA1:AB\n", false, "GA1:AB", nil},
		{"CR LF", "GA1:AB\r\n", false, "GA1:AB", nil},
		{"CR", "GA1:AB\r", false, "GA1:AB", nil},
		{"only one ending is stripped", "GA1:AB\r\r\n", false, "GA1:AB\r", nil},
		{"LF LF", "GA1:AB\n\n", false, "GA1:AB\n", nil},
		{"spaces stay", " GA1:AB \n", false, " GA1:AB ", nil},
		{"NUL stays", "GA1:AB\x00", false, "GA1:AB\x00", nil},
		{"the cap", max + "\r\n", false, max, nil},
		{"past the cap", max + "x", false, "", ErrOversize},
		{"past the cap with an ending", max + "x\n", false, "", ErrOversize},
		{"cut", "GA1:AB", true, "", ErrOversize},
		{"empty", "", false, "", ErrEmpty},
		{"blank line", "\r\n", false, "", ErrEmpty},
	}
	for _, c := range cases {
		got, err := Frame([]byte(c.raw), c.cut)
		if got != c.want || !errors.Is(err, c.err) || (err == nil) != (c.err == nil) {
			t.Errorf("%s: %q %v, want %q %v", c.name, got, err, c.want, c.err)
		}
	}
	if d := Refusal(ErrOversize); d.Granted || d.Reason != Malformed || !errors.Is(d.Detail, ErrOversize) {
		t.Errorf("refusal %+v", d)
	}
}

// Malformed is decided before "no trusted key": garbage reads the same on a gate that has
// never synced as on one that has.
func TestMalformedBeforeNoTrustedKey(t *testing.T) {
	f := newFixture(t)
	d := NewDecider(NewMemory())
	for _, text := range []string{"GA1:garbage", "hello", "\x00\xff"} {
		if got := d.Decide(text, t0); got.Reason != Malformed {
			t.Errorf("%q without keys: %s", text, got.Reason)
		}
	}
	if got := d.Decide(f.issued(t, f.signer, community, 4, t0), t0.Add(time.Second)); got.Reason != NotEnrolled {
		t.Errorf("a well-formed code without keys: %s", got.Reason)
	}
}
