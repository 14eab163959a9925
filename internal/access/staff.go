package access

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

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
	ActManageStaff     Action = "staff.manage" // create, list, disable, enable; issue a member a token
	// ActStaffTokens lists, rotates and revokes a member's tokens. Every role may do it
	// to itself (a leaked or expiring token is its holder's to cut or replace); done to
	// another member it needs ActManageStaff as well: see AuthorizeMember.
	ActStaffTokens Action = "staff.tokens"
	ActReadSelf    Action = "self.read" // who am I, and when does this token expire
	ActReadAudit   Action = "audit.read"
	ActManageKeys  Action = "keys.manage"
	ActReadConsent Action = "consent.read" // face-entry consent report, face template count
	// ActManageWebhooks registers, changes, rotates the secret of, resumes and deletes
	// webhook endpoints; ActReadWebhooks reads them and their delivery logs (never a
	// secret: it is shown once, to the admin who made or rotated it).
	ActManageWebhooks Action = "webhooks.manage"
	ActReadWebhooks   Action = "webhooks.read"
	// Who may enter where and when (issue 16): reading groups, policies, passholders,
	// settings and lockdowns; changing them; starting and lifting a lockdown, which the
	// guard on duty may do in an emergency without being able to change who enters.
	ActReadAccess Action = "access.read"
	ActEditAccess Action = "access.edit"
	ActLockdown   Action = "lockdown.manage"
)

// grants is the whole authorization policy in one table.
var grants = map[Action][]StaffRole{
	ActCreateCommunity: {StaffAdmin}, // and only operators: see Authorize
	ActReadCommunity:   {StaffAdmin, StaffGuard, StaffAuditor},
	ActEditStructure:   {StaffAdmin},
	ActReadResidents:   {StaffAdmin, StaffGuard, StaffAuditor},
	ActEditResidents:   {StaffAdmin},
	ActReadGates:       {StaffAdmin, StaffGuard, StaffAuditor},
	ActOperateGates:    {StaffAdmin, StaffGuard},
	ActReadEntries:     {StaffAdmin, StaffGuard, StaffAuditor},
	ActManageStaff:     {StaffAdmin},
	ActStaffTokens:     {StaffAdmin, StaffGuard, StaffAuditor}, // own tokens; others' need ActManageStaff
	ActReadSelf:        {StaffAdmin, StaffGuard, StaffAuditor},
	ActReadAudit:       {StaffAdmin, StaffAuditor},
	ActManageKeys:      {StaffAdmin},
	ActReadConsent:     {StaffAdmin, StaffAuditor},
	ActManageWebhooks:  {StaffAdmin},
	ActReadWebhooks:    {StaffAdmin, StaffAuditor},
	ActReadAccess:      {StaffAdmin, StaffGuard, StaffAuditor},
	ActEditAccess:      {StaffAdmin},
	ActLockdown:        {StaffAdmin, StaffGuard},
}

// selfService are the actions a member may always do to itself; done to another member
// they need ActManageStaff too.
var selfService = map[Action]bool{ActStaffTokens: true}

// Staff is a signed-in member of the property staff.
type Staff struct {
	ID   uuid.UUID
	Name string
	Role StaffRole
	// Community is uuid.Nil for operators, who see every community.
	Community uuid.UUID
	// Token is the id of the token this request came with, and TokenExpires its end:
	// what a member needs to rotate it before it stops working.
	Token        uuid.UUID
	TokenExpires time.Time
	// Session is true when the request came from a console session (a passkey sign-in)
	// rather than a bearer token; Token is then the session's id.
	Session bool
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

// Allowed lists the actions s may do in community c, in a fixed order: what a client
// (the console) shows, from the same table Authorize decides by.
func (s Staff) Allowed(c uuid.UUID) []Action {
	out := []Action{}
	for a := range grants {
		if s.Authorize(a, c) == nil {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out
}

// MayCreateStaff reports whether s may create a staff member with the given scope: admins
// create staff in their own community; only operators create operators.
func (s Staff) MayCreateStaff(community uuid.UUID) error {
	if community == uuid.Nil && !s.IsOperator() {
		return fmt.Errorf("only operators create operators: %w", ErrForbidden)
	}
	return s.Authorize(ActManageStaff, community)
}

// AuthorizeMember decides whether s may do a to staff member target of community c:
// Authorize first, then, for self-service actions done to someone else, ActManageStaff.
// It needs only the target's id, so a guard learns nothing about other members.
func (s Staff) AuthorizeMember(a Action, c, target uuid.UUID) error {
	if err := s.Authorize(a, c); err != nil {
		return err
	}
	if selfService[a] && target != s.ID {
		if err := s.Authorize(ActManageStaff, c); err != nil {
			return fmt.Errorf("another member's tokens: %w", err)
		}
	}
	return nil
}

// TokenKind says who holds a staff token, which bounds how long it may live.
type TokenKind string

const (
	// TokenConsole is a person's token for the admin console.
	TokenConsole TokenKind = "console"
	// TokenIntegration is a system's token (a property-management system syncing
	// residents); it may live longer, since rotating it means a deployment elsewhere.
	TokenIntegration TokenKind = "integration"
)

// TokenKinds lists the valid kinds.
var TokenKinds = []string{string(TokenConsole), string(TokenIntegration)}

// Staff token lifetimes. No token is unlimited: a leaked token stops working by itself
// at the latest a year after it was made.
const (
	DefaultTokenTTL   = 90 * 24 * time.Hour // STAFF_TOKEN_TTL overrides it
	MinTokenTTL       = time.Hour
	MaxConsoleTTL     = 180 * 24 * time.Hour
	MaxIntegrationTTL = 365 * 24 * time.Hour
)

// MaxTTL is the longest a token of kind k may live.
func (k TokenKind) MaxTTL() time.Duration {
	if k == TokenIntegration {
		return MaxIntegrationTTL
	}
	return MaxConsoleTTL
}

// TokenTTL decides how long a new token of kind k lives: requested when not zero, else
// the deployment's default def, and either way from MinTokenTTL to k.MaxTTL(). The error
// is a FieldError on "ttl" (the API's field and the CLI's flag) that says the bounds.
func TokenTTL(k TokenKind, requested, def time.Duration) (time.Duration, error) {
	ttl := requested
	if ttl == 0 {
		ttl = def
	}
	if ttl < MinTokenTTL || ttl > k.MaxTTL() {
		return 0, Invalid("ttl", "a %s token lives from 1 hour to %d days, not %s", k, k.MaxTTL()/(24*time.Hour), FormatTTL(ttl))
	}
	return ttl, nil
}

// ParseTTL reads a lifetime as operators write it: whole days ("90d") or a Go duration
// ("36h"). The bounds are TokenTTL's; errors are FieldErrors on "ttl".
func ParseTTL(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 100000 {
			return 0, Invalid("ttl", "%q is not a number of days", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, Invalid("ttl", "%q is neither days (90d) nor a duration (36h)", s)
	}
	return d, nil
}

// FormatTTL writes a lifetime the way ParseTTL reads it back, in days when it is whole days.
func FormatTTL(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}

// Phone is what s sees of a resident's phone number. Admins see it whole: they call
// residents about their access. Guards see enough to tell two residents apart at the
// desk and to match a caller, not a list of numbers to copy: the first three and the last
// four digits of a mobile number (138****5678), only the last four of a shorter one, and
// nothing of a number too short to hide four digits in. Auditors, who read everything
// and change nothing, see phone numbers as guards do.
func (s Staff) Phone(p string) string {
	if s.SeesPhones() {
		return p
	}
	return MaskPhone(p)
}

// SeesPhones reports whether s sees residents' phone numbers whole (and so may search
// by them).
func (s Staff) SeesPhones() bool { return s.Role == StaffAdmin }

// MaskPhone hides all but the outer digits of a phone number; at least four digits are
// always hidden. Separators are dropped, a leading "+" is kept.
func MaskPhone(p string) string {
	var digits []byte
	for i := 0; i < len(p); i++ {
		if p[i] >= '0' && p[i] <= '9' {
			digits = append(digits, p[i])
		}
	}
	if p == "" {
		return ""
	}
	plus := ""
	if strings.HasPrefix(strings.TrimSpace(p), "+") {
		plus = "+"
	}
	n := len(digits)
	switch {
	case n >= 11:
		return plus + string(digits[:3]) + "****" + string(digits[n-4:])
	case n >= 8:
		return plus + "****" + string(digits[n-4:])
	default:
		return "****"
	}
}

// StaffToken is a staff token as its holder and admins see it: never the secret nor its
// hash, which are shown once and stored hashed.
type StaffToken struct {
	ID         uuid.UUID  `db:"id" json:"id"`
	Staff      uuid.UUID  `db:"staff_id" json:"staff_id"`
	Kind       TokenKind  `db:"kind" json:"kind"`
	Label      string     `db:"label" json:"label"`
	CreatedAt  time.Time  `db:"created_at" json:"created_at"`
	ExpiresAt  time.Time  `db:"expires_at" json:"expires_at"`
	LastUsedAt *time.Time `db:"last_used_at" json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `db:"revoked_at" json:"revoked_at,omitempty"`
}
