// Package agent is the gate-agent daemon around the door decisions of package gate: it
// carries each decision out (admit.go: commit the event, open the door), keeps the
// gate's own state in a local bbolt database (localdb.go), syncs, uploads and reports
// to the server through the gate API only (never the database), and drives scanner
// inputs, face readers and door relays. Gate registration (register.go) and face
// enrolment (enrol.go) are different things: the first puts the gate on the server, the
// second a resident's face on the gate.
package agent

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

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
}

// Agent is the running daemon.
type Agent struct {
	cfg     Config
	reg     Registration
	local   *LocalDB
	decider *gate.Decider
	client  *http.Client
	poll    *http.Client

	mu    sync.Mutex // one decision (decide, commit, record) at a time
	reads *gate.Reads

	gateInfo  atomic.Pointer[gateapi.Gate] // name, zone and settings as last synced
	faceKey   *ecdh.PrivateKey             // the box key face templates are sealed to
	matcher   atomic.Pointer[face.Matcher]
	enrol     enrolState // the open one-gate enrolment session (enrol.go)
	online    atomic.Bool
	offsetMS  atomic.Int64
	syncedAt  atomic.Int64 // unix ns of the last successful sync, gate clock
	upload    chan struct{}
	localHTTP string
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
	if cfg.Door == nil {
		cfg.Door = LogDoor{Log: cfg.Log}
	}
	reg, err := LoadRegistration(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	st, err := OpenLocalDB(filepath.Join(cfg.StateDir, localDBFile), false)
	if err != nil {
		return nil, err
	}
	a := &Agent{cfg: cfg, reg: reg, local: st, upload: make(chan struct{}, 1), reads: gate.NewReads(cfg.Dedup),
		client: &http.Client{Timeout: 20 * time.Second}, poll: &http.Client{Timeout: cfg.Wait + 15*time.Second}}
	a.gateInfo.Store(&reg.Gate)
	now := a.Now()
	mem, err := st.LoadMemory(now)
	if err != nil {
		st.Close()
		return nil, err
	}
	a.decider = gate.NewDecider(mem)
	state, err := st.LoadState(reg.Gate, now)
	if err != nil {
		st.Close()
		return nil, err
	}
	a.decider.SetState(state)
	if a.faceKey, err = face.GateKey(reg.BoxPrivateKey); err != nil {
		st.Close()
		return nil, fmt.Errorf("box key: %w", err)
	}
	m, err := a.loadFaces()
	if err != nil {
		st.Close()
		return nil, err
	}
	a.matcher.Store(m)
	if !state.SyncedAt.IsZero() {
		a.syncedAt.Store(state.SyncedAt.UnixNano())
	}
	return a, nil
}

// Close closes the local database.
func (a *Agent) Close() error { return a.local.Close() }

// LocalDB is the agent's local database (for tests and status).
func (a *Agent) LocalDB() *LocalDB { return a.local }

// Run runs the sync loop, the uploader, the heartbeat and housekeeping until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, loop := range []func(context.Context){a.syncLoop, a.uploadLoop, a.heartbeatLoop, a.housekeeping} {
		wg.Add(1)
		go func() { defer wg.Done(); loop(ctx) }()
	}
	wg.Wait()
	a.writeStatus(false)
	return nil
}

// Outcome is what a scan led to, for inputs that answer (local HTTP).
type Outcome struct {
	EventID    uuid.UUID  `json:"event_id,omitempty"`
	Result     string     `json:"result"`
	Reason     string     `json:"reason"`
	Duplicate  bool       `json:"duplicate_read,omitempty"`
	Credential *uuid.UUID `json:"credential_id,omitempty"`
	Stale      bool       `json:"stale,omitempty"`
	Score      *float32   `json:"score,omitempty"`
}

// Scan decides one read from input source, stores its event, then opens the door on a
// grant. The same text from the same source within the dedup window is one read.
func (a *Agent) Scan(ctx context.Context, source, text string) (Outcome, error) {
	if a.reads.Repeat(source, text, a.Now()) {
		return Outcome{Result: "ignored", Reason: string(gate.DuplicateRead), Duplicate: true}, nil
	}
	a.mu.Lock()
	now := a.Now()
	dec := a.decider.Decide(text, now)
	ev := a.event(now, "qr", dec)
	var passback time.Time
	if st := a.decider.State(); st != nil && dec.Granted {
		passback = st.Policy.PassbackUntil(now)
	}
	if err := a.local.Commit(ev, dec, passback, nil); err != nil {
		a.mu.Unlock()
		// Without a durable record the door stays shut.
		a.cfg.Log.Error("store event; door not opened", "err", err)
		return Outcome{Result: "denied", Reason: "store_failed"}, err
	}
	a.decider.Record(dec, now)
	a.mu.Unlock()
	a.kickUpload()
	out := Outcome{EventID: ev.ID, Result: ev.Result, Reason: ev.Reason, Credential: ev.Credential, Stale: ev.Stale}
	a.cfg.Log.Info("scan", "source", source, "result", ev.Result, "reason", ev.Reason, "credential", ev.Credential,
		"offline", ev.Offline, "stale", ev.Stale, "event", ev.ID, "detail", errString(dec.Detail))
	if dec.Granted {
		a.open(ctx, ev)
	}
	a.feedback(ctx, ev.Result, ev.Reason)
	return out, nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Check decides text as the gate would now, changing nothing and opening nothing.
func (a *Agent) Check(text string) gate.Decision {
	return a.decider.Decide(text, a.Now())
}

func (a *Agent) event(now time.Time, method string, dec gate.Decision) gateapi.Event {
	ev := gateapi.Event{
		ID: uuid.Must(uuid.NewV7()), OccurredAt: now.UTC(), GateID: a.reg.Gate.ID, Method: method,
		Result: "denied", Reason: string(dec.Reason), Offline: !a.online.Load(), Stale: dec.Stale,
	}
	if dec.Granted {
		ev.Result = "granted"
	}
	if dec.Verified {
		id := dec.Claims.CredentialID
		ev.Credential, ev.Subject = &id, dec.Claims.Subject.String()
		if dec.Granted {
			k := dec.ReplayKey
			ev.ReplayKey = k[:]
		}
	}
	return ev
}

func (a *Agent) pulse() time.Duration {
	if a.cfg.PulseOverride > 0 {
		return a.cfg.PulseOverride
	}
	return a.gateInfo.Load().Settings.WithDefaults().Pulse()
}

func (a *Agent) open(ctx context.Context, ev gateapi.Event) {
	if err := a.cfg.Door.Open(ctx, a.pulse()); err != nil {
		a.cfg.Log.Error("door", "err", err, "event", ev.ID)
	}
}

// feedback runs the configured beeper/LED program; the scanned text is never passed.
func (a *Agent) feedback(ctx context.Context, result, reason string) {
	if len(a.cfg.Feedback) == 0 {
		return
	}
	args := append(append([]string{}, a.cfg.Feedback[1:]...), result, reason)
	if err := runProgram(ctx, a.cfg.Feedback[0], args); err != nil {
		a.cfg.Log.Warn("feedback", "err", err)
	}
}

func (a *Agent) kickUpload() {
	select {
	case a.upload <- struct{}{}:
	default:
	}
}

// do sends a gate API request with the gate token and decodes a JSON answer into out.
func (a *Agent) do(ctx context.Context, c *http.Client, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.reg.Server+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.reg.Token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return &apiError{status: resp.StatusCode, body: strings.TrimSpace(string(raw))}
	}
	if out != nil {
		// Decoded as it streams: a 100,000-revocation snapshot is never held as text.
		return json.NewDecoder(io.LimitReader(resp.Body, 256<<20)).Decode(out)
	}
	return nil
}

type apiError struct {
	status int
	body   string
}

func (e *apiError) Error() string { return fmt.Sprintf("server answered %d: %s", e.status, e.body) }

// backoff is the delay before retry n (from 0): exponential up to max, with full
// jitter, so that a fleet of gates coming back does not hit the server in step.
func backoff(n int, max time.Duration) time.Duration {
	d := 200 * time.Millisecond << min(n, 10)
	if d > max || d <= 0 {
		d = max
	}
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// syncLoop keeps the local data current: long polls, applying each answer atomically.
func (a *Agent) syncLoop(ctx context.Context) {
	fails := 0
	for ctx.Err() == nil {
		// A delta with more changes waiting is simply followed by the next request,
		// which the server answers at once.
		_, err := a.SyncOnce(ctx, a.cfg.Wait)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			a.online.Store(false)
			var ae *apiError
			if errors.As(err, &ae) && ae.status == http.StatusUnauthorized {
				// Staff disabled the gate (or it was enrolled again elsewhere): it keeps
				// deciding on what it has, flagged stale in time, and says so loudly.
				a.cfg.Log.Error("gate token refused: disabled by staff or re-enrolled", "attempt", fails+1)
			} else {
				a.cfg.Log.Warn("sync failed", "err", err, "attempt", fails+1)
			}
			sleep(ctx, backoff(fails, a.cfg.MaxBackoff))
			fails++
			continue
		}
		fails = 0
	}
}

// SyncOnce runs one sync request (a long poll when wait > 0) and applies it.
func (a *Agent) SyncOnce(ctx context.Context, wait time.Duration) (bool, error) {
	cursor, err := a.local.Cursor()
	if err != nil {
		return false, err
	}
	if a.syncedAt.Load() == 0 {
		cursor = 0
	}
	var out gateapi.Sync
	if err := a.do(ctx, a.poll, http.MethodGet, fmt.Sprintf("/gate/v1/sync?cursor=%d&wait=%s", cursor, wait), nil, &out); err != nil {
		return false, fmt.Errorf("sync: %w", err)
	}
	got := a.Now()
	// The server stamps server_time just before answering: compare with the arrival.
	a.offsetMS.Store(got.Sub(out.ServerTime).Milliseconds())
	if err := a.local.ApplySync(&out, got); err != nil {
		return false, fmt.Errorf("apply sync: %w", err)
	}
	st, err := a.local.LoadStateFrom(&out, a.decider.State(), got)
	if err != nil {
		return false, err
	}
	a.decider.SetState(st)
	a.gateInfo.Store(&out.Gate)

	a.syncedAt.Store(got.UnixNano())
	a.online.Store(true)
	a.keepLocalFaces(&out) // templates enrolled on this gate (enrol.go)
	a.applyFaces(ctx, &out)
	a.commands(ctx, &out)
	if out.Full && len(out.Revocations) > 10000 {
		// A big snapshot leaves its decoding garbage behind; give it back to the OS now
		// rather than carry it as resident memory on a small gate box.
		more := out.More
		out = gateapi.Sync{}
		debug.FreeOSMemory()
		return more, nil
	}
	return out.More, nil
}

// commands acts on pending manual releases: each opens the door at most once, ever.
func (a *Agent) commands(ctx context.Context, s *gateapi.Sync) {
	for _, c := range s.Commands {
		result := a.command(ctx, c, s.ServerTime)
		if result == "" {
			continue // an enrolment session still open: acked when it ends
		}
		if err := a.do(ctx, a.client, http.MethodPost, "/gate/v1/commands/"+c.ID.String()+"/ack",
			gateapi.CommandAck{Result: &result}, nil); err != nil {
			// Pending still: it comes again with the next sync and is acked then with
			// the result recorded here.
			a.cfg.Log.Warn("command ack", "command", c.ID, "err", err)
		}
	}
}

func (a *Agent) command(ctx context.Context, c gateapi.Command, serverNow time.Time) string {
	if c.Kind == kindFaceEnrol {
		return a.faceEnrolCommand(ctx, c, serverNow)
	}
	if d, ok, err := a.local.Done(c.ID); err != nil {
		a.cfg.Log.Error("command state", "err", err)
		return "failed"
	} else if ok {
		a.cfg.Log.Info("command delivered again; not repeated", "command", c.ID, "result", d.Result)
		return d.Result
	}
	if c.Kind != "unlock" {
		_ = a.local.MarkDone(doneCommand{ID: c.ID, Result: "failed", At: a.Now()})
		return "failed"
	}
	a.mu.Lock()
	now := a.Now()
	dec := gate.DecideRelease(c.CreatedAt, serverNow)
	age := serverNow.Sub(c.CreatedAt)
	result := gateapi.ResultExecuted
	if !dec.Granted {
		result = gateapi.ResultTooOld
	}
	ev := a.event(now, "manual", dec)
	ev.Staff = c.CreatedBy
	err := a.local.Commit(ev, dec, time.Time{}, &doneCommand{ID: c.ID, Result: result, At: now})
	a.mu.Unlock()
	if err != nil {
		a.cfg.Log.Error("store release; door not opened", "err", err)
		return "failed"
	}
	a.kickUpload()
	a.cfg.Log.Info("manual release", "command", c.ID, "result", result, "age", age, "staff", c.CreatedBy)
	if dec.Granted {
		a.open(ctx, ev)
	}
	return result
}

// uploadBytes keeps a batch under the server's 64 KiB body limit.
const uploadBytes = 60 << 10

// uploadLoop sends queued events in batches, deleting only what the server acknowledged.
func (a *Agent) uploadLoop(ctx context.Context) {
	fails := 0
	for ctx.Err() == nil {
		n, err := a.UploadOnce(ctx)
		switch {
		case err != nil:
			a.cfg.Log.Warn("upload failed", "err", err, "attempt", fails+1)
			sleep(ctx, backoff(fails, a.cfg.MaxBackoff))
			fails++
		case n == 0:
			fails = 0
			select {
			case <-ctx.Done():
			case <-a.upload:
			case <-time.After(5 * time.Second):
			}
		default:
			fails = 0
		}
	}
}

// UploadOnce sends one batch; it returns how many events the server acknowledged.
func (a *Agent) UploadOnce(ctx context.Context) (int, error) {
	events, ids, err := a.local.Pending(gateapi.MaxBatch, uploadBytes)
	if err != nil || len(events) == 0 {
		return 0, err
	}
	var ack gateapi.EventsAck
	if err := a.do(ctx, a.client, http.MethodPost, "/gate/v1/events", map[string]any{"events": events}, &ack); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.status == http.StatusUnprocessableEntity {
			// One event the server will never take must not stall the queue behind it:
			// it moves to the rejected bucket (kept on disk for inspection) and the rest go.
			if i, ok := rejectedIndex(ae.body); ok && i < len(ids) {
				a.cfg.Log.Error("server refused an event; set aside", "event", ids[i], "err", err)
				if rerr := a.local.Reject(ids[i]); rerr != nil {
					return 0, fmt.Errorf("set aside refused event: %w", rerr)
				}
				a.kickUpload() // the rest of the batch goes at once
				return 0, nil
			}
		}
		return 0, fmt.Errorf("upload %d events: %w", len(events), err)
	}
	sent := make(map[uuid.UUID]bool, len(ids))
	for _, id := range ids {
		sent[id] = true
	}
	acked := ack.Acked[:0]
	for _, id := range ack.Acked {
		if sent[id] {
			acked = append(acked, id)
		}
	}
	if err := a.local.Delete(acked); err != nil {
		return 0, fmt.Errorf("delete acknowledged: %w", err)
	}
	return len(acked), nil
}

func (a *Agent) heartbeatPeriod() time.Duration {
	if a.cfg.Heartbeat > 0 {
		return a.cfg.Heartbeat
	}
	return a.gateInfo.Load().Settings.WithDefaults().Heartbeat()
}

func (a *Agent) heartbeatLoop(ctx context.Context) {
	for {
		if err := a.HeartbeatOnce(ctx); err != nil && ctx.Err() == nil {
			a.cfg.Log.Warn("heartbeat failed", "err", err)
		}
		if !sleep(ctx, a.heartbeatPeriod()) {
			return
		}
	}
}

// HeartbeatOnce reports version, queue depth and clock offset.
func (a *Agent) HeartbeatOnce(ctx context.Context) error {
	version, depth := Version, a.local.QueueDepth()
	sent := a.Now()
	var ack gateapi.HeartbeatAck
	offset := a.offsetMS.Load()
	err := a.do(ctx, a.client, http.MethodPost, "/gate/v1/heartbeat",
		gateapi.Heartbeat{AgentVersion: &version, QueueDepth: &depth, ClockOffsetMS: &offset}, &ack)
	if err != nil {
		return err
	}
	// Midpoint of the round trip against the server's stamp: the next heartbeat reports it.
	mid := sent.Add(a.Now().Sub(sent) / 2)
	a.offsetMS.Store(mid.Sub(ack.ServerTime).Milliseconds())
	return nil
}

// housekeeping prunes ended data and writes the status file.
func (a *Agent) housekeeping(ctx context.Context) {
	tick := 0
	for {
		a.writeStatus(true)
		if tick%60 == 0 {
			now := a.Now()
			if err := a.local.Prune(now); err != nil {
				a.cfg.Log.Warn("prune", "err", err)
			}
		}
		tick++
		if !sleep(ctx, 2*time.Second) {
			return
		}
	}
}

// SetLocalHTTP records the local HTTP address for the status file.
func (a *Agent) SetLocalHTTP(addr string) { a.localHTTP = addr }

func (a *Agent) writeStatus(running bool) {
	c, _ := a.local.Cursor()
	s := Status{
		Gate: *a.gateInfo.Load(), Server: a.reg.Server, Running: running, PID: os.Getpid(), UpdatedAt: time.Now().UTC(),
		Cursor: c, Online: a.online.Load(), QueueDepth: a.local.QueueDepth(), Revocations: a.local.RevocationCount(),
		ClockOffsetMS: a.offsetMS.Load(), LocalHTTP: a.localHTTP,
	}
	if ns := a.syncedAt.Load(); ns != 0 {
		s.LastSyncAt = time.Unix(0, ns).UTC()
	}
	if err := writePrivate(filepath.Join(a.cfg.StateDir, statusFile), s); err != nil {
		a.cfg.Log.Warn("status file", "err", err)
	}
}

// rejectedIndex finds N in the server's 422 answer {"error": {"field": "events[N]"}}.
func rejectedIndex(body string) (int, bool) {
	var e struct {
		Error struct {
			Field string `json:"field"`
		} `json:"error"`
	}
	if json.Unmarshal([]byte(body), &e) != nil {
		return 0, false
	}
	n, ok := strings.CutPrefix(e.Error.Field, "events[")
	if n, ok2 := strings.CutSuffix(n, "]"); ok && ok2 {
		i, err := strconv.Atoi(n)
		return i, err == nil && i >= 0
	}
	return 0, false
}
