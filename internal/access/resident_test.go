package access

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
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

func TestStepUpFresh(t *testing.T) {
	now := time.Now()
	for at, want := range map[time.Time]bool{now: true, now.Add(-StepUpWindow): true, now.Add(-StepUpWindow - time.Second): false,
		{}: false, time.Unix(0, 0): false, now.Add(time.Hour): false} {
		if got := StepUpFresh(at, now); got != want {
			t.Errorf("StepUpFresh(%v) = %v", at, got)
		}
	}
}

func TestAllow(t *testing.T) {
	now := time.Now()
	fresh := SignedIn{Status: ResidentActive, StepUpAt: now.Add(-time.Minute), StepUpPasskey: true}
	with := func(f func(*SignedIn)) SignedIn { r := fresh; f(&r); return r }
	stale := with(func(r *SignedIn) { r.StepUpAt = now.Add(-StepUpWindow - time.Second) })
	noPasskey := with(func(r *SignedIn) { r.StepUpPasskey = false })
	usedUp := with(func(r *SignedIn) { r.StepUpAt, r.StepUpPasskey = time.Unix(0, 0), false })
	gone := with(func(r *SignedIn) { r.Status = ResidentMovedOut })
	goneStale := with(func(r *SignedIn) { r.Status, r.StepUpAt = ResidentDeleted, time.Time{} })
	weChat := with(func(r *SignedIn) { r.Kind, r.StepUpAt, r.StepUpPasskey = SessionWeChat, time.Unix(0, 0), false })
	weChatGone := with(func(r *SignedIn) { r.Kind, r.Status = SessionWeChat, ResidentMovedOut })
	cases := []struct {
		name string
		who  SignedIn
		need Need
		want error
	}{
		{"session only", gone, NeedSession, nil},
		{"none", goneStale, NeedNone, nil},
		{"active", fresh, NeedActive, nil},
		{"moved out", gone, NeedActive, ErrNotResident},
		{"step-up fresh", fresh, NeedStepUp, nil},
		{"step-up stale", stale, NeedStepUp, ErrStepUpRequired},
		{"step-up without its passkey", noPasskey, NeedStepUp, ErrStepUpRequired},
		{"step-up used up", usedUp, NeedStepUp, ErrStepUpRequired},
		{"wechat on a route opened to it", weChat, NeedActive | OpenToWeChat, nil},
		{"wechat on a passkey route", weChat, NeedSession, ErrPasskeyRequired},
		{"wechat on an active passkey route", weChat, NeedActive, ErrPasskeyRequired},
		{"wechat cannot step up even where opened", weChat, NeedStepUp | OpenToWeChat, ErrStepUpRequired},
		{"wechat: residency first", weChatGone, NeedActive, ErrNotResident},
		{"wechat: nothing needed", weChat, NeedNone, nil},
		{"passkey session on a route opened to wechat", fresh, NeedActive | OpenToWeChat, nil},
		{"moved out may still step up to delete", gone, NeedSession | NeedStepUp, nil},
		{"residency before step-up", goneStale, NeedActive | NeedStepUp, ErrNotResident},
		{"active and stale", stale, NeedActive | NeedStepUp, ErrStepUpRequired},
		{"active and fresh", fresh, NeedActive | NeedStepUp, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.who.Allow(c.need, now)
			if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("Allow = %v, want %v", err, c.want)
			}
			if err != nil && !errors.Is(err, ErrForbidden) {
				t.Fatalf("%v is not ErrForbidden", err)
			}
		})
	}
}

func TestMayHoldPass(t *testing.T) {
	for s, want := range map[ResidentStatus]bool{ResidentActive: true, ResidentMovedOut: false, ResidentDeleted: false, "": false} {
		if got := s.MayHoldPass(); got != want {
			t.Errorf("%q.MayHoldPass() = %v", s, got)
		}
	}
}

func TestVisitorState(t *testing.T) {
	now := time.Now()
	base := VisitorPass{ValidFrom: now.Add(-time.Hour), ValidUntil: now.Add(time.Hour), MaxEntries: 2, Used: 1, HostStatus: ResidentActive}
	with := func(f func(*VisitorPass)) VisitorPass { v := base; f(&v); return v }
	cases := map[VisitorState]VisitorPass{
		VisitorActive:   base,
		VisitorNotYet:   with(func(v *VisitorPass) { v.ValidFrom = now.Add(time.Minute) }),
		VisitorExpired:  with(func(v *VisitorPass) { v.ValidUntil = now }),
		VisitorUsedUp:   with(func(v *VisitorPass) { v.Used = 2 }),
		VisitorRevoked:  with(func(v *VisitorPass) { v.Revoked = true; v.Used = 2 }),
		VisitorHostGone: with(func(v *VisitorPass) { v.HostStatus = ResidentMovedOut }),
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
		if err := CheckVisitorWindow(w[0], w[1], now); !errors.Is(err, ErrInvalid) {
			t.Errorf("%v..%v accepted: %v", w[0], w[1], err)
		}
	}
}

func TestVisitorZones(t *testing.T) {
	if m, err := VisitorZones(nil); err != nil || m != 1 {
		t.Fatalf("default %b %v", m, err)
	}
	if m, err := VisitorZones([]int{0, 3}); err != nil || m != 0b1001 {
		t.Fatalf("%b %v", m, err)
	}
	if _, err := VisitorZones([]int{64}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("zone 64: %v", err)
	}
	cases := []struct {
		asked, host ZoneMask
		ok          bool
	}{{0b1, 0b1, true}, {0b1, 0b11, true}, {0b101, 0b11, false}, {0b10, 0b1, false}}
	for _, c := range cases {
		if err := CheckVisitorZones(c.asked, c.host); (err == nil) != c.ok || err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckVisitorZones(%b, %b) = %v", c.asked, c.host, err)
		}
	}
}

func TestPasskeyUseCheck(t *testing.T) {
	cases := []struct {
		name string
		use  PasskeyUse
		want error
	}{
		{"first use", PasskeyUse{Stored: 0, Presented: 1}, nil},
		{"forward", PasskeyUse{Stored: 5, Presented: 9}, nil},
		{"by one", PasskeyUse{Stored: 5, Presented: 6}, nil},
		{"no counter kept", PasskeyUse{Stored: 0, Presented: 0}, nil},
		{"same count", PasskeyUse{Stored: 5, Presented: 5}, ErrCounterRegressed},
		{"backwards", PasskeyUse{Stored: 5, Presented: 3}, ErrCounterRegressed},
		{"zero after counting", PasskeyUse{Stored: 5, Presented: 0}, ErrCounterRegressed},
		{"suspended, forward", PasskeyUse{Suspended: true, Stored: 5, Presented: 9}, ErrPasskeySuspended},
		{"suspended, no counter", PasskeyUse{Suspended: true}, ErrPasskeySuspended},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.use.Check()
			if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("Check = %v, want %v", err, c.want)
			}
			if err != nil && !errors.Is(err, ErrForbidden) {
				t.Fatalf("%v is not ErrForbidden", err)
			}
		})
	}
}

func TestMayRemovePasskey(t *testing.T) {
	cases := []struct {
		name      string
		suspended bool
		usable    int
		want      error
	}{
		{"one of two", false, 2, nil},
		{"the last usable", false, 1, ErrLastPasskey},
		{"suspended beside a usable one", true, 1, nil},
		{"suspended and nothing else", true, 0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := MayRemovePasskey(c.suspended, c.usable); !errors.Is(err, c.want) {
				t.Fatalf("MayRemovePasskey = %v, want %v", err, c.want)
			}
		})
	}
}
