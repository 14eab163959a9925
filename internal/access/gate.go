package access

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// GateIdentity is who a gate is to the gate API: what its token authenticates, and what
// it learns at enrollment and on every sync.
type GateIdentity struct {
	ID        uuid.UUID
	Community uuid.UUID
	Name      string
	Zone      int
	Direction string
	Settings  GateSettings
}

// GateSettings are a gate's agent settings, set by staff and sent on every sync. Each
// number is a pointer so that unset (nil: the default) and 0 (set by staff: no skew, no
// card interval, no passback) stay apart; WithDefaults fills only the unset ones, so a
// gate always receives every field. The JSON form is what staff send, what
// gates.settings holds and what the audit row records.
type GateSettings struct {
	// SkewSeconds is the clock skew allowed when judging token windows (0: exact).
	SkewSeconds *int `json:"skew_seconds,omitempty"`
	// StaleAfterSeconds: revocation data older than this (no successful sync) is stale.
	StaleAfterSeconds *int `json:"stale_after_seconds,omitempty"`
	// StalePolicy says what to do on stale data: "flag" (decide and flag the event) or
	// "deny" (refuse every QR code until the gate syncs again).
	StalePolicy string `json:"stale_policy,omitempty"`
	// CardMinIntervalSeconds: a printed card's text never changes, so instead of refusing
	// its second scan forever the gate refuses it only within this interval (0: never,
	// beyond the scanner's own repeated reads).
	CardMinIntervalSeconds *int `json:"card_min_interval_seconds,omitempty"`
	// PassbackSeconds: in a zone with anti-passback, a holder granted at this gate is
	// refused here again for this long (timed anti-passback; see docs/gate-agent.md;
	// 0: none at this gate).
	PassbackSeconds *int `json:"passback_seconds,omitempty"`
	// PulseMillis is how long the door relay is held open.
	PulseMillis *int `json:"pulse_ms,omitempty"`
	// HeartbeatSeconds is the heartbeat period.
	HeartbeatSeconds *int `json:"heartbeat_seconds,omitempty"`
}

// MaxSkewSeconds is the largest clock skew staff may give a gate (skew_seconds): every
// rule that must outlast a token's window at any gate (ForgetRevocationAfter) counts it.
const MaxSkewSeconds = 3600

// MaxSkew is MaxSkewSeconds as a duration.
const MaxSkew = MaxSkewSeconds * time.Second

// Stale policies.
const (
	StaleFlag = "flag"
	StaleDeny = "deny"
)

// Default settings, for fields a gate's settings leave unset.
const (
	DefaultSkewSeconds            = 30
	DefaultStaleAfterSeconds      = 3600
	DefaultCardMinIntervalSeconds = 5
	DefaultPassbackSeconds        = 300
	DefaultPulseMillis            = 1500
	DefaultHeartbeatSeconds       = 30
)

// DefaultGateSettings are the settings a gate uses where its own leave a field unset. It
// is a function so that no caller can change the defaults through a shared pointer.
func DefaultGateSettings() GateSettings {
	return GateSettings{
		SkewSeconds: Int(DefaultSkewSeconds), StaleAfterSeconds: Int(DefaultStaleAfterSeconds), StalePolicy: StaleFlag,
		CardMinIntervalSeconds: Int(DefaultCardMinIntervalSeconds), PassbackSeconds: Int(DefaultPassbackSeconds),
		PulseMillis: Int(DefaultPulseMillis), HeartbeatSeconds: Int(DefaultHeartbeatSeconds),
	}
}

// Int is a setting's value as a pointer, for callers that build settings.
func Int(v int) *int { return &v }

// WithDefaults fills the unset fields of s from DefaultGateSettings; a field set to 0
// stays 0.
func (s GateSettings) WithDefaults() GateSettings {
	d := DefaultGateSettings()
	fill := func(v **int, def *int) {
		if *v == nil {
			*v = def
		} else {
			*v = Int(**v) // no pointer shared with the caller's settings
		}
	}
	fill(&s.SkewSeconds, d.SkewSeconds)
	fill(&s.StaleAfterSeconds, d.StaleAfterSeconds)
	fill(&s.CardMinIntervalSeconds, d.CardMinIntervalSeconds)
	fill(&s.PassbackSeconds, d.PassbackSeconds)
	fill(&s.PulseMillis, d.PulseMillis)
	fill(&s.HeartbeatSeconds, d.HeartbeatSeconds)
	if s.StalePolicy == "" {
		s.StalePolicy = d.StalePolicy
	}
	return s
}

// Validate checks settings given by staff; it returns the offending field's name. 0 is
// allowed where it means something (no skew, no card interval, no passback); a pulse, a
// heartbeat period or a staleness limit of 0 would mean a door that never opens, a
// heartbeat loop without pause or data stale at once, so they start at 1.
func (s GateSettings) Validate() (field string, err error) {
	checks := []struct {
		name   string
		v      *int
		lo, hi int
	}{
		{"skew_seconds", s.SkewSeconds, 0, MaxSkewSeconds},
		{"stale_after_seconds", s.StaleAfterSeconds, 1, 30 * 86400},
		{"card_min_interval_seconds", s.CardMinIntervalSeconds, 0, 3600},
		{"passback_seconds", s.PassbackSeconds, 0, 86400},
		{"pulse_ms", s.PulseMillis, 1, 30000},
		{"heartbeat_seconds", s.HeartbeatSeconds, 1, 3600},
	}
	for _, c := range checks {
		if c.v != nil && (*c.v < c.lo || *c.v > c.hi) {
			return c.name, fmt.Errorf("must be from %d to %d", c.lo, c.hi)
		}
	}
	if s.StalePolicy != "" && s.StalePolicy != StaleFlag && s.StalePolicy != StaleDeny {
		return "stale_policy", fmt.Errorf("must be %q or %q", StaleFlag, StaleDeny)
	}
	return "", nil
}

// Enrollment is the one-time code an installer gives the gate-agent.
type Enrollment struct {
	Code      string    `json:"enrollment_code"`
	ExpiresAt time.Time `json:"enrollment_expires_at"`
}

// Release is a manual release queued for a gate.
type Release struct {
	ID   uuid.UUID `db:"id" json:"command_id"`
	Gate uuid.UUID `db:"gate_id" json:"gate_id"`
}
