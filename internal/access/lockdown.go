package access

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Lockdown scopes: one gate, every gate of a zone, or the whole community.
const (
	LockGate      = "gate"
	LockZone      = "zone"
	LockCommunity = "community"
)

// LockdownScopes lists the valid scopes.
var LockdownScopes = []string{LockGate, LockZone, LockCommunity}

// Lockdown limits.
const (
	MaxLockdownDuration = 7 * 24 * time.Hour
	MinLockdownDuration = time.Minute
)

// Lockdown shuts gates in an emergency: while it holds, every code, card and face is
// refused (reason "lockdown") at the gates it covers, and only a staff manual release
// opens them. Gates of direction "out" (exit readers) are never locked: nobody is kept
// in by software, and fire egress is the door hardware's job (docs/operations.md).
type Lockdown struct {
	Community uuid.UUID  `json:"community_id"`
	ID        uuid.UUID  `json:"id"`
	Scope     string     `json:"scope"`
	Zone      *int       `json:"zone,omitempty"`
	Gate      *uuid.UUID `json:"gate_id,omitempty"`
	Reason    string     `json:"reason"`
	StartedBy *uuid.UUID `json:"started_by,omitempty"`
	StartedAt time.Time  `json:"started_at"`
	// EndsAt is the automatic end (nil: until lifted), on the server's clock.
	EndsAt *time.Time `json:"ends_at,omitempty"`
	// EndedAt is when it was lifted by staff or ended by itself; LiftedBy the staff
	// member who lifted it (nil: it ended by itself).
	EndedAt  *time.Time `json:"ended_at,omitempty"`
	LiftedBy *uuid.UUID `json:"lifted_by,omitempty"`
}

// ActiveAt reports whether the lockdown holds at t (the server's time).
func (l Lockdown) ActiveAt(t time.Time) bool {
	return (l.EndedAt == nil || t.Before(*l.EndedAt)) && (l.EndsAt == nil || t.Before(*l.EndsAt))
}

// Covers reports whether the lockdown covers a gate of zone and direction.
func (l Lockdown) Covers(gate uuid.UUID, zone int, direction string) bool {
	if direction == "out" {
		return false
	}
	switch l.Scope {
	case LockCommunity:
		return true
	case LockZone:
		return l.Zone != nil && *l.Zone == zone
	case LockGate:
		return l.Gate != nil && *l.Gate == gate
	}
	return false
}

// CheckLockdown checks a lockdown as staff start it: its scope with the zone or gate it
// names (and nothing else), a reason, and an automatic end, when given, from a minute to
// a week away.
func CheckLockdown(l Lockdown, duration *time.Duration) error {
	switch l.Scope {
	case LockCommunity:
		if l.Zone != nil || l.Gate != nil {
			return Invalid("scope", "a community lockdown names no zone and no gate")
		}
	case LockZone:
		if l.Zone == nil || l.Gate != nil {
			return Invalid("zone", "a zone lockdown names its zone (and no gate)")
		}
		if *l.Zone < 0 || *l.Zone >= MaxZones {
			return Invalid("zone", "must be a number from 0 to %d", MaxZones-1)
		}
	case LockGate:
		if l.Gate == nil || l.Zone != nil {
			return Invalid("gate_id", "a gate lockdown names its gate (and no zone)")
		}
	default:
		return Invalid("scope", "must be gate, zone or community")
	}
	if duration != nil && (*duration < MinLockdownDuration || *duration > MaxLockdownDuration) {
		return Invalid("duration_minutes", "an automatic end is from %d minute to %d minutes away",
			int(MinLockdownDuration/time.Minute), int(MaxLockdownDuration/time.Minute))
	}
	return nil
}

// Offline policies: what a gate does once it has not synced for longer than its
// community's offline limit.
const (
	// OfflineAcceptAll keeps deciding everything it can verify, as before the limit; the
	// events are marked offline_limit.
	OfflineAcceptAll = "accept_all_verifiable"
	// OfflineCardsAndDevices accepts printed cards and device passes (a phone's own key,
	// made offline) only: codes minted by the server for an online phone, visitors'
	// included, and faces are refused with offline_limit.
	OfflineCardsAndDevices = "cards_and_device_passes_only"
	// OfflineManualOnly refuses every code, card and face with offline_limit: only a staff
	// manual release opens.
	OfflineManualOnly = "manual_release_only"
)

// OfflinePolicies lists the valid policies.
var OfflinePolicies = []string{OfflineAcceptAll, OfflineCardsAndDevices, OfflineManualOnly}

// Offline limits a community may set: from a minute to 90 days; 36 hours unless staff
// choose otherwise (the limit Kisi keeps; Alta keeps 30 days).
const (
	MinOfflineLimitSeconds     = 60
	MaxOfflineLimitSeconds     = 90 * 86400
	DefaultOfflineLimitSeconds = 36 * 3600
)

// AccessSettings are a community's settings for who enters when: the time zone its
// schedules are in, and what its gates do past the offline limit.
type AccessSettings struct {
	Community           uuid.UUID `json:"community_id"`
	TimeZone            string    `json:"time_zone"`
	OfflineLimitSeconds int       `json:"offline_limit_seconds"`
	OfflinePolicy       string    `json:"offline_policy"`
}

// Validate checks settings as staff give them.
func (s AccessSettings) Validate() error {
	if _, err := LoadTimeZone(s.TimeZone); err != nil {
		return err
	}
	if s.OfflineLimitSeconds < MinOfflineLimitSeconds || s.OfflineLimitSeconds > MaxOfflineLimitSeconds {
		return Invalid("offline_limit_seconds", "must be from %d to %d", MinOfflineLimitSeconds, MaxOfflineLimitSeconds)
	}
	for _, p := range OfflinePolicies {
		if p == s.OfflinePolicy {
			return nil
		}
	}
	return Invalid("offline_policy", "must be %s, %s or %s", OfflineAcceptAll, OfflineCardsAndDevices, OfflineManualOnly)
}

// GateAccess is what a gate must know to judge who may enter when, sent whole in a full
// sync and in a delta after any of it changed: the community's time zone and offline
// rule, every group (the real ones and each building's own, BuildingGroup) and the
// lockdowns in force (the gate keeps those that cover it; it ends one at its EndsAt by
// its estimate of the server's time).
type GateAccess struct {
	TimeZone            string
	OfflineLimitSeconds int
	OfflinePolicy       string
	Groups              []GateGroup
	Lockdowns           []GateLockdown
}

// GateGroup is an access group as gates keep it.
type GateGroup struct {
	ID       uuid.UUID
	Zones    ZoneMask
	Schedule *WeeklySchedule
	Holidays []Holiday
}

// GateLockdown is a lockdown in force as gates keep it.
type GateLockdown struct {
	ID     uuid.UUID
	Scope  string
	Zone   *int
	Gate   *uuid.UUID
	Reason string
	EndsAt *time.Time
}

// Lockdown is the gate's lockdown as the domain's (to ask Covers and ActiveAt).
func (l GateLockdown) Lockdown() Lockdown {
	return Lockdown{ID: l.ID, Scope: l.Scope, Zone: l.Zone, Gate: l.Gate, Reason: l.Reason, EndsAt: l.EndsAt}
}

func (l Lockdown) String() string {
	switch l.Scope {
	case LockZone:
		if l.Zone != nil {
			return fmt.Sprintf("zone %d", *l.Zone)
		}
	case LockGate:
		if l.Gate != nil {
			return "gate " + l.Gate.String()
		}
	}
	return l.Scope
}
