package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/credential"
)

// GateSync is GateSyncFor a gate that asks for no foreign key ids.
func (db *DB) GateSync(ctx context.Context, g access.GateIdentity, cursor int64) (access.GateSync, bool, error) {
	return db.GateSyncFor(ctx, g, access.SyncRequest{Cursor: cursor})
}

// maxForeignKIDs bounds the foreign key ids of one answer; the gate asks again at once
// (More) with the largest as its kid_after. Kids are 4 bytes of JSON-free integers, so
// even the first answer of a large deployment stays small.
const maxForeignKIDs = 10000

// GateSyncFor answers a gate's sync: a full snapshot when the cursor is 0 or not a
// cursor this community's change log can continue from, else the changes since; and the
// other communities' key ids past req.KIDAfter when it is set. changed is false when a
// delta found nothing for this gate (the caller may long-poll).
func (db *DB) GateSyncFor(ctx context.Context, g access.GateIdentity, req access.SyncRequest) (out access.GateSync, changed bool, err error) {
	cursor := req.Cursor
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
	out.Revocations = []access.Revocation{}
	out.FaceTemplates, out.FacePurges = []access.GateFaceTemplate{}, []access.FacePurge{}
	out.Holders = []access.CredentialHolder{}
	out.Memberships = []access.HolderGroups{}
	if out.Full {
		out.Cursor = bounds.Max.Int64
		if out.Revocations, err = liveRevocations(ctx, x, g.Community); err != nil {
			return out, false, err
		}
		faces, err := faceSnapshot(ctx, x, g.Community, g.ID)
		if err != nil {
			return out, false, err
		}
		out.FaceTemplates, out.FacePurges = faces.Templates, faces.Purges
		if out.Holders, err = liveHolders(ctx, x, g.Community, nil); err != nil {
			return out, false, err
		}
		if out.Access, err = gateAccess(ctx, x, g.Community); err != nil {
			return out, false, err
		}
		if out.Memberships, err = memberships(ctx, x, g.Community, true, nil, nil); err != nil {
			return out, false, err
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
		var created []uuid.UUID
		var acc accessDelta
		for _, r := range rows {
			out.Cursor = r.Seq
			if r.Gate.Valid && r.Gate.UUID != g.ID {
				continue // another gate's command
			}
			changed = true
			if r.Kind == "credential" {
				var c credentialChange
				if err := json.Unmarshal(r.Data, &c); err != nil {
					return out, false, fmt.Errorf("sync: change %d (%s): %w", r.Seq, r.Kind, err)
				}
				created = append(created, c.Credential)
				continue
			}
			if ok, err := acc.add(r); ok || err != nil {
				if err != nil {
					return out, false, err
				}
				continue
			}
			if err := addChange(&out, r); err != nil {
				return out, false, err
			}
		}
		if len(created) > 0 {
			if out.Holders, err = liveHolders(ctx, x, g.Community, created); err != nil {
				return out, false, err
			}
		}
		if err := acc.fill(ctx, x, g.Community, &out); err != nil {
			return out, false, err
		}
	}
	if err := gateState(ctx, x, &out, g); err != nil {
		return out, false, err
	}
	out.ForeignKIDs = []uint32{}
	if req.KIDAfter != nil {
		// Every other community's key, compromised or not: a code signed by any of them
		// is another estate's, never this one's.
		err := x.SelectContext(ctx, &out.ForeignKIDs, `SELECT kid FROM signing_keys WHERE community_id <> $1 AND kid > $2
			ORDER BY kid LIMIT $3`, g.Community, int64(*req.KIDAfter), maxForeignKIDs)
		if err != nil {
			return out, false, fmt.Errorf("sync foreign kids: %w", err)
		}
		if len(out.ForeignKIDs) > 0 {
			changed = true // news for the gate: answer now, not at the end of a long poll
		}
		if len(out.ForeignKIDs) == maxForeignKIDs {
			out.More = true
		}
	}
	out.ServerTime = time.Now().UTC()
	return out, changed, nil
}

// addChange adds one change-log row to a delta. Keys, zones, commands and settings are
// sent whole with every answer, so their rows only mark the delta as changed.
func addChange(out *access.GateSync, r changeRow) error {
	var err error
	switch r.Kind {
	case "revocation":
		var rev Revocation
		if err = json.Unmarshal(r.Data, &rev); err == nil {
			out.Revocations = append(out.Revocations, access.Revocation(rev))
		}
	case "face_template":
		var t faceTemplateChange
		// A row without its blob was scrubbed after a replacement or a purge: skip it.
		if err = json.Unmarshal(r.Data, &t); err == nil && len(t.Sealed) > 0 {
			out.FaceTemplates = append(out.FaceTemplates, access.GateFaceTemplate(t))
		}
	case "face_purge":
		var p facePurgeChange
		if err = json.Unmarshal(r.Data, &p); err == nil {
			out.FacePurges = append(out.FacePurges, p.domain())
		}
	}
	if err != nil {
		return fmt.Errorf("sync: change %d (%s): %w", r.Seq, r.Kind, err)
	}
	return nil
}

// liveRevocations lists revocations gates must still hold. The SQL bound is loose (the
// later of revocation and expiry, less the horizon and the longest issued code, reaches
// back at least as far as the rule) so that the rule itself stays in
// access.ForgetRevocationAfter; cut shorter, a snapshot drops revocations a gate with a
// large skew still needs.
func liveRevocations(ctx context.Context, q selecter, c uuid.UUID) ([]access.Revocation, error) {
	var rows []struct {
		ID        uuid.UUID  `db:"id"`
		RevokedAt time.Time  `db:"revoked_at"`
		ExpiresAt *time.Time `db:"expires_at"`
	}
	err := q.SelectContext(ctx, &rows, `SELECT id, revoked_at, expires_at FROM credentials
		WHERE community_id = $1 AND revoked_at IS NOT NULL
		  AND greatest(revoked_at, coalesce(expires_at, revoked_at)) > now() - $2::interval`, c,
		seconds(access.RevocationHorizon+credential.MaxIssuedLifetime))
	if err != nil {
		return nil, fmt.Errorf("live revocations: %w", err)
	}
	now := time.Now()
	out := make([]access.Revocation, 0, len(rows))
	for _, r := range rows {
		if f := access.ForgetRevocationAfter(r.RevokedAt, r.ExpiresAt); f.After(now) {
			out = append(out, access.Revocation{Credential: r.ID, ForgetAfter: f.UTC()})
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
func gateState(ctx context.Context, q getSelecter, out *access.GateSync, g access.GateIdentity) error {
	var row gateRow
	if err := q.GetContext(ctx, &row, gateIdentitySelect+` WHERE community_id = $1 AND id = $2`, g.Community, g.ID); err != nil {
		return fmt.Errorf("sync gate: %w", err)
	}
	var err error
	if out.Gate, err = row.identity(); err != nil {
		return err
	}
	keys, err := publishedKeys(ctx, q, g.Community)
	if err != nil {
		return fmt.Errorf("sync keys: %w", err)
	}
	out.Keys = make([]access.SyncKey, len(keys))
	for i, k := range keys {
		out.Keys[i] = access.SyncKey{KID: k.KID, Public: k.Public, NotBefore: k.CreatedAt.Truncate(time.Second).UTC(), NotAfter: k.RetiredAt}
	}
	out.Zones = []access.ZoneRule{}
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
	out.Commands = make([]access.GateCommand, len(cmds))
	for i, c := range cmds {
		var p struct {
			Reason string `json:"reason"`
		}
		_ = json.Unmarshal(c.Payload, &p) // written by UnlockGate: always an object
		out.Commands[i] = access.GateCommand{ID: c.ID, Kind: c.Kind, Reason: p.Reason, CreatedBy: c.CreatedBy, CreatedAt: c.CreatedAt.UTC()}
		if c.Kind == CommandFaceEnrol {
			out.Commands[i].Payload = c.Payload
		}
	}
	return nil
}

// accessDelta gathers a delta's changes of who may enter where and when: whether
// GateSync.Access changed (sent whole), and whose groups did.
type accessDelta struct {
	access  bool
	changes []membershipChange
}

// add takes r if it is an access or membership change.
func (a *accessDelta) add(r changeRow) (bool, error) {
	switch r.Kind {
	case changeAccess:
		a.access = true
	case changeMembership:
		var m membershipChange
		if err := json.Unmarshal(r.Data, &m); err != nil {
			return true, fmt.Errorf("sync: change %d (%s): %w", r.Seq, r.Kind, err)
		}
		a.changes = append(a.changes, m)
	default:
		return false, nil
	}
	return true, nil
}

// fill sets the delta's Access (when it changed) and Memberships: of the holders the
// changes name, and of the holders of the delta's new credentials (out.Holders), so that
// a gate learns a new card's groups with its holder.
func (a *accessDelta) fill(ctx context.Context, q getSelecter, c uuid.UUID, out *access.GateSync) error {
	var err error
	if a.access {
		if out.Access, err = gateAccess(ctx, q, c); err != nil {
			return err
		}
	}
	holders := make([]uuid.UUID, 0, len(out.Holders))
	for _, h := range out.Holders {
		holders = append(holders, h.Holder)
	}
	out.Memberships, err = memberships(ctx, q, c, false, a.changes, holders)
	return err
}

// maxDelta bounds one delta answer; the gate syncs again at once when More is set.
const maxDelta = 5000
