package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"gatepass/internal/access"
)

// ChangeHub is what the gate API's long polls share in one server process (issue 20):
// the one LISTEN connection on 'gatepass_changes', the waiting polls, and the sync
// answers' parts, so that the cost of a change does not grow with the gates it reaches.
//
//   - A change wakes only the polls it concerns: a community's change its gates, a
//     change addressed to one gate (a command, its settings, a template sealed to it, a
//     purge) that gate alone. Tx.Change puts the gate in the notification.
//   - The community's part of an answer (sharedSync: a delta's changes, or a snapshot's
//     revocations and holders, with the keys and zones) is computed once from a cursor
//     and handed to every gate waiting at that cursor; each gate's own part (gatePart:
//     the gate, its commands) is read when a change addressed to it says it changed.
//   - Nothing is re-read while nothing changes. Every notification, and every change of
//     the listener (connected, lost, a ping unanswered), advances a counter, tick; a
//     part computed after the last tick that concerns it is current as long as the
//     listener is live, because any later commit would have been notified. So a
//     thousand idle polls cost no query, where each re-read the change log every 5 s.
//     While the listener is not live, polls re-check every PollEvery (one shared
//     computation per community and cursor), and once it is back every poll re-checks
//     once.
//
// The result is the answer GateSyncFor gives, made by the same readers and the same
// assemble (gate_sync.go).
type ChangeHub struct {
	db  *DB
	log *slog.Logger
	l   *pq.Listener

	mu    sync.Mutex
	tick  uint64 // advanced by every notification, listener change and computation begun
	live  bool   // listening and answering: a commit after a computation began will wake it
	epoch uint64 // tick of the last listener change
	// listening: LISTEN is registered on a connection; silent: its last ping went
	// unanswered; lost counts the connections lost. live is listening && !silent.
	listening, silent bool
	lost              int
	keysAt            uint64 // tick of the last key change (any community): the largest kid may have moved
	comms             map[uuid.UUID]*hubCommunity
	gates             map[uuid.UUID]*hubGate
	maxKID            *hubValue[int64]
	stopped           chan struct{}
	once              sync.Once
	// reads counts the database reads the hub made: community parts computed, gate
	// parts read, largest kids read (the tests hold it to one per change).
	reads struct{ shared, parts, kids atomic.Int64 }
}

// PollEvery is how often a waiting poll re-checks while the listener is not live.
const PollEvery = 5 * time.Second

// How long computed parts are used at most, even while nothing is notified: they hold
// time-dependent choices (a key's publication ending, a revocation to forget) and a
// write that notifies nothing (an erasure deleting a gate's enrolment command) must not
// stay invisible.
const (
	sharedTTL = time.Minute
	partTTL   = 5 * time.Minute
)

// maxCursors bounds the parts kept per community: gates hold a few cursors at a time
// (the newest, and the one before for gates a targeted change did not wake).
const maxCursors = 32

// hubCommunity is one community's waiters and shared parts.
type hubCommunity struct {
	changed uint64 // tick of its last notification
	waiters map[*Waiter]struct{}
	shared  map[int64]*flight // by cursor
	used    time.Time
	// echo holds the changes this process made and told the hub of at commit, until
	// their notification comes back through LISTEN and is let go; heard, the last
	// changes heard through LISTEN, for the copy that comes back before the commit is
	// told (then the told one is let go).
	echo  map[int64]struct{}
	heard [16]int64
	next  int
}

// maxEcho bounds a community's echo set (a listener that is down sends none back).
const maxEcho = 1024

// hubGate is one gate's waiters and its own part.
type hubGate struct {
	changed uint64 // tick of its last notification of its own
	waiters map[*Waiter]struct{}
	part    *hubValue[gatePart]
	used    time.Time
}

// flight is one computation of a community's part from a cursor, and its result.
type flight struct {
	start uint64
	at    time.Time
	done  chan struct{}
	sh    sharedSync
	err   error
}

// hubValue is a value read at a tick, at a time.
type hubValue[T any] struct {
	v     T
	start uint64
	at    time.Time
}

// Waiter is one long poll's subscription: C receives when a change may concern it.
type Waiter struct {
	C         <-chan struct{}
	ch        chan struct{}
	community uuid.UUID
	gate      uuid.UUID
}

// NewChangeHub listens on db's server. Until the listener is connected, and whenever it
// is lost, waiters wake every PollEvery to re-check; once it is back, all wake once.
func (db *DB) NewChangeHub(log *slog.Logger) *ChangeHub {
	h := &ChangeHub{db: db, log: log, comms: map[uuid.UUID]*hubCommunity{}, gates: map[uuid.UUID]*hubGate{},
		stopped: make(chan struct{})}
	// Reconnect attempts back off from 100 ms to at most 1 s: one connection per process
	// costs nothing to retry, and until it is back every long poll re-checks only every
	// PollEvery. With 10 s, revocations after a database restart reached gates seconds
	// late (issue 12 item 2).
	h.l = pq.NewListener(db.url, 100*time.Millisecond, time.Second, func(ev pq.ListenerEventType, err error) {
		switch ev {
		case pq.ListenerEventReconnected:
			// Re-established with the LISTEN registered again (pq's resync).
			h.setState(func() { h.listening = true })
		case pq.ListenerEventDisconnected, pq.ListenerEventConnectionAttemptFailed:
			if err != nil {
				log.Warn("change listener", "event", ev, "err", err)
			}
			h.setState(func() {
				h.listening = false
				if ev == pq.ListenerEventDisconnected {
					h.lost++
				}
			})
		}
		// ListenerEventConnected: the first connection, on which LISTEN may not be
		// registered yet; Listen's return says when it is.
	})
	// Listen waits for the connection: not in the first poll's way.
	go func() {
		h.mu.Lock()
		lost := h.lost
		h.mu.Unlock()
		if err := h.l.Listen("gatepass_changes"); err != nil {
			log.Error("change listener: listen", "err", err)
			return
		}
		// Unless that connection was lost meanwhile (its reconnection says so instead).
		h.setState(func() { h.listening = h.listening || h.lost == lost })
	}()
	go h.run()
	go h.keep()
	db.hubs.add(h)
	return h
}

// setState records a change of the listener (change sets listening, silent or lost):
// every part computed before it is out of date, and every waiter re-checks once.
func (h *ChangeHub) setState(change func()) {
	h.mu.Lock()
	change()
	live := h.listening && !h.silent
	h.tick++
	h.epoch = h.tick
	h.live = live
	for _, c := range h.comms {
		c.echo, c.heard = nil, [16]int64{} // what comes back after a reconnection is news
	}
	h.wakeAllLocked()
	h.mu.Unlock()
	if !live {
		h.db.tokens.forgetAll() // a disabled gate's notification may be lost
	}
}

func (h *ChangeHub) run() {
	for n := range h.l.Notify {
		if n == nil {
			// Re-established: notifications may have been lost. setState (the listener's
			// event) has woken everyone to re-check once.
			continue
		}
		h.notified(n.Extra, false)
	}
}

// notified handles one notification: "<community> <seq> <gate or -> <kind>" from
// Tx.Change, or "<community> - <gate> ack" when only a gate's own part changed (its
// command acknowledged). A bare community id (an older server) is a community change.
// local is a change this process committed, told at once (Tx.Change): its LISTEN copy
// is then let go, so that one change is not computed twice.
func (h *ChangeHub) notified(payload string, local bool) {
	f := strings.Fields(payload)
	if len(f) == 0 {
		return
	}
	c, err := uuid.Parse(f[0])
	if err != nil {
		return
	}
	var gate uuid.UUID
	kind := ""
	seq := int64(-1)
	if len(f) >= 4 {
		if n, err := strconv.ParseInt(f[1], 10, 64); err == nil {
			seq = n
		}
		if f[2] != "-" {
			if gate, err = uuid.Parse(f[2]); err != nil {
				return
			}
		}
		kind = f[3]
	}
	h.mu.Lock()
	if seq >= 0 {
		cm := h.commLocked(c)
		if local {
			if slices.Contains(cm.heard[:], seq+1) {
				h.mu.Unlock()
				return
			}
			if cm.echo == nil || len(cm.echo) >= maxEcho {
				cm.echo = map[int64]struct{}{}
			}
			cm.echo[seq] = struct{}{}
		} else {
			if _, ok := cm.echo[seq]; ok {
				delete(cm.echo, seq)
				h.mu.Unlock()
				return
			}
			cm.heard[cm.next] = seq + 1 // 0: empty
			cm.next = (cm.next + 1) % len(cm.heard)
		}
	}
	h.tick++
	if gate != uuid.Nil {
		g := h.gateLocked(gate)
		g.changed = h.tick
		if kind != kindAck {
			h.commLocked(c).changed = h.tick
			wake(g.waiters)
		}
	} else {
		cm := h.commLocked(c)
		cm.changed = h.tick
		wake(cm.waiters)
	}
	if kind == "key" {
		h.keysAt = h.tick
	}
	h.mu.Unlock()
	if gate != uuid.Nil && kind == "gate" {
		h.db.tokens.forget(gate) // disabled, or its settings changed
	}
}

// kindAck is the notification of a gate's own part changed without a change row.
const kindAck = "ack"

func wake(set map[*Waiter]struct{}) {
	for w := range set {
		select {
		case w.ch <- struct{}{}:
		default:
		}
	}
}

func (h *ChangeHub) wakeAllLocked() {
	for _, c := range h.comms {
		wake(c.waiters)
	}
}

// keep pings the listener and, while it is not live, wakes every waiter every
// PollEvery to re-check; it also forgets parts nobody has used for a while.
func (h *ChangeHub) keep() {
	t := time.NewTicker(PollEvery)
	defer t.Stop()
	for {
		select {
		case <-h.stopped:
			return
		case <-t.C:
		}
		h.mu.Lock()
		if !h.live {
			h.wakeAllLocked()
		}
		h.sweepLocked(time.Now())
		h.mu.Unlock()
		// A connection that went silent (a network cut without a reset) sends no error:
		// an unanswered ping counts as lost until one is answered.
		pong := make(chan error, 1)
		go func() { pong <- h.l.Ping() }()
		var err error
		select {
		case err = <-pong:
		case <-time.After(PollEvery):
			err = fmt.Errorf("no answer in %v", PollEvery)
		case <-h.stopped:
			return
		}
		h.mu.Lock()
		was := h.silent
		h.mu.Unlock()
		switch {
		case err != nil && !was:
			h.log.Warn("change listener: ping", "err", err)
			h.setState(func() { h.silent = true })
		case err == nil && was:
			h.setState(func() { h.silent = false })
		}
	}
}

func (h *ChangeHub) sweepLocked(now time.Time) {
	for id, c := range h.comms {
		for cur, f := range c.shared {
			if done(f) && now.Sub(f.at) > sharedTTL {
				delete(c.shared, cur)
			}
		}
		if len(c.waiters) == 0 && len(c.shared) == 0 && now.Sub(c.used) > partTTL {
			delete(h.comms, id)
		}
	}
	for id, g := range h.gates {
		if len(g.waiters) == 0 && now.Sub(g.used) > partTTL {
			delete(h.gates, id)
		}
	}
}

func done(f *flight) bool {
	select {
	case <-f.done:
		return true
	default:
		return false
	}
}

func (h *ChangeHub) commLocked(c uuid.UUID) *hubCommunity {
	cm := h.comms[c]
	if cm == nil {
		cm = &hubCommunity{waiters: map[*Waiter]struct{}{}, shared: map[int64]*flight{}}
		h.comms[c] = cm
	}
	cm.used = time.Now()
	return cm
}

func (h *ChangeHub) gateLocked(id uuid.UUID) *hubGate {
	g := h.gates[id]
	if g == nil {
		g = &hubGate{waiters: map[*Waiter]struct{}{}}
		h.gates[id] = g
	}
	g.used = time.Now()
	return g
}

// Subscribe registers gate g's interest in its changes: its community's, and those
// addressed to it. Subscribe before the first Sync of a poll, so that a change committed
// between that read and the wait is not missed. Call the returned cancel when done.
func (h *ChangeHub) Subscribe(g access.GateIdentity) (*Waiter, func()) {
	ch := make(chan struct{}, 1)
	w := &Waiter{C: ch, ch: ch, community: g.Community, gate: g.ID}
	h.mu.Lock()
	h.commLocked(g.Community).waiters[w] = struct{}{}
	h.gateLocked(g.ID).waiters[w] = struct{}{}
	h.mu.Unlock()
	return w, func() {
		h.mu.Lock()
		if c := h.comms[w.community]; c != nil {
			delete(c.waiters, w)
		}
		if g := h.gates[w.gate]; g != nil {
			delete(g.waiters, w)
		}
		h.mu.Unlock()
	}
}

// Waiting is the number of long polls subscribed.
func (h *ChangeHub) Waiting() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, c := range h.comms {
		n += len(c.waiters)
	}
	return n
}

// Live reports whether the listener is live (changes are notified). While it is not,
// waiters are woken every PollEvery to re-check.
func (h *ChangeHub) Live() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.live
}

// Close stops listening.
func (h *ChangeHub) Close() error {
	h.once.Do(func() { close(h.stopped) })
	h.db.hubs.remove(h)
	return h.l.Close()
}

// hubs are the hubs of a DB, told of its committed changes at once.
type hubs struct {
	mu  sync.Mutex
	all []*ChangeHub
}

func (hs *hubs) add(h *ChangeHub) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.all = append(hs.all, h)
}

func (hs *hubs) remove(h *ChangeHub) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	for i, x := range hs.all {
		if x == h {
			hs.all = append(hs.all[:i], hs.all[i+1:]...)
			return
		}
	}
}

// committed tells every hub of the DB of a committed transaction's changes.
func (hs *hubs) committed(payloads []string) {
	hs.mu.Lock()
	all := hs.all
	hs.mu.Unlock()
	for _, h := range all {
		for _, p := range payloads {
			h.notified(p, true)
		}
	}
}

// wantLocked is the tick after which a part must have begun to be current, given the
// tick of the last change that concerns it; while not live, only one begun from now on.
func (h *ChangeHub) wantLocked(changed uint64) uint64 {
	if !h.live {
		return h.tick
	}
	return max(changed, h.epoch)
}

// Sync answers gate g's sync as GateSyncFor does, from the community's part computed
// once for every gate at the cursor and the gate's own part, read only when it changed.
// changed is false when there is nothing new for the gate (the caller may hold the poll).
func (h *ChangeHub) Sync(ctx context.Context, g access.GateIdentity, req access.SyncRequest) (access.GateSync, bool, error) {
	ctx = WithWork(ctx, GateSyncWork)
	sh, err := h.shared(ctx, g.Community, max(req.Cursor, 0))
	if err != nil {
		return access.GateSync{}, false, err
	}
	if sh.out.Full {
		return h.full(ctx, g, req, sh)
	}
	part, err := h.gatePart(ctx, g, sh)
	if err != nil {
		return access.GateSync{}, false, err
	}
	kids, err := h.foreignKIDs(ctx, g.Community, req.KIDAfter)
	if err != nil {
		return access.GateSync{}, false, err
	}
	out, changed := assemble(sh, part, kids)
	return out, changed, nil
}

// shared is community c's part from cursor: a current one computed before, the one
// being computed if it began after the last change, or a new computation that every
// caller meanwhile shares. The computation is not cancelled by one caller going away.
func (h *ChangeHub) shared(ctx context.Context, c uuid.UUID, cursor int64) (sharedSync, error) {
	h.mu.Lock()
	cm := h.commLocked(c)
	want := h.wantLocked(cm.changed)
	for {
		f := cm.shared[cursor]
		if f != nil && f.start > want {
			h.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return sharedSync{}, ctx.Err()
			}
			if f.err == nil && time.Since(f.at) > sharedTTL {
				h.mu.Lock()
				want = h.tick // too old: a new one
				continue
			}
			return f.sh, f.err
		}
		if f != nil && !done(f) {
			// An older computation still runs: wait for it, then begin the next one
			// (callers meanwhile share that), so that a burst of notifications makes
			// two computations, not one per waiter.
			h.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return sharedSync{}, ctx.Err()
			}
			h.mu.Lock()
			continue
		}
		break
	}
	// Parts begun before the last change help nobody now; a gate sending cursors of its
	// own making does not grow the map past maxCursors.
	for cur, old := range cm.shared {
		if done(old) && (old.start <= want || len(cm.shared) >= maxCursors) {
			delete(cm.shared, cur)
		}
	}
	h.tick++
	f := &flight{start: h.tick, done: make(chan struct{})}
	cm.shared[cursor] = f
	h.mu.Unlock()

	h.reads.shared.Add(1)
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	f.sh, f.err = h.db.readSharedTx(fctx, c, cursor)
	cancel()
	f.at = time.Now()
	h.mu.Lock()
	close(f.done)
	if f.err != nil && cm.shared[cursor] == f {
		delete(cm.shared, cursor) // an error is its callers' answer, never a later one's
	}
	h.mu.Unlock()
	return f.sh, f.err
}

// readSharedTx reads a community's part in a repeatable-read transaction of the sync
// pool.
func (db *DB) readSharedTx(ctx context.Context, c uuid.UUID, cursor int64) (sharedSync, error) {
	x, release, err := db.sync.begin(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return sharedSync{}, fmt.Errorf("sync: %w", err)
	}
	defer release()
	defer x.Rollback() //nolint:errcheck // read-only
	return readShared(ctx, preparedTx{p: db.sync, x: x}, c, cursor)
}

// gatePart is gate g's own part for a delta sh: the one read before while nothing has
// changed it, else read now.
func (h *ChangeHub) gatePart(ctx context.Context, g access.GateIdentity, sh sharedSync) (gatePart, error) {
	h.mu.Lock()
	hg := h.gateLocked(g.ID)
	want := h.wantLocked(hg.changed)
	if p := hg.part; p != nil && p.start > want && time.Since(p.at) < partTTL && sh.reread[g.ID] <= p.v.head {
		h.mu.Unlock()
		return p.v, nil
	}
	h.tick++
	start := h.tick
	h.mu.Unlock()
	h.reads.parts.Add(1)
	part, err := readGatePart(ctx, poolQ{h.db.sync}, g, false)
	if err != nil {
		return part, err
	}
	h.mu.Lock()
	if hg.part == nil || hg.part.start < start {
		hg.part = &hubValue[gatePart]{v: part, start: start, at: time.Now()}
	}
	h.mu.Unlock()
	return part, nil
}

// full answers a snapshot: the gate's own part and its face snapshot are read in one
// transaction with the community's newest change; the community's part computed once
// (sh) is used when that is still its newest, else the transaction reads it too.
func (h *ChangeHub) full(ctx context.Context, g access.GateIdentity, req access.SyncRequest, sh sharedSync) (access.GateSync, bool, error) {
	// Before the transaction: it may read on the same pool, and a reader holding one
	// connection while waiting for a second starves the pool.
	kids, err := h.foreignKIDs(ctx, g.Community, req.KIDAfter)
	if err != nil {
		return access.GateSync{}, false, err
	}
	x, release, err := h.db.sync.begin(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return access.GateSync{}, false, fmt.Errorf("sync: %w", err)
	}
	defer release()
	defer x.Rollback() //nolint:errcheck // read-only
	q := preparedTx{p: h.db.sync, x: x}
	part, err := readGatePart(ctx, q, g, true)
	if err != nil {
		return access.GateSync{}, false, err
	}
	if part.head != sh.head {
		if sh, err = readShared(ctx, q, g.Community, 0); err != nil {
			return access.GateSync{}, false, err
		}
	}
	out, changed := assemble(sh, part, kids)
	return out, changed, nil
}

// foreignKIDs lists other communities' key ids past after. Almost always there are none
// (the gate knows them all): the largest kid of the deployment, kept until a key
// changes, says so without a query.
func (h *ChangeHub) foreignKIDs(ctx context.Context, c uuid.UUID, after *uint32) ([]uint32, error) {
	if after == nil {
		return []uint32{}, nil
	}
	h.mu.Lock()
	want := h.wantLocked(h.keysAt)
	m := h.maxKID
	// While the listener is not live, one read every PollEvery: foreign ids only name
	// other estates' codes, and a thousand polls starting must not each read it.
	if m != nil && ((m.start > want && time.Since(m.at) < sharedTTL) || (!h.live && time.Since(m.at) < PollEvery)) {
		h.mu.Unlock()
		if int64(*after) >= m.v {
			return []uint32{}, nil
		}
		return foreignKIDs(ctx, poolQ{h.db.sync}, c, after)
	}
	h.tick++
	start := h.tick
	h.mu.Unlock()
	h.reads.kids.Add(1)
	var largest int64
	if err := h.db.sync.get(ctx, &largest, `SELECT coalesce(max(kid), 0) FROM signing_keys`); err != nil {
		return nil, fmt.Errorf("sync largest kid: %w", err)
	}
	h.mu.Lock()
	if h.maxKID == nil || h.maxKID.start < start {
		h.maxKID = &hubValue[int64]{v: largest, start: start, at: time.Now()}
	}
	h.mu.Unlock()
	if int64(*after) >= largest {
		return []uint32{}, nil
	}
	return foreignKIDs(ctx, poolQ{h.db.sync}, c, after)
}

// GateStateChanged tells every server's hub that gate g's own part changed without a
// change row (its command acknowledged), so that none sends the acknowledged command
// again; this process's forgets at once.
func (h *ChangeHub) GateStateChanged(ctx context.Context, g access.GateIdentity) error {
	h.mu.Lock()
	h.tick++
	h.gateLocked(g.ID).changed = h.tick
	h.mu.Unlock()
	payload := g.Community.String() + " - " + g.ID.String() + " " + kindAck
	var ignored string
	if err := h.db.writes.get(WithWork(ctx, GateWriteWork), &ignored, `SELECT pg_notify('gatepass_changes', $1)::text`, payload); err != nil {
		return fmt.Errorf("notify gate state: %w", err)
	}
	return nil
}

// poolQ runs a reader's statements on a pool, each within its bounded wait.
type poolQ struct{ p *pool }

func (q poolQ) GetContext(ctx context.Context, dest any, query string, args ...any) error {
	return q.p.get(ctx, dest, query, args...)
}

func (q poolQ) SelectContext(ctx context.Context, dest any, query string, args ...any) error {
	return q.p.sel(ctx, dest, query, args...)
}

// notifyPayload is the notification of a change row (ChangeHub.notified reads it).
func notifyPayload(c uuid.UUID, seq int64, gate uuid.UUID, kind string) string {
	g := "-"
	if gate != uuid.Nil {
		g = gate.String()
	}
	return c.String() + " " + strconv.FormatInt(seq, 10) + " " + g + " " + kind
}
