// Package webhook is what gatepass's signed webhooks are, without any I/O: the event
// types and the JSON bodies a receiver gets, the signature header (HMAC-SHA256 over a
// timestamp and the body, the scheme Stripe and GitHub users know) and its verification
// for receivers, the retry schedule, and which URLs and addresses an endpoint may have.
// The outbox is in internal/store; the sender is server/internal/dispatch.
package webhook

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
)

// EventType names what happened; an endpoint subscribes to some of them.
type EventType string

const (
	// EntryCreated is every decision a gate made (granted or denied), once the server
	// stored it.
	EntryCreated EventType = "entry.created"
	// AnomalyReuse is a code granted at two gates (a screenshot or a forwarded code).
	AnomalyReuse EventType = "anomaly.reuse"
	// GateOffline and GateOnline say a gate stopped and resumed contacting the server.
	GateOffline EventType = "gate.offline"
	GateOnline  EventType = "gate.online"
	// LockdownChanged is a lockdown started, changed or lifted.
	LockdownChanged EventType = "lockdown.changed"
	// ResidentMovedOut is a resident moved out by staff.
	ResidentMovedOut EventType = "resident.moved_out"
	// Ping is the test event staff send to check an endpoint; nobody subscribes to it.
	Ping EventType = "webhook.ping"
)

// Types are the event types an endpoint may subscribe to.
var Types = []EventType{EntryCreated, AnomalyReuse, GateOffline, GateOnline, LockdownChanged, ResidentMovedOut}

// MaxEndpoints bounds a community's endpoints: each event is one outbox row per endpoint.
const MaxEndpoints = 20

// CheckTypes validates a subscription: at least one known type, none twice. The result
// is sorted, so that equal subscriptions are stored alike.
func CheckTypes(in []string) ([]string, error) {
	if len(in) == 0 || len(in) > len(Types) {
		return nil, access.Invalid("events", "must name 1 to %d event types", len(Types))
	}
	out := slices.Clone(in)
	slices.Sort(out)
	for i, t := range out {
		if !slices.Contains(Types, EventType(t)) {
			return nil, access.Invalid("events", "unknown event type %q (known: %s)", t, typeList())
		}
		if i > 0 && out[i-1] == t {
			return nil, access.Invalid("events", "%q is named twice", t)
		}
	}
	return out, nil
}

func typeList() string {
	s := make([]string, len(Types))
	for i, t := range Types {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// Envelope is the JSON body of every delivery. ID is the event's id, the same for every
// endpoint and every attempt: receivers keep the ids they processed and skip repeats
// (a delivery is sent at least once, so it may come twice).
// The db tags are the outbox's columns, which the store reads it from.
type Envelope struct {
	ID        uuid.UUID       `db:"event_id" json:"id"`
	Type      EventType       `db:"event_type" json:"type"`
	CreatedAt time.Time       `db:"created_at" json:"created_at"`
	Community uuid.UUID       `db:"community_id" json:"community_id"`
	Data      json.RawMessage `db:"data" json:"data"`
}

// Body is the bytes a delivery sends.
func (e Envelope) Body() ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("webhook body: %w", err)
	}
	return b, nil
}

// Entry is the data of entry.created: the stored entry event, with credential ids and
// never a name (the store builds it in SQL from the row; a test holds the two alike).
type Entry struct {
	ID         uuid.UUID  `json:"id"`
	OccurredAt time.Time  `json:"occurred_at"`
	ReceivedAt time.Time  `json:"received_at"`
	Gate       uuid.UUID  `json:"gate_id"`
	Credential *uuid.UUID `json:"credential_id"`
	Subject    *string    `json:"subject"`
	Method     string     `json:"method"`
	Result     string     `json:"result"`
	Reason     string     `json:"reason"`
	Offline    bool       `json:"offline"`
	Stale      bool       `json:"stale"`
	Staff      *uuid.UUID `json:"staff_id"`
	Resident   *uuid.UUID `json:"resident_id"`
}

// Anomaly is the data of anomaly.reuse: entry Entry granted a code that other gates
// granted too, within an hour of it.
type Anomaly struct {
	Entry      uuid.UUID   `json:"entry_id"`
	Credential *uuid.UUID  `json:"credential_id"`
	Gate       uuid.UUID   `json:"gate_id"`
	OtherGates []uuid.UUID `json:"other_gate_ids"`
	OccurredAt time.Time   `json:"occurred_at"`
}

// GateStatus is the data of gate.offline and gate.online.
type GateStatus struct {
	Gate       uuid.UUID `json:"gate_id"`
	Name       string    `json:"name"`
	LastSeenAt time.Time `json:"last_seen_at"`
	// OfflineAfter is the silence, in seconds, after which a gate counts as offline.
	OfflineAfter int64 `json:"offline_after_seconds"`
}

// Lockdown is the data of lockdown.changed.
type Lockdown struct {
	ID     uuid.UUID  `json:"lockdown_id"`
	Active bool       `json:"active"` // false: lifted
	Scope  string     `json:"scope"`  // community, zone or gate
	Gate   *uuid.UUID `json:"gate_id,omitempty"`
	Zone   *int       `json:"zone,omitempty"`
	Reason string     `json:"reason"`
	EndsAt *time.Time `json:"ends_at,omitempty"`
	By     string     `json:"by"` // who started, changed or lifted it ("staff:<id>")
}

// MovedOut is the data of resident.moved_out: ids only, no name or phone number.
type MovedOut struct {
	Resident    uuid.UUID `json:"resident_id"`
	Credentials int       `json:"credentials_revoked"`
}

// Endpoint is a registered endpoint as staff see it: never its secret.
type Endpoint struct {
	Community        uuid.UUID  `db:"community_id" json:"community_id"`
	ID               uuid.UUID  `db:"id" json:"id"`
	URL              string     `db:"url" json:"url"`
	Description      string     `db:"description" json:"description"`
	Events           []string   `db:"-" json:"events"`
	State            string     `db:"state" json:"state"` // active or paused
	PausedAt         *time.Time `db:"paused_at" json:"paused_at,omitempty"`
	PausedReason     *string    `db:"paused_reason" json:"paused_reason,omitempty"`
	FailingSince     *time.Time `db:"failing_since" json:"failing_since,omitempty"`
	SecretRotatedAt  *time.Time `db:"secret_rotated_at" json:"secret_rotated_at,omitempty"`
	PreviousSecretTo *time.Time `db:"previous_secret_expires_at" json:"previous_secret_expires_at,omitempty"`
	CreatedAt        time.Time  `db:"created_at" json:"created_at"`
	UpdatedAt        time.Time  `db:"updated_at" json:"updated_at"`
}

// Endpoint states.
const (
	Active = "active"
	Paused = "paused"
)

// Attempt is one row of an endpoint's delivery log.
type Attempt struct {
	Event     uuid.UUID `db:"event_id" json:"event_id"`
	EventType string    `db:"event_type" json:"event_type"`
	Attempt   int       `db:"attempt" json:"attempt"`
	At        time.Time `db:"at" json:"at"`
	Status    *int      `db:"status_code" json:"status_code,omitempty"`
	LatencyMS int       `db:"latency_ms" json:"latency_ms"`
	Error     *string   `db:"error" json:"error,omitempty"`
	// Delivery is where the event stands now: pending, delivered or failed (given up).
	Delivery string `db:"delivery_state" json:"delivery_state"`
}
