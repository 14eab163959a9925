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

// GateSettings are a gate's agent settings, set by staff and sent on every sync. Zero
// fields take the defaults of DefaultGateSettings. The JSON form is what staff send, what
// gates.settings holds and what the audit row records.
type GateSettings struct {
	// SkewSeconds is the clock skew allowed when judging token windows.
	SkewSeconds int `json:"skew_seconds,omitempty"`
	// StaleAfterSeconds: revocation data older than this (no successful sync) is stale.
	StaleAfterSeconds int `json:"stale_after_seconds,omitempty"`
	// StalePolicy says what to do on stale data: "flag" (decide and flag the event) or
	// "deny" (refuse every QR code until the gate syncs again).
	StalePolicy string `json:"stale_policy,omitempty"`
	// CardMinIntervalSeconds: a printed card's text never changes, so instead of refusing
	// its second scan forever the gate refuses it only within this interval.
	CardMinIntervalSeconds int `json:"card_min_interval_seconds,omitempty"`
	// PassbackSeconds: in a zone with anti-passback, a credential granted at this gate is
	// refused here again for this long (timed anti-passback; see docs/gate-agent.md).
	PassbackSeconds int `json:"passback_seconds,omitempty"`
	// PulseMillis is how long the door relay is held open.
	PulseMillis int `json:"pulse_ms,omitempty"`
	// HeartbeatSeconds is the heartbeat period.
	HeartbeatSeconds int `json:"heartbeat_seconds,omitempty"`
}

// Stale policies.
const (
	StaleFlag = "flag"
	StaleDeny = "deny"
)

// DefaultGateSettings are the settings a gate uses where its own leave a field zero.
var DefaultGateSettings = GateSettings{
	SkewSeconds:            30,
	StaleAfterSeconds:      3600,
	StalePolicy:            StaleFlag,
	CardMinIntervalSeconds: 5,
	PassbackSeconds:        300,
	PulseMillis:            1500,
	HeartbeatSeconds:       30,
}

// WithDefaults fills the zero fields of s from DefaultGateSettings.
func (s GateSettings) WithDefaults() GateSettings {
	fill := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	d := DefaultGateSettings
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

// Validate checks settings given by staff; it returns the offending field's name.
func (s GateSettings) Validate() (field string, err error) {
	checks := []struct {
		name      string
		v, lo, hi int
	}{
		{"skew_seconds", s.SkewSeconds, 0, 3600},
		{"stale_after_seconds", s.StaleAfterSeconds, 0, 30 * 86400},
		{"card_min_interval_seconds", s.CardMinIntervalSeconds, 0, 3600},
		{"passback_seconds", s.PassbackSeconds, 0, 86400},
		{"pulse_ms", s.PulseMillis, 0, 30000},
		{"heartbeat_seconds", s.HeartbeatSeconds, 0, 3600},
	}
	for _, c := range checks {
		if c.v < c.lo || c.v > c.hi {
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
