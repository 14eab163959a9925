package agent

// Doors behind a networked controller (uhppote.go): granted openings are sent off the
// decision's path and what the controller answered is recorded; the controller's own event
// log (forced open, held open, exit button) becomes door events, each exactly once; its
// clock is read and its drift reported beside the gate's own offset.

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"gatepass/internal/gate"
	"gatepass/internal/gateapi"
)

// Door event reasons (gateapi.DoorReasons gives each its result).
const (
	DoorForcedOpen = gateapi.DoorForcedOpen
	DoorHeldOpen   = gateapi.DoorHeldOpen
	DoorExitButton = gateapi.DoorExitButton
	DoorLocalCard  = gateapi.DoorLocalCard
)

// ErrDoorNotSent: a granted opening was not sent to the controller because the openings
// before it were still waiting for its answer; by the time it could go, the person who
// was granted has gone, and a door opening for nobody is worse than none.
var ErrDoorNotSent = errors.New("the opening was not sent: the controller had not answered the ones before it")

// RemoteDoor is a door behind a controller on the network, which answers each opening
// (opened, refused) or stays silent. The agent opens it on a worker of its own, so that a
// controller that does not answer never delays the next decision, and records a door
// event when a granted opening did not open.
type RemoteDoor interface {
	Door
	Remote()
}

// DoorRecord is one record of a door controller's numbered event log.
type DoorRecord struct {
	Index uint32
	Door  uint8     // the controller's door it is about
	Kind  string    // the door event reason the agent reports; "": not reported
	At    time.Time // the controller's clock (zero: not set)
	Gone  bool      // overwritten before it was read, or not there
}

// DoorMonitor is a door driver that also reads its controller: the numbered event log,
// pushed events and the clock.
type DoorMonitor interface {
	// Controller names the controller (the log cursor's key).
	Controller() string
	// DoorNumber is the controller's door this gate drives; other doors' records are skipped.
	DoorNumber() uint8
	// Latest is the index of the newest record (0: none).
	Latest(ctx context.Context) (uint32, error)
	// Record reads one record by index.
	Record(ctx context.Context, index uint32) (DoorRecord, error)
	// Watch sends records as the controller pushes them until ctx ends; it returns nil
	// at once when the driver only polls.
	Watch(ctx context.Context, out chan<- DoorRecord) error
	// Clock reads the controller's clock.
	Clock(ctx context.Context) (time.Time, error)
}

const (
	doorQueueLen = 4               // granted openings waiting for the door worker
	doorMaxWait  = 3 * time.Second // an opening that waited longer is not sent
	doorBatch    = 200             // records read from the controller's log in one round
	// doorDriftAlarm: a controller clock off by more than this is logged as a warning
	// (its records' times are corrected by the drift, but staff should set it).
	doorDriftAlarm = 30 * time.Second
)

// doorNamespace makes the ids of door events from what they are about (the grant's event,
// or controller + generation + index), so that the same fact is the same event id.
var doorNamespace = uuid.MustParse("6f1d3c1e-7b7e-4c55-9a0e-19d0a5a1b019")

// doorState is the agent's side of a remote door.
type doorState struct {
	queue   chan doorJob // nil: the door is opened on the decision's goroutine
	stop    context.CancelFunc
	done    chan struct{}
	driftMS clockDrift
}

type doorJob struct {
	ev gateapi.Event
	at time.Time // when the grant was decided (monotonic)
}

// clockDrift is the controller's clock minus the gate's, once measured.
type clockDrift struct {
	ms       atomic.Int64
	measured atomic.Bool
}

// report is the drift in ms, or nil when it was never measured.
func (c *clockDrift) report() *int64 {
	if !c.measured.Load() {
		return nil
	}
	v := c.ms.Load()
	return &v
}

// startDoor starts the door worker of a remote door.
func (a *Agent) startDoor() {
	if _, ok := a.cfg.Door.(RemoteDoor); !ok {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.door.queue, a.door.stop, a.door.done = make(chan doorJob, doorQueueLen), cancel, make(chan struct{})
	go func() {
		defer close(a.door.done)
		for {
			select {
			case <-ctx.Done():
				return
			case j := <-a.door.queue:
				var err error
				if wait := time.Since(j.at); wait > doorMaxWait {
					err = fmt.Errorf("waited %v: %w", wait.Round(time.Millisecond), ErrDoorNotSent)
				} else {
					err = a.cfg.Door.Open(ctx, a.pulse())
				}
				a.doorOutcome(j.ev, err)
			}
		}
	}()
}

// stopDoor ends the door worker (openings still queued are not sent: the agent stops).
func (a *Agent) stopDoor() {
	if a.door.stop != nil {
		a.door.stop()
		<-a.door.done
	}
}

// openRemote hands a granted opening to the door worker without waiting.
func (a *Agent) openRemote(ev gateapi.Event) {
	select {
	case a.door.queue <- doorJob{ev: ev, at: time.Now()}:
	default:
		a.doorOutcome(ev, fmt.Errorf("%d openings wait: %w", doorQueueLen, ErrDoorNotSent))
	}
}

// doorReason is the door event reason of an opening's failure.
func doorReason(err error) string {
	switch {
	case errors.Is(err, ErrDoorRefused):
		return gateapi.DoorRefused
	case errors.Is(err, ErrDoorBadAnswer):
		return gateapi.DoorBadAnswer
	case errors.Is(err, ErrDoorNotSent):
		return gateapi.DoorNotSent
	}
	return gateapi.DoorNoAnswer
}

// doorOutcome logs what the controller answered to a granted opening and, unless it
// opened, records a door event beside the grant: the grant itself was stored before the
// door was asked (nothing opens without a record), so the answer is a fact of its own.
func (a *Agent) doorOutcome(grant gateapi.Event, err error) {
	if err == nil {
		a.cfg.Log.Info("door opened", "event", grant.ID, "door", fmt.Sprint(a.cfg.Door))
		return
	}
	if errors.Is(err, context.Canceled) {
		a.cfg.Log.Warn("door: the agent stopped before the controller answered", "event", grant.ID, "err", err)
		return
	}
	reason := doorReason(err)
	ev := gateapi.Event{ID: uuid.NewSHA1(doorNamespace, append(grant.ID[:], "door"...)), OccurredAt: a.Now().UTC(),
		GateID: grant.GateID, Method: gateapi.MethodDoor, Result: gateapi.DoorReasons[reason], Reason: reason,
		Offline: !a.contact.online(), Credential: grant.Credential, Subject: grant.Subject, Staff: grant.Staff}
	serr := a.local.Commit(ev, gate.Decision{}, time.Time{}, nil)
	a.cfg.Log.Warn("door did not open for a granted entry", "reason", reason, "grant", grant.ID, "event", ev.ID,
		"credential", grant.Credential, "err", err, "store_err", serr)
	a.kickUpload()
}

// doorCursor is how far the agent has read a controller's log. Generation counts the
// times the controller's log went back to lower indices (reset, replaced memory), so
// that an index read again in a new generation is a new fact with a new event id.
type doorCursor struct {
	Index      uint32 `json:"index"`
	Generation uint32 `json:"generation"`
}

var bDoorLog = []byte("door_log") // controller name -> JSON doorCursor

// DoorCursor is how far the log of controller ctrl has been read (ok false: never).
func (s *LocalDB) DoorCursor(ctrl string) (c doorCursor, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bDoorLog)
		if b == nil {
			return nil
		}
		raw := b.Get([]byte(ctrl))
		if raw == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(raw, &c)
	})
	if err != nil {
		err = fmt.Errorf("door cursor: %w", err)
	}
	return c, ok, err
}

// CommitDoor stores a controller's log cursor and, when set, the door event of the
// record it points at, in one fsynced transaction: a record is reported once, or (after
// a crash before the commit) read and reported again with the same id.
func (s *LocalDB) CommitDoor(ctrl string, c doorCursor, ev *gateapi.Event) error {
	raw, err := json.Marshal(c)
	if err != nil {
		return err
	}
	var evRaw []byte
	if ev != nil {
		if evRaw, err = json.Marshal(ev); err != nil {
			return err
		}
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bDoorLog)
		if err != nil {
			return err
		}
		if ev != nil {
			if err := tx.Bucket(bEvents).Put(ev.ID[:], evRaw); err != nil {
				return err
			}
		}
		return b.Put([]byte(ctrl), raw)
	})
	if err != nil {
		return fmt.Errorf("commit door record %d: %w", c.Index, err)
	}
	return nil
}

// doorLog reads one controller's log into door events.
type doorLog struct {
	a      *Agent
	m      DoorMonitor
	ctrl   string
	cur    doorCursor
	known  bool // cur is from the store or set at start
	unsent bool // cur moved past records that were not reported and is not stored yet
	// failing: the controller did not answer the last read. The first failure is a
	// warning, the repeats every poll are debug, and the recovery is logged.
	failing bool
}

// fail logs a read of the controller that failed.
func (l *doorLog) fail(what string, err error) {
	log := l.a.cfg.Log.Warn
	if l.failing {
		log = l.a.cfg.Log.Debug
	}
	l.failing = true
	log("door events: "+what, "controller", l.ctrl, "err", err)
}

// answered notes a read of the controller that worked.
func (l *doorLog) answered() {
	if l.failing {
		l.a.cfg.Log.Info("door events: the controller answers again", "controller", l.ctrl)
	}
	l.failing = false
}

// doorEventsLoop reads the door controller's log while the agent runs: each record the
// controller pushes at once, the whole log every DoorPoll, and the clock every
// DoorClockEvery.
func (a *Agent) doorEventsLoop(ctx context.Context) {
	m, ok := a.cfg.Door.(DoorMonitor)
	if !ok {
		return
	}
	l := &doorLog{a: a, m: m, ctrl: m.Controller()}
	pushed := make(chan DoorRecord, 64)
	go func() {
		if err := m.Watch(ctx, pushed); err != nil {
			a.cfg.Log.Error("door events: listener stopped; the controller's log is still polled", "err", err)
		}
	}()
	poll := time.NewTicker(a.cfg.DoorPoll)
	defer poll.Stop()
	// The clock first: the records read next are dated by its drift.
	a.measureDoorClock(ctx, m)
	clockAt := time.Now()
	l.poll(ctx)
	for {
		select {
		case <-ctx.Done():
			l.flush()
			return
		case r := <-pushed:
			l.pushed(ctx, r)
		case <-poll.C:
			if time.Since(clockAt) >= a.cfg.DoorClockEvery {
				a.measureDoorClock(ctx, m)
				clockAt = time.Now()
			}
			l.poll(ctx)
		}
	}
}

// start loads the cursor; a controller never read before is read from its newest record
// on: what it logged before this gate drove it is not this gate's to report.
func (l *doorLog) start(ctx context.Context) bool {
	if l.known {
		return true
	}
	c, ok, err := l.a.local.DoorCursor(l.ctrl)
	if err != nil {
		l.a.cfg.Log.Error("door events", "err", err)
		return false
	}
	if !ok {
		latest, err := l.m.Latest(ctx)
		if err != nil {
			l.fail("controller not read", err)
			return false
		}
		c = doorCursor{Index: latest}
		if err := l.a.local.CommitDoor(l.ctrl, c, nil); err != nil {
			l.a.cfg.Log.Error("door events", "err", err)
			return false
		}
		l.a.cfg.Log.Info("door events: reading the controller's log from its newest record", "controller", l.ctrl, "index", latest)
	}
	l.cur, l.known = c, true
	return true
}

// poll reads the records the controller logged since the cursor (at most doorBatch).
func (l *doorLog) poll(ctx context.Context) {
	if !l.start(ctx) {
		return
	}
	latest, err := l.m.Latest(ctx)
	if err != nil {
		l.fail("controller not read", err)
		return
	}
	l.answered()
	if latest < l.cur.Index {
		// The log went back: the controller was reset or replaced under the same serial.
		// Its records from 1 on are new facts, in a new generation of ids.
		l.a.cfg.Log.Warn("door events: the controller's log restarted", "controller", l.ctrl, "was", l.cur.Index, "now", latest)
		l.cur = doorCursor{Generation: l.cur.Generation + 1}
		l.unsent = true
	}
	l.catchUp(ctx, latest)
	l.flush()
}

// pushed takes a record the controller pushed: the next one is reported at once; after a
// gap the missing ones are read first; one already read is a repeat (the controller
// sends again, or the agent read it by polling) and is dropped.
func (l *doorLog) pushed(ctx context.Context, r DoorRecord) {
	if !l.start(ctx) || r.Index <= l.cur.Index {
		return
	}
	if r.Index > l.cur.Index+1 && !l.catchUp(ctx, r.Index-1) {
		return // the gap could not be read: the next poll reads it, then this record
	}
	l.record(r) // not stored: the next poll reads it again
	l.flush()
}

// catchUp reads records after the cursor up to index to, at most doorBatch of them; it
// reports whether it reached to.
func (l *doorLog) catchUp(ctx context.Context, to uint32) bool {
	for n := 0; l.cur.Index < to; n++ {
		if n == doorBatch || ctx.Err() != nil {
			return false
		}
		r, err := l.m.Record(ctx, l.cur.Index+1)
		if err != nil {
			l.fail(fmt.Sprintf("record %d not read", l.cur.Index+1), err)
			return false
		}
		if r.Gone {
			l.a.cfg.Log.Warn("door events: record overwritten before it was read", "controller", l.ctrl, "index", r.Index)
		}
		if !l.record(r) {
			return false
		}
	}
	return true
}

// record moves the cursor past r and, if it is a door event of this gate's door, stores
// it with the cursor. Records not reported only move the cursor in memory, stored with
// the next report or at the end of the round: reading them again after a crash is
// harmless, and the decisions' disk is not made to wait for them. It reports whether
// the cursor moved.
func (l *doorLog) record(r DoorRecord) bool {
	next := doorCursor{Index: r.Index, Generation: l.cur.Generation}
	if r.Gone || r.Kind == "" || r.Door != l.m.DoorNumber() {
		l.cur, l.unsent = next, true
		return true
	}
	ev := l.a.doorRecordEvent(l.ctrl, next, r)
	if err := l.a.local.CommitDoor(l.ctrl, next, &ev); err != nil {
		// Not stored: the cursor stays, and the record is read again next round.
		l.a.cfg.Log.Error("door events", "err", err)
		return false
	}
	l.cur, l.unsent = next, false
	l.a.cfg.Log.Warn("door event", "reason", ev.Reason, "result", ev.Result, "controller", l.ctrl, "index", r.Index,
		"door", r.Door, "at", ev.OccurredAt, "controller_time", r.At, "event", ev.ID)
	l.a.kickUpload()
	return true
}

// flush stores a cursor moved only past records that were not reported.
func (l *doorLog) flush() {
	if !l.unsent {
		return
	}
	if err := l.a.local.CommitDoor(l.ctrl, l.cur, nil); err != nil {
		l.a.cfg.Log.Error("door events", "err", err)
		return
	}
	l.unsent = false
}

// doorRecordEvent is the door event of a controller record. Its id comes from the
// controller, the generation and the index, so the same record is the same event; its
// time is the controller's, corrected by the measured drift (the gate's clock is never
// set from the controller's), and never later than the gate's now.
func (a *Agent) doorRecordEvent(ctrl string, c doorCursor, r DoorRecord) gateapi.Event {
	key := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32([]byte(ctrl+"/"), c.Generation), c.Index)
	now := a.Now()
	at := now
	if !r.At.IsZero() {
		at = r.At
		if d := a.door.driftMS.report(); d != nil {
			at = at.Add(-time.Duration(*d) * time.Millisecond)
		}
		if at.After(now) {
			at = now
		}
	}
	return gateapi.Event{ID: uuid.NewSHA1(doorNamespace, key), OccurredAt: at.UTC(), GateID: a.reg.Gate.ID,
		Method: gateapi.MethodDoor, Result: gateapi.DoorReasons[r.Kind], Reason: r.Kind, Offline: !a.contact.online()}
}

// measureDoorClock reads the controller's clock against the gate's (the midpoint of the
// request). The drift is reported in status and heartbeat beside the gate's own offset;
// nothing is ever set from it.
func (a *Agent) measureDoorClock(ctx context.Context, m DoorMonitor) {
	sent := time.Now()
	gateSent := a.Now()
	t, err := m.Clock(ctx)
	if err != nil {
		a.cfg.Log.Warn("door controller clock not read", "err", err)
		return
	}
	drift := t.Sub(gateSent.Add(time.Since(sent) / 2))
	was := a.door.driftMS.report()
	a.door.driftMS.ms.Store(drift.Milliseconds())
	a.door.driftMS.measured.Store(true)
	off := func(ms *int64) bool { return ms != nil && time.Duration(abs64(*ms))*time.Millisecond > doorDriftAlarm }
	now := drift.Milliseconds()
	switch {
	case off(&now) && !off(was):
		a.cfg.Log.Warn("door controller clock is off the gate's: set it (its records are corrected meanwhile)",
			"drift", drift.Round(time.Second), "controller", m.Controller())
	case !off(&now) && off(was):
		a.cfg.Log.Info("door controller clock agrees with the gate's again", "drift", drift.Round(time.Second))
	}
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
