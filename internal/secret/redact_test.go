package secret

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestRedact(t *testing.T) {
	tok, err := New(KindVisitor, uuid.New())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ in, want string }{
		{"GET /v/" + tok.Plain + "/pass", "GET /v/[redacted]/pass"},
		{"scan GA1:NCFOXN*TS0BI$ZD.P9UOL97O4-2HH77HRM3DSPTLRR+%", "scan [redacted]"},
		{"bearer " + tok.Plain[:20], "bearer [redacted]"},
		{"plain words, a UUID 6ba7b810-9dad-11d1-80b4-00c04fd430c8 and GA1:", "plain words, a UUID 6ba7b810-9dad-11d1-80b4-00c04fd430c8 and GA1:"},
		{"gpx", "gpx"},
	}
	for _, c := range cases {
		if got := Redact(c.in); got != c.want {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestLoggerRedactsStringsAndErrors(t *testing.T) {
	var buf bytes.Buffer
	log := NewLogger(&buf, slog.LevelInfo)
	tok, _ := New(KindStaff, uuid.Nil)
	log.Info("x", "path", "/a/"+tok.Plain, "err", errors.New("bad code GA1:ABCDEFGHIJKLMNOP"), "n", 3)
	if strings.Contains(buf.String(), tok.Plain[4:20]) || strings.Contains(buf.String(), "ABCDEFGH") {
		t.Fatalf("secret reached the log: %s", buf.String())
	}
	if !strings.Contains(buf.String(), `"n":3`) {
		t.Fatalf("other attributes lost: %s", buf.String())
	}
}
