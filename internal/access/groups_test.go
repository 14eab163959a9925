package access

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the programs embed it; so does this test

	"github.com/google/uuid"
)

func w(a, b int) Window { return Window{Start: a * 60, End: b * 60} }

// Issue 16, item 6: bad input is refused, naming the field: overlapping windows, a window
// that ends before it starts, unknown zones, times that do not exist in the time zone's
// daylight saving gaps (New York skips 02:00-03:00 on 2026-03-08, a Sunday; Shanghai
// skips nothing).
func TestAccessGroupValidate(t *testing.T) {
	shanghai, _ := LoadTimeZone("Asia/Shanghai")
	newYork, _ := LoadTimeZone("America/New_York")
	now := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	known := ZoneMask(1 | 1<<2 | 1<<3)
	sched := func(day time.Weekday, ws ...Window) *WeeklySchedule {
		s := WeeklySchedule{}
		s[day] = ws
		return &s
	}
	half := func(h, m int) Window { return Window{Start: h*60 + m, End: h*60 + m + 30} }
	cases := []struct {
		name  string
		g     AccessGroup
		loc   *time.Location
		field string // "" = valid
	}{
		{"valid", AccessGroup{Name: "保洁", Zones: 1 | 1<<2, Schedule: sched(time.Monday, w(7, 12), w(12, 18))}, shanghai, ""},
		{"no schedule", AccessGroup{Name: "all day", Zones: 1}, shanghai, ""},
		{"to midnight", AccessGroup{Name: "night", Zones: 1, Schedule: sched(time.Friday, w(20, 24))}, shanghai, ""},
		{"no name", AccessGroup{Name: " ", Zones: 1}, shanghai, "name"},
		{"no zones", AccessGroup{Name: "x"}, shanghai, "zones"},
		{"unknown zone", AccessGroup{Name: "x", Zones: 1 << 5}, shanghai, "zones"},
		{"overlapping windows", AccessGroup{Name: "x", Zones: 1, Schedule: sched(time.Tuesday, w(7, 12), w(11, 18))}, shanghai, "schedule.tue"},
		{"end before start", AccessGroup{Name: "x", Zones: 1, Schedule: sched(time.Monday, w(18, 7))}, shanghai, "schedule.mon[0]"},
		{"empty window", AccessGroup{Name: "x", Zones: 1, Schedule: sched(time.Monday, w(7, 7))}, shanghai, "schedule.mon[0]"},
		{"too many windows", AccessGroup{Name: "x", Zones: 1, Schedule: sched(time.Monday, w(0, 1), w(1, 2), w(2, 3), w(3, 4), w(4, 5), w(5, 6), w(6, 7), w(7, 8), w(8, 9))}, shanghai, "schedule.mon"},
		{"02:30 on Sundays in New York (the spring gap)", AccessGroup{Name: "x", Zones: 1, Schedule: sched(time.Sunday, half(2, 30))}, newYork, "schedule.sun[0]"},
		{"02:30 on Mondays in New York", AccessGroup{Name: "x", Zones: 1, Schedule: sched(time.Monday, half(2, 30))}, newYork, ""},
		{"02:30 on Sundays in Shanghai", AccessGroup{Name: "x", Zones: 1, Schedule: sched(time.Sunday, half(2, 30))}, shanghai, ""},
		{"holiday in the gap", AccessGroup{Name: "x", Zones: 1, Holidays: []Holiday{{Date: "2026-03-08", Windows: []Window{half(2, 15)}}}}, newYork, "holidays[0].windows[0]"},
		{"holiday a week later", AccessGroup{Name: "x", Zones: 1, Holidays: []Holiday{{Date: "2026-03-15", Windows: []Window{half(2, 15)}}}}, newYork, ""},
		{"holiday, bad date", AccessGroup{Name: "x", Zones: 1, Holidays: []Holiday{{Date: "2026-02-30"}}}, shanghai, "holidays[0].date"},
		{"holiday twice", AccessGroup{Name: "x", Zones: 1, Holidays: []Holiday{{Date: "2026-10-01"}, {Date: "2026-10-01"}}}, shanghai, "holidays[1].date"},
		{"holiday windows overlap", AccessGroup{Name: "x", Zones: 1, Holidays: []Holiday{{Date: "2026-10-01", Windows: []Window{w(9, 12), w(10, 11)}}}}, shanghai, "holidays[0].windows"},
	}
	for _, c := range cases {
		err := c.g.Validate(known, c.loc, now)
		var fe *FieldError
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.field != "" && (!errors.As(err, &fe) || fe.Field != c.field):
			t.Errorf("%s: %v, want an error on %s", c.name, err, c.field)
		}
	}
}

func TestLoadTimeZone(t *testing.T) {
	for _, ok := range []string{"Asia/Shanghai", "Asia/Urumqi", "Europe/Berlin", "UTC"} {
		if _, err := LoadTimeZone(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Local", "Mars/Olympus", "../../etc/passwd", "CST+8"} {
		if _, err := LoadTimeZone(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestScheduleJSON(t *testing.T) {
	in := `{"mon":[{"start":"07:00","end":"18:00"}],"sat":[{"start":"09:30","end":"24:00"}]}`
	var s WeeklySchedule
	if err := json.Unmarshal([]byte(in), &s); err != nil {
		t.Fatal(err)
	}
	if s[time.Monday][0] != w(7, 18) || s[time.Saturday][0] != (Window{Start: 9*60 + 30, End: 24 * 60}) || s[time.Sunday] != nil {
		t.Fatalf("%+v", s)
	}
	out, _ := json.Marshal(s)
	if string(out) != in {
		t.Fatalf("round trip: %s", out)
	}
	for _, bad := range []string{`{"monday":[]}`, `{"mon":[{"start":"7:00","end":"18:00"}]}`, `{"mon":[{"start":"07:00","end":"24:30"}]}`,
		`{"mon":[{"start":"07:60","end":"18:00"}]}`} {
		if err := json.Unmarshal([]byte(bad), &s); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func TestScheduleOpen(t *testing.T) {
	week := WeeklySchedule{}
	week[time.Monday] = []Window{w(7, 18)}
	g := AccessGroup{Schedule: &week, Holidays: []Holiday{{Date: "2026-11-30"}, {Date: "2026-11-24", Windows: []Window{w(9, 12)}}}}
	at := func(d, h int) time.Time { return time.Date(2026, 11, d, h, 0, 0, 0, time.UTC) }
	for _, c := range []struct {
		t             time.Time
		open, holiday bool
	}{
		{at(23, 8), true, false}, // Monday
		{at(23, 19), false, false},
		{at(22, 8), false, false}, // Sunday
		{at(30, 8), false, true},  // a Monday, closed for a holiday
		{at(24, 10), true, true},  // a Tuesday with holiday windows
		{at(24, 13), false, true},
	} {
		if open, holiday := g.Open(c.t); open != c.open || holiday != c.holiday {
			t.Errorf("%s: open %v holiday %v", c.t, open, holiday)
		}
	}
	if open, _ := (&AccessGroup{}).Open(at(22, 3)); !open {
		t.Error("a group without schedule is always open")
	}
}

// A resident's groups: each level's, from the resident's up, until one that narrows;
// past the building, the building's own group.
func TestEffectiveGroups(t *testing.T) {
	b, g1, g2, g3 := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	cases := []struct {
		name                string
		resident, unit, bld *AccessPolicy
		want                []uuid.UUID
	}{
		{"default", nil, nil, nil, []uuid.UUID{b}},
		{"building widened", nil, nil, &AccessPolicy{Groups: []uuid.UUID{g1}, Inherit: true}, []uuid.UUID{g1, b}},
		{"building narrowed", nil, nil, &AccessPolicy{Groups: []uuid.UUID{g1}}, []uuid.UUID{g1}},
		{"unit widens a narrowed building", nil, &AccessPolicy{Groups: []uuid.UUID{g2}, Inherit: true}, &AccessPolicy{Groups: []uuid.UUID{g1}}, []uuid.UUID{g2, g1}},
		{"resident narrowed to nothing", &AccessPolicy{}, &AccessPolicy{Groups: []uuid.UUID{g2}, Inherit: true}, nil, []uuid.UUID{}},
		{"resident widened, duplicates dropped", &AccessPolicy{Groups: []uuid.UUID{g3, g2}, Inherit: true}, &AccessPolicy{Groups: []uuid.UUID{g2}, Inherit: true}, nil, []uuid.UUID{g3, g2, b}},
	}
	for _, c := range cases {
		got := EffectiveGroups(b, c.resident, c.unit, c.bld)
		if strings.Join(ids(got), ",") != strings.Join(ids(c.want), ",") {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	if g := BuildingGroup(Building{ID: b, Name: "3号楼", Zones: 1 << 3}); g.ID != b || g.Zones != 1|1<<3 || g.Schedule != nil {
		t.Errorf("building group %+v", g)
	}
}

func ids(in []uuid.UUID) []string {
	out := []string{}
	for _, id := range in {
		out = append(out, id.String())
	}
	return out
}

func TestLockdownRules(t *testing.T) {
	gate, other := uuid.New(), uuid.New()
	zone := 2
	now := time.Now()
	end := now.Add(time.Hour)
	ended := now.Add(-time.Minute)
	for _, c := range []struct {
		l      Lockdown
		dir    string
		covers bool
	}{
		{Lockdown{Scope: LockCommunity}, "in", true},
		{Lockdown{Scope: LockCommunity}, "out", false},
		{Lockdown{Scope: LockZone, Zone: &zone}, "both", true},
		{Lockdown{Scope: LockGate, Gate: &other}, "in", false},
		{Lockdown{Scope: LockGate, Gate: &gate}, "in", true},
	} {
		if got := c.l.Covers(gate, 2, c.dir); got != c.covers {
			t.Errorf("%v at a %s gate: %v", c.l, c.dir, got)
		}
	}
	if !(Lockdown{EndsAt: &end}).ActiveAt(now) || (Lockdown{EndsAt: &end}).ActiveAt(end) || (Lockdown{EndedAt: &ended}).ActiveAt(now) {
		t.Error("ActiveAt")
	}
	minute, long := time.Minute, 8*24*time.Hour
	for _, c := range []struct {
		l     Lockdown
		d     *time.Duration
		field string
	}{
		{Lockdown{Scope: LockCommunity}, &minute, ""},
		{Lockdown{Scope: LockZone, Zone: &zone}, nil, ""},
		{Lockdown{Scope: LockGate, Gate: &gate}, nil, ""},
		{Lockdown{Scope: "building"}, nil, "scope"},
		{Lockdown{Scope: LockZone}, nil, "zone"},
		{Lockdown{Scope: LockGate, Zone: &zone}, nil, "gate_id"},
		{Lockdown{Scope: LockCommunity, Gate: &gate}, nil, "scope"},
		{Lockdown{Scope: LockCommunity}, &long, "duration_minutes"},
	} {
		err := CheckLockdown(c.l, c.d)
		var fe *FieldError
		if (c.field == "") != (err == nil) || (err != nil && (!errors.As(err, &fe) || fe.Field != c.field)) {
			t.Errorf("%+v: %v, want field %q", c.l, err, c.field)
		}
	}
}

func TestAccessSettingsValidate(t *testing.T) {
	ok := AccessSettings{TimeZone: "Asia/Shanghai", OfflineLimitSeconds: DefaultOfflineLimitSeconds, OfflinePolicy: OfflineAcceptAll}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for field, s := range map[string]AccessSettings{
		"time_zone":             {TimeZone: "Nowhere/Else", OfflineLimitSeconds: 3600, OfflinePolicy: OfflineAcceptAll},
		"offline_limit_seconds": {TimeZone: "UTC", OfflineLimitSeconds: 10, OfflinePolicy: OfflineAcceptAll},
		"offline_policy":        {TimeZone: "UTC", OfflineLimitSeconds: 3600, OfflinePolicy: "deny_everything"},
	} {
		var fe *FieldError
		if err := s.Validate(); !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%s: %v", field, err)
		}
	}
}
