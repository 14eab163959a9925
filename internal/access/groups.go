package access

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Who may enter where and when (issue 16). A community defines access groups: each names
// zones and, optionally, a weekly schedule (time windows per weekday in the community's
// time zone) and a holiday calendar (dates on which the group follows other windows, or
// none). A resident belongs by default to their building's group (the perimeter and the
// building's zones, at all times); staff widen or narrow that per building, per unit and
// per resident (AccessPolicy). People who are not residents (staff, cleaners, couriers,
// contractors) are passholders bound to one group. Gates receive the groups and every
// holder's groups through sync and enforce them offline (internal/gate).

// DefaultTimeZone is a community's time zone unless staff set another.
const DefaultTimeZone = "Asia/Shanghai"

// LoadTimeZone reads an IANA time zone name ("Asia/Shanghai"). The programs embed the
// time zone database (time/tzdata), so a gate without /usr/share/zoneinfo reads it too.
// "Local" and "" are refused: a community's schedules must not follow a machine's setting.
func LoadTimeZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" || len(name) > 64 {
		return nil, Invalid("time_zone", "must be an IANA time zone name such as %q", DefaultTimeZone)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, Invalid("time_zone", "%q is not an IANA time zone name (such as %q)", name, DefaultTimeZone)
	}
	return loc, nil
}

// MinutesPerDay is the end of the last window of a day (24:00).
const MinutesPerDay = 24 * 60

// Window is a time window of a day, from Start (inclusive) to End (exclusive), in minutes
// after local midnight; End may be MinutesPerDay (24:00). A window past midnight is two
// windows, one on each day. Its JSON form is {"start": "07:00", "end": "18:00"}.
type Window struct {
	Start, End int
}

// Has reports whether minute m of the day is in the window.
func (w Window) Has(m int) bool { return m >= w.Start && m < w.End }

type windowJSON struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// MarshalJSON writes the window as "HH:MM" times.
func (w Window) MarshalJSON() ([]byte, error) {
	return json.Marshal(windowJSON{Start: clock(w.Start), End: clock(w.End)})
}

// UnmarshalJSON reads "HH:MM" times; whether they make a window is Validate's to say,
// except a time that is not one at all.
func (w *Window) UnmarshalJSON(b []byte) error {
	var in windowJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	var err error
	if w.Start, err = parseClock(in.Start); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	if w.End, err = parseClock(in.End); err != nil {
		return fmt.Errorf("end: %w", err)
	}
	return nil
}

func clock(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// ParseWindow reads a window's "HH:MM" times (00:00 to 24:00); whether they make a
// window is Validate's to say.
func ParseWindow(start, end string) (Window, error) {
	var w Window
	var err error
	if w.Start, err = parseClock(start); err != nil {
		return w, err
	}
	w.End, err = parseClock(end)
	return w, err
}

// DayIndex is the weekday of a schedule's day name ("mon"), or -1.
func DayIndex(name string) int { return slices.Index(dayNames[:], name) }

// parseClock reads "HH:MM", 00:00 to 24:00.
func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, fmt.Errorf("%q is not a time HH:MM", s)
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("%q is not a time from 00:00 to 24:00", s)
	}
	return hh*60 + mm, nil
}

// WeeklySchedule is the windows of each weekday, indexed by time.Weekday (Sunday = 0). A
// day without windows is closed. Its JSON form names the days: {"mon": [...], ...}.
type WeeklySchedule [7][]Window

// dayNames are the JSON keys of the weekdays, by time.Weekday.
var dayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// MarshalJSON writes the days that have windows.
func (s WeeklySchedule) MarshalJSON() ([]byte, error) {
	out := map[string][]Window{}
	for d, ws := range s {
		if len(ws) > 0 {
			out[dayNames[d]] = ws
		}
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads days by name; an unknown name is an error.
func (s *WeeklySchedule) UnmarshalJSON(b []byte) error {
	var in map[string][]Window
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*s = WeeklySchedule{}
	for k, ws := range in {
		d := slices.Index(dayNames[:], k)
		if d < 0 {
			return fmt.Errorf("%q is not a day: use sun, mon, tue, wed, thu, fri, sat", k)
		}
		s[d] = ws
	}
	return nil
}

// Holiday is a date of the group's holiday calendar: on it the group follows Windows
// instead of its weekly schedule, and is closed all day when there are none.
type Holiday struct {
	Date    string   `json:"date"` // YYYY-MM-DD, the community's local date
	Name    string   `json:"name,omitempty"`
	Windows []Window `json:"windows"`
}

// DateKey is a local date as a number, yyyymmdd, the form gates look holidays up by.
func DateKey(y int, m time.Month, d int) int32 { return int32(y*10000 + int(m)*100 + d) }

// Limits of an access group.
const (
	MaxGroupWindows   = 8   // per day
	MaxGroupHolidays  = 400 // dates in a group's calendar
	MaxGroupNameLen   = 100
	MaxGroupsPerLevel = 16 // groups one building, unit or resident policy names
)

// AccessGroup is who may enter which zones when: its members open a gate of one of its
// zones while its schedule is open (always, without a schedule).
type AccessGroup struct {
	Community uuid.UUID
	ID        uuid.UUID
	Name      string
	Zones     ZoneMask
	// Schedule nil: at all times (holidays do not apply to a group without a schedule
	// unless it has some: then it is open at all times except on them).
	Schedule  *WeeklySchedule
	Holidays  []Holiday
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Validate checks a group as staff give it: a name, zones that the community has
// (known), and a schedule and holidays whose windows are well formed, do not overlap
// and name local times that exist in the community's time zone loc (a time in the gap of
// a daylight saving change does not: "02:30" on the day New York springs forward). now
// bounds the daylight saving changes a weekly schedule is checked against: from a year
// before it to five years after.
func (g *AccessGroup) Validate(known ZoneMask, loc *time.Location, now time.Time) error {
	if n := len([]rune(strings.TrimSpace(g.Name))); n == 0 || n > MaxGroupNameLen {
		return Invalid("name", "must be 1 to %d characters", MaxGroupNameLen)
	}
	if g.Zones == 0 {
		return Invalid("zones", "must name at least one zone")
	}
	if unknown := g.Zones &^ known; unknown != 0 {
		return Invalid("zones", "zone %d does not exist in this community", unknown.Zones()[0])
	}
	if g.Schedule != nil {
		gaps := gapDays(loc, now.AddDate(-1, 0, 0), now.AddDate(5, 0, 0))
		for d, ws := range g.Schedule {
			field := "schedule." + dayNames[d]
			if err := validWindows(field, ws); err != nil {
				return err
			}
			for _, day := range gaps {
				if day.Weekday() != time.Weekday(d) {
					continue
				}
				if err := windowsExist(field, ws, day, loc); err != nil {
					return err
				}
			}
		}
	}
	if len(g.Holidays) > MaxGroupHolidays {
		return Invalid("holidays", "at most %d dates", MaxGroupHolidays)
	}
	seen := map[string]bool{}
	for i, h := range g.Holidays {
		field := fmt.Sprintf("holidays[%d]", i)
		day, err := time.ParseInLocation(time.DateOnly, h.Date, loc)
		if err != nil {
			return Invalid(field+".date", "%q is not a date YYYY-MM-DD", h.Date)
		}
		if seen[h.Date] {
			return Invalid(field+".date", "%s is in the calendar twice", h.Date)
		}
		seen[h.Date] = true
		if len([]rune(h.Name)) > MaxGroupNameLen {
			return Invalid(field+".name", "at most %d characters", MaxGroupNameLen)
		}
		if err := validWindows(field+".windows", h.Windows); err != nil {
			return err
		}
		if err := windowsExist(field+".windows", h.Windows, day, loc); err != nil {
			return err
		}
	}
	return nil
}

// validWindows checks one day's windows: each from 00:00 to 24:00, ending after it
// starts, and none overlapping another (windows that touch, 12:00 and 12:00, are fine).
func validWindows(field string, ws []Window) error {
	if len(ws) > MaxGroupWindows {
		return Invalid(field, "at most %d windows a day", MaxGroupWindows)
	}
	for i, w := range ws {
		if w.Start < 0 || w.End > MinutesPerDay || w.Start >= MinutesPerDay {
			return Invalid(fmt.Sprintf("%s[%d]", field, i), "times are from 00:00 to 24:00")
		}
		if w.End <= w.Start {
			return Invalid(fmt.Sprintf("%s[%d]", field, i), "ends at %s, not after it starts at %s: a window past midnight is two windows, one each day",
				clock(w.End), clock(w.Start))
		}
	}
	sorted := slices.Clone(ws)
	slices.SortFunc(sorted, func(a, b Window) int { return a.Start - b.Start })
	for i := 1; i < len(sorted); i++ {
		if sorted[i].Start < sorted[i-1].End {
			return Invalid(field, "windows %s-%s and %s-%s overlap", clock(sorted[i-1].Start), clock(sorted[i-1].End),
				clock(sorted[i].Start), clock(sorted[i].End))
		}
	}
	return nil
}

// windowsExist checks that every start and end of ws (but 24:00, the next midnight) is a
// local time that exists on day in loc.
func windowsExist(field string, ws []Window, day time.Time, loc *time.Location) error {
	y, m, d := day.Date()
	for i, w := range ws {
		for _, t := range []int{w.Start, w.End} {
			if t == MinutesPerDay {
				continue
			}
			at := time.Date(y, m, d, t/60, t%60, 0, 0, loc)
			if at.Hour()*60+at.Minute() != t || at.Day() != d {
				return Invalid(fmt.Sprintf("%s[%d]", field, i), "%s does not exist on %s in %s (the clocks skip it for daylight saving time)",
					clock(t), day.Format("Monday 2006-01-02"), loc)
			}
		}
	}
	return nil
}

// gapDays lists the local days in [from, to) on which loc's clocks jump forward (a
// daylight saving change), each as local midnight, with the day before too when the
// jump is at midnight itself. Asia/Shanghai has none.
func gapDays(loc *time.Location, from, to time.Time) []time.Time {
	var out []time.Time
	t := from.In(loc)
	for t.Before(to) {
		_, end := t.ZoneBounds()
		if end.IsZero() || !end.Before(to) {
			break
		}
		_, before := end.Add(-time.Second).Zone()
		_, after := end.Zone()
		if after > before {
			// The local day of the instant before the change and of the change itself.
			for _, at := range []time.Time{end.Add(-time.Second), end} {
				y, m, d := at.Date()
				day := time.Date(y, m, d, 0, 0, 0, 0, loc)
				if len(out) == 0 || !out[len(out)-1].Equal(day) {
					out = append(out, day)
				}
			}
		}
		t = end
	}
	return out
}

// HolidayMap is a group's holidays by DateKey.
func (g *AccessGroup) HolidayMap() map[int32][]Window {
	if len(g.Holidays) == 0 {
		return nil
	}
	out := make(map[int32][]Window, len(g.Holidays))
	for _, h := range g.Holidays {
		d, err := time.Parse(time.DateOnly, h.Date)
		if err != nil {
			continue // validated when stored
		}
		out[DateKey(d.Date())] = h.Windows
	}
	return out
}

// Open says whether a group lets its members in at local time t (in the community's time
// zone) by its schedule and holidays, and when it does not, whether a holiday closed it.
// The zones are the caller's to check.
func (g *AccessGroup) Open(t time.Time) (open, holiday bool) {
	return ScheduleOpen(g.Schedule, g.HolidayMap(), t)
}

// ScheduleOpen is AccessGroup.Open on a schedule and a holiday map (HolidayMap), the form
// gates keep.
func ScheduleOpen(s *WeeklySchedule, holidays map[int32][]Window, t time.Time) (open, holiday bool) {
	if s == nil && holidays == nil {
		return true, false
	}
	y, m, d := t.Date()
	minute := t.Hour()*60 + t.Minute()
	if ws, ok := holidays[DateKey(y, m, d)]; ok {
		return inWindows(ws, minute), true
	}
	if s == nil {
		return true, false
	}
	return inWindows(s[t.Weekday()], minute), false
}

func inWindows(ws []Window, minute int) bool {
	for _, w := range ws {
		if w.Has(minute) {
			return true
		}
	}
	return false
}

// Levels at which staff set who may enter: a policy on a building applies to its
// residents, on a unit to its residents, on a resident to them alone.
const (
	LevelBuilding = "building"
	LevelUnit     = "unit"
	LevelResident = "resident"
)

// PolicyLevels lists the valid levels, most general first.
var PolicyLevels = []string{LevelBuilding, LevelUnit, LevelResident}

// AccessPolicy is what staff set at one level: the groups it adds, and whether what the
// level above gives is kept (Inherit: widen) or replaced (narrow). Above a building is
// the default: the building's own group (BuildingGroup).
type AccessPolicy struct {
	Community uuid.UUID   `json:"community_id"`
	Level     string      `json:"level"`
	Target    uuid.UUID   `json:"target_id"`
	Groups    []uuid.UUID `json:"group_ids"`
	Inherit   bool        `json:"inherit"`
	UpdatedAt time.Time   `json:"updated_at"`
}

// EffectiveGroups is the groups of a resident of building, whose resident, unit and
// building levels have the given policies (nil: none set): each level's groups, from the
// resident's up, until a level that does not inherit; past the building, the building's
// own group (its id). Duplicates are dropped; the order is the levels'.
func EffectiveGroups(building uuid.UUID, resident, unit, bldg *AccessPolicy) []uuid.UUID {
	out := []uuid.UUID{}
	add := func(ids ...uuid.UUID) {
		for _, id := range ids {
			if !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	for _, p := range []*AccessPolicy{resident, unit, bldg} {
		if p == nil {
			continue
		}
		add(p.Groups...)
		if !p.Inherit {
			return out
		}
	}
	add(building)
	return out
}

// BuildingGroup is the default group of a building's residents: the perimeter and the
// building's zones, at all times. Its id is the building's.
func BuildingGroup(b Building) AccessGroup {
	return AccessGroup{Community: b.Community, ID: b.ID, Name: "Residents of " + b.Name, Zones: b.Zones.With(PerimeterZone)}
}

// Passholder kinds: people who are not residents but enter with a card bound to a group.
const (
	PassholderStaff      = "staff"
	PassholderCleaner    = "cleaner"
	PassholderCourier    = "courier"
	PassholderContractor = "contractor"
)

// PassholderKinds lists the valid kinds.
var PassholderKinds = []string{PassholderStaff, PassholderCleaner, PassholderCourier, PassholderContractor}

// Passholder is someone who is not a resident (a guard, a cleaner, a courier, a
// contractor) and enters by a printed card bound to one access group.
type Passholder struct {
	Community  uuid.UUID  `db:"community_id" json:"community_id"`
	ID         uuid.UUID  `db:"id" json:"id"`
	Name       string     `db:"name" json:"name"`
	Kind       string     `db:"kind" json:"kind"`
	Company    string     `db:"company" json:"company,omitempty"`
	Group      uuid.UUID  `db:"group_id" json:"group_id"`
	ValidUntil *time.Time `db:"valid_until" json:"valid_until,omitempty"`
	CreatedAt  time.Time  `db:"created_at" json:"created_at"`
	EndedAt    *time.Time `db:"ended_at" json:"ended_at,omitempty"`
}

// Active reports whether the passholder may still hold a card at now.
func (p Passholder) Active(now time.Time) bool {
	return p.EndedAt == nil && (p.ValidUntil == nil || now.Before(*p.ValidUntil))
}

// HolderGroups is a credential holder's access groups as gates keep them: the groups of a
// resident (EffectiveGroups) or of a passholder. Empty: none (the holder opens nothing
// that groups decide).
type HolderGroups struct {
	Holder uuid.UUID
	Groups []uuid.UUID
}
