package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Headers of a delivery.
const (
	SignatureHeader = "Gatepass-Signature"  // t=<unix>,v1=<hex>[,v1=<hex>]
	EventIDHeader   = "Gatepass-Event-Id"   // the envelope's id
	EventTypeHeader = "Gatepass-Event-Type" // the envelope's type
)

// SecretPrefix starts every signing secret, so a leaked one is recognisable.
const SecretPrefix = "whsec_"

// DefaultTolerance is how old a signature's timestamp a receiver should accept: older
// ones may be replays.
const DefaultTolerance = 5 * time.Minute

// Verification errors.
var (
	ErrNoSignature  = errors.New("webhook: no v1 signature in the header")
	ErrBadSignature = errors.New("webhook: no signature matches")
	ErrTooOld       = errors.New("webhook: timestamp outside the tolerance")
)

// NewSecret makes a signing secret: the prefix and 32 random bytes. The whole string is
// the HMAC key, so receivers use it as they copied it.
func NewSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("webhook secret: %w", err)
	}
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Sign is the v1 signature: hex HMAC-SHA256, under secret, of "<unix seconds>.<body>".
func Sign(secret string, t time.Time, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(t.Unix(), 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Header is the Gatepass-Signature value for body at t: one v1 per secret (two during a
// rotation's overlap: the new secret's first).
func Header(t time.Time, body []byte, secrets ...string) string {
	var b strings.Builder
	b.WriteString("t=" + strconv.FormatInt(t.Unix(), 10))
	for _, s := range secrets {
		b.WriteString(",v1=" + Sign(s, t, body))
	}
	return b.String()
}

// Verify is what a receiver does with a delivery: parse the header, check the timestamp
// is within tolerance of now (zero: DefaultTolerance), and accept when any v1 signature
// is the HMAC of the body under secret (compared in constant time). It returns the
// signed time.
func Verify(header string, body []byte, secret string, tolerance time.Duration, now time.Time) (time.Time, error) {
	if tolerance == 0 {
		tolerance = DefaultTolerance
	}
	var ts time.Time
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			sec, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return time.Time{}, fmt.Errorf("webhook: timestamp %q: %w", v, ErrBadSignature)
			}
			ts = time.Unix(sec, 0)
		case "v1":
			sigs = append(sigs, v)
		}
	}
	if ts.IsZero() || len(sigs) == 0 {
		return time.Time{}, ErrNoSignature
	}
	if d := now.Sub(ts); d > tolerance || d < -tolerance {
		return ts, ErrTooOld
	}
	want := []byte(Sign(secret, ts, body))
	for _, s := range sigs {
		if hmac.Equal([]byte(s), want) {
			return ts, nil
		}
	}
	return ts, ErrBadSignature
}
