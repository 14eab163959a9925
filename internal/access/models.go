package access

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Building is a building of a community. Its residents open the perimeter and its Zones
// by default (BuildingGroup): a unit belongs to one building, and a resident to their
// unit's.
type Building struct {
	Community uuid.UUID `db:"community_id" json:"community_id"`
	ID        uuid.UUID `db:"id" json:"id"`
	Name      string    `db:"name" json:"name"`
	Zones     ZoneMask  `db:"zones" json:"-"`
	CreatedAt time.Time `db:"created_at" json:"created_at"`
}

// MarshalJSON writes the building with its zones as a list of zone numbers.
func (b Building) MarshalJSON() ([]byte, error) {
	type plain Building
	return json.Marshal(struct {
		plain
		Zones []int `json:"zones"`
	}{plain(b), b.Zones.List()})
}

// Unit is a flat or room in a building.
type Unit struct {
	Community uuid.UUID `db:"community_id" json:"community_id"`
	ID        uuid.UUID `db:"id" json:"id"`
	Building  uuid.UUID `db:"building_id" json:"building_id"`
	Label     string    `db:"label" json:"label"`
	CreatedAt time.Time `db:"created_at" json:"created_at"`
}

// Zone is one bit of the community's zone mask.
type Zone struct {
	Community    uuid.UUID `db:"community_id" json:"community_id"`
	Zone         int       `db:"zone" json:"zone"`
	Name         string    `db:"name" json:"name"`
	AntiPassback bool      `db:"anti_passback" json:"anti_passback"`
}

// Resident is a person living in the community, with their current (or last) residency.
type Resident struct {
	Community uuid.UUID      `db:"community_id" json:"community_id"`
	ID        uuid.UUID      `db:"id" json:"id"`
	Name      string         `db:"name" json:"name"`
	Phone     *string        `db:"phone" json:"phone,omitempty"`
	Under14   bool           `db:"under_14" json:"under_14"`
	Status    ResidentStatus `db:"status" json:"status"`
	CreatedAt time.Time      `db:"created_at" json:"created_at"`
	EndedAt   *time.Time     `db:"ended_at" json:"ended_at,omitempty"`
	Unit      *uuid.UUID     `db:"unit_id" json:"unit_id,omitempty"`
	UnitLabel *string        `db:"unit_label" json:"unit_label,omitempty"`
	Role      *string        `db:"role" json:"role,omitempty"`
}

// ResidentPage is one page of residents in name order.
type ResidentPage struct {
	Residents  []Resident `json:"residents"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

// MoveOutResult says what a move-out ended.
type MoveOutResult struct {
	Credentials   int  `json:"credentials_revoked"`
	Sessions      int  `json:"sessions_ended"`
	VisitorPasses int  `json:"visitor_passes_revoked"`
	FaceData      bool `json:"face_data_purged"` // templates deleted and a purge sent to every gate
}

// Gate is a door with a reader and a gate-agent.
type Gate struct {
	Community   uuid.UUID  `db:"community_id" json:"community_id"`
	ID          uuid.UUID  `db:"id" json:"id"`
	Name        string     `db:"name" json:"name"`
	Zone        int        `db:"zone" json:"zone"`
	Direction   string     `db:"direction" json:"direction"`
	CreatedAt   time.Time  `db:"created_at" json:"created_at"`
	EnrolledAt  *time.Time `db:"enrolled_at" json:"enrolled_at,omitempty"`
	DisabledAt  *time.Time `db:"disabled_at" json:"disabled_at,omitempty"`
	LastSeenAt  *time.Time `db:"last_seen_at" json:"last_seen_at,omitempty"`
	Version     *string    `db:"agent_version" json:"agent_version,omitempty"`
	QueueDepth  *int       `db:"queue_depth" json:"queue_depth,omitempty"`
	ClockOffset *int64     `db:"clock_offset_ms" json:"clock_offset_ms,omitempty"`
	// ClockAlarm is what the gate's last heartbeat said of its clock: true when its
	// offset is past the gate's alarm limit. Absent until a heartbeat says.
	ClockAlarm *bool `db:"clock_alarm" json:"clock_alarm,omitempty"`
}

// StaffMember is a staff row as admins see it (never with a token).
type StaffMember struct {
	ID         uuid.UUID  `db:"id" json:"id"`
	Community  *uuid.UUID `db:"community_id" json:"community_id,omitempty"`
	Name       string     `db:"name" json:"name"`
	Role       StaffRole  `db:"role" json:"role"`
	CreatedAt  time.Time  `db:"created_at" json:"created_at"`
	DisabledAt *time.Time `db:"disabled_at" json:"disabled_at,omitempty"`
}

// CommunityInfo is a community as staff list it.
type CommunityInfo struct {
	ID        uuid.UUID `db:"id" json:"id"`
	Name      string    `db:"name" json:"name"`
	CreatedAt time.Time `db:"created_at" json:"created_at"`
}

// InviteTTL is how long a resident's invite code works.
const InviteTTL = 72 * time.Hour

// EnrollmentTTL is how long a gate's enrollment code works.
const EnrollmentTTL = 72 * time.Hour
