// Package consent holds the face-entry notice and the rules of separate consent (PIPL
// arts. 14, 29, 31; SPC 2021 provisions arts. 2, 4), without I/O.
//
// The notice is versioned. Version rule: ANY change of purpose, method or data (what is
// collected, where it is kept, for how long, who can read it) is a new version, and a new
// version needs fresh consent before face entry is used for anyone who consented to an
// older one (the store refuses templates under an old version). Changes of wording that
// change none of these are still a new version: the text a person agreed to must stay
// exactly what the recorded hash says. TestGoldenHashes fails when a notice file changes
// without a new version.
package consent

import (
	"crypto/sha256"
	"embed"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
)

//go:embed notice/*.md
var files embed.FS

// CurrentVersion is the notice version new consents are given to. Version 2 changed
// only the typography of version 1 (full-width punctuation in Chinese); what it says
// about purpose, method and data is the same (docs/face-entry.md, "Notice versions").
const CurrentVersion = "2"

// Languages lists the languages every version is published in.
var Languages = []string{"en", "zh"}

// Notice is one version of the face-entry notice in one language. Text is the published
// template; Hash is the SHA-256 of exactly those bytes, recorded with each consent.
type Notice struct {
	Version string   `json:"version"`
	Lang    string   `json:"lang"`
	Text    string   `json:"-"`
	Hash    [32]byte `json:"-"`
}

// ErrUnknownNotice is returned for a version or language that was never published.
var ErrUnknownNotice = fmt.Errorf("no such face-entry notice: %w", access.ErrInvalid)

// Lookup returns a published notice.
func Lookup(version, lang string) (Notice, error) {
	if strings.ContainsAny(version, "./") || strings.ContainsAny(lang, "./") {
		return Notice{}, ErrUnknownNotice
	}
	raw, err := files.ReadFile("notice/" + version + "." + lang + ".md")
	if err != nil {
		return Notice{}, ErrUnknownNotice
	}
	return Notice{Version: version, Lang: lang, Text: string(raw), Hash: sha256.Sum256(raw)}, nil
}

// Current returns the current notice in a language.
func Current(lang string) (Notice, error) { return Lookup(CurrentVersion, lang) }

// Published lists every published notice, by version and language.
func Published() []Notice {
	entries, _ := files.ReadDir("notice")
	var out []Notice
	for _, e := range entries {
		v, lang, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".md"), ".")
		if !ok {
			continue
		}
		if n, err := Lookup(v, lang); err == nil {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Version != out[j].Version {
			return out[i].Version < out[j].Version
		}
		return out[i].Lang < out[j].Lang
	})
	return out
}

// Operator is who handles the data, from the community's configuration. The name and the
// contact are the one legitimate template in the notice: they change per community but
// not what is processed, so they are filled in at render time and are not part of the
// hashed text.
type Operator struct {
	Name    string
	Contact string
}

// Render fills in the operator. Both fields are required: a notice without a handler to
// contact is not a valid notice.
func (n Notice) Render(op Operator) (string, error) {
	name, contact := strings.TrimSpace(op.Name), strings.TrimSpace(op.Contact)
	if name == "" {
		return "", access.Invalid("operator_name", "is required to show the face-entry notice")
	}
	if contact == "" {
		return "", access.Invalid("operator_contact", "is required to show the face-entry notice")
	}
	// Operator text is shown, not interpreted: keep it from forging notice structure.
	clean := strings.NewReplacer("{{", "", "}}", "", "\n", " ", "\r", " ")
	return strings.NewReplacer("{{operator_name}}", clean.Replace(name), "{{operator_contact}}", clean.Replace(contact)).Replace(n.Text), nil
}

// ErrStaleNotice: consent was given to a notice that is no longer current.
var ErrStaleNotice = fmt.Errorf("the face-entry notice has changed; show the current version: %w", access.ErrConflict)

// Shown checks the notice a resident says they consented to: published, shown with
// exactly this hash, and current (an older one needs the current one shown first).
func Shown(version, lang string, hash []byte) (Notice, error) {
	n, err := Lookup(version, lang)
	if err != nil {
		return Notice{}, access.Invalid("notice_version", "no published notice %q in %q", version, lang)
	}
	if string(hash) != string(n.Hash[:]) {
		return Notice{}, access.Invalid("notice_hash", "is not the hash of notice %s.%s", n.Version, n.Lang)
	}
	if n.Version != CurrentVersion {
		return Notice{}, ErrStaleNotice
	}
	return n, nil
}

// CheckChannel checks the recorded name of how consent was given ("h5", "mini_program",
// "native_app", ...): the record must say it, briefly.
func CheckChannel(channel string) error {
	if l := len([]rune(channel)); l < 1 || l > 40 {
		return access.Invalid("channel", "must be 1 to 40 characters")
	}
	return nil
}

// Scope is where a consenting resident's template may be.
type Scope string

const (
	// ScopeOneGate: made and kept on one gate, never transmitted.
	ScopeOneGate Scope = "one_gate"
	// ScopeCommunity: sealed to each gate of the community.
	ScopeCommunity Scope = "community"
)

// Scopes lists the valid scopes.
var Scopes = []string{string(ScopeOneGate), string(ScopeCommunity)}

// CheckGate checks a consent's scope and the gate it names: a one_gate consent names its
// gate (whether that gate exists is the store's to say), a community one names none.
func (s Scope) CheckGate(gate uuid.UUID) error {
	switch s {
	case ScopeCommunity:
		if gate != uuid.Nil {
			return access.Invalid("gate_id", "is only for scope one_gate")
		}
		return nil
	case ScopeOneGate:
		return nil
	}
	return access.Invalid("scope", "must be one of %v", Scopes)
}

// Reason is why face data is purged.
type Reason string

const (
	ReasonWithdrawal Reason = "withdrawal"
	ReasonMoveOut    Reason = "move_out"
	ReasonDeletion   Reason = "deletion"
	ReasonRetention  Reason = "retention"
	// ReasonServiceEnded: the community switched face entry off.
	ReasonServiceEnded Reason = "service_ended"
)

// Reasons lists the valid purge reasons.
var Reasons = []string{string(ReasonWithdrawal), string(ReasonMoveOut), string(ReasonDeletion), string(ReasonRetention),
	string(ReasonServiceEnded)}

// Valid reports whether r is a known reason.
func (r Reason) Valid() bool {
	for _, v := range Reasons {
		if string(r) == v {
			return true
		}
	}
	return false
}

// DefaultRetention is how long templates stay without a face entry (the notice says 180
// days: a different period is a new notice version).
const DefaultRetention = 180 * 24 * time.Hour

// KeepRecords is how long consent records, withdrawals included, are kept at least.
const KeepRecords = 3 * 365 * 24 * time.Hour

// Person is what the guardian rule needs to know about a resident.
type Person struct {
	ID      uuid.UUID
	Under14 bool
	Active  bool
	Unit    uuid.UUID // current unit; uuid.Nil when none
}

// Reasons a consent is refused; test with errors.Is.
var (
	// ErrNotSubject: an adult's consent can only be given by that adult.
	ErrNotSubject = fmt.Errorf("only the person themselves may consent to face entry: %w", access.ErrForbidden)
	// ErrGuardianRequired: a child under 14 needs a guardian resident of the same unit.
	ErrGuardianRequired = fmt.Errorf("a child under 14 needs the consent of a guardian living in the same unit: %w", access.ErrForbidden)
	// ErrNotActive: a resident who moved out or was deleted cannot consent or be consented for.
	ErrNotActive = fmt.Errorf("resident is not active: %w", access.ErrConflict)
)

// GaveConsent reports whether resident gave one of a subject's consents (givers lists who
// gave each, withdrawn ones included). That lets a guardian see and upload the face data
// of a child they consented for: CheckGiver allowed it when the consent was given.
func GaveConsent(resident uuid.UUID, givers []uuid.UUID) bool {
	for _, g := range givers {
		if g == resident {
			return true
		}
	}
	return false
}

// CheckGiver applies the rule of who may consent for whom (PIPL art. 31): an adult only
// for themselves; a child under 14 only through an adult resident (not under 14) who
// currently lives in the same unit. The data has no explicit guardian relation; living
// in the same unit as an adult is the closest fact it holds, and staff create residents.
func CheckGiver(subject, giver Person) error {
	if !subject.Active || !giver.Active {
		return ErrNotActive
	}
	if !subject.Under14 {
		if giver.ID != subject.ID {
			return ErrNotSubject
		}
		return nil
	}
	if giver.ID == subject.ID || giver.Under14 || giver.Unit == uuid.Nil || giver.Unit != subject.Unit {
		return ErrGuardianRequired
	}
	return nil
}
