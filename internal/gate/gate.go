// Package gate makes every decision at the door, without I/O, so that each rule has one
// home and can be table-tested: a code (size cap -> parse -> key -> signature -> time
// window -> staleness -> offline limit -> revocation -> zone by the holder's groups ->
// schedule and holidays -> lockdown -> replay -> anti-passback), a repeated read from one
// scanner, a face (liveness -> match -> staleness -> offline limit -> groups, schedule,
// lockdown -> anti-passback) and a staff manual release (its age: no lockdown or offline
// limit stops it). Each refusal has a typed reason (docs/gate-agent.md).
// The agent around it only stores, uploads and drives the relay.
//
// The synced data (keys, revocations, zone rules) is an immutable State swapped in
// atomically, so a decision never waits for a sync. The replay and passback caches are
// Memory, which the agent persists with each event and reloads on restart.
package gate

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/credential"
)

// Reason says why a decision came out as it did; it is the entry event's reason.
type Reason string

// Reasons. Every denial has its own, so staff can tell a forgery from a stale phone.
const (
	Granted        Reason = "ok"
	Malformed      Reason = "malformed"
	UnknownKey     Reason = "unknown_key"
	WrongCommunity Reason = "wrong_community"
	BadSignature   Reason = "bad_signature"
	Expired        Reason = "expired"
	NotYetValid    Reason = "not_yet_valid"
	Revoked        Reason = "revoked"
	WrongZone      Reason = "wrong_zone"
	Replayed       Reason = "replayed"
	Passback       Reason = "passback"
	StaleData      Reason = "stale_data"     // stale policy "deny" and revocation data too old
	NotEnrolled    Reason = "no_trusted_key" // the gate has never synced a key
	ManualRelease  Reason = "manual_release" // staff unlocked the door
	ReleaseExpired Reason = "release_expired"
)

// MaxInput is the longest input the gate reads. Anything longer is refused as Malformed
// before a byte of it is parsed, so a stuck scanner or a flood of garbage costs nothing;
// the inputs read this much plus one byte, so the cap is seen, never silently cut.
const MaxInput = 4096

// ErrOversize is the Detail of a refusal of input longer than MaxInput: the reason stays
// Malformed (what staff see), the detail tells the installer why.
var ErrOversize = errors.New("input longer than the gate reads")

// Policy is what the gate's settings and zone say about decisions.
type Policy struct {
	Community       uuid.UUID
	Zone            int
	Skew            time.Duration
	AntiPassback    bool          // the gate's zone has anti-passback
	Passback        time.Duration // how long a granted credential is refused here after
	CardMinInterval time.Duration // how long a card's repeat scan counts as a replay
	StaleAfter      time.Duration
	StaleDeny       bool
}

// State is the synced data a decision reads. Build a new one and swap it in; never
// change one that is in use.
type State struct {
	Keys    *credential.KeySet
	Revoked map[uuid.UUID]int64 // credential -> forget after (unix seconds)
	// Holders maps a credential to who holds it (a resident, a visitor pass), so that
	// anti-passback follows the person whatever they present: card, phone QR, device.
	// A credential not in it is its own holder.
	Holders map[uuid.UUID]uuid.UUID
	// Foreign holds the key ids of other communities (ids only, no keys): a code signed
	// by one is another estate's, told apart from a forgery as wrong_community.
	Foreign  map[uint32]struct{}
	Policy   Policy
	SyncedAt time.Time // the last successful sync; zero: never
	// Access is who may enter where and when (access.go); nil: the gate has no rules (a
	// server older than them), and the token's zones alone decide.
	Access *Access
	// Clock is the gate's estimate of the server's time, by which a lockdown's automatic
	// end is judged.
	Clock ServerClock
}

// Holder is who holds credential cred: its holder if the gate knows one, else cred.
func (s *State) Holder(cred uuid.UUID) uuid.UUID {
	if h, ok := s.Holders[cred]; ok && h != uuid.Nil {
		return h
	}
	return cred
}

// Stale reports whether decisions at now rest on revocation data older than the policy
// allows: a gate that never synced knows of no revocation at all, so it is stale from
// the start. Code and face decisions both ask here, so the two cannot disagree.
func (s *State) Stale(now time.Time) bool {
	return s.SyncedAt.IsZero() || (s.Policy.StaleAfter > 0 && now.Sub(s.SyncedAt) > s.Policy.StaleAfter)
}

// Decision is the outcome of one scan.
type Decision struct {
	Granted bool
	Reason  Reason
	// Claims are set when the token verified (Verified), even if later checks refused it.
	Claims   credential.Claims
	Verified bool
	Stale    bool // decided on revocation data older than the policy allows
	// OfflineLimit: decided past the community's offline limit (no sync for longer than
	// it allows); the event is marked so whatever the policy made of it.
	OfflineLimit bool
	// ReplayKey and ReplayUntil are what Record keeps for a grant.
	ReplayKey   [credential.ReplayKeySize]byte
	ReplayUntil time.Time
	// PassbackKey is who anti-passback tracks: the holder of a code's credential (the
	// credential itself when the gate knows no holder), the resident of a face. Nil:
	// nobody (a refused scan).
	PassbackKey uuid.UUID
	Detail      error // the verifier's error, for logs
}

// Memory holds the replay cache and the passback table.
type Memory struct {
	mu       sync.Mutex
	replay   map[[credential.ReplayKeySize]byte]int64 // until, unix nanoseconds
	passback map[uuid.UUID]int64                      // until, unix nanoseconds
}

// NewMemory makes empty caches.
func NewMemory() *Memory {
	return &Memory{replay: map[[credential.ReplayKeySize]byte]int64{}, passback: map[uuid.UUID]int64{}}
}

// RestoreReplay puts a persisted replay entry back (at start).
func (m *Memory) RestoreReplay(key [credential.ReplayKeySize]byte, until time.Time) {
	m.mu.Lock()
	m.replay[key] = until.UnixNano()
	m.mu.Unlock()
}

// RestorePassback puts a persisted passback entry back (at start).
func (m *Memory) RestorePassback(cred uuid.UUID, until time.Time) {
	m.mu.Lock()
	m.passback[cred] = until.UnixNano()
	m.mu.Unlock()
}

// Prune drops entries that ended before now; it returns how many remain.
func (m *Memory) Prune(now time.Time) int {
	n := now.UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, u := range m.replay {
		if u <= n {
			delete(m.replay, k)
		}
	}
	for k, u := range m.passback {
		if u <= n {
			delete(m.passback, k)
		}
	}
	return len(m.replay) + len(m.passback)
}

// Len is how many replay and passback entries are held (for status and tests: pruning
// keeps them flat over a long run).
func (m *Memory) Len() (replay, passback int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.replay), len(m.passback)
}

// Decider decides scans for one gate.
type Decider struct {
	state atomic.Pointer[State]
	mem   *Memory
}

// NewDecider makes a decider on the given caches, with no state (it refuses everything
// with NotEnrolled until SetState).
func NewDecider(mem *Memory) *Decider { return &Decider{mem: mem} }

// Memory is the decider's replay and passback caches.
func (d *Decider) Memory() *Memory { return d.mem }

// SetState swaps in newly synced data.
func (d *Decider) SetState(s *State) { d.state.Store(s) }

// State is the data decisions read now.
func (d *Decider) State() *State { return d.state.Load() }

var verifyReasons = []struct {
	err    error
	reason Reason
}{
	{credential.ErrMalformed, Malformed},
	{credential.ErrWrongCommunity, WrongCommunity},
	{credential.ErrUnknownKey, UnknownKey},
	{credential.ErrBadSignature, BadSignature},
	{credential.ErrExpired, Expired},
	{credential.ErrNotYetValid, NotYetValid},
}

func reasonOf(err error) Reason {
	for _, v := range verifyReasons {
		if errors.Is(err, v.err) {
			return v.reason
		}
	}
	return Malformed
}

// Decide judges text at the gate's time now. It changes nothing: after the event is
// stored, call Record for a grant. Decide and Record of one scan must not interleave
// with another scan's (the agent serialises them).
func (d *Decider) Decide(text string, now time.Time) Decision {
	if len(text) > MaxInput {
		// Before the key check: garbage is refused alike whether or not the gate has keys.
		return Decision{Reason: Malformed, Detail: ErrOversize}
	}
	st := d.state.Load()
	if st == nil || st.Keys == nil || st.Keys.Len() == 0 {
		// Garbage is malformed whether or not the gate has keys: an installer testing a
		// new gate must not read "no trusted key" for a bad scan (issue 11).
		if _, err := credential.Parse(text); err != nil {
			return Decision{Reason: Malformed, Detail: err}
		}
		return Decision{Reason: NotEnrolled}
	}
	p := &st.Policy
	v := credential.Verifier{Community: p.Community, Keys: st.Keys, Skew: p.Skew}
	if p.Skew == 0 {
		v.Skew = -1 // a configured zero means no skew, not the package default
	}
	claims, err := v.Verify(text, now)
	if err != nil {
		if errors.Is(err, credential.ErrUnknownKey) && st.foreign(text) {
			return Decision{Reason: WrongCommunity, Detail: credential.ErrWrongCommunity}
		}
		return Decision{Reason: reasonOf(err), Detail: err}
	}
	dec := Decision{Claims: claims, Verified: true}
	dec.Stale = st.Stale(now)
	dec.OfflineLimit = st.PastOfflineLimit(now)
	switch {
	case dec.Stale && p.StaleDeny:
		dec.Reason = StaleData
	case dec.OfflineLimit && st.Access.offlineRefuses(claims.Type, false):
		dec.Reason = OfflineLimitReached
	case isRevoked(st, claims.CredentialID):
		dec.Reason = Revoked
	default:
		holder := st.Holder(claims.CredentialID)
		if r := st.entry(holder, access.ZoneMask(claims.Zones), claims.Subject != credential.SubjectVisitor, now); r != Granted {
			dec.Reason = r
			return dec
		}
		dec.ReplayKey, dec.PassbackKey = claims.ReplayKey(), holder
		dec.ReplayUntil = replayUntil(&claims, p, now)
		n := now.UnixNano()
		d.mem.mu.Lock()
		replayed := d.mem.replay[dec.ReplayKey] > n
		passback := p.AntiPassback && d.mem.passback[dec.PassbackKey] > n
		d.mem.mu.Unlock()
		switch {
		case replayed:
			dec.Reason = Replayed
		case passback:
			dec.Reason = Passback
		default:
			dec.Granted, dec.Reason = true, Granted
		}
	}
	return dec
}

// foreign reports whether text is a well-formed code signed under another community's
// key id. It is asked only when the key is unknown here, so it costs a good scan nothing;
// kids are unique in the deployment, so no id of this gate's community is among them.
func (s *State) foreign(text string) bool {
	if len(s.Foreign) == 0 {
		return false
	}
	t, err := credential.Parse(text)
	if err != nil {
		return false
	}
	_, ok := s.Foreign[t.Claims.KID]
	return ok
}

// isRevoked holds a revocation until its forget time; past it, nothing the credential
// signed can still be valid, so the check cannot matter.
func isRevoked(st *State, id uuid.UUID) bool {
	_, ok := st.Revoked[id]
	return ok
}

// replayUntil is how long a grant's replay key must be remembered: as long as the same
// presentation could still verify. A card's text is the same on every scan, so it is
// remembered only for the card interval (see docs/gate-agent.md).
func replayUntil(c *credential.Claims, p *Policy, now time.Time) time.Time {
	skew := p.Skew
	switch c.Type {
	case credential.TypeDevice:
		return time.Unix(int64(c.Counter+1)*int64(credential.PresentationPeriod/time.Second), 0).Add(skew)
	case credential.TypeCard:
		return now.Add(p.CardMinInterval)
	default:
		return c.ExpiresAt.Add(skew)
	}
}

// PassbackUntil is until when a grant blocks the credential at this gate, or the zero
// time when the zone has no anti-passback.
func (p *Policy) PassbackUntil(now time.Time) time.Time {
	if !p.AntiPassback || p.Passback <= 0 {
		return time.Time{}
	}
	return now.Add(p.Passback)
}

// Record remembers a grant in the caches (after the agent stored it on disk).
func (d *Decider) Record(dec Decision, now time.Time) {
	if !dec.Granted {
		return
	}
	st := d.state.Load()
	d.mem.mu.Lock()
	defer d.mem.mu.Unlock()
	if dec.Verified {
		d.mem.replay[dec.ReplayKey] = dec.ReplayUntil.UnixNano()
	}
	if st != nil && dec.PassbackKey != uuid.Nil {
		if until := st.Policy.PassbackUntil(now); !until.IsZero() {
			d.mem.passback[dec.PassbackKey] = until.UnixNano()
		}
	}
}
