package agent

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"gatepass/internal/access"
	"gatepass/internal/credential"
	"gatepass/internal/gate"
	"gatepass/internal/gateapi"
)

// Buckets of the local database. Every write that matters for a decision (an event with
// its replay and passback entries, a command marked done) is one bbolt transaction,
// fsynced at commit, so a crash leaves either all of it or none.
var (
	bMeta     = []byte("meta")     // cursor, synced_at, state (keys, zones, gate)
	bRevoked  = []byte("revoked")  // credential id (16) -> forget after (8, unix s)
	bReplay   = []byte("replay")   // replay key (25) -> until (8, unix ns)
	bPassback = []byte("passback") // credential id (16) -> until (8, unix ns)
	bEvents   = []byte("events")   // event id (16, UUIDv7: time-ordered) -> JSON
	bDone     = []byte("done")     // command id (16) -> JSON {result, at}
	bRejected = []byte("rejected") // events the server refused (422): kept, not sent again
	bFaces    = []byte("faces")    // resident (16) || model -> JSON faceBlob (sealed: encrypted at rest)
	bPurges   = []byte("purges")   // purge id (16) -> resident (16): done, ack not yet confirmed
	bHolders  = []byte("holders")  // credential id (16) -> holder id (16)
	bForeign  = []byte("foreign")  // another community's kid (4) -> nothing
	bMembers  = []byte("members")  // holder id (16) -> its access groups' ids (16 each)
)

// LocalDB is the gate's own durable state in bbolt: queued events, replay and passback
// entries, synced data, command results and sealed face templates. It is named apart
// from internal/store, which is the server's PostgreSQL and which the agent never
// imports: the gate has no database connection, only the gate API.
type LocalDB struct {
	db *bolt.DB
}

// ErrLocked means another process (a running agent) holds the local database.
var ErrLocked = errors.New("local store is in use by a running agent")

// OpenLocalDB opens (creating) the local database at path with mode 0600.
func OpenLocalDB(path string, readOnly bool) (*LocalDB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 500 * time.Millisecond, ReadOnly: readOnly})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, ErrLocked
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if !readOnly {
		err = db.Update(func(tx *bolt.Tx) error {
			for _, b := range [][]byte{bMeta, bRevoked, bReplay, bPassback, bEvents, bDone, bRejected, bFaces, bPurges, bHolders, bForeign, bMembers} {
				if _, err := tx.CreateBucketIfNotExists(b); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("init %s: %w", path, err)
		}
	}
	return &LocalDB{db: db}, nil
}

// Close closes the local database.
func (s *LocalDB) Close() error { return s.db.Close() }

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// synced is what the local database keeps of the last sync besides revocations.
type synced struct {
	Cursor   int64          `json:"cursor"`
	SyncedAt time.Time      `json:"synced_at"` // the gate's clock
	Gate     gateapi.Gate   `json:"gate"`
	Keys     []gateapi.Key  `json:"keys"`
	Zones    []gateapi.Zone `json:"zones"`
	// ServerTime is the server's time in the last answer: after a restart, the only
	// time by which the gate may forget a revocation until it syncs again (gate.ServerClock).
	ServerTime time.Time `json:"server_time"`
	// OffsetMS is the gate's clock minus the server's at the last sync, so that a clock
	// changed while the agent was stopped shows as a jump at the next one.
	OffsetMS *int64 `json:"offset_ms,omitempty"`
	// NeedFull: the gate's clock jumped; the next sync asks for a full snapshot (cursor
	// 0) so that nothing judged or pruned on the wrong clock outlives it.
	NeedFull bool `json:"need_full,omitempty"`
	// Access is the last rules of who may enter where and when (a delta without them
	// keeps these); nil: the server sent none (older than them).
	Access *gateapi.Access `json:"access,omitempty"`
}

func putSynced(tx *bolt.Tx, s synced) error {
	raw, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("synced state: %w", err)
	}
	return tx.Bucket(bMeta).Put([]byte("synced"), raw)
}

func getSynced(tx *bolt.Tx) (synced, error) {
	var s synced
	raw := tx.Bucket(bMeta).Get([]byte("synced"))
	if raw == nil {
		return s, nil
	}
	return s, json.Unmarshal(raw, &s)
}

// ApplySync stores a sync answer that arrived at the gate's time at: a full one replaces
// the revocations, a delta adds. offset is the gate's clock minus the server's to keep
// (nil: keep the last); jumped says the gate's clock moved since the last measurement,
// and makes the next sync ask for a full snapshot unless this one is.
func (s *LocalDB) ApplySync(in *gateapi.Sync, at time.Time, offset *time.Duration, jumped bool) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		prev, err := getSynced(tx)
		if err != nil {
			return err
		}
		rb, err := syncBucket(tx, bRevoked, in.Full)
		if err != nil {
			return err
		}
		for _, r := range in.Revocations {
			if err := rb.Put(r.Credential[:], u64(uint64(r.ForgetAfter.Unix()))); err != nil {
				return err
			}
		}
		hb, err := syncBucket(tx, bHolders, in.Full)
		if err != nil {
			return err
		}
		for _, h := range in.Holders {
			if err := hb.Put(h.Credential[:], h.Holder[:]); err != nil {
				return err
			}
		}
		// Foreign kids only grow and a full snapshot does not send them again (only those
		// past kid_after): they are kept across snapshots.
		for _, kid := range in.ForeignKIDs {
			if err := tx.Bucket(bForeign).Put(binary.BigEndian.AppendUint32(nil, kid), nil); err != nil {
				return err
			}
		}
		if err := applyFaces(tx, in); err != nil {
			return err
		}
		mb, err := syncBucket(tx, bMembers, in.Full)
		if err != nil {
			return err
		}
		for _, m := range in.Memberships {
			if err := mb.Put(m.Holder[:], packIDs(m.Groups)); err != nil {
				return err
			}
		}
		ms := prev.OffsetMS
		if offset != nil {
			v := offset.Milliseconds()
			ms = &v
		}
		return putSynced(tx, synced{Cursor: in.Cursor, SyncedAt: at, Gate: in.Gate, Keys: in.Keys, Zones: in.Zones,
			ServerTime: in.ServerTime, OffsetMS: ms, NeedFull: !in.Full && (prev.NeedFull || jumped), Access: syncAccess(in, prev.Access)})
	})
}

// syncAccess is the access rules after a sync answer: the answer's when it has them, none
// after a full answer without them (a server older than them), else the last ones.
func syncAccess(in *gateapi.Sync, prev *gateapi.Access) *gateapi.Access {
	switch {
	case in.Access != nil:
		return in.Access
	case in.Full:
		return nil
	}
	return prev
}

// packIDs is a list of ids as the members bucket keeps it: 16 bytes each.
func packIDs(ids []uuid.UUID) []byte {
	out := make([]byte, 0, 16*len(ids))
	for _, id := range ids {
		out = append(out, id[:]...)
	}
	return out
}

// groupLists interns holders' group lists: most holders share theirs with their
// building's other residents, so a gate keeps one copy of each.
type groupLists map[string][]uuid.UUID

func (g groupLists) of(packed []byte) []uuid.UUID {
	if ids, ok := g[string(packed)]; ok {
		return ids
	}
	ids := make([]uuid.UUID, 0, len(packed)/16)
	for i := 0; i+16 <= len(packed); i += 16 {
		ids = append(ids, uuid.UUID(packed[i:i+16]))
	}
	g[string(packed)] = ids
	return ids
}

// NeedFull makes the next sync ask for a full snapshot (the gate's clock jumped).
func (s *LocalDB) NeedFull() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		sy, err := getSynced(tx)
		if err != nil || sy.NeedFull {
			return err
		}
		sy.NeedFull = true
		return putSynced(tx, sy)
	})
}

// KIDAfter is the largest key id of another community the gate knows (0: none), sent
// as the sync's kid_after so that the server sends only newer ones.
func (s *LocalDB) KIDAfter() (uint32, error) {
	var kid uint32
	err := s.db.View(func(tx *bolt.Tx) error {
		if k, _ := tx.Bucket(bForeign).Cursor().Last(); len(k) == 4 {
			kid = binary.BigEndian.Uint32(k)
		}
		return nil
	})
	return kid, err
}

// LastSync is what the last sync left that the next one needs: its cursor (0 when a
// full snapshot is due), the server's time and the gate's offset then (nil: none yet).
func (s *LocalDB) LastSync() (cursor int64, server time.Time, offset *time.Duration, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		sy, err := getSynced(tx)
		if err != nil {
			return err
		}
		cursor, server = sy.Cursor, sy.ServerTime
		if sy.NeedFull {
			cursor = 0
		}
		if sy.OffsetMS != nil {
			d := time.Duration(*sy.OffsetMS) * time.Millisecond
			offset = &d
		}
		return nil
	})
	if err != nil {
		err = fmt.Errorf("last sync: %w", err)
	}
	return cursor, server, offset, err
}

// Cursor is the sync cursor (0: never synced).
func (s *LocalDB) Cursor() (int64, error) {
	var c int64
	err := s.db.View(func(tx *bolt.Tx) error {
		st, err := getSynced(tx)
		c = st.Cursor
		return err
	})
	return c, err
}

// LoadState builds the decision state from the local database; gateInfo is the
// Registration's (used until the first sync brings the server's). Revocations are
// forgotten by the last sync's server time, never by the gate's clock: a gate started
// with a wrong clock forgets nothing.
func (s *LocalDB) LoadState(gateInfo gateapi.Gate) (*gate.State, error) {
	st := &gate.State{Revoked: map[uuid.UUID]int64{}, Holders: map[uuid.UUID]uuid.UUID{}, Foreign: map[uint32]struct{}{}}
	members := map[uuid.UUID][]uuid.UUID{}
	var sy synced
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		if sy, err = getSynced(tx); err != nil {
			return err
		}
		if err := tx.Bucket(bHolders).ForEach(func(k, v []byte) error {
			if len(k) == 16 && len(v) == 16 {
				st.Holders[uuid.UUID(k)] = uuid.UUID(v)
			}
			return nil
		}); err != nil {
			return err
		}
		if err := tx.Bucket(bForeign).ForEach(func(k, _ []byte) error {
			if len(k) == 4 {
				st.Foreign[binary.BigEndian.Uint32(k)] = struct{}{}
			}
			return nil
		}); err != nil {
			return err
		}
		lists := groupLists{}
		if err := tx.Bucket(bMembers).ForEach(func(k, v []byte) error {
			if len(k) == 16 {
				members[uuid.UUID(k)] = lists.of(v)
			}
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(bRevoked).ForEach(func(k, v []byte) error {
			if until := int64(binary.BigEndian.Uint64(v)); !gate.Forget(until, sy.ServerTime) {
				st.Revoked[uuid.UUID(k)] = until
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("load state: %w", err)
	}
	if sy.Gate.ID == uuid.Nil {
		sy.Gate = gateInfo
	}
	st.SyncedAt = sy.SyncedAt
	if st.Keys, err = keySet(sy.Keys, sy.Gate.Community); err != nil {
		return nil, err
	}
	st.Policy = policy(sy.Gate, sy.Zones)
	st.Clock = gate.ServerClock{Server: sy.ServerTime}
	if sy.Access != nil {
		if st.Access, err = gate.CompileAccess(accessRules(sy.Access), members, sy.Gate.ID, sy.Gate.Zone, sy.Gate.Direction); err != nil {
			// The state is good without them (tokens' zones decide): see ErrRules.
			return st, fmt.Errorf("%w: %v", ErrRules, err)
		}
	}
	return st, nil
}

// accessRules is the wire's access rules as the domain's.
func accessRules(a *gateapi.Access) access.GateAccess {
	out := access.GateAccess{TimeZone: a.TimeZone, OfflineLimitSeconds: a.OfflineLimitSeconds, OfflinePolicy: a.OfflinePolicy,
		Groups: make([]access.GateGroup, len(a.Groups)), Lockdowns: make([]access.GateLockdown, len(a.Lockdowns))}
	for i, g := range a.Groups {
		out.Groups[i] = access.GateGroup(g)
	}
	for i, l := range a.Lockdowns {
		out.Lockdowns[i] = access.GateLockdown(l)
	}
	return out
}

func keySet(keys []gateapi.Key, community uuid.UUID) (*credential.KeySet, error) {
	ks := make([]credential.Key, len(keys))
	for i, k := range keys {
		ks[i] = credential.Key{KID: k.KID, Community: community, Public: k.Public, NotBefore: k.NotBefore}
		if k.NotAfter != nil {
			ks[i].NotAfter = *k.NotAfter
		}
	}
	set, err := credential.NewKeySet(ks...)
	if err != nil {
		return nil, fmt.Errorf("synced keys: %w", err)
	}
	return set, nil
}

func policy(g gateapi.Gate, zones []gateapi.Zone) gate.Policy {
	set := g.Settings.WithDefaults()
	p := gate.Policy{
		Community: g.Community, Zone: g.Zone, Skew: set.Skew(), Passback: set.Passback(),
		CardMinInterval: set.CardMinInterval(), StaleAfter: set.StaleAfter(), StaleDeny: set.StalePolicy == gateapi.StaleDeny,
	}
	for _, z := range zones {
		if z.Zone == g.Zone {
			p.AntiPassback = z.AntiPassback
		}
	}
	return p
}

// LoadMemory reads the replay and passback caches that are still live.
func (s *LocalDB) LoadMemory(now time.Time) (*gate.Memory, error) {
	m := gate.NewMemory()
	err := s.db.View(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bReplay).ForEach(func(k, v []byte) error {
			if until := time.Unix(0, int64(binary.BigEndian.Uint64(v))); until.After(now) && len(k) == credential.ReplayKeySize {
				m.RestoreReplay([credential.ReplayKeySize]byte(k), until)
			}
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(bPassback).ForEach(func(k, v []byte) error {
			if until := time.Unix(0, int64(binary.BigEndian.Uint64(v))); until.After(now) && len(k) == 16 {
				m.RestorePassback(uuid.UUID(k), until)
			}
			return nil
		})
	})
	return m, err
}

// Commit stores one decision's event and, for a grant, its replay and passback entries,
// in one fsynced transaction: the door opens only after this returns nil. done, when
// set, marks a command as executed in the same transaction.
func (s *LocalDB) Commit(ev gateapi.Event, dec gate.Decision, passbackUntil time.Time, done *doneCommand) error {
	raw, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bEvents).Put(ev.ID[:], raw); err != nil {
			return err
		}
		if dec.Granted && dec.Verified {
			if err := tx.Bucket(bReplay).Put(dec.ReplayKey[:], u64(uint64(dec.ReplayUntil.UnixNano()))); err != nil {
				return err
			}
		}
		if dec.Granted && dec.PassbackKey != uuid.Nil && !passbackUntil.IsZero() {
			if err := tx.Bucket(bPassback).Put(dec.PassbackKey[:], u64(uint64(passbackUntil.UnixNano()))); err != nil {
				return err
			}
		}
		if done != nil {
			return putDone(tx, *done)
		}
		return nil
	})
}

// doneCommand is a command the gate has acted on, with the result it reports.
type doneCommand struct {
	ID     uuid.UUID `json:"id"`
	Result string    `json:"result"`
	At     time.Time `json:"at"`
}

func putDone(tx *bolt.Tx, d doneCommand) error {
	raw, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return tx.Bucket(bDone).Put(d.ID[:], raw)
}

// Done says whether a command was acted on already, and with what result.
func (s *LocalDB) Done(id uuid.UUID) (doneCommand, bool, error) {
	var d doneCommand
	var ok bool
	err := s.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bDone).Get(id[:])
		if raw == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(raw, &d)
	})
	return d, ok, err
}

// MarkDone records a command's result without an event.
func (s *LocalDB) MarkDone(d doneCommand) error {
	return s.db.Update(func(tx *bolt.Tx) error { return putDone(tx, d) })
}

// Pending returns the oldest queued events, at most max of them and at most maxBytes of
// JSON in all (the server's body limit).
func (s *LocalDB) Pending(max, maxBytes int) ([]json.RawMessage, []uuid.UUID, error) {
	var out []json.RawMessage
	var ids []uuid.UUID
	size := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bEvents).Cursor()
		for k, v := c.First(); k != nil && len(out) < max; k, v = c.Next() {
			if size+len(v)+1 > maxBytes && len(out) > 0 {
				break
			}
			size += len(v) + 1
			out = append(out, append(json.RawMessage(nil), v...))
			ids = append(ids, uuid.UUID(k))
		}
		return nil
	})
	return out, ids, err
}

// Delete removes events the server acknowledged.
func (s *LocalDB) Delete(ids []uuid.UUID) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bEvents)
		for _, id := range ids {
			if err := b.Delete(id[:]); err != nil {
				return err
			}
		}
		return nil
	})
}

// QueueDepth is the number of events not yet acknowledged by the server.
func (s *LocalDB) QueueDepth() int { return s.count(bEvents) }

// count is the number of keys in bucket; for status, so a read error counts as none.
func (s *LocalDB) count(bucket []byte) int {
	n := 0
	_ = s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucket).Stats().KeyN
		return nil
	})
	return n
}

// Prune drops revocations the server's time serverNow lets the gate forget (none when
// it is zero), replay and passback entries ended by the gate's clock now (the gate set
// them on that clock), and command results older than a day.
func (s *LocalDB) Prune(now, serverNow time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		drop := func(bucket []byte, ended func(v []byte) bool) error {
			c := tx.Bucket(bucket).Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if ended(v) {
					if err := c.Delete(); err != nil {
						return err
					}
				}
			}
			return nil
		}
		nanos := func(v []byte) bool { return int64(binary.BigEndian.Uint64(v)) <= now.UnixNano() }
		// A forgotten revocation takes its credential's holder with it.
		holders := tx.Bucket(bHolders)
		c := tx.Bucket(bRevoked).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if !gate.Forget(int64(binary.BigEndian.Uint64(v)), serverNow) {
				continue
			}
			if err := holders.Delete(k); err != nil {
				return err
			}
			if err := c.Delete(); err != nil {
				return err
			}
		}
		if err := drop(bReplay, nanos); err != nil {
			return err
		}
		if err := drop(bPassback, nanos); err != nil {
			return err
		}
		return drop(bDone, func(v []byte) bool {
			var d doneCommand
			return json.Unmarshal(v, &d) != nil || now.Sub(d.At) > 24*time.Hour
		})
	})
}

// SyncedAt is when the gate last synced (zero: never).
func (s *LocalDB) SyncedAt() time.Time {
	var t time.Time
	_ = s.db.View(func(tx *bolt.Tx) error {
		st, err := getSynced(tx)
		t = st.SyncedAt
		return err
	})
	return t
}

// RevocationCount is the number of revocations held.
func (s *LocalDB) RevocationCount() int { return s.count(bRevoked) }

// LoadStateFrom builds the next decision state from a sync answer just stored: a full
// answer replaces the revocations and holders, a delta adds to prev's. Revocations the
// answer's server time lets the gate forget are left out, with their holders.
func (s *LocalDB) LoadStateFrom(in *gateapi.Sync, prev *gate.State, at time.Time) (*gate.State, error) {
	st := &gate.State{SyncedAt: at, Policy: policy(in.Gate, in.Zones)}
	st.Holders, st.Foreign = syncHolders(in, prev), syncForeign(in, prev)
	switch {
	case in.Full || prev == nil:
		st.Revoked = make(map[uuid.UUID]int64, len(in.Revocations))
	case len(in.Revocations) == 0:
		// States are immutable, so an unchanged map is shared, not copied.
		st.Revoked = prev.Revoked
	default:
		st.Revoked = make(map[uuid.UUID]int64, len(prev.Revoked)+len(in.Revocations))
		for k, v := range prev.Revoked {
			st.Revoked[k] = v
		}
	}
	for _, r := range in.Revocations {
		st.Revoked[r.Credential] = r.ForgetAfter.Unix()
	}
	var err error
	if st.Keys, err = keySet(in.Keys, in.Gate.Community); err != nil {
		return nil, err
	}
	st.Clock = gate.ServerClock{Server: in.ServerTime, At: at}
	var rulesErr error
	if st.Access, rulesErr = syncRules(in, prev); rulesErr != nil {
		// Rules this gate cannot read (a time zone its build does not know) must not stop
		// its sync: it keeps deciding by the rules it had, and says so (ErrRules).
		if prev != nil && !in.Full {
			st.Access = prev.Access
		}
		rulesErr = fmt.Errorf("%w: %v", ErrRules, rulesErr)
	}
	return st.Forgetting(in.ServerTime), rulesErr
}

// ErrRules is LoadStateFrom's error when a sync's access rules cannot be used: the state
// it returns beside it is good, with the rules the gate had.
var ErrRules = errors.New("access rules not applied")

// syncRules is the access rules after a sync answer just stored: new ones when it has
// them (with prev's members unless it brings all), none after a full answer without
// them, else prev's with the answer's memberships.
func syncRules(in *gateapi.Sync, prev *gate.State) (*gate.Access, error) {
	var last *gate.Access
	if prev != nil && !in.Full {
		last = prev.Access
	}
	var members map[uuid.UUID][]uuid.UUID
	switch {
	case in.Full:
		members = make(map[uuid.UUID][]uuid.UUID, len(in.Memberships))
	case last != nil && len(in.Memberships) == 0:
		members = last.Members // states are immutable: shared
	default:
		members = map[uuid.UUID][]uuid.UUID{}
		if last != nil {
			members = make(map[uuid.UUID][]uuid.UUID, len(last.Members)+len(in.Memberships))
			for k, v := range last.Members {
				members[k] = v
			}
		}
	}
	if len(in.Memberships) > 0 {
		lists := groupLists{}
		for _, m := range in.Memberships {
			members[m.Holder] = lists.of(packIDs(m.Groups))
		}
	}
	switch {
	case in.Access != nil:
		return gate.CompileAccess(accessRules(in.Access), members, in.Gate.ID, in.Gate.Zone, in.Gate.Direction)
	case last != nil:
		return last.WithMembers(members), nil
	}
	return nil, nil
}

// syncHolders is the holder map after a sync answer: the answer's own when Full, else
// prev's with the answer's added (prev's itself, shared, when it adds none: states are
// immutable).
func syncHolders(in *gateapi.Sync, prev *gate.State) map[uuid.UUID]uuid.UUID {
	if !in.Full && prev != nil && len(in.Holders) == 0 && prev.Holders != nil {
		return prev.Holders
	}
	out := make(map[uuid.UUID]uuid.UUID, len(in.Holders))
	if !in.Full && prev != nil {
		for k, v := range prev.Holders {
			out[k] = v
		}
	}
	for _, h := range in.Holders {
		out[h.Credential] = h.Holder
	}
	return out
}

// syncForeign is prev's foreign kids with the answer's added, Full or not (the server
// sends only those past kid_after).
func syncForeign(in *gateapi.Sync, prev *gate.State) map[uint32]struct{} {
	if len(in.ForeignKIDs) == 0 && prev != nil && prev.Foreign != nil {
		return prev.Foreign
	}
	out := map[uint32]struct{}{}
	if prev != nil {
		for k := range prev.Foreign {
			out[k] = struct{}{}
		}
	}
	for _, k := range in.ForeignKIDs {
		out[k] = struct{}{}
	}
	return out
}

// Reject moves a queued event the server refused to the rejected bucket.
func (s *LocalDB) Reject(id uuid.UUID) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		v := tx.Bucket(bEvents).Get(id[:])
		if v == nil {
			return nil
		}
		if err := tx.Bucket(bRejected).Put(id[:], append([]byte(nil), v...)); err != nil {
			return err
		}
		return tx.Bucket(bEvents).Delete(id[:])
	})
}

// faceBlob is a template as the gate keeps it: sealed to its box key, as received.
type faceBlob struct {
	Template uuid.UUID `json:"template_id"`
	Sealed   []byte    `json:"sealed"`
}

// syncBucket is the bucket a sync answer writes into: for a full answer (a snapshot)
// emptied first, so that nothing the server no longer sends survives it.
func syncBucket(tx *bolt.Tx, name []byte, full bool) (*bolt.Bucket, error) {
	if !full {
		return tx.Bucket(name), nil
	}
	if err := tx.DeleteBucket(name); err != nil {
		return nil, err
	}
	return tx.CreateBucket(name)
}

// applyFaces stores templates and carries out purges in the sync's transaction: a
// purge's deletion is on disk before it is acknowledged.
func applyFaces(tx *bolt.Tx, in *gateapi.Sync) error {
	fb, err := syncBucket(tx, bFaces, in.Full)
	if err != nil {
		return err
	}
	for _, t := range in.FaceTemplates {
		raw, err := json.Marshal(faceBlob{Template: t.Template, Sealed: t.Sealed})
		if err != nil {
			return err
		}
		if err := fb.Put(faceKey(t.Resident, t.Model), raw); err != nil {
			return err
		}
	}
	for _, p := range in.FacePurges {
		if err := deleteFaces(fb, p.Resident); err != nil {
			return err
		}
		if err := tx.Bucket(bPurges).Put(p.Purge[:], p.Resident[:]); err != nil {
			return err
		}
	}
	return nil
}

// EachFace calls fn for every template held (at start, and after a full sync).
func (s *LocalDB) EachFace(fn func(resident uuid.UUID, model string, sealed []byte)) error {
	return s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bFaces).ForEach(func(k, v []byte) error {
			var b faceBlob
			if len(k) <= 16 || json.Unmarshal(v, &b) != nil {
				return nil
			}
			fn(uuid.UUID(k[:16]), string(k[16:]), b.Sealed)
			return nil
		})
	})
}

// PendingPurgeAcks lists purges carried out whose acknowledgement the server has not
// confirmed yet.
func (s *LocalDB) PendingPurgeAcks() ([]uuid.UUID, error) {
	var out []uuid.UUID
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bPurges).ForEach(func(k, _ []byte) error {
			out = append(out, uuid.UUID(k))
			return nil
		})
	})
	return out, err
}

// PurgeAcked forgets a purge once the server confirmed its acknowledgement.
func (s *LocalDB) PurgeAcked(id uuid.UUID) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bPurges).Delete(id[:]) })
}

// faceKey is a template's key in the faces buckets: resident (16) || model, so that all
// of a resident's templates sit together for a purge.
func faceKey(resident uuid.UUID, model string) []byte {
	return append(append(make([]byte, 0, 16+len(model)), resident[:]...), model...)
}

// deleteFaces deletes every template of resident from b, whatever its model.
func deleteFaces(b *bolt.Bucket, resident uuid.UUID) error {
	c := b.Cursor()
	for k, _ := c.Seek(resident[:]); k != nil && len(k) >= 16 && uuid.UUID(k[:16]) == resident; k, _ = c.Next() {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}
