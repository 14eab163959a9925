package access

import (
	"time"

	"github.com/google/uuid"
)

// ConsentReport is what an auditor sees of a community's face-entry consents: no names,
// no templates, only ids, states and times.
type ConsentReport struct {
	Community     uuid.UUID          `json:"community_id"`
	NoticeVersion string             `json:"current_notice_version"`
	GeneratedAt   time.Time          `json:"generated_at"`
	Counts        ConsentCounts      `json:"counts"`
	Residents     []ResidentConsent  `json:"residents"`
	NextCursor    string             `json:"next_cursor,omitempty"` // the next page of Residents
	Withdrawals   []ConsentEnd       `json:"withdrawals"`
	UnackedGates  []GatePendingPurge `json:"gates_with_unconfirmed_purges"`
}

// ConsentCounts summarises a community's consents.
type ConsentCounts struct {
	Live                   int `db:"live" json:"live"`
	LiveOnOldNotice        int `db:"live_old_notice" json:"live_on_old_notice"`
	OneGate                int `db:"one_gate" json:"scope_one_gate"`
	CommunityScope         int `db:"community_scope" json:"scope_community"`
	ByGuardian             int `db:"by_guardian" json:"given_by_guardian"`
	Withdrawn              int `db:"withdrawn" json:"ended_withdrawal"`
	MovedOut               int `db:"moved_out" json:"ended_move_out"`
	Deleted                int `db:"deleted" json:"ended_deletion"`
	Retention              int `db:"retention" json:"ended_retention"`
	ServiceEnded           int `db:"service_ended" json:"ended_service_ended"`
	ResidentsWithTemplates int `db:"with_templates" json:"residents_with_templates"`
	PendingPurges          int `db:"pending_purges" json:"unconfirmed_purges"`
}

// ResidentConsent is the latest consent of one resident.
type ResidentConsent struct {
	Resident      uuid.UUID  `db:"resident_id" json:"resident_id"`
	Status        string     `db:"status" json:"status"` // live or the end reason
	Scope         string     `db:"scope" json:"scope"`
	Gate          *uuid.UUID `db:"gate_id" json:"gate_id,omitempty"`
	GivenBy       uuid.UUID  `db:"given_by" json:"given_by"`
	NoticeVersion string     `db:"notice_version" json:"notice_version"`
	NoticeLang    string     `db:"notice_language" json:"notice_language"`
	Channel       string     `db:"channel" json:"channel"`
	GrantedAt     time.Time  `db:"granted_at" json:"granted_at"`
	EndedAt       *time.Time `db:"withdrawn_at" json:"ended_at,omitempty"`
	LastFaceEntry *time.Time `db:"last_face_entry_at" json:"last_face_entry_at,omitempty"`
	Templates     int        `db:"templates" json:"templates"`
	PendingPurges int        `db:"pending_purges" json:"unconfirmed_purges"`
}

// ConsentEnd is one ended consent.
type ConsentEnd struct {
	Consent  uuid.UUID `db:"id" json:"consent_id"`
	Resident uuid.UUID `db:"resident_id" json:"resident_id"`
	Reason   string    `db:"end_reason" json:"reason"`
	By       string    `db:"withdrawn_by" json:"by"`
	At       time.Time `db:"withdrawn_at" json:"at"`
}

// GatePendingPurge is a gate that has not confirmed every purge (offline, or broken).
type GatePendingPurge struct {
	Gate       uuid.UUID  `db:"gate_id" json:"gate_id"`
	Name       string     `db:"name" json:"name"`
	Pending    int        `db:"pending" json:"unconfirmed_purges"`
	Oldest     time.Time  `db:"oldest" json:"oldest_requested_at"`
	LastSeenAt *time.Time `db:"last_seen_at" json:"last_seen_at,omitempty"`
}
