// Package access holds the domain of gatepass: communities, residents, gates, staff and
// the rules about who may do what. It does no I/O.
package access

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/credential"
)

// Sentinel errors that the HTTP edge maps to status codes.
var (
	ErrNotFound     = errors.New("not found")
	ErrForbidden    = errors.New("forbidden")
	ErrConflict     = errors.New("conflict")
	ErrInvalid      = errors.New("invalid")
	ErrUnauthorized = errors.New("unauthorized")
)

// MaxZones is the width of a credential's zone mask.
const MaxZones = 64

// PerimeterZone is the zone every community has: its outer gates.
const PerimeterZone = 0

// ResidentRole is how a resident holds a unit.
type ResidentRole string

const (
	RoleOwner  ResidentRole = "owner"
	RoleTenant ResidentRole = "tenant"
	RoleFamily ResidentRole = "family"
)

// ResidentRoles lists the valid values, for validation and documentation.
var ResidentRoles = []string{string(RoleOwner), string(RoleTenant), string(RoleFamily)}

// Direction is which way a gate lets people through.
type Direction string

// Directions lists the valid gate directions.
var Directions = []string{"in", "out", "both"}

// ResidentStatus is where a resident is in their life cycle.
type ResidentStatus string

const (
	ResidentActive   ResidentStatus = "active"
	ResidentMovedOut ResidentStatus = "moved_out"
	ResidentDeleted  ResidentStatus = "deleted"
)

// ZoneMask is the set of zones a credential opens; bit n is zone n.
type ZoneMask uint64

// Has reports whether zone z is in the mask.
func (m ZoneMask) Has(z int) bool { return z >= 0 && z < MaxZones && m&(1<<uint(z)) != 0 }

// With returns the mask with zone z added.
func (m ZoneMask) With(z int) ZoneMask { return m | 1<<uint(z) }

// Within reports whether every zone of m is also in outer.
func (m ZoneMask) Within(outer ZoneMask) bool { return m&^outer == 0 }

// Zones lists the zone numbers in the mask, lowest first.
func (m ZoneMask) Zones() []int {
	var zs []int
	for z := 0; z < MaxZones; z++ {
		if m.Has(z) {
			zs = append(zs, z)
		}
	}
	return zs
}

// List is Zones, never nil: an empty mask is [] in JSON.
func (m ZoneMask) List() []int {
	if zs := m.Zones(); zs != nil {
		return zs
	}
	return []int{}
}

// Scan reads a mask from its bigint column (bit 63 makes the number negative).
func (m *ZoneMask) Scan(src any) error {
	v, ok := src.(int64)
	if !ok {
		return fmt.Errorf("zone mask: %T is not a bigint", src)
	}
	*m = ZoneMask(uint64(v))
	return nil
}

// MaskOf builds a mask from zone numbers.
func MaskOf(zones ...int) (ZoneMask, error) {
	var m ZoneMask
	for _, z := range zones {
		if z < 0 || z >= MaxZones {
			return 0, fmt.Errorf("zone %d: %w: zones are 0 to %d", z, ErrInvalid, MaxZones-1)
		}
		m = m.With(z)
	}
	return m, nil
}

// ZonesForResident is what a resident's credential carries: the perimeter and every zone
// the community has. It is the most a resident's code or card may open; which of them a
// resident opens, and when, their access groups decide at the gate (groups.go), so a card
// printed before staff widen a resident's groups opens the new zone too.
func ZonesForResident(communityZones []int) ZoneMask {
	m := ZoneMask(0).With(PerimeterZone)
	for _, z := range communityZones {
		if z >= 0 && z < MaxZones {
			m = m.With(z)
		}
	}
	return m
}

// Community is one residential community.
type Community struct {
	ID   uuid.UUID
	Name string
}

// revocationMargin is kept beyond the largest skew: for a gate clock a little past its
// skew before it raises its clock alarm, and for mobile-api's signer cache, which may
// mint a code a few seconds after the revocation committed.
const revocationMargin = 10 * time.Minute

// RevocationHorizon is how long after a credential's last valid instant (with no skew)
// its revocation is kept: the largest skew any gate may be given, plus the margin.
const RevocationHorizon = MaxSkew + revocationMargin

// ForgetRevocationAfter is when gates may drop a revocation: once nothing signed for the
// credential can still be within its validity window at any gate. The last token is the
// later of the credential's own expiry (a card, a device certificate, a visitor pass) and
// the longest issued code minted just before the revocation; a gate accepts it until
// that moment plus its skew, which staff may set up to MaxSkew (issue 11: with a margin of
// 10 minutes only, a gate with skew 3600 granted a revoked card for 50 minutes).
func ForgetRevocationAfter(revokedAt time.Time, credentialExpires *time.Time) time.Time {
	last := revokedAt.Add(credential.MaxIssuedLifetime)
	if credentialExpires != nil && credentialExpires.After(last) {
		last = *credentialExpires
	}
	return last.Add(RevocationHorizon)
}
