package secret

import (
	"log/slog"
	"regexp"
)

// shaped matches what must never reach a log: a gatepass bearer secret (any kind, even
// a cut-off one) and a QR credential's text. A log line may quote a client's input, an
// error from a library or a URL, so redaction cannot rest on each caller's care alone.
var shaped = regexp.MustCompile(`gp[a-z]_[A-Za-z0-9_-]{8,}|GA1:[0-9A-Z $%*+./:-]{8,}`)

// Redact replaces every secret-shaped part of s with "[redacted]".
func Redact(s string) string {
	if len(s) < 12 {
		return s
	}
	return shaped.ReplaceAllString(s, "[redacted]")
}

// RedactAttr is a slog.HandlerOptions.ReplaceAttr that redacts string values and
// errors: every program's logger uses it.
func RedactAttr(_ []string, a slog.Attr) slog.Attr {
	switch v := a.Value.Any().(type) {
	case string:
		if r := Redact(v); r != v {
			return slog.String(a.Key, r)
		}
	case error:
		if msg := v.Error(); Redact(msg) != msg {
			return slog.String(a.Key, Redact(msg))
		}
	}
	return a
}

// NewLogger is the JSON logger of the gatepass programs, with RedactAttr.
func NewLogger(w interface{ Write([]byte) (int, error) }, level slog.Leveler) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: RedactAttr}))
}
