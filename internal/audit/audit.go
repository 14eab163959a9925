// Package audit defines the append-only, hash-chained audit log of staff actions. Each
// entry's hash covers its content and the previous entry's hash, so changing or deleting
// any row breaks the chain from there on. It does no I/O.
package audit

import (
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
	PrevHash []byte          `db:"prev_hash" json:"-"`
	Hash     []byte          `db:"hash" json:"-"`
}

// Genesis is the previous hash of a community's first entry.
var Genesis = make([]byte, sha256.Size)

// ComputeHash returns the hash of e chained to prev. Fields are length-prefixed so that no
// two different entries hash the same input; the time is taken in microseconds, which is
// what PostgreSQL keeps.
func (e *Entry) ComputeHash(prev []byte) []byte {
	h := sha256.New()
	field := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	field([]byte("gatepass/audit/v1"))
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

// Seal fills in PrevHash and Hash for an entry appended after prev.
func (e *Entry) Seal(prev []byte) {
	e.At = e.At.Truncate(time.Microsecond)
	e.PrevHash = append([]byte(nil), prev...)
	e.Hash = e.ComputeHash(prev)
}

// Verifier checks one community's entries in sequence order, one at a time, so a long
// log is checked without holding it in memory.
type Verifier struct {
	prev  []byte
	count int
}

// Next checks the next entry and returns an error wrapping ErrBroken naming it when it
// does not follow from the ones before.
func (v *Verifier) Next(e *Entry) error {
	if v.prev == nil {
		v.prev = Genesis
	}
	if string(e.PrevHash) != string(v.prev) {
		return fmt.Errorf("community %s seq %d: previous hash does not match entry before it: %w", e.Community, e.Seq, ErrBroken)
	}
	if want := e.ComputeHash(v.prev); string(want) != string(e.Hash) {
		return fmt.Errorf("community %s seq %d: content does not match its hash: %w", e.Community, e.Seq, ErrBroken)
	}
	v.prev = e.Hash
	v.count++
	return nil
}

// Count is how many entries have been verified.
func (v *Verifier) Count() int { return v.count }
