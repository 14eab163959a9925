package access

import (
	"errors"
	"math"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Methods, results and subjects of entry events.
var (
	EventMethods  = []string{"qr", "face", "manual"}
	EventResults  = []string{"granted", "denied"}
	EventSubjects = []string{"resident", "visitor", "staff"}
)

// MaxEventReason is the longest reason an entry event may give (entry_events.reason).
const MaxEventReason = 64

// maxReplayKey bounds an event's replay key: a hash or a token prefix, never more.
const maxReplayKey = 64

// GateEvent is one decision at a gate as the gate reports it. The id and the time are
// the gate's.
type GateEvent struct {
	ID         uuid.UUID
	OccurredAt time.Time
	Gate       uuid.UUID
	Credential *uuid.UUID
	Subject    string // resident | visitor | staff, or "" when no credential was read
	Method     string // qr | face | manual
	Result     string // granted | denied
	Reason     string
	Offline    bool
	Stale      bool
	Staff      *uuid.UUID
	ReplayKey  []byte
	// Face events: the matched resident and the similarity score (never the embedding).
	Resident *uuid.UUID
	Score    *float32
}

// Check checks a reported event; gate is the reporting gate, which reports only for
// itself.
func (e GateEvent) Check(gate uuid.UUID) error {
	switch {
	case e.ID == uuid.Nil:
		return errors.New("id is required")
	case e.Gate != gate:
		return errors.New("gate_id must be the reporting gate")
	case e.OccurredAt.IsZero() || e.OccurredAt.Year() < 2000 || e.OccurredAt.Year() > 2200:
		return errors.New("occurred_at is required and must be a plausible time")
	case !slices.Contains(EventMethods, e.Method):
		return errors.New("method must be qr, face or manual")
	case !slices.Contains(EventResults, e.Result):
		return errors.New("result must be granted or denied")
	case e.Subject != "" && !slices.Contains(EventSubjects, e.Subject):
		return errors.New("subject must be resident, visitor or staff")
	case len(e.Reason) > MaxEventReason:
		return errors.New("reason is longer than 64 bytes")
	case len(e.ReplayKey) > maxReplayKey:
		return errors.New("replay_key is longer than 64 bytes")
	case e.Score != nil && (math.IsNaN(float64(*e.Score)) || *e.Score < -1 || *e.Score > 1):
		return errors.New("score must be from -1 to 1")
	case e.Resident != nil && e.Method != "face":
		return errors.New("resident_id is for face events")
	}
	return nil
}

// UsesVisitorEntry reports whether an event uses one of its visitor pass's entries:
// only a granted entry on a visitor's credential does.
func (e GateEvent) UsesVisitorEntry() bool {
	return e.Result == "granted" && e.Credential != nil && e.Subject == "visitor"
}

// MovesFaceRetention reports whether an event moves its resident's face-data retention
// clock (docs/face-entry.md): a granted face entry does.
func (e GateEvent) MovesFaceRetention() bool {
	return e.Method == "face" && e.Result == "granted" && e.Resident != nil
}

// EntryEvent is an entry event as staff list it.
type EntryEvent struct {
	ID         uuid.UUID  `db:"id" json:"id"`
	OccurredAt time.Time  `db:"occurred_at" json:"occurred_at"`
	ReceivedAt time.Time  `db:"received_at" json:"received_at"`
	Gate       uuid.UUID  `db:"gate_id" json:"gate_id"`
	Credential *uuid.UUID `db:"credential_id" json:"credential_id,omitempty"`
	Subject    *string    `db:"subject" json:"subject,omitempty"`
	Method     string     `db:"method" json:"method"`
	Result     string     `db:"result" json:"result"`
	Reason     string     `db:"reason" json:"reason"`
	Offline    bool       `db:"offline" json:"offline"`
	Stale      bool       `db:"stale" json:"stale"`
	Staff      *uuid.UUID `db:"staff_id" json:"staff_id,omitempty"`
	Resident   *uuid.UUID `db:"resident_id" json:"resident_id,omitempty"`
	Score      *float32   `db:"score" json:"score,omitempty"`
}

// EventPage is one page of the entry log, newest first.
type EventPage struct {
	Events []EntryEvent `json:"events"`
	Next   string       `json:"next_cursor,omitempty"`
}

// Anomaly is one presentation (a replay key) granted at more than one gate: offline
// gates cannot see each other's replay caches, so the server flags it for staff.
type Anomaly struct {
	ReplayKey  []byte      `json:"replay_key"`
	Credential *uuid.UUID  `json:"credential_id,omitempty"`
	Gates      []uuid.UUID `json:"gate_ids"`
	Count      int         `json:"grants"`
	First      time.Time   `json:"first_at"`
	Last       time.Time   `json:"last_at"`
}

// ResidentEntry is one of a resident's own entry events.
type ResidentEntry struct {
	ID         uuid.UUID `db:"id" json:"id"`
	OccurredAt time.Time `db:"occurred_at" json:"occurred_at"`
	Gate       uuid.UUID `db:"gate_id" json:"gate_id"`
	GateName   *string   `db:"gate_name" json:"gate_name,omitempty"`
	Credential uuid.UUID `db:"credential_id" json:"credential_id"`
	Method     string    `db:"method" json:"method"`
	Result     string    `db:"result" json:"result"`
	Reason     string    `db:"reason" json:"reason"`
	Offline    bool      `db:"offline" json:"offline"`
}

// ResidentEntryPage is a page of a resident's entries, newest first.
type ResidentEntryPage struct {
	Entries    []ResidentEntry `json:"entries"`
	NextCursor string          `json:"next_cursor,omitempty"`
}
