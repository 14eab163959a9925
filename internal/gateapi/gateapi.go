// Package gateapi is the wire format of the gate API (/gate/v1), shared by the server and
// gate-agent so that both sides agree on every field. It does no I/O.
package gateapi

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
)

// Limits of the gate API.
const (
	// MaxBatch is the most events one POST /gate/v1/events may carry.
	MaxBatch = 1000
	// MaxWait is the longest a sync long poll is held.
	MaxWait = 30 * time.Second
	// MaxReason is the longest reason an entry event may give (entry_events.reason).
	MaxReason = access.MaxEventReason
	// ReleaseMaxAge is how old a manual release may be when it reaches the gate and still
	// open the door: a guard who pressed "unlock" a minute ago is no longer watching.
	ReleaseMaxAge = 60 * time.Second
)

// Settings are a gate's agent settings, kept in gates.settings and sent on every sync.
// Zero fields take the defaults of Defaults. The fields are access.GateSettings's, one
// for one and documented there, so that the two convert into each other and the rules
// (defaults, limits) stay in one place.
type Settings struct {
	SkewSeconds            int    `json:"skew_seconds,omitempty"`
	StaleAfterSeconds      int    `json:"stale_after_seconds,omitempty"`
	StalePolicy            string `json:"stale_policy,omitempty"` // StaleFlag or StaleDeny
	CardMinIntervalSeconds int    `json:"card_min_interval_seconds,omitempty"`
	PassbackSeconds        int    `json:"passback_seconds,omitempty"`
	PulseMillis            int    `json:"pulse_ms,omitempty"`
	HeartbeatSeconds       int    `json:"heartbeat_seconds,omitempty"`
}

// Stale policies.
const (
	StaleFlag = access.StaleFlag
	StaleDeny = access.StaleDeny
)

// Defaults are the settings a gate uses where its own leave a field zero.
var Defaults = Settings(access.DefaultGateSettings)

// WithDefaults fills the zero fields of s from Defaults. The rule is the domain's
// (access.GateSettings), so that the server and the gate fill the same way.
func (s Settings) WithDefaults() Settings { return Settings(access.GateSettings(s).WithDefaults()) }

// Validate checks settings given by staff; it returns the offending field's name.
func (s Settings) Validate() (field string, err error) { return access.GateSettings(s).Validate() }

// Durations of the settings.
func (s Settings) Skew() time.Duration       { return time.Duration(s.SkewSeconds) * time.Second }
func (s Settings) StaleAfter() time.Duration { return time.Duration(s.StaleAfterSeconds) * time.Second }
func (s Settings) CardMinInterval() time.Duration {
	return time.Duration(s.CardMinIntervalSeconds) * time.Second
}
func (s Settings) Passback() time.Duration  { return time.Duration(s.PassbackSeconds) * time.Second }
func (s Settings) Pulse() time.Duration     { return time.Duration(s.PulseMillis) * time.Millisecond }
func (s Settings) Heartbeat() time.Duration { return time.Duration(s.HeartbeatSeconds) * time.Second }

// EnrollRequest is POST /gate/v1/enroll.
type EnrollRequest struct {
	Code         *string `json:"code"`
	BoxPublicKey []byte  `json:"box_public_key"` // X25519, 32 bytes (base64 in JSON)
	AgentVersion *string `json:"agent_version"`
}

// Gate is who a gate is, sent at enrollment and on every sync.
type Gate struct {
	ID        uuid.UUID `json:"gate_id"`
	Community uuid.UUID `json:"community_id"`
	Name      string    `json:"name"`
	Zone      int       `json:"zone"`
	Direction string    `json:"direction"`
	Settings  Settings  `json:"settings"`
}

// EnrollResponse answers an enrollment: the gate token is shown this once.
type EnrollResponse struct {
	Token      string    `json:"gate_token"`
	Gate       Gate      `json:"gate"`
	ServerTime time.Time `json:"server_time"`
}

// Key is a trusted signing key.
type Key struct {
	KID       uint32     `json:"kid"`
	Public    []byte     `json:"public_key"`
	NotBefore time.Time  `json:"not_before"`
	NotAfter  *time.Time `json:"not_after,omitempty"`
}

// Revocation is a revoked credential and when the gate may forget it.
type Revocation struct {
	Credential  uuid.UUID `json:"credential_id"`
	ForgetAfter time.Time `json:"forget_after"`
}

// Zone is a zone's gate-relevant settings.
type Zone struct {
	Zone         int  `db:"zone" json:"zone"`
	AntiPassback bool `db:"anti_passback" json:"anti_passback"`
}

// Command is a pending command for this gate.
type Command struct {
	ID     uuid.UUID `json:"id"`
	Kind   string    `json:"kind"` // unlock | face_enrol
	Reason string    `json:"reason,omitempty"`
	// Payload is the command's own data: for face_enrol {resident_id, model?, expires_at}.
	Payload   json.RawMessage `json:"payload,omitempty"`
	CreatedBy *uuid.UUID      `json:"created_by,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
}

// Sync is GET /gate/v1/sync. Keys, zones, gate and commands are always complete (they
// are small); revocations are all live ones when Full, else those since the cursor.
type Sync struct {
	Cursor      int64        `json:"cursor"`
	Full        bool         `json:"full"`
	More        bool         `json:"more"` // more changes wait: sync again at once
	ServerTime  time.Time    `json:"server_time"`
	Gate        Gate         `json:"gate"`
	Keys        []Key        `json:"keys"`
	Zones       []Zone       `json:"zones"`
	Revocations []Revocation `json:"revocations"`
	Commands    []Command    `json:"commands"`
	// Face entry (docs/face-entry.md): templates sealed to this gate's box key, and purges
	// to carry out and acknowledge. Full: all of them; delta: those since the cursor.
	FaceTemplates []FaceTemplate `json:"face_templates"`
	FacePurges    []FacePurge    `json:"face_purges"`
}

// FaceTemplate is a resident's template sealed to this gate (the server cannot open it).
type FaceTemplate struct {
	Template uuid.UUID `json:"template_id"`
	Resident uuid.UUID `json:"resident_id"`
	Model    string    `json:"model"`
	Sealed   []byte    `json:"sealed"`
}

// FacePurge orders the gate to delete a resident's templates, then acknowledge.
type FacePurge struct {
	Purge    uuid.UUID `json:"purge_id"`
	Resident uuid.UUID `json:"resident_id"`
	Reason   string    `json:"reason"`
}

// FaceEnrolment is POST /gate/v1/face-enrolments: the gate's reader enrolled a resident
// of a one-gate consent on the gate itself (the template never leaves the gate).
type FaceEnrolment struct {
	Resident *string `json:"resident_id"`
	Model    *string `json:"model"`
}

// Event is one decision at the gate. The id and the time are the gate's.
type Event struct {
	ID         uuid.UUID  `json:"id"`
	OccurredAt time.Time  `json:"occurred_at"`
	GateID     uuid.UUID  `json:"gate_id"`
	Credential *uuid.UUID `json:"credential_id,omitempty"`
	Subject    string     `json:"subject,omitempty"` // resident | visitor | staff
	Method     string     `json:"method"`            // qr | face | manual
	Result     string     `json:"result"`            // granted | denied
	Reason     string     `json:"reason"`
	Offline    bool       `json:"offline"`
	Stale      bool       `json:"stale"`
	Staff      *uuid.UUID `json:"staff_id,omitempty"`
	ReplayKey  []byte     `json:"replay_key,omitempty"`
	// Face events: the matched resident and the similarity score (never the embedding).
	Resident *uuid.UUID `json:"resident_id,omitempty"`
	Score    *float32   `json:"score,omitempty"`
}

// Methods and results of events.
var (
	Methods  = access.EventMethods
	Results  = access.EventResults
	Subjects = access.EventSubjects
)

// Events is POST /gate/v1/events.
type Events struct {
	Events []Event `json:"events"`
}

// EventsAck lists the ids the server has stored (now or before): the gate deletes them.
type EventsAck struct {
	Acked []uuid.UUID `json:"acked"`
}

// Heartbeat is POST /gate/v1/heartbeat.
type Heartbeat struct {
	AgentVersion  *string `json:"agent_version"`
	QueueDepth    *int    `json:"queue_depth"`
	ClockOffsetMS *int64  `json:"clock_offset_ms"` // gate clock minus server clock
}

// HeartbeatAck answers a heartbeat.
type HeartbeatAck struct {
	ServerTime time.Time `json:"server_time"`
}

// CommandAck is POST /gate/v1/commands/{id}/ack.
type CommandAck struct {
	Result *string `json:"result"`
}

// Command results.
const (
	ResultExecuted  = "executed"
	ResultTooOld    = "expired"   // older than ReleaseMaxAge on arrival: not executed
	ResultDuplicate = "duplicate" // delivered again after it was executed
	ResultEnrolled  = "enrolled"  // face_enrol: the reader enrolled the resident on this gate
)

// CommandResults lists the valid results of a command ack.
var CommandResults = []string{ResultExecuted, ResultTooOld, ResultDuplicate, "failed", "purged", ResultEnrolled}
