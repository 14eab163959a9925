package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

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
//
// This is the uncached answer, read in one repeatable-read transaction; the gate API's
// long polls get the same answer from a SyncHub (sync_hub.go), which computes the
// community's part once for all its gates. Both put the answer together the same way:
// readShared (what every gate of the community gets alike), readGatePart (the gate's
// own) and assemble. New kinds of synced state go into those two readers, and the hub
// shares them without knowing what they hold.
func (db *DB) GateSyncFor(ctx context.Context, g access.GateIdentity, req access.SyncRequest) (out access.GateSync, changed bool, err error) {
	p := db.sync
	if workOf(ctx) != GateSyncWork {
		p = db.staff
	}
	// Repeatable read: the snapshot's revocations and its cursor are one moment.
	x, release, err := p.begin(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return out, false, fmt.Errorf("sync: %w", err)
	}
	defer release()
	defer x.Rollback() //nolint:errcheck // read-only
	q := preparedTx{p: p, x: x}
	sh, err := readShared(ctx, q, g.Community, req.Cursor)
	if err != nil {
		return out, false, err
	}
	part, err := readGatePart(ctx, q, g, sh.out.Full)
	if err != nil {
		return out, false, err
	}
	kids, err := foreignKIDs(ctx, q, g.Community, req.KIDAfter)
	if err != nil {
		return out, false, err
	}
	out, changed = assemble(sh, part, kids)
	return out, changed, nil
}

// sharedSync is the part of a sync answer that every gate of one community gets alike
// from one cursor: a snapshot's revocations and holders, or a delta's changes, and what
// every answer carries whole (keys, zones). Rows of the delta addressed to one gate
// (commands, settings, sealed face templates, purges) are kept apart, by gate, already
// read into partial answers.
type sharedSync struct {
	out     access.GateSync // the community's content; Gate, Commands and the gate's own rows are not in it
	changed bool            // the delta holds a change for every gate (or it is a snapshot)
	head    int64           // the community's newest change when read
	// gates holds each gate's rows of a delta, read into a partial answer; reread names
	// the gates with a row that only marks their own part (readGatePart) as changed.
	gates  map[uuid.UUID]*access.GateSync
	reread map[uuid.UUID]int64 // gate -> its newest such row
}

// gatePart is what one gate's answer holds of its own: the gate (its settings), its
// pending commands and, in a snapshot, the face templates sealed to it and its pending
// purges, as a partial answer. head is the community's newest change when it was read.
type gatePart struct {
	out  access.GateSync
	head int64
}

// readShared reads the community's part of a sync from cursor: a snapshot when the
// cursor is 0 or cannot be continued, else the delta.
func readShared(ctx context.Context, q preparedTx, c uuid.UUID, cursor int64) (sh sharedSync, err error) {
	var bounds struct {
		Min sql.NullInt64 `db:"min"`
		Max sql.NullInt64 `db:"max"`
	}
	if err := q.GetContext(ctx, &bounds, `SELECT min(seq) AS min, max(seq) AS max FROM change_log WHERE community_id = $1`, c); err != nil {
		return sh, fmt.Errorf("sync bounds: %w", err)
	}
	sh.head = bounds.Max.Int64
	out := &sh.out
	// A cursor past the end (a restored database) or before the oldest kept change
	// (a pruned log) cannot be continued.
	out.Full = cursor <= 0 || cursor > bounds.Max.Int64 || (bounds.Min.Valid && cursor < bounds.Min.Int64-1)
	out.Revocations = []access.Revocation{}
	out.FaceTemplates, out.FacePurges = []access.GateFaceTemplate{}, []access.FacePurge{}
	out.Holders = []access.CredentialHolder{}
	out.Memberships = []access.HolderGroups{}
	if out.Full {
		out.Cursor = bounds.Max.Int64
		if out.Revocations, err = liveRevocations(ctx, q, c); err != nil {
			return sh, err
		}
		if out.Holders, err = liveHolders(ctx, q, c, nil); err != nil {
			return sh, err
		}
		if out.Access, err = gateAccess(ctx, q, c); err != nil {
			return sh, err
		}
		if out.Memberships, err = memberships(ctx, q, c, true, nil, nil); err != nil {
			return sh, err
		}
		sh.changed = true
	} else {
		out.Cursor = cursor
		var rows []changeRow
		err := q.SelectContext(ctx, &rows, `SELECT seq, kind, gate_id, data FROM change_log
			WHERE community_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, c, cursor, maxDelta)
		if err != nil {
			return sh, fmt.Errorf("sync delta: %w", err)
		}
		out.More = len(rows) == maxDelta
		var created []uuid.UUID
		var acc accessDelta
		for _, r := range rows {
			out.Cursor = r.Seq
			if r.Gate.Valid {
				// One gate's row: into that gate's partial answer.
				if sh.gates == nil {
					sh.gates, sh.reread = map[uuid.UUID]*access.GateSync{}, map[uuid.UUID]int64{}
				}
				mine := sh.gates[r.Gate.UUID]
				if mine == nil {
					mine = &access.GateSync{}
					sh.gates[r.Gate.UUID] = mine
				}
				if !rowCarriesItself(r.Kind) {
					sh.reread[r.Gate.UUID] = r.Seq
				}
				if err := addChange(mine, r); err != nil {
					return sh, err
				}
				continue
			}
			sh.changed = true
			if r.Kind == "credential" {
				var c credentialChange
				if err := json.Unmarshal(r.Data, &c); err != nil {
					return sh, fmt.Errorf("sync: change %d (%s): %w", r.Seq, r.Kind, err)
				}
				created = append(created, c.Credential)
				continue
			}
			if ok, err := acc.add(r); ok || err != nil {
				if err != nil {
					return sh, err
				}
				continue
			}
			if err := addChange(out, r); err != nil {
				return sh, err
			}
		}
		if len(created) > 0 {
			if out.Holders, err = liveHolders(ctx, q, c, created); err != nil {
				return sh, err
			}
		}
		if err := acc.fill(ctx, q, c, out); err != nil {
			return sh, err
		}
	}
	return sh, communityState(ctx, q, out, c)
}

// rowCarriesItself reports whether a change row addressed to one gate carries all the
// gate needs (a sealed template, a purge). Any other kind (a command, the gate's
// settings, and kinds added later) marks the gate's own part changed: it is read again.
func rowCarriesItself(kind string) bool { return kind == "face_template" || kind == "face_purge" }

// readGatePart reads gate g's own part of a sync; full adds its face snapshot.
func readGatePart(ctx context.Context, q getSelecter, g access.GateIdentity, full bool) (gatePart, error) {
	var part gatePart
	var row struct {
		gateRow
		Head int64 `db:"head"`
	}
	// The community's newest change, read with the gate: a change addressed to the gate
	// after it means this part is out of date (SyncHub).
	if err := q.GetContext(ctx, &row, `SELECT community_id, id, name, zone, direction, settings,
			(SELECT coalesce(max(seq), 0) FROM change_log WHERE community_id = $1) AS head
		FROM gates WHERE community_id = $1 AND id = $2`, g.Community, g.ID); err != nil {
		return part, fmt.Errorf("sync gate: %w", err)
	}
	part.head = row.Head
	var err error
	if part.out.Gate, err = row.gateRow.identity(); err != nil {
		return part, err
	}
	if part.out.Commands, err = pendingCommands(ctx, q, g); err != nil {
		return part, err
	}
	if full {
		qx, ok := q.(sqlx.QueryerContext)
		if !ok {
			return part, errors.New("sync: face snapshot needs a queryer")
		}
		faces, err := faceSnapshot(ctx, qx, g.Community, g.ID)
		if err != nil {
			return part, err
		}
		part.out.FaceTemplates, part.out.FacePurges = faces.Templates, faces.Purges
	}
	return part, nil
}

// foreignKIDs lists every other community's key ids past after (compromised or not: a
// code signed by any of them is another estate's, never this one's); nil after: none.
func foreignKIDs(ctx context.Context, q selecter, c uuid.UUID, after *uint32) ([]uint32, error) {
	out := []uint32{}
	if after == nil {
		return out, nil
	}
	err := q.SelectContext(ctx, &out, `SELECT kid FROM signing_keys WHERE community_id <> $1 AND kid > $2
		ORDER BY kid LIMIT $3`, c, int64(*after), maxForeignKIDs)
	if err != nil {
		return nil, fmt.Errorf("sync foreign kids: %w", err)
	}
	return out, nil
}

// assemble puts one gate's answer together: the community's part, the gate's own part
// and the gate's rows of a delta, and the foreign key ids it asked for. It is the only
// place an answer is made; sh is shared by every gate of the community and is not
// changed (merge copies what it appends to).
func assemble(sh sharedSync, part gatePart, kids []uint32) (access.GateSync, bool) {
	out := sh.out
	changed := sh.changed
	merge(&out, &part.out)
	if mine := sh.gates[part.out.Gate.ID]; mine != nil && !out.Full {
		merge(&out, mine)
		changed = true
	}
	out.ForeignKIDs = kids
	if len(kids) > 0 {
		changed = true // news for the gate: answer now, not at the end of a long poll
	}
	if len(kids) == maxForeignKIDs {
		out.More = true
	}
	out.ServerTime = time.Now().UTC()
	return out, changed
}

// merge adds a partial answer to out, field by field whatever the fields are: lists are
// appended (into new arrays, so that a shared answer's are never written), and any other
// field the partial sets replaces out's. It is generic so that a kind of synced state
// added to access.GateSync flows from the readers to every gate's answer without a line
// here (TestMergeCoversEveryField).
func merge(out, part *access.GateSync) {
	o, p := reflect.ValueOf(out).Elem(), reflect.ValueOf(part).Elem()
	for i := range o.NumField() {
		f, pf := o.Field(i), p.Field(i)
		switch {
		case f.Kind() == reflect.Slice:
			if pf.Len() > 0 {
				n := reflect.MakeSlice(f.Type(), 0, f.Len()+pf.Len())
				f.Set(reflect.AppendSlice(reflect.AppendSlice(n, f), pf))
			}
		case !pf.IsZero():
			f.Set(pf)
		}
	}
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

// communityState fills what every sync carries whole for every gate of the
// community: the trusted keys and the zones.
func communityState(ctx context.Context, q getSelecter, out *access.GateSync, c uuid.UUID) error {
	keys, err := publishedKeys(ctx, q, c)
	if err != nil {
		return fmt.Errorf("sync keys: %w", err)
	}
	out.Keys = make([]access.SyncKey, len(keys))
	for i, k := range keys {
		out.Keys[i] = access.SyncKey{KID: k.KID, Public: k.Public, NotBefore: k.CreatedAt.Truncate(time.Second).UTC(), NotAfter: k.RetiredAt}
	}
	out.Zones = []access.ZoneRule{}
	if err := q.SelectContext(ctx, &out.Zones, `SELECT zone, anti_passback FROM zones WHERE community_id = $1 ORDER BY zone`, c); err != nil {
		return fmt.Errorf("sync zones: %w", err)
	}
	return nil
}

// pendingCommands lists the gate's commands not yet acknowledged, which every sync
// carries whole.
func pendingCommands(ctx context.Context, q selecter, g access.GateIdentity) ([]access.GateCommand, error) {
	var cmds []struct {
		ID        uuid.UUID  `db:"id"`
		Kind      string     `db:"kind"`
		Payload   []byte     `db:"payload"`
		CreatedBy *uuid.UUID `db:"created_by"`
		CreatedAt time.Time  `db:"created_at"`
	}
	err := q.SelectContext(ctx, &cmds, `SELECT id, kind, payload, created_by, created_at FROM gate_commands
		WHERE community_id = $1 AND gate_id = $2 AND acked_at IS NULL ORDER BY created_at, id`, g.Community, g.ID)
	if err != nil {
		return nil, fmt.Errorf("sync commands: %w", err)
	}
	out := make([]access.GateCommand, len(cmds))
	for i, c := range cmds {
		var p struct {
			Reason string `json:"reason"`
		}
		_ = json.Unmarshal(c.Payload, &p) // written by UnlockGate: always an object
		out[i] = access.GateCommand{ID: c.ID, Kind: c.Kind, Reason: p.Reason, CreatedBy: c.CreatedBy, CreatedAt: c.CreatedAt.UTC()}
		if c.Kind == CommandFaceEnrol {
			out[i].Payload = c.Payload
		}
	}
	return out, nil
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
