package credential

import (
	"errors"
	"testing"
	"time"
)

func TestIssuedWindow(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 400e6, time.UTC)
	sec := now.Truncate(time.Second)
	cases := []struct {
		name    string
		until   time.Time
		nb, exp time.Time
		err     error
	}{
		{"no bound", time.Time{}, sec, sec.Add(IssuedLifetime), nil},
		{"far bound", now.Add(time.Hour), sec, sec.Add(IssuedLifetime), nil},
		{"bound inside the lifetime", sec.Add(45 * time.Second), sec, sec.Add(45 * time.Second), nil},
		{"bound closer than the minimum slides back", sec.Add(10 * time.Second), sec.Add(10*time.Second - MinIssuedLifetime), sec.Add(10 * time.Second), nil},
		{"bound passed", sec, time.Time{}, time.Time{}, ErrWindowClosed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, err := IssuedWindow(now, c.until)
			if !errors.Is(err, c.err) {
				t.Fatalf("err %v, want %v", err, c.err)
			}
			if err != nil {
				return
			}
			if !w.NotBefore.Equal(c.nb) || !w.ExpiresAt.Equal(c.exp) {
				t.Fatalf("window %v..%v, want %v..%v", w.NotBefore, w.ExpiresAt, c.nb, c.exp)
			}
			life := w.ExpiresAt.Sub(w.NotBefore)
			if life < MinIssuedLifetime || life > MaxIssuedLifetime {
				t.Fatalf("lifetime %v outside the format's limits", life)
			}
			if w.RefreshAfter.Before(now) || !w.RefreshAfter.Before(w.ExpiresAt) {
				t.Fatalf("refresh %v for %v..%v", w.RefreshAfter, now, w.ExpiresAt)
			}
		})
	}
}

func TestDeviceValidity(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 400e6, time.UTC)
	v := DeviceValidity(now)
	if !v.NotBefore.Equal(now.Truncate(time.Second)) || v.ExpiresAt.Sub(v.NotBefore) != MaxDeviceCertLifetime {
		t.Fatalf("device validity %v..%v", v.NotBefore, v.ExpiresAt)
	}
}
