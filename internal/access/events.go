package access

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/credential"
)

// Methods, results and subjects of entry events. Method "door" and results "alarm" and
// "info" are door events (DoorReasons), never a decision on a presentation.
var (
	EventMethods  = []string{"qr", "face", "manual", MethodDoor}
	EventResults  = []string{"granted", "denied", ResultAlarm, ResultInfo}
	EventSubjects = []string{"resident", "visitor", "staff"}
)

// Door events: what a door controller reports on its own (forced open, held open, exit
// button), and what it answered when the gate asked it to open a granted door and it did
// not. They are facts about the door, so they have their own method and results: no
// count of entries, visitor pass or face retention clock ever takes one for an entry.
const (
	MethodDoor  = "door"
	ResultAlarm = "alarm" // staff should look: a door forced, propped, or not opening
	ResultInfo  = "info"  // a fact: someone left by the exit button
)

// Reasons of door events.
const (
	DoorForcedOpen = "door_forced_open" // opened without an opening: forced, or tailgated through a door held by hand
	DoorHeldOpen   = "door_held_open"   // open longer than the controller allows: propped
	DoorExitButton = "door_exit_button" // released from inside by the exit button
	DoorLocalCard  = "door_local_card"  // the controller let a card in by its own list, not by gatepass
	DoorRefused    = "door_refused"     // a granted opening the controller refused
	DoorNoAnswer   = "door_no_answer"   // a granted opening the controller did not answer in time
	DoorBadAnswer  = "door_bad_answer"  // a granted opening answered by something that is not the controller
	DoorNotSent    = "door_not_sent"    // a granted opening not sent: the ones before it were still unanswered
)

// DoorReasons gives each door event reason its result.
var DoorReasons = map[string]string{
	DoorForcedOpen: ResultAlarm, DoorHeldOpen: ResultAlarm, DoorExitButton: ResultInfo, DoorLocalCard: ResultAlarm,
	DoorRefused: ResultAlarm, DoorNoAnswer: ResultAlarm, DoorBadAnswer: ResultAlarm, DoorNotSent: ResultAlarm,
}

// MaxEventReason is the longest reason an entry event may give (entry_events.reason).
const MaxEventReason = 64

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
	// Dropped: on a flood_suppressed event, how many denied reads of one input the gate
	// decided without recording each.
	Dropped *int
	// OfflineLimit: decided past the community's offline limit.
	OfflineLimit bool
}

// MaxDropped bounds an event's dropped count: a gate summarises a flood at least once a
// minute, and no scanner reads a billion lines in one.
const MaxDropped = 1_000_000_000

// EventFutureLimit is how far ahead of the server's clock a gate may date an event. The
// gate decides and dates by its own clock, which the server never corrects: a clock
// ahead by up to the largest skew staff may allow is a working gate, and one a little
// further ahead still raises its clock alarm while its events keep arriving for staff to
// see. An hour beyond that is no drift but a wrong clock: its events are refused (the
// gate sets them aside on disk) rather than sort above every real entry or move a
// resident's face-data retention clock into the future.
const EventFutureLimit = time.Hour + MaxSkew

// Check checks a reported event; gate is the reporting gate, which reports only for
// itself, and now the server's time. Events older than maxAge (the entry log's
// retention; 0: no bound) are refused: the purge would delete them at once, and a gate
// offline for weeks is well within it.
func (e GateEvent) Check(gate uuid.UUID, now time.Time, maxAge time.Duration) error {
	switch {
	case e.ID == uuid.Nil:
		return errors.New("id is required")
	case e.Gate != gate:
		return errors.New("gate_id must be the reporting gate")
	case e.OccurredAt.IsZero():
		return errors.New("occurred_at is required")
	case e.OccurredAt.After(now.Add(EventFutureLimit)):
		return fmt.Errorf("occurred_at is more than %s ahead of the server's clock: the gate's clock is wrong", EventFutureLimit)
	case maxAge > 0 && e.OccurredAt.Before(now.Add(-maxAge)):
		return fmt.Errorf("occurred_at is older than the entry log keeps events (%s)", maxAge)
	case !slices.Contains(EventMethods, e.Method):
		return errors.New("method must be qr, face, manual or door")
	case !slices.Contains(EventResults, e.Result):
		return errors.New("result must be granted, denied, alarm or info")
	case (e.Method == MethodDoor) != (e.Result == ResultAlarm || e.Result == ResultInfo):
		return errors.New("result alarm or info is for door events, and door events have no other")
	case e.Method == MethodDoor && DoorReasons[e.Reason] != e.Result:
		return errors.New("reason of a door event must be a door reason with its result")
	case e.Method == MethodDoor && (e.ReplayKey != nil || e.Score != nil):
		return errors.New("a door event has no replay_key or score")
	case e.Subject != "" && !slices.Contains(EventSubjects, e.Subject):
		return errors.New("subject must be resident, visitor or staff")
	case !IsReasonCode(e.Reason):
		return fmt.Errorf("reason must be a reason code: a lowercase letter, then lowercase letters, digits or underscores, at most %d bytes", MaxEventReason)
	case e.ReplayKey != nil && !validReplayKey(e.ReplayKey):
		return fmt.Errorf("replay_key must be %d bytes starting with a token type (1, 2 or 3)", credential.ReplayKeySize)
	case isNilID(e.Credential), isNilID(e.Staff), isNilID(e.Resident):
		return errors.New("credential_id, staff_id and resident_id must not be the nil UUID")
	case e.Score != nil && (math.IsNaN(float64(*e.Score)) || *e.Score < -1 || *e.Score > 1):
		return errors.New("score must be from -1 to 1")
	case e.Resident != nil && e.Method != "face":
		return errors.New("resident_id is for face events")
	case e.Dropped != nil && (*e.Dropped < 1 || *e.Dropped > MaxDropped):
		return fmt.Errorf("dropped must be from 1 to %d", MaxDropped)
	}
	return nil
}

// IsReasonCode reports whether s is a reason as gates give them (internal/gate's typed
// reasons: "ok", "revoked", "wrong_zone" ...). Nothing else is stored: a reason is shown
// to staff and exported to spreadsheets, so free text from a gate has no place there.
func IsReasonCode(s string) bool {
	if len(s) == 0 || len(s) > MaxEventReason || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// validReplayKey: the agent sends Claims.ReplayKey of a granted code, type byte first.
func validReplayKey(k []byte) bool {
	if len(k) != credential.ReplayKeySize {
		return false
	}
	switch credential.Type(k[0]) {
	case credential.TypeIssued, credential.TypeDevice, credential.TypeCard:
		return true
	}
	return false
}

func isNilID(id *uuid.UUID) bool { return id != nil && *id == uuid.Nil }

// UsesVisitorEntry reports whether an event uses one of its visitor pass's entries:
// only a granted entry on a visitor's credential does.
func (e GateEvent) UsesVisitorEntry() bool {
	return e.Result == "granted" && e.Credential != nil && e.Subject == "visitor"
}

// FaceEntryAt is the time a face event moves its resident's retention clock to: the
// event's own time, but never past the server's now, so that a gate clock ahead cannot
// postpone the purge of face data.
func (e GateEvent) FaceEntryAt(now time.Time) time.Time {
	if e.OccurredAt.After(now) {
		return now
	}
	return e.OccurredAt
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
	Dropped    *int       `db:"dropped" json:"dropped,omitempty"`
	// OfflineLimit: the gate decided past its community's offline limit.
	OfflineLimit bool `db:"offline_limit" json:"offline_limit"`
	// Names resolved by the server for people reading the log (never a phone number):
	// the gate, the resident the credential or face belongs to and their unit, the
	// visitor pass's label, the staff member who released the door.
	GateName     *string `db:"gate_name" json:"gate_name,omitempty"`
	ResidentName *string `db:"resident_name" json:"resident_name,omitempty"`
	UnitLabel    *string `db:"unit_label" json:"unit_label,omitempty"`
	VisitorLabel *string `db:"visitor_label" json:"visitor_label,omitempty"`
	StaffName    *string `db:"staff_name" json:"staff_name,omitempty"`
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
