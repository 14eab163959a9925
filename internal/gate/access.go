package gate

import (
	"fmt"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/credential"
)

// Reasons of who may enter where and when (issue 16; docs/gate-agent.md).
const (
	OutsideSchedule     Reason = "outside_schedule" // the holder's groups that open this zone are closed now
	Holiday             Reason = "holiday"          // ... closed by their holiday calendar today
	LockedDown          Reason = "lockdown"         // a lockdown covers this gate
	OfflineLimitReached Reason = "offline_limit"    // past the offline limit, and the policy refuses this
)

// Access is the synced access rules as a decision reads them: the holders' groups with
// their zones and schedules, the lockdowns that cover this gate, and the offline limit.
// Like State, it is immutable once built; a sync builds a new one.
type Access struct {
	// Loc is the community's time zone: schedules are judged at the gate's clock's
	// local time there.
	Loc           *time.Location
	OfflineLimit  time.Duration // 0: none
	OfflinePolicy string        // an access.Offline* policy
	// Groups by id: the community's groups and each building's own.
	Groups map[uuid.UUID]*Group
	// Members: each holder's groups, by group id. A holder not in it is one the gate has
	// not heard of (a credential made since its last sync): its token's zones decide.
	Members map[uuid.UUID][]uuid.UUID
	// Lockdowns are the lockdowns in force that cover this gate.
	Lockdowns []access.GateLockdown
}

// Group is an access group ready for decisions.
type Group struct {
	ID       uuid.UUID
	Zones    access.ZoneMask
	Schedule *access.WeeklySchedule
	Holidays map[int32][]access.Window
}

// always reports whether the group is open at all times.
func (g *Group) always() bool { return g.Schedule == nil && g.Holidays == nil }

// CompileAccess builds the access rules of gate (its id, zone and direction) from what a
// sync brought; members are the holders' groups (shared, never changed: a delta builds
// a new map). An unknown time zone is an error: the agent keeps its last rules.
func CompileAccess(a access.GateAccess, members map[uuid.UUID][]uuid.UUID, gate uuid.UUID, zone int, direction string) (*Access, error) {
	loc, err := access.LoadTimeZone(a.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("access rules: %w", err)
	}
	out := &Access{Loc: loc, OfflineLimit: time.Duration(a.OfflineLimitSeconds) * time.Second, OfflinePolicy: a.OfflinePolicy,
		Groups: make(map[uuid.UUID]*Group, len(a.Groups)), Members: members}
	if out.Members == nil {
		out.Members = map[uuid.UUID][]uuid.UUID{}
	}
	for _, g := range a.Groups {
		ag := access.AccessGroup{Holidays: g.Holidays}
		out.Groups[g.ID] = &Group{ID: g.ID, Zones: g.Zones, Schedule: g.Schedule, Holidays: ag.HolidayMap()}
	}
	for _, l := range a.Lockdowns {
		if l.Lockdown().Covers(gate, zone, direction) {
			out.Lockdowns = append(out.Lockdowns, l)
		}
	}
	return out, nil
}

// WithMembers is a with the given holders' groups (shared, never changed).
func (a *Access) WithMembers(members map[uuid.UUID][]uuid.UUID) *Access {
	next := *a
	next.Members = members
	return &next
}

// PastOfflineLimit reports whether the gate has gone without a successful sync for
// longer than its community's offline limit at now (the gate's clock).
func (s *State) PastOfflineLimit(now time.Time) bool {
	a := s.Access
	return a != nil && a.OfflineLimit > 0 && !s.SyncedAt.IsZero() && now.Sub(s.SyncedAt) > a.OfflineLimit
}

// offlineRefuses reports whether the offline policy refuses a presentation of type typ
// (face: face is true) past the limit.
func (a *Access) offlineRefuses(typ credential.Type, face bool) bool {
	switch a.OfflinePolicy {
	case access.OfflineManualOnly:
		return true
	case access.OfflineCardsAndDevices:
		return face || (typ != credential.TypeCard && typ != credential.TypeDevice)
	}
	return false
}

// Locked returns the lockdown in force at this gate at now (the gate's clock), if any.
// Its end is judged by the gate's estimate of the server's time (ServerClock), not by
// its own clock: a gate clock set ahead must not end a lockdown early.
func (s *State) Locked(now time.Time) (access.GateLockdown, bool) {
	if s.Access == nil || len(s.Access.Lockdowns) == 0 {
		return access.GateLockdown{}, false
	}
	at := s.Clock.Now(now)
	if at.IsZero() {
		at = now
	}
	for _, l := range s.Access.Lockdowns {
		if l.EndsAt == nil || at.Before(*l.EndsAt) {
			return l, true
		}
	}
	return access.GateLockdown{}, false
}

// entry judges a verified holder at this gate after its credential's own checks: the
// zone by the holder's groups (or by tokenZones when the gate has no rules, the holder
// is a visitor (byGroups false: a visitor pass keeps its own zones and window), or the
// gate has not heard of the holder yet), then the groups' schedules and holidays at the
// gate's local time, then lockdowns. Granted when all pass.
func (s *State) entry(holder uuid.UUID, tokenZones access.ZoneMask, byGroups bool, now time.Time) Reason {
	zone := s.Policy.Zone
	a := s.Access
	var groups []uuid.UUID
	known := false
	if a != nil && byGroups {
		groups, known = a.Members[holder]
	}
	if !known {
		if !tokenZones.Has(zone) {
			return WrongZone
		}
	} else if r := a.open(groups, zone, now); r != Granted {
		return r
	}
	if _, locked := s.Locked(now); locked {
		return LockedDown
	}
	return Granted
}

// open judges groups at a gate of zone at now: granted when one of them opens the zone
// and is open now; else wrong_zone when none opens the zone, holiday when a holiday
// closed one that does, outside_schedule otherwise.
func (a *Access) open(groups []uuid.UUID, zone int, now time.Time) Reason {
	reason := WrongZone
	var local time.Time
	for _, id := range groups {
		g := a.Groups[id]
		if g == nil || !g.Zones.Has(zone) {
			continue
		}
		if g.always() {
			return Granted
		}
		if local.IsZero() {
			local = now.In(a.Loc)
		}
		open, holiday := access.ScheduleOpen(g.Schedule, g.Holidays, local)
		switch {
		case open:
			return Granted
		case holiday:
			reason = Holiday
		case reason != Holiday:
			reason = OutsideSchedule
		}
	}
	return reason
}
