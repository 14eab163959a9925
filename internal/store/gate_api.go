package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/gateapi"
	"gatepass/internal/secret"
)

// gateRow is a gate as the gate API needs it.
type gateRow struct {
	Community uuid.UUID `db:"community_id"`
	ID        uuid.UUID `db:"id"`
	Name      string    `db:"name"`
	Zone      int       `db:"zone"`
	Direction string    `db:"direction"`
	Settings  []byte    `db:"settings"`
}

func (g gateRow) api() (gateapi.Gate, error) {
	out := gateapi.Gate{ID: g.ID, Community: g.Community, Name: g.Name, Zone: g.Zone, Direction: g.Direction}
	if err := json.Unmarshal(g.Settings, &out.Settings); err != nil {
		return out, fmt.Errorf("gate %s settings: %w", g.ID, err)
	}
	out.Settings = out.Settings.WithDefaults()
	return out, nil
}

const gateAPISelect = `SELECT community_id, id, name, zone, direction, settings FROM gates`

// EnrollGate redeems a one-time enrollment code: the gate gets its token (returned in
// clear this once, stored hashed) and its box key is recorded. A used, expired or unknown
// code, or a disabled gate, is ErrUnauthorized.
func (db *DB) EnrollGate(ctx context.Context, code string, boxKey []byte, version string) (gateapi.EnrollResponse, error) {
	var out gateapi.EnrollResponse
	community, h, err := secret.Parse(secret.KindEnrollment, code)
	if err != nil {
		return out, access.ErrUnauthorized
	}
	tok, err := secret.New(secret.KindGate, community)
	if err != nil {
		return out, err
	}
	err = db.InTx(ctx, "gate-enrollment", func(tx *Tx) error {
		var g gateRow
		err := tx.x.GetContext(ctx, &g, `UPDATE gates SET token_hash = $3, box_public_key = $4, agent_version = $5,
				enrolled_at = now(), enrollment_code_hash = NULL, enrollment_expires_at = NULL
			WHERE community_id = $1 AND enrollment_code_hash = $2 AND enrollment_expires_at > now() AND disabled_at IS NULL
			RETURNING community_id, id, name, zone, direction, settings`,
			community, h[:], tok.Hash[:], boxKey, version)
		if errors.Is(err, sql.ErrNoRows) {
			return access.ErrUnauthorized
		}
		if err != nil {
			return fmt.Errorf("enroll gate: %w", err)
		}
		if out.Gate, err = g.api(); err != nil {
			return err
		}
		tx.actor = "gate:" + g.ID.String()
		return tx.Audit(ctx, community, "gate.enroll", "gate:"+g.ID.String(), map[string]any{"agent_version": version})
	})
	out.Token, out.ServerTime = tok.Plain, time.Now().UTC()
	return out, err
}

// GateByToken authenticates a gate's bearer token. A disabled gate's token fails at once
// because the check reads disabled_at on every request.
func (db *DB) GateByToken(ctx context.Context, plain string) (gateapi.Gate, error) {
	community, h, err := secret.Parse(secret.KindGate, plain)
	if err != nil {
		return gateapi.Gate{}, access.ErrUnauthorized
	}
	var g gateRow
	err = db.x.GetContext(ctx, &g, gateAPISelect+` WHERE community_id = $1 AND token_hash = $2 AND disabled_at IS NULL`, community, h[:])
	if errors.Is(err, sql.ErrNoRows) {
		return gateapi.Gate{}, access.ErrUnauthorized
	}
	if err != nil {
		return gateapi.Gate{}, fmt.Errorf("authenticate gate: %w", err)
	}
	return g.api()
}

// maxDelta bounds one delta answer; the gate syncs again at once when More is set.
const maxDelta = 5000

type changeRow struct {
	Seq  int64         `db:"seq"`
	Kind string        `db:"kind"`
	Gate uuid.NullUUID `db:"gate_id"`
	Data []byte        `db:"data"`
}

// GateSync answers a gate's sync at cursor: a full snapshot when cursor is 0 or not a
// cursor this community's change log can continue from, else the changes since. changed
// is false when a delta found nothing for this gate (the caller may long-poll).
func (db *DB) GateSync(ctx context.Context, g gateapi.Gate, cursor int64) (out gateapi.Sync, changed bool, err error) {
	// Repeatable read: the snapshot's revocations and its cursor are one moment.
	x, err := db.x.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return out, false, fmt.Errorf("sync: %w", err)
	}
	defer x.Rollback() //nolint:errcheck // read-only
	var bounds struct {
		Min sql.NullInt64 `db:"min"`
		Max sql.NullInt64 `db:"max"`
	}
	if err := x.GetContext(ctx, &bounds, `SELECT min(seq) AS min, max(seq) AS max FROM change_log WHERE community_id = $1`, g.Community); err != nil {
		return out, false, fmt.Errorf("sync bounds: %w", err)
	}
	// A cursor past the end (a restored database) or before the oldest kept change
	// (a pruned log) cannot be continued.
	out.Full = cursor <= 0 || cursor > bounds.Max.Int64 || (bounds.Min.Valid && cursor < bounds.Min.Int64-1)
	out.Revocations = []gateapi.Revocation{}
	out.FaceTemplates, out.FacePurges = []gateapi.FaceTemplate{}, []gateapi.FacePurge{}
	if out.Full {
		out.Cursor = bounds.Max.Int64
		if out.Revocations, err = liveRevocations(ctx, x, g.Community); err != nil {
			return out, false, err
		}
		faces, err := faceSnapshot(ctx, x, g.Community, g.ID)
		if err != nil {
			return out, false, err
		}
		for _, t := range faces.Templates {
			out.FaceTemplates = append(out.FaceTemplates, gateapi.FaceTemplate(t))
		}
		for _, p := range faces.Purges {
			out.FacePurges = append(out.FacePurges, gateapi.FacePurge{Purge: p.Purge, Resident: p.Resident, Reason: string(p.Reason)})
		}
		changed = true
	} else {
		out.Cursor = cursor
		var rows []changeRow
		err := x.SelectContext(ctx, &rows, `SELECT seq, kind, gate_id, data FROM change_log
			WHERE community_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, g.Community, cursor, maxDelta)
		if err != nil {
			return out, false, fmt.Errorf("sync delta: %w", err)
		}
		out.More = len(rows) == maxDelta
		for _, r := range rows {
			out.Cursor = r.Seq
			if r.Gate.Valid && r.Gate.UUID != g.ID {
				continue // another gate's command
			}
			changed = true
			if err := addChange(&out, r); err != nil {
				return out, false, err
			}
		}
	}
	if err := gateState(ctx, x, &out, g); err != nil {
		return out, false, err
	}
	out.ServerTime = time.Now().UTC()
	return out, changed, nil
}

// addChange adds one change-log row to a delta. Keys, zones, commands and settings are
// sent whole with every answer, so their rows only mark the delta as changed.
func addChange(out *gateapi.Sync, r changeRow) error {
	var err error
	switch r.Kind {
	case "revocation":
		var rev gateapi.Revocation
		if err = json.Unmarshal(r.Data, &rev); err == nil {
			out.Revocations = append(out.Revocations, rev)
		}
	case "face_template":
		var t FaceTemplateChange
		// A row without its blob was scrubbed after a replacement or a purge: skip it.
		if err = json.Unmarshal(r.Data, &t); err == nil && len(t.Sealed) > 0 {
			out.FaceTemplates = append(out.FaceTemplates, gateapi.FaceTemplate(t))
		}
	case "face_purge":
		var p FacePurgeChange
		if err = json.Unmarshal(r.Data, &p); err == nil {
			out.FacePurges = append(out.FacePurges, gateapi.FacePurge{Purge: p.Purge, Resident: p.Resident, Reason: string(p.Reason)})
		}
	}
	if err != nil {
		return fmt.Errorf("sync: change %d (%s): %w", r.Seq, r.Kind, err)
	}
	return nil
}

// liveRevocations lists revocations gates must still hold. The SQL bound is loose (an
// hour instead of the exact margin) so that the rule itself stays in access.
func liveRevocations(ctx context.Context, q selecter, c uuid.UUID) ([]gateapi.Revocation, error) {
	var rows []struct {
		ID        uuid.UUID  `db:"id"`
		RevokedAt time.Time  `db:"revoked_at"`
		ExpiresAt *time.Time `db:"expires_at"`
	}
	err := q.SelectContext(ctx, &rows, `SELECT id, revoked_at, expires_at FROM credentials
		WHERE community_id = $1 AND revoked_at IS NOT NULL
		  AND greatest(revoked_at, coalesce(expires_at, revoked_at)) > now() - interval '1 hour'`, c)
	if err != nil {
		return nil, fmt.Errorf("live revocations: %w", err)
	}
	now := time.Now()
	out := make([]gateapi.Revocation, 0, len(rows))
	for _, r := range rows {
		if f := access.ForgetRevocationAfter(r.RevokedAt, r.ExpiresAt); f.After(now) {
			out = append(out, gateapi.Revocation{Credential: r.ID, ForgetAfter: f.UTC()})
		}
	}
	return out, nil
}

type getSelecter interface {
	selecter
	GetContext(ctx context.Context, dest any, query string, args ...any) error
}

// gateState fills what every sync carries whole: the gate itself (settings may have
// changed), trusted keys, zones and pending commands.
func gateState(ctx context.Context, q getSelecter, out *gateapi.Sync, g gateapi.Gate) error {
	var row gateRow
	if err := q.GetContext(ctx, &row, gateAPISelect+` WHERE community_id = $1 AND id = $2`, g.Community, g.ID); err != nil {
		return fmt.Errorf("sync gate: %w", err)
	}
	var err error
	if out.Gate, err = row.api(); err != nil {
		return err
	}
	var keys []KeyInfo
	err = q.SelectContext(ctx, &keys, `SELECT kid, public_key, created_at, retired_at, publish_until FROM signing_keys
		WHERE community_id = $1 AND (publish_until IS NULL OR publish_until > now()) ORDER BY kid`, g.Community)
	if err != nil {
		return fmt.Errorf("sync keys: %w", err)
	}
	out.Keys = make([]gateapi.Key, len(keys))
	for i, k := range keys {
		out.Keys[i] = gateapi.Key{KID: k.KID, Public: k.Public, NotBefore: k.CreatedAt.Truncate(time.Second).UTC(), NotAfter: k.RetiredAt}
	}
	out.Zones = []gateapi.Zone{}
	if err := q.SelectContext(ctx, &out.Zones, `SELECT zone, anti_passback FROM zones WHERE community_id = $1 ORDER BY zone`, g.Community); err != nil {
		return fmt.Errorf("sync zones: %w", err)
	}
	var cmds []struct {
		ID        uuid.UUID  `db:"id"`
		Kind      string     `db:"kind"`
		Payload   []byte     `db:"payload"`
		CreatedBy *uuid.UUID `db:"created_by"`
		CreatedAt time.Time  `db:"created_at"`
	}
	err = q.SelectContext(ctx, &cmds, `SELECT id, kind, payload, created_by, created_at FROM gate_commands
		WHERE community_id = $1 AND gate_id = $2 AND acked_at IS NULL ORDER BY created_at, id`, g.Community, g.ID)
	if err != nil {
		return fmt.Errorf("sync commands: %w", err)
	}
	out.Commands = make([]gateapi.Command, len(cmds))
	for i, c := range cmds {
		var p struct {
			Reason string `json:"reason"`
		}
		_ = json.Unmarshal(c.Payload, &p) // written by UnlockGate: always an object
		out.Commands[i] = gateapi.Command{ID: c.ID, Kind: c.Kind, Reason: p.Reason, CreatedBy: c.CreatedBy, CreatedAt: c.CreatedAt.UTC()}
		if c.Kind == CommandFaceEnrol {
			out.Commands[i].Payload = c.Payload
		}
	}
	return nil
}

// GateHeartbeat records that a gate is alive, with what staff see in the gate list.
func (db *DB) GateHeartbeat(ctx context.Context, g gateapi.Gate, version string, queue int, offsetMS int64) error {
	_, err := db.x.ExecContext(ctx, `UPDATE gates SET last_seen_at = now(), agent_version = $3, queue_depth = $4, clock_offset_ms = $5
		WHERE community_id = $1 AND id = $2`, g.Community, g.ID, version, queue, offsetMS)
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	return nil
}

// AckGateCommand records a gate's result for one of its commands. Acking twice keeps the
// first result (the gate may resend an ack it did not see answered).
func (db *DB) AckGateCommand(ctx context.Context, g gateapi.Gate, id uuid.UUID, result string) error {
	return db.InTx(ctx, "gate:"+g.ID.String(), func(tx *Tx) error {
		var kind string
		var acked bool
		err := tx.x.GetContext(ctx, &kind, `UPDATE gate_commands SET acked_at = now(), result = $4
			WHERE community_id = $1 AND gate_id = $2 AND id = $3 AND acked_at IS NULL RETURNING kind`, g.Community, g.ID, id, result)
		if errors.Is(err, sql.ErrNoRows) {
			if err := tx.x.GetContext(ctx, &acked, `SELECT acked_at IS NOT NULL FROM gate_commands
				WHERE community_id = $1 AND gate_id = $2 AND id = $3`, g.Community, g.ID, id); err != nil {
				if errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("command %s: %w", id, access.ErrNotFound)
				}
				return fmt.Errorf("ack command: %w", err)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("ack command: %w", err)
		}
		return tx.Audit(ctx, g.Community, "gate.command_ack", "gate:"+g.ID.String(),
			map[string]any{"command_id": id, "kind": kind, "result": result})
	})
}

// AckFacePurge records that the gate deleted the templates of a purge (idempotent).
func (db *DB) AckFacePurge(ctx context.Context, g gateapi.Gate, purge uuid.UUID) error {
	return db.InTx(ctx, "gate:"+g.ID.String(), func(tx *Tx) error { return tx.AckPurge(ctx, g.Community, g.ID, purge) })
}

// RecordFaceEnrolment records a one-gate enrolment made on the gate itself.
func (db *DB) RecordFaceEnrolment(ctx context.Context, g gateapi.Gate, resident uuid.UUID, model string) error {
	return db.InTx(ctx, "gate:"+g.ID.String(), func(tx *Tx) error {
		return tx.RecordGateEnrolment(ctx, g.Community, g.ID, resident, model)
	})
}
