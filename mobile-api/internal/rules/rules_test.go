package rules

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/credential"
)

func TestUserHandle(t *testing.T) {
	c, r := uuid.New(), uuid.New()
	gc, gr, err := ParseUserHandle(UserHandle(c, r))
	if err != nil || gc != c || gr != r {
		t.Fatalf("round trip: %s %s %v", gc, gr, err)
	}
	for _, h := range [][]byte{nil, make([]byte, 31), make([]byte, 33), make([]byte, 32)} {
		if _, _, err := ParseUserHandle(h); !errors.Is(err, ErrBadHandle) {
			t.Errorf("handle of %d bytes accepted", len(h))
		}
	}
}

func TestIssuedWindow(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 400e6, time.UTC)
	sec := now.Truncate(time.Second)
	cases := []struct {
		name        string
		until       time.Time
		nb, exp     time.Time
		err         error
		refreshLate bool
	}{
		{"no bound", time.Time{}, sec, sec.Add(IssuedLifetime), nil, false},
		{"far bound", now.Add(time.Hour), sec, sec.Add(IssuedLifetime), nil, false},
		{"bound inside the lifetime", sec.Add(45 * time.Second), sec, sec.Add(45 * time.Second), nil, false},
		{"bound closer than the minimum slides back", sec.Add(10 * time.Second), sec.Add(10*time.Second - credential.MinIssuedLifetime), sec.Add(10 * time.Second), nil, true},
		{"bound passed", sec, time.Time{}, time.Time{}, ErrWindowClosed, false},
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
			if life < credential.MinIssuedLifetime || life > credential.MaxIssuedLifetime {
				t.Fatalf("lifetime %v outside the format's limits", life)
			}
			if w.RefreshAfter.Before(now) || !w.RefreshAfter.Before(w.ExpiresAt) {
				t.Fatalf("refresh %v for %v..%v", w.RefreshAfter, now, w.ExpiresAt)
			}
		})
	}
}

func TestVisitorState(t *testing.T) {
	now := time.Now()
	base := Visitor{ValidFrom: now.Add(-time.Hour), ValidUntil: now.Add(time.Hour), MaxEntries: 2, Used: 1, HostStatus: access.ResidentActive}
	with := func(f func(*Visitor)) Visitor { v := base; f(&v); return v }
	cases := map[VisitorState]Visitor{
		VisitorActive:   base,
		VisitorNotYet:   with(func(v *Visitor) { v.ValidFrom = now.Add(time.Minute) }),
		VisitorExpired:  with(func(v *Visitor) { v.ValidUntil = now }),
		VisitorUsedUp:   with(func(v *Visitor) { v.Used = 2 }),
		VisitorRevoked:  with(func(v *Visitor) { v.Revoked = true; v.Used = 2 }),
		VisitorHostGone: with(func(v *Visitor) { v.HostStatus = access.ResidentMovedOut }),
	}
	for want, v := range cases {
		if got := v.State(now); got != want {
			t.Errorf("%+v: %s, want %s", v, got, want)
		}
	}
}

func TestCheckVisitorWindow(t *testing.T) {
	now := time.Now()
	ok := [][2]time.Time{{now, now.Add(time.Hour)}, {now.Add(-30 * time.Minute), now.Add(MaxVisitorWindow - time.Hour)}, {now.Add(24 * time.Hour), now.Add(24*time.Hour + MaxVisitorWindow)}}
	bad := [][2]time.Time{{now, now}, {now, now.Add(MaxVisitorWindow + time.Second)}, {now.Add(-2 * time.Hour), now.Add(time.Hour)},
		{now.Add(-50 * time.Minute), now.Add(-10 * time.Minute)}, {now.Add(MaxVisitorLead + time.Hour), now.Add(MaxVisitorLead + 2*time.Hour)}}
	for _, w := range ok {
		if err := CheckVisitorWindow(w[0], w[1], now); err != nil {
			t.Errorf("%v..%v refused: %v", w[0], w[1], err)
		}
	}
	for _, w := range bad {
		if err := CheckVisitorWindow(w[0], w[1], now); !errors.Is(err, access.ErrInvalid) {
			t.Errorf("%v..%v accepted: %v", w[0], w[1], err)
		}
	}
}

func TestStepUpFresh(t *testing.T) {
	now := time.Now()
	for at, want := range map[time.Time]bool{now: true, now.Add(-StepUpWindow): true, now.Add(-StepUpWindow - time.Second): false,
		{}: false, time.Unix(0, 0): false, now.Add(time.Hour): false} {
		if got := StepUpFresh(at, now); got != want {
			t.Errorf("StepUpFresh(%v) = %v", at, got)
		}
	}
}

func TestZoneMask(t *testing.T) {
	if m, err := ZoneMask(nil); err != nil || m != 1 {
		t.Fatalf("default %b %v", m, err)
	}
	if m, err := ZoneMask([]int{0, 3}); err != nil || m != 0b1001 {
		t.Fatalf("%b %v", m, err)
	}
	if _, err := ZoneMask([]int{64}); !errors.Is(err, access.ErrInvalid) {
		t.Fatalf("zone 64: %v", err)
	}
}
