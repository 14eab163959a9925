// Package audit defines the append-only, hash-chained audit log of staff actions. Each
// entry's MAC covers its content and the previous entry's MAC, so changing or deleting
// any row breaks the chain from there on. The MAC is keyed with a key derived from the
// master key, which is never in the database: someone who can write to the database
// cannot recompute the chain after a rewrite. A signed Head, kept outside the audit
// table and updated with every entry, names the newest entry, so deleting the newest
// rows or emptying the table is seen too. It does no I/O.
package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// ErrBroken is returned by Verify for the first entry that does not match the chain.
var ErrBroken = errors.New("audit chain broken")

// KeyLabel names the audit key among the keys derived from the master key.
const KeyLabel = "audit-chain"

// Versions of an entry's hash. V1 was an unkeyed SHA-256 chain (before migration
// 00007); it is accepted only before a community's first V2 entry, and the signed
// head anchors those too.
const (
	V1 = 1
	V2 = 2
)

// Entry is one audit row.
type Entry struct {
	Community uuid.UUID `db:"community_id" json:"community_id"`
	Seq       int64     `db:"seq" json:"seq"`
	At        time.Time `db:"at" json:"at"`
	Actor     string    `db:"actor" json:"actor"`
	Action    string    `db:"action" json:"action"`
	Target    string    `db:"target" json:"target"`
	// Summary is JSON text; the hash covers it byte for byte.
	Summary  json.RawMessage `db:"summary" json:"summary"`
	Version  int16           `db:"version" json:"-"`
	PrevHash []byte          `db:"prev_hash" json:"-"`
	Hash     []byte          `db:"hash" json:"-"`
}

// Genesis is the previous hash of a community's first entry.
var Genesis = make([]byte, sha256.Size)

// ComputeHash returns the hash of e chained to prev: HMAC-SHA256 under key for V2, plain
// SHA-256 for V1. Fields are length-prefixed so that no two different entries hash the
// same input; the time is taken in microseconds, which is what PostgreSQL keeps.
func (e *Entry) ComputeHash(key, prev []byte) []byte {
	var label string
	var h interface {
		Write([]byte) (int, error)
		Sum([]byte) []byte
	}
	if e.Version == V1 {
		h, label = sha256.New(), "gatepass/audit/v1"
	} else {
		h, label = hmac.New(sha256.New, key), "gatepass/audit/v2"
	}
	field := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	field([]byte(label))
	field(prev)
	field(e.Community[:])
	var at [8]byte
	binary.BigEndian.PutUint64(at[:], uint64(e.At.UnixMicro()))
	field(at[:])
	field([]byte(e.Actor))
	field([]byte(e.Action))
	field([]byte(e.Target))
	field(e.Summary)
	return h.Sum(nil)
}

// Seal fills in Version, PrevHash and Hash for an entry appended after prev.
func (e *Entry) Seal(key, prev []byte) {
	e.At = e.At.Truncate(time.Microsecond)
	e.Version = V2
	e.PrevHash = append([]byte(nil), prev...)
	e.Hash = e.ComputeHash(key, prev)
}

// Head names a community's newest audit entry, signed with the audit key. It is kept
// apart from the entries (table audit_heads) and rewritten with each entry.
type Head struct {
	Community uuid.UUID `db:"community_id"`
	Seq       int64     `db:"seq"`
	Hash      []byte    `db:"hash"`
	MAC       []byte    `db:"mac"`
}

func (h *Head) compute(key []byte) []byte {
	m := hmac.New(sha256.New, key)
	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], uint64(h.Seq))
	m.Write([]byte("gatepass/audit-head/v1\x00"))
	m.Write(h.Community[:])
	m.Write(seq[:])
	m.Write(h.Hash)
	return m.Sum(nil)
}

// NewHead signs the head of a community whose newest entry is e.
func NewHead(key []byte, e *Entry) Head {
	h := Head{Community: e.Community, Seq: e.Seq, Hash: append([]byte(nil), e.Hash...)}
	h.MAC = h.compute(key)
	return h
}

// Verifier checks one community's entries in sequence order, one at a time, so a long
// log is checked without holding it in memory, and then the community's head.
type Verifier struct {
	key   []byte
	prev  []byte
	last  *Entry
	v2    bool
	count int
}

// NewVerifier checks entries with the audit key.
func NewVerifier(key []byte) *Verifier { return &Verifier{key: key} }

// Next checks the next entry and returns an error wrapping ErrBroken naming it when it
// does not follow from the ones before.
func (v *Verifier) Next(e *Entry) error {
	if v.prev == nil {
		v.prev = Genesis
	}
	switch {
	case e.Version == V2:
		v.v2 = true
	case e.Version != V1 || v.v2:
		return fmt.Errorf("community %s seq %d: an unkeyed entry after keyed ones: %w", e.Community, e.Seq, ErrBroken)
	}
	if string(e.PrevHash) != string(v.prev) {
		return fmt.Errorf("community %s seq %d: previous hash does not match the entry before it (rows missing or changed): %w", e.Community, e.Seq, ErrBroken)
	}
	if want := e.ComputeHash(v.key, v.prev); !hmac.Equal(want, e.Hash) {
		return fmt.Errorf("community %s seq %d: content does not match its hash: %w", e.Community, e.Seq, ErrBroken)
	}
	v.prev = e.Hash
	last := *e
	v.last = &last
	v.count++
	return nil
}

// End checks the community's signed head against the last entry seen. head is nil when
// the community has none. A head with no entries, a head past the last entry, or a
// head that is not ours all mean rows were removed or forged.
func (v *Verifier) End(c uuid.UUID, head *Head) error {
	switch {
	case head == nil && v.last == nil:
		return nil
	case head == nil && !v.v2:
		return nil // only entries from before heads existed: the chain is all there is
	case head == nil:
		return fmt.Errorf("community %s: entries up to seq %d but no signed head: %w", c, v.last.Seq, ErrBroken)
	case !hmac.Equal(head.compute(v.key), head.MAC):
		return fmt.Errorf("community %s: the signed head (seq %d) is not signed with this deployment's audit key: %w", c, head.Seq, ErrBroken)
	case v.last == nil:
		return fmt.Errorf("community %s: every entry up to seq %d is missing: %w", c, head.Seq, ErrBroken)
	case v.last.Seq < head.Seq:
		return fmt.Errorf("community %s: entries after seq %d up to seq %d are missing: %w", c, v.last.Seq, head.Seq, ErrBroken)
	case v.last.Seq > head.Seq:
		return fmt.Errorf("community %s seq %d: entries past the signed head (seq %d): %w", c, head.Seq+1, head.Seq, ErrBroken)
	case !hmac.Equal(v.last.Hash, head.Hash):
		return fmt.Errorf("community %s seq %d: the newest entry is not the one the signed head names: %w", c, head.Seq, ErrBroken)
	}
	return nil
}

// Count is how many entries have been verified.
func (v *Verifier) Count() int { return v.count }
