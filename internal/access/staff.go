package access

import (
	"fmt"

	"github.com/google/uuid"
)

// StaffRole is what a member of the property staff is allowed to do.
type StaffRole string

const (
	// StaffAdmin may do everything in their communities.
	StaffAdmin StaffRole = "admin"
	// StaffGuard runs the gates: visitors, cards, manual release, the entry log.
	StaffGuard StaffRole = "guard"
	// StaffAuditor reads the audit log and consent reports and changes nothing.
	StaffAuditor StaffRole = "auditor"
)

// StaffRoles lists the valid roles.
var StaffRoles = []string{string(StaffAdmin), string(StaffGuard), string(StaffAuditor)}

// Action is something staff ask to do; each admin endpoint names exactly one.
type Action string

const (
	ActCreateCommunity Action = "community.create"
	ActReadCommunity   Action = "community.read"
	ActEditStructure   Action = "structure.edit" // buildings, units, zones, gates
	ActReadResidents   Action = "residents.read"
	ActEditResidents   Action = "residents.edit" // create, move out, re-invite
	ActReadGates       Action = "gates.read"
	ActOperateGates    Action = "gates.operate" // manual release, cards, visitor passes
	ActReadEntries     Action = "entries.read"
	ActManageStaff     Action = "staff.manage"
	ActReadAudit       Action = "audit.read"
	ActManageKeys      Action = "keys.manage"
	ActReadConsent     Action = "consent.read" // face-entry consent report, face template count
)

// grants is the whole authorization policy in one table.
var grants = map[Action][]StaffRole{
	ActCreateCommunity: {StaffAdmin}, // and only operators: see Authorize
	ActReadCommunity:   {StaffAdmin, StaffGuard, StaffAuditor},
	ActEditStructure:   {StaffAdmin},
	ActReadResidents:   {StaffAdmin, StaffGuard},
	ActEditResidents:   {StaffAdmin},
	ActReadGates:       {StaffAdmin, StaffGuard, StaffAuditor},
	ActOperateGates:    {StaffAdmin, StaffGuard},
	ActReadEntries:     {StaffAdmin, StaffGuard},
	ActManageStaff:     {StaffAdmin},
	ActReadAudit:       {StaffAdmin, StaffAuditor},
	ActManageKeys:      {StaffAdmin},
	ActReadConsent:     {StaffAdmin, StaffAuditor},
}

// Staff is a signed-in member of the property staff.
type Staff struct {
	ID   uuid.UUID
	Name string
	Role StaffRole
	// Community is uuid.Nil for operators, who see every community.
	Community uuid.UUID
}

// IsOperator reports whether the staff member belongs to the deployment, not one community.
func (s Staff) IsOperator() bool { return s.Community == uuid.Nil }

// Sees reports whether the staff member may see anything of community c.
func (s Staff) Sees(c uuid.UUID) bool { return s.IsOperator() || s.Community == c }

// Authorize decides whether s may do a in community c (uuid.Nil for deployment-wide
// actions). Staff of another community get ErrNotFound, so that they learn nothing about
// it; a role without the grant gets ErrForbidden.
func (s Staff) Authorize(a Action, c uuid.UUID) error {
	roles, ok := grants[a]
	if !ok {
		return fmt.Errorf("unknown action %q: %w", a, ErrForbidden)
	}
	if c != uuid.Nil && !s.Sees(c) {
		return fmt.Errorf("community %s: %w", c, ErrNotFound)
	}
	if a == ActCreateCommunity && !s.IsOperator() {
		return fmt.Errorf("only operators create communities: %w", ErrForbidden)
	}
	for _, r := range roles {
		if r == s.Role {
			return nil
		}
	}
	return fmt.Errorf("role %s may not %s: %w", s.Role, a, ErrForbidden)
}

// MayCreateStaff reports whether s may create a staff member with the given scope: admins
// create staff in their own community; only operators create operators.
func (s Staff) MayCreateStaff(community uuid.UUID) error {
	if community == uuid.Nil && !s.IsOperator() {
		return fmt.Errorf("only operators create operators: %w", ErrForbidden)
	}
	return s.Authorize(ActManageStaff, community)
}
