package access

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Resident rules: what a signed-in resident may do, beside the staff rules in staff.go.
// mobile-api names per route what it needs (Need) and enforces it in one place; the store
// decides again only what must be read under the writing transaction. The guardian rule
// of face-entry consent is consent.CheckGiver: package consent builds on this one, so the
// rule lives there and the store and mobile-api call it.

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

// MayHoldPass reports whether a resident in this status may be given anything that
// opens a gate or stands for them (a code, a device, a card, a visitor pass, a passkey,
// an invite, a consent): only while they live here. Whoever left keeps their history and
// can still export or delete it.
func (s ResidentStatus) MayHoldPass() bool { return s == ResidentActive }

// StepUpWindow is how recent a user-verified passkey assertion must be for a sensitive
// action (certifying a device, consenting to face entry, deleting the account).
const StepUpWindow = 5 * time.Minute

// StepUpFresh reports whether an assertion verified at verifiedAt still counts at now.
func StepUpFresh(verifiedAt, now time.Time) bool {
	return !verifiedAt.IsZero() && now.Sub(verifiedAt) <= StepUpWindow && !verifiedAt.After(now.Add(time.Minute))
}

// Need is what a resident route requires before its handler runs. Needs combine with |;
// any need but NeedNone includes a live session.
type Need uint8

const (
	// NeedNone: anyone may call (invite redemption, sign-in, a visitor's share link).
	NeedNone Need = 0
	// NeedSession: a live session of a resident, whatever their status (a resident who
	// moved out between two requests may still read, export and delete what is theirs).
	NeedSession Need = 1 << 0
	// NeedActive: the resident lives here (MayHoldPass).
	NeedActive Need = 1 << 1
	// NeedStepUp: a user-verified passkey assertion within StepUpWindow, so that a
	// stolen session cookie alone cannot do it.
	NeedStepUp Need = 1 << 2
	// OpenToWeChat opens a route to a WeChat session (SessionWeChat): every route without
	// it needs a session opened with a passkey. It grants rather than requires, so a
	// route added later is closed to WeChat sessions until someone decides otherwise.
	OpenToWeChat Need = 1 << 3
)

// SessionKind is how a session was opened.
type SessionKind string

const (
	// SessionPasskey: a passkey assertion or registration, user-verified.
	SessionPasskey SessionKind = "passkey"
	// SessionWeChat: a WeChat mini-program login (wx.login, code-to-session) of a bound
	// WeChat user. It proves control of the WeChat account, not possession of a passkey,
	// so it is the lesser kind: the pass, visitor passes and history, not what a passkey
	// guards (docs/miniprogram.md).
	SessionWeChat SessionKind = "wechat"
)

// Reasons a signed-in resident is refused; all are ErrForbidden.
var (
	ErrNotResident     = fmt.Errorf("the resident no longer lives here: %w", ErrForbidden)
	ErrPasskeyRequired = fmt.Errorf("this needs a session opened with a passkey, not a WeChat login: %w", ErrForbidden)
	ErrStepUpRequired  = fmt.Errorf("this needs a user-verified passkey assertion from the last %d minutes: %w",
		int(StepUpWindow/time.Minute), ErrForbidden)
)

// SignedIn is what the resident rules know of a signed-in resident.
type SignedIn struct {
	Status ResidentStatus
	// Kind is how the session was opened ("" counts as SessionPasskey).
	Kind SessionKind
	// StepUpAt is when the session last verified the user with a passkey (zero, or the
	// epoch, when it never did or the verification was used up).
	StepUpAt time.Time
	// StepUpPasskey says a passkey is recorded for that verification.
	StepUpPasskey bool
}

// Allow decides whether r meets n at now. Residency comes first: whoever left learns
// that, not that they should verify themselves for something they can no longer do.
// Then the session's kind: a WeChat session meets no need a route does not open to it
// (not even a step-up, which needs a passkey anyway).
func (r SignedIn) Allow(n Need, now time.Time) error {
	if n&NeedActive != 0 && !r.Status.MayHoldPass() {
		return ErrNotResident
	}
	if r.Kind == SessionWeChat && n != NeedNone && n&OpenToWeChat == 0 {
		return ErrPasskeyRequired
	}
	if n&NeedStepUp != 0 && (!r.StepUpPasskey || !StepUpFresh(r.StepUpAt, now)) {
		return ErrStepUpRequired
	}
	return nil
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

// VisitorPass is what decides a visitor pass's state.
type VisitorPass struct {
	ValidFrom, ValidUntil time.Time
	MaxEntries, Used      int
	Revoked               bool
	HostStatus            ResidentStatus
}

// State decides a visitor pass's state at now; revocation and the host leaving win over
// the window, which wins over the entry count.
func (v VisitorPass) State(now time.Time) VisitorState {
	switch {
	case v.Revoked:
		return VisitorRevoked
	case !v.HostStatus.MayHoldPass():
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
		return Invalid("valid_from", "must not be more than an hour in the past")
	case from.After(now.Add(MaxVisitorLead)):
		return Invalid("valid_from", "must be within %d days", int(MaxVisitorLead.Hours()/24))
	case !until.After(from):
		return Invalid("valid_until", "must be after valid_from")
	case !until.After(now):
		return Invalid("valid_until", "must be in the future")
	case until.Sub(from) > MaxVisitorWindow:
		return Invalid("valid_until", "a visitor pass lasts at most %d days", int(MaxVisitorWindow.Hours()/24))
	}
	return nil
}

// VisitorZones builds a visitor pass's mask from the host's zone list; none asked means
// the perimeter, the one zone every community has.
func VisitorZones(zones []int) (ZoneMask, error) {
	if len(zones) == 0 {
		return ZoneMask(0).With(PerimeterZone), nil
	}
	m, err := MaskOf(zones...)
	if err != nil {
		return 0, Invalid("zones", "%v", fmt.Sprint(err))
	}
	return m, nil
}

// CheckVisitorZones refuses a visitor pass that would open more than its host's own
// codes do.
func CheckVisitorZones(asked, host ZoneMask) error {
	if !asked.Within(host) {
		return Invalid("zones", "must be within your own zones %v", host.Zones())
	}
	return nil
}

// Passkey rules: clone detection (WebAuthn Level 3 §6.1.1 and §7.2 step 22). An
// authenticator that keeps a signature counter raises it on every assertion; a counter
// that does not move forward means two copies of the private key may be in use. The
// relying party decides what to do: a passkey here is how a session, and so all of a
// resident's data, is reached, so it is suspended for good, not merely refused once.
var (
	// ErrCounterRegressed refuses the assertion that showed the regression (and
	// suspends its passkey).
	ErrCounterRegressed = fmt.Errorf("the passkey's signature counter did not move forward: it may have been copied: %w", ErrForbidden)
	// ErrPasskeySuspended refuses every later assertion of a suspended passkey, whatever
	// its counter: a clone that skips ahead must not win the passkey back.
	ErrPasskeySuspended = fmt.Errorf("the passkey is suspended: %w", ErrForbidden)
	// ErrLastPasskey keeps a resident from removing their last passkey that still signs
	// in: they would be locked out until staff re-invite them.
	ErrLastPasskey = fmt.Errorf("the last passkey that can sign in cannot be removed: add another first: %w", ErrConflict)
)

// SuspendCounterRegressed is why a passkey was suspended (passkeys.suspend_reason).
const SuspendCounterRegressed = "counter_regressed"

// PasskeyUse is what the rules know of an assertion: the passkey's stored state and the
// counter the authenticator presented.
type PasskeyUse struct {
	Suspended bool
	Stored    uint32
	Presented uint32
}

// Check decides an assertion that passed its signature check. Authenticators that keep
// no counter (most synced passkeys) always send 0: with 0 stored too, there is nothing to
// compare. Any other counter must be greater than the stored one; 0 after a non-zero
// count is a regression too (the same rule as go-webauthn's Authenticator.UpdateCounter).
func (u PasskeyUse) Check() error {
	switch {
	case u.Suspended:
		return ErrPasskeySuspended
	case u.Presented == 0 && u.Stored == 0:
		return nil
	case u.Presented <= u.Stored:
		return ErrCounterRegressed
	}
	return nil
}

// MayRemovePasskey decides whether a passkey may be removed, given whether it is
// suspended and how many of the resident's passkeys (it included) are not. A suspended
// passkey can always go; the last one that signs in cannot.
func MayRemovePasskey(suspended bool, usable int) error {
	if !suspended && usable <= 1 {
		return ErrLastPasskey
	}
	return nil
}
