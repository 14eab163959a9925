// Package agent is the gate-agent daemon around the door decisions of package gate: it
// carries each decision out (admit.go: commit the event, open the door), keeps the
// gate's own state in a local bbolt database (localdb.go), syncs, uploads and reports
// to the server through the gate API only (never the database), and drives scanner
// inputs, face readers and door relays. Gate registration (register.go) and face
// enrolment (enrol.go) are different things: the first puts the gate on the server, the
// second a resident's face on the gate.
package agent

import (
	"context"
	"crypto/ecdh"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"gatepass/internal/face"
	"gatepass/internal/gate"
	"gatepass/internal/gateapi"
)

// Config is how the daemon runs.
type Config struct {
	StateDir string
	Log      *slog.Logger
	Door     Door
	Feedback []string // program and arguments run with "granted|denied REASON" appended
	// ClockOffset is added to the system clock: the gate's clock, injectable for tests
	// of a gate whose clock is wrong. It is never taken from a scanned code.
	ClockOffset   time.Duration
	Wait          time.Duration // long poll wait (default 25 s)
	MaxBackoff    time.Duration // upper bound of retry delays (default 30 s)
	Heartbeat     time.Duration // overrides the server's setting when > 0
	Dedup         time.Duration // the same text from one input within this is one read (2 s)
	PulseOverride time.Duration
	// MaxConns caps the open connections of each TCP input (default 16): each costs a
	// goroutine and a read buffer, and the box has little memory.
	MaxConns int
	// IdleTimeout closes a TCP scanner connection that sent nothing for this long
	// (default 5 min); the scanner reconnects.
	IdleTimeout time.Duration
	// PruneEvery is how often ended replay, passback and revocation entries are dropped
	// (default 2 min).
	PruneEvery time.Duration
	// DoorPoll is how often a door controller's event log is read (default 2 s; records
	// it pushes are read at once); DoorClockEvery how often its clock (default 1 min).
	DoorPoll       time.Duration
	DoorClockEvery time.Duration
}

// Agent is the running daemon.
type Agent struct {
	cfg     Config
	reg     Registration
	local   *LocalDB
	decider *gate.Decider
	client  *http.Client
	poll    *http.Client

	mu sync.Mutex // one decision (decide, commit, record) at a time: see admit
	// stateMu orders the read-modify-swap of the decision state by sync and by
	// housekeeping's pruning, so neither swaps in a state built on an older one.
	stateMu sync.Mutex
	reads   *gate.Reads  // each input's last read, so a scanner's repeat is not a decision
	flood   *gate.Flood  // each input's recorded denials: a flood is summarised, not stored
	dropped atomic.Int64 // denials not recorded one by one since start (status)

	gateInfo  atomic.Pointer[gateapi.Gate] // name, zone and settings as last synced
	faceKey   *ecdh.PrivateKey             // the box key face templates are sealed to
	matcher   atomic.Pointer[face.Matcher]
	enrol     enrolState    // the open one-gate enrolment session (enrol.go)
	contact   *contact      // what the gate has heard from its server: the online flag (online.go)
	storage   storageHealth // decisions the disk refused, for status, heartbeat and server (storage.go)
	clock     clockState    // the gate's clock against the server's (clock.go)
	syncedAt  atomic.Int64  // unix ns of the last successful sync, gate clock
	upload    chan struct{}
	fresh     atomic.Int64 // events kicked since the last upload began (upload.go)
	localHTTP string
	door      doorState // a door behind a controller (doorevents.go)
	// pulses and beep run the door pulses and the feedback program in order on the
	// agent's own context (door.go: outputs), which ends when Close has run what was queued.
	pulses, beep *outputs
	endLife      context.CancelFunc
}

// Now is the gate's clock.
func (a *Agent) Now() time.Time { return time.Now().Add(a.cfg.ClockOffset) }

// Open loads a registered agent from its state directory.
func Open(cfg Config) (*Agent, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Wait == 0 {
		cfg.Wait = 25 * time.Second
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.Dedup == 0 {
		cfg.Dedup = 2 * time.Second
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = 16
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	if cfg.PruneEvery == 0 {
		cfg.PruneEvery = 2 * time.Minute
	}
	if cfg.Door == nil {
		cfg.Door = LogDoor{Log: cfg.Log}
	}
	if cfg.DoorPoll == 0 {
		cfg.DoorPoll = 2 * time.Second
	}
	if cfg.DoorClockEvery == 0 {
		cfg.DoorClockEvery = time.Minute
	}
	reg, err := LoadRegistration(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	st, err := OpenLocalDB(filepath.Join(cfg.StateDir, localDBFile), false)
	if err != nil {
		return nil, err
	}
	a := &Agent{cfg: cfg, reg: reg, local: st, upload: make(chan struct{}, 1), reads: gate.NewReads(cfg.Dedup), flood: gate.NewFlood(),
		contact: newContact(),
		client:  &http.Client{Timeout: 20 * time.Second}, poll: &http.Client{Timeout: cfg.Wait + 15*time.Second}}
	a.gateInfo.Store(&reg.Gate)
	life, end := context.WithCancel(context.Background())
	a.pulses, a.beep, a.endLife = newOutputs(life), newOutputs(life), end
	now := a.Now()
	mem, err := st.LoadMemory(now)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.decider = gate.NewDecider(mem)
	state, err := st.LoadState(reg.Gate)
	if errors.Is(err, ErrRules) {
		cfg.Log.Error("local store: access rules not applied until the next sync", "err", err)
		err = nil
	}
	if err != nil {
		a.Close()
		return nil, err
	}
	a.decider.SetState(state)
	if err := a.clock.load(st); err != nil {
		a.Close()
		return nil, err
	}
	if a.faceKey, err = face.GateKey(reg.BoxPrivateKey); err != nil {
		a.Close()
		return nil, fmt.Errorf("box key: %w", err)
	}
	m, err := a.loadFaces()
	if err != nil {
		a.Close()
		return nil, err
	}
	a.matcher.Store(m)
	if !state.SyncedAt.IsZero() {
		a.syncedAt.Store(state.SyncedAt.UnixNano())
	}
	a.startDoor()
	return a, nil
}

// Close lets the queued door pulses and feedback run, stops the controller door's
// worker, then closes the local database.
func (a *Agent) Close() error {
	a.pulses.close()
	a.beep.close()
	a.stopDoor()
	a.endLife()
	return a.local.Close()
}

// settle waits until the door pulses and feedback queued so far have run (tests).
func (a *Agent) settle() {
	a.pulses.settle()
	a.beep.settle()
}

// LocalDB is the agent's local database (for tests and status).
func (a *Agent) LocalDB() *LocalDB { return a.local }

// Run runs the sync loop, the uploader, the heartbeat and housekeeping until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, loop := range []func(context.Context){a.syncLoop, a.uploadLoop, a.heartbeatLoop, a.housekeeping, a.doorEventsLoop} {
		wg.Add(1)
		go func() { defer wg.Done(); loop(ctx) }()
	}
	wg.Wait()
	a.summariseFloods(true) // what was dropped is recorded before the agent stops
	a.writeStatus(false)
	return nil
}
