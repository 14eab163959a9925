package store

import (
	"context"

	"gatepass/internal/access"
)

// The change-log encodings, for the tests that read change_log rows the way a sync does.
type (
	FaceTemplateChange = faceTemplateChange
	FacePurgeChange    = facePurgeChange
)

// HubReads is what a hub has read from the database so far: community parts computed,
// gate parts read, largest kids read.
func (h *ChangeHub) HubReads() (shared, parts, kids int64) {
	return h.reads.shared.Load(), h.reads.parts.Load(), h.reads.kids.Load()
}

// SetLive plays the listener's connection lost (false) and back (true).
func (h *ChangeHub) SetLive(live bool) { h.setState(func() { h.listening = live }) }

// SetSilent plays the listener's pings unanswered (true) and answered again (false).
func (h *ChangeHub) SetSilent(silent bool) { h.setState(func() { h.silent = silent }) }

// Merge is merge, for the test that it covers every field of a sync answer.
func Merge(out, part *access.GateSync) { merge(out, part) }

// WritesConns and WritesWait are the gate writes pool's size and bounded wait.
const (
	WritesConns = writesConns
	WritesWait  = writesWait
)

// Setting is a setting as a connection of the gates' writes pool (writes) or of the
// staff pool has it.
func (db *DB) Setting(ctx context.Context, writes bool, name string) (string, error) {
	var v string
	if writes {
		err := db.writes.get(WithWork(ctx, GateWriteWork), &v, `SELECT current_setting($1)`, name)
		return v, err
	}
	err := db.x.GetContext(ctx, &v, `SELECT current_setting($1)`, name)
	return v, err
}
