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
	// KeepaliveEvery is how often a sync long poll asked with keepalive=1 sends a
	// keepalive byte (a newline, which JSON skips) while it holds the answer: a gate that
	// stops hearing them knows its server has stopped answering (docs/gate-agent.md,
	// "Online and offline").
	KeepaliveEvery = time.Second
	// ReleaseMaxAge is how old a manual release may be when it reaches the gate and still
	// open the door: a guard who pressed "unlock" a minute ago is no longer watching.
	ReleaseMaxAge = 60 * time.Second
)

// Settings are a gate's agent settings, kept in gates.settings and sent on every sync.
// The fields are access.GateSettings's, one for one and documented there (nil: unset, 0:
// a real 0), so that the two convert into each other and the rules (defaults, limits)
// stay in one place.
type Settings struct {
	SkewSeconds            *int   `json:"skew_seconds,omitempty"`
	StaleAfterSeconds      *int   `json:"stale_after_seconds,omitempty"`
	StalePolicy            string `json:"stale_policy,omitempty"` // StaleFlag or StaleDeny
	CardMinIntervalSeconds *int   `json:"card_min_interval_seconds,omitempty"`
	PassbackSeconds        *int   `json:"passback_seconds,omitempty"`
	PulseMillis            *int   `json:"pulse_ms,omitempty"`
	HeartbeatSeconds       *int   `json:"heartbeat_seconds,omitempty"`
}

// Stale policies.
const (
	StaleFlag = access.StaleFlag
	StaleDeny = access.StaleDeny
)

// Default settings, for fields a gate's settings leave unset.
const (
	DefaultSkewSeconds            = access.DefaultSkewSeconds
	DefaultStaleAfterSeconds      = access.DefaultStaleAfterSeconds
	DefaultCardMinIntervalSeconds = access.DefaultCardMinIntervalSeconds
	DefaultPassbackSeconds        = access.DefaultPassbackSeconds
	DefaultPulseMillis            = access.DefaultPulseMillis
	DefaultHeartbeatSeconds       = access.DefaultHeartbeatSeconds
)

// Defaults are the settings a gate uses where its own leave a field unset.
func Defaults() Settings { return Settings(access.DefaultGateSettings()) }

// Int is a setting's value as a pointer, for callers that build Settings.
func Int(v int) *int { return access.Int(v) }

// WithDefaults fills the unset fields of s from Defaults; a field set to 0 stays 0. The
// rule is the domain's (access.GateSettings), so that the server and the gate agree.
func (s Settings) WithDefaults() Settings { return Settings(access.GateSettings(s).WithDefaults()) }

// Validate checks settings given by staff; it returns the offending field's name.
func (s Settings) Validate() (field string, err error) { return access.GateSettings(s).Validate() }

// seconds is a setting in seconds as a duration, or def seconds when unset.
func seconds(v *int, def int) time.Duration {
	if v == nil {
		return time.Duration(def) * time.Second
	}
	return time.Duration(*v) * time.Second
}

// Durations of the settings; an unset field is its default.
func (s Settings) Skew() time.Duration { return seconds(s.SkewSeconds, DefaultSkewSeconds) }
func (s Settings) StaleAfter() time.Duration {
	return seconds(s.StaleAfterSeconds, DefaultStaleAfterSeconds)
}
func (s Settings) CardMinInterval() time.Duration {
	return seconds(s.CardMinIntervalSeconds, DefaultCardMinIntervalSeconds)
}
func (s Settings) Passback() time.Duration { return seconds(s.PassbackSeconds, DefaultPassbackSeconds) }
func (s Settings) Heartbeat() time.Duration {
	return seconds(s.HeartbeatSeconds, DefaultHeartbeatSeconds)
}
func (s Settings) Pulse() time.Duration {
	if s.PulseMillis == nil {
		return DefaultPulseMillis * time.Millisecond
	}
	return time.Duration(*s.PulseMillis) * time.Millisecond
}

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

// Sync is GET /gate/v1/sync?cursor=N&wait=D&kid_after=K. Keys, zones, gate and commands
// are always complete (they are small); revocations are all live ones when Full, else
// those since the cursor.
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
	// Holders ties credentials to who holds them, so that anti-passback follows the
	// person (card, phone QR and devices of one resident are one). Full: every live
	// credential of the community; delta: those created since the cursor. A gate drops
	// an entry when its credential's revocation is forgotten.
	Holders []Holder `json:"holders"`
	// ForeignKIDs are the key ids of the other communities greater than the request's
	// kid_after (ids only, never keys): kids come from one sequence for the deployment,
	// so the gate asks with the largest it knows and keeps them all. A code signed under
	// one of them is refused as wrong_community rather than unknown_key. Empty without
	// kid_after; a bounded number an answer, with More set when there are more
	// (docs/openapi-gate.yaml).
	ForeignKIDs []uint32 `json:"foreign_kids"`
	// Access is who may enter where and when (docs/gate-agent.md, "Groups, schedules,
	// lockdowns"): whole in a full answer and in a delta after any of it changed; absent
	// otherwise (the gate keeps what it has). A server older than it never sends it: the
	// gate then judges zones by tokens alone.
	Access *Access `json:"access,omitempty"`
	// Memberships are holders' access groups (holder ids as in Holders): every holder's
	// when Full, else those whose groups changed and the holders of new credentials. A
	// delta's entry replaces what the gate had for that holder; an empty list means none.
	Memberships []Membership `json:"memberships"`
}

// Access is the community's rules of who may enter where and when, as gates keep them.
type Access struct {
	// TimeZone is the community's IANA time zone: schedules are local times there.
	TimeZone string `json:"time_zone"`
	// Past OfflineLimitSeconds without a successful sync, the gate follows OfflinePolicy
	// (accept_all_verifiable | cards_and_device_passes_only | manual_release_only).
	OfflineLimitSeconds int    `json:"offline_limit_seconds"`
	OfflinePolicy       string `json:"offline_policy"`
	// Groups: the community's access groups and each building's own (its id: the
	// perimeter and the building's zones, at all times).
	Groups []AccessGroup `json:"groups"`
	// Lockdowns in force in the community; each gate keeps those that cover it.
	Lockdowns []Lockdown `json:"lockdowns"`
}

// AccessGroup is an access group: its zones (a mask, bit n zone n) and, optionally, its
// weekly schedule and holidays (the formats of docs/openapi.yaml's AccessGroup).
type AccessGroup struct {
	ID       uuid.UUID              `json:"id"`
	Zones    access.ZoneMask        `json:"zones"`
	Schedule *access.WeeklySchedule `json:"schedule,omitempty"`
	Holidays []access.Holiday       `json:"holidays"`
}

// Lockdown is a lockdown in force: every code, card and face is refused at the gates it
// covers (a gate's, a zone's or the community's, never an exit reader) until EndsAt (on
// the server's clock; absent: until lifted, which a later sync says).
type Lockdown struct {
	ID     uuid.UUID  `json:"id"`
	Scope  string     `json:"scope"` // gate | zone | community
	Zone   *int       `json:"zone,omitempty"`
	Gate   *uuid.UUID `json:"gate_id,omitempty"`
	Reason string     `json:"reason"`
	EndsAt *time.Time `json:"ends_at,omitempty"`
}

// Membership is a holder's access groups.
type Membership struct {
	Holder uuid.UUID   `json:"holder_id"`
	Groups []uuid.UUID `json:"groups"`
}

// SyncError ends a kept-alive sync answer (keepalive=1) that failed after its 200 and
// keepalives went out, as {"error": {...}} in place of the sync: the gate takes it as
// the status it names (503 with RetryAfter while the database is away).
type SyncError struct {
	Status     int    `json:"status"`
	Code       string `json:"code"`
	Message    string `json:"message"`
	RetryAfter int    `json:"retry_after,omitempty"` // seconds
}

// Holder is who holds a credential: the resident's id for a resident's credentials (the
// same id a face event carries as resident_id, so face and codes share anti-passback),
// the visitor pass's id for a visitor's.
type Holder struct {
	Credential uuid.UUID `json:"credential_id"`
	Holder     uuid.UUID `json:"holder_id"`
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
	Method     string     `json:"method"`            // qr | face | manual | door
	Result     string     `json:"result"`            // granted | denied | alarm | info (door)
	Reason     string     `json:"reason"`
	Offline    bool       `json:"offline"`
	Stale      bool       `json:"stale"`
	Staff      *uuid.UUID `json:"staff_id,omitempty"`
	ReplayKey  []byte     `json:"replay_key,omitempty"`
	// Face events: the matched resident and the similarity score (never the embedding).
	Resident *uuid.UUID `json:"resident_id,omitempty"`
	Score    *float32   `json:"score,omitempty"`
	// Dropped: on a flood_suppressed event, how many denied reads of one input the gate
	// decided without recording each (issue 11; docs/gate-agent.md, "Floods").
	Dropped *int `json:"dropped,omitempty"`
	// OfflineLimit: decided past the community's offline limit (docs/gate-agent.md,
	// "The offline limit"), whatever the policy made of it.
	OfflineLimit bool `json:"offline_limit,omitempty"`
}

// Methods and results of events.
var (
	Methods  = access.EventMethods
	Results  = access.EventResults
	Subjects = access.EventSubjects
	// DoorReasons gives each door event reason (method "door") its result.
	DoorReasons = access.DoorReasons
)

// Door events (method MethodDoor): a door controller's own events and its failures to
// open a granted door (docs/gate-agent.md, "A UHPPOTE controller").
const (
	MethodDoor     = access.MethodDoor
	ResultAlarm    = access.ResultAlarm
	ResultInfo     = access.ResultInfo
	DoorForcedOpen = access.DoorForcedOpen
	DoorHeldOpen   = access.DoorHeldOpen
	DoorExitButton = access.DoorExitButton
	DoorLocalCard  = access.DoorLocalCard
	DoorRefused    = access.DoorRefused
	DoorNoAnswer   = access.DoorNoAnswer
	DoorBadAnswer  = access.DoorBadAnswer
	DoorNotSent    = access.DoorNotSent
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
	// ClockAlarm: the offset is past the gate's alarm limit (its skew, from 2 s to 30 s;
	// docs/gate-agent.md): staff must fix the gate's time source. Absent: an older agent.
	ClockAlarm *bool `json:"clock_alarm,omitempty"`
	// DoorClockDriftMS: the gate's door controller's clock minus the gate's (a UHPPOTE
	// door; absent: none, or not read yet). Reported, never used to set a clock.
	DoorClockDriftMS *int64 `json:"door_clock_drift_ms,omitempty"`
	// StoreFailures counts the decisions since the agent started whose event its disk
	// refused (the door stayed shut; each is uploaded from memory as a denied
	// store_failed event when it can be). Absent: none, or an older agent.
	StoreFailures *int64 `json:"store_failures,omitempty"`
	// StorageError is the gate's last storage error while storing still fails; absent
	// once a decision is stored again.
	StorageError *string `json:"storage_error,omitempty"`
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
