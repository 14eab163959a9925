// Package rules holds the resident-side decisions of mobile-api that need no I/O: user
// handles, issued-token windows, visitor pass states and step-up freshness.
package rules

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/credential"
)

// UserHandle is the WebAuthn user handle of a resident: community id || resident id.
// A discoverable sign-in starts with nobody known; the handle the authenticator returns
// names both the community (every table is keyed by it) and the resident. It holds no
// name or phone number, and the ids are already what the resident's own API answers.
func UserHandle(community, resident uuid.UUID) []byte {
	return append(append(make([]byte, 0, 32), community[:]...), resident[:]...)
}

// ErrBadHandle is returned for a user handle this server did not make.
var ErrBadHandle = errors.New("user handle is not one of ours")

// ParseUserHandle reverses UserHandle.
func ParseUserHandle(h []byte) (community, resident uuid.UUID, err error) {
	if len(h) != 32 {
		return uuid.Nil, uuid.Nil, ErrBadHandle
	}
	community, resident = uuid.UUID(h[:16]), uuid.UUID(h[16:])
	if community == uuid.Nil || resident == uuid.Nil {
		return uuid.Nil, uuid.Nil, ErrBadHandle
	}
	return community, resident, nil
}

// IssuedLifetime is how long a resident's rotating QR code is valid. Short, so a
// screenshot or a forwarded code is soon useless; long enough for a slow scanner.
const IssuedLifetime = 60 * time.Second

// RefreshMargin is how long before expiry the phone fetches the next code, so the code
// on screen always has this much life left for the gate's clock and the scan.
const RefreshMargin = 25 * time.Second

// Window is an issued token's validity and when the phone should ask for the next.
type Window struct {
	NotBefore, ExpiresAt, RefreshAfter time.Time
}

// ErrWindowClosed is returned when no token can be issued inside the allowed window.
var ErrWindowClosed = errors.New("no validity window left")

// IssuedWindow is the window of a code minted at now that must not outlive until (a
// visitor pass's end; zero for none). Codes are at least the format's minimum lifetime:
// near the end of a visitor pass the window slides back rather than past the pass's end.
func IssuedWindow(now, until time.Time) (Window, error) {
	nb := now.Truncate(time.Second)
	exp := nb.Add(IssuedLifetime)
	if !until.IsZero() {
		until = until.Truncate(time.Second)
		if !until.After(nb) {
			return Window{}, ErrWindowClosed
		}
		if exp.After(until) {
			exp = until
		}
		if exp.Sub(nb) < credential.MinIssuedLifetime {
			nb = exp.Add(-credential.MinIssuedLifetime)
		}
	}
	refresh := exp.Add(-RefreshMargin)
	if refresh.Before(now) {
		refresh = now
	}
	return Window{NotBefore: nb, ExpiresAt: exp, RefreshAfter: refresh}, nil
}

// StepUpWindow is how recent a user-verified passkey assertion must be for a sensitive
// action (certifying a device, deleting the account).
const StepUpWindow = 5 * time.Minute

// StepUpFresh reports whether an assertion verified at verifiedAt still counts at now.
func StepUpFresh(verifiedAt, now time.Time) bool {
	return !verifiedAt.IsZero() && now.Sub(verifiedAt) <= StepUpWindow && !verifiedAt.After(now.Add(time.Minute))
}

// VisitorState is whether a visitor pass may show a code now.
type VisitorState string

const (
	VisitorActive   VisitorState = "active"
	VisitorNotYet   VisitorState = "not_yet_valid"
	VisitorExpired  VisitorState = "expired"
	VisitorUsedUp   VisitorState = "used_up"
	VisitorRevoked  VisitorState = "revoked"
	VisitorHostGone VisitorState = "host_left"
)

// Visitor is what decides a visitor pass's state.
type Visitor struct {
	ValidFrom, ValidUntil time.Time
	MaxEntries, Used      int
	Revoked               bool
	HostStatus            access.ResidentStatus
}

// State decides a visitor pass's state at now; revocation and the host leaving win over
// the window, which wins over the entry count.
func (v Visitor) State(now time.Time) VisitorState {
	switch {
	case v.Revoked:
		return VisitorRevoked
	case v.HostStatus != access.ResidentActive:
		return VisitorHostGone
	case now.Before(v.ValidFrom):
		return VisitorNotYet
	case !now.Before(v.ValidUntil):
		return VisitorExpired
	case v.Used >= v.MaxEntries:
		return VisitorUsedUp
	}
	return VisitorActive
}

// MaxVisitorWindow is the longest a visitor pass may last.
const MaxVisitorWindow = 7 * 24 * time.Hour

// MaxVisitorLead is how far ahead a visitor pass may start.
const MaxVisitorLead = 30 * 24 * time.Hour

// CheckVisitorWindow validates a requested pass window at now.
func CheckVisitorWindow(from, until, now time.Time) error {
	switch {
	case from.Before(now.Add(-time.Hour)):
		return access.Invalid("valid_from", "must not be more than an hour in the past")
	case from.After(now.Add(MaxVisitorLead)):
		return access.Invalid("valid_from", "must be within %d days", int(MaxVisitorLead.Hours()/24))
	case !until.After(from):
		return access.Invalid("valid_until", "must be after valid_from")
	case !until.After(now):
		return access.Invalid("valid_until", "must be in the future")
	case until.Sub(from) > MaxVisitorWindow:
		return access.Invalid("valid_until", "a visitor pass lasts at most %d days", int(MaxVisitorWindow.Hours()/24))
	}
	return nil
}

// DeviceLifetime is how long a device certificate lasts: the format's maximum, after
// which the app re-certifies its key with a fresh step-up.
const DeviceLifetime = credential.MaxDeviceCertLifetime

// ZoneMask builds a mask from a request's zone list, defaulting to the perimeter.
func ZoneMask(zones []int) (access.ZoneMask, error) {
	if len(zones) == 0 {
		return access.ZoneMask(0).With(access.PerimeterZone), nil
	}
	m, err := access.MaskOf(zones...)
	if err != nil {
		return 0, access.Invalid("zones", "%v", fmt.Sprint(err))
	}
	return m, nil
}
