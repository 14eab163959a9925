package credential

import (
	"errors"
	"testing"
	"time"
)

// FuzzParseVerify: no input panics; whatever parses re-encodes to the same
// text (one text per token); whatever verifies parses to the same claims.
// The seed corpus holds a valid token of each type, so the fuzzer starts
// from inputs that reach the signature checks.
func FuzzParseVerify(f *testing.F) {
	v := vectorVerifier(f)
	f.Fuzz(func(t *testing.T, text string) {
		tok, perr := Parse(text)
		now := t0
		if perr == nil {
			if got := tok.Text(); got != text {
				t.Fatalf("Parse(%q) re-encodes to %q", text, got)
			}
			// Verify at a time the token could be valid, so that a
			// mutation that keeps the signatures valid is noticed.
			now = tok.NotBefore
			if tok.Type == TypeDevice {
				now = time.Unix(int64(tok.Counter)*30, 0)
			}
		} else if !errors.Is(perr, ErrMalformed) {
			t.Fatalf("Parse error %v is not ErrMalformed", perr)
		}
		c, err := v.Verify(text, now)
		switch {
		case perr != nil && err != perr:
			t.Fatalf("Verify error %v, Parse error %v", err, perr)
		case err == nil && c != tok.Claims:
			t.Fatalf("Verify claims %+v, Parse claims %+v", c, tok.Claims)
		}
	})
}
