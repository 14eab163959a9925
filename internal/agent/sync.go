package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/gate"
	"gatepass/internal/gateapi"
)

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
			var ae *apiError
			if errors.As(err, &ae) && ae.status == http.StatusUnauthorized {
				// Staff disabled the gate (or it was registered again elsewhere): it keeps
				// deciding on what it has, flagged stale in time, and says so loudly.
				a.cfg.Log.Error("gate token refused: disabled by staff or re-enrolled", "attempt", fails+1)
			} else {
				a.cfg.Log.Warn("sync failed", "err", err, "attempt", fails+1)
			}
			sleep(ctx, retryDelay(err, fails, a.cfg.MaxBackoff))
			fails++
			if retryAfterOf(err) > 0 {
				fails = 0 // the server is up: when it fails otherwise, start again from 200 ms
			}
			continue
		}
		fails = 0
	}
}

// syncAnswer is a sync answer as the gate reads it: a held one (keepalive=1) that
// failed after its 200 carries an error instead.
type syncAnswer struct {
	gateapi.Sync
	Error *gateapi.SyncError `json:"error"`
}

// SyncOnce runs one sync request (a long poll when wait > 0) and applies it.
func (a *Agent) SyncOnce(ctx context.Context, wait time.Duration) (bool, error) {
	cursor, _, _, err := a.local.LastSync()
	if err != nil {
		return false, err
	}
	if a.syncedAt.Load() == 0 {
		cursor = 0
	}
	kidAfter, err := a.local.KIDAfter()
	if err != nil {
		return false, err
	}
	// keepalive=1: while the server holds the answer it sends a byte a second, which
	// keeps the gate online (online.go) for as long as the server is there.
	var ans syncAnswer
	path := fmt.Sprintf("/gate/v1/sync?cursor=%d&wait=%s&kid_after=%d&keepalive=1", cursor, wait, kidAfter)
	err = a.send(ctx, a.poll, http.MethodGet, path, nil, &ans, a.contact.keepalives)
	if err == nil && ans.Error != nil {
		err = &apiError{status: ans.Error.Status, body: ans.Error.Code + ": " + ans.Error.Message,
			retryAfter: time.Duration(ans.Error.RetryAfter) * time.Second}
	}
	if err != nil {
		a.contact.outcome(ctx, err)
		return false, fmt.Errorf("sync: %w", err)
	}
	out := &ans.Sync
	got := a.Now()
	// The server stamps server_time just before answering: compare with the arrival. A
	// snapshot's transfer time would read as a clock jump, so only deltas measure one.
	jumped := a.clock.measure(a.cfg.Log, got.Sub(out.ServerTime), out.Gate.Settings.WithDefaults().Skew(), !out.Full)
	if err := a.local.ApplySync(out, got, a.clock.preciseBase(), jumped); err != nil {
		return false, fmt.Errorf("apply sync: %w", err)
	}
	a.clock.synced(out.ServerTime, got)
	a.stateMu.Lock() // housekeeping's pruning swaps the state too (Agent.prune)
	st, err := a.local.LoadStateFrom(out, a.decider.State(), got)
	if errors.Is(err, ErrRules) {
		a.cfg.Log.Error("sync: keeping the last access rules", "err", err)
		err = nil
	}
	if err == nil {
		a.decider.SetState(st)
	}
	a.stateMu.Unlock()
	if err != nil {
		return false, err
	}
	// A copy: the answer is dropped below after a big snapshot, and a pointer into it
	// would keep it all alive (or see it zeroed).
	info := out.Gate
	a.gateInfo.Store(&info)

	a.syncedAt.Store(got.UnixNano())
	a.contact.answered()  // only now: decisions from here on use what this sync brought
	a.keepLocalFaces(out) // templates enrolled on this gate (enrol.go)
	a.applyFaces(ctx, out)
	a.commands(ctx, out)
	if out.Full && len(out.Revocations) > 10000 {
		// A big snapshot leaves its decoding garbage behind; give it back to the OS now
		// rather than carry it as resident memory on a small gate box.
		more := out.More
		ans = syncAnswer{}
		debug.FreeOSMemory()
		return more, nil
	}
	return out.More, nil
}

// commands acts on the pending commands of a sync (manual releases, face enrolment
// sessions) and acknowledges each with its result. A command is acted on at most once,
// ever: its result is on disk before the ack, and a command delivered again gets it.
func (a *Agent) commands(ctx context.Context, s *gateapi.Sync) {
	for _, c := range s.Commands {
		result := a.command(ctx, c, s.ServerTime)
		if result == "" {
			continue // an enrolment session still open: acked when it ends
		}
		a.ackCommand(ctx, c.ID, result)
	}
}

func (a *Agent) ackCommand(ctx context.Context, id uuid.UUID, result string) {
	if err := a.do(ctx, a.client, http.MethodPost, "/gate/v1/commands/"+id.String()+"/ack",
		gateapi.CommandAck{Result: &result}, nil); err != nil {
		// Pending still: it comes again with the next sync and is acked then with the
		// result recorded here.
		a.cfg.Log.Warn("command ack", "command", id, "err", err)
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
	return a.release(c, serverNow)
}

// release carries out a staff manual release through the same path as a scan; serverNow
// is the server's clock when it handed the release over (gate.DecideRelease).
func (a *Agent) release(c gateapi.Command, serverNow time.Time) string {
	var result string
	_, err := a.admit(admission{
		method: "manual",
		decide: func(time.Time) gate.Decision { return gate.DecideRelease(c.CreatedAt, serverNow) },
		staff:  c.CreatedBy,
		done: func(dec gate.Decision, now time.Time) doneCommand {
			result = gateapi.ResultExecuted
			if !dec.Granted {
				result = gateapi.ResultTooOld
			}
			return doneCommand{ID: c.ID, Result: result, At: now}
		},
		log:     "manual release",
		logArgs: []any{"command", c.ID, "age", serverNow.Sub(c.CreatedAt), "staff", c.CreatedBy},
	})
	if err != nil {
		return "failed"
	}
	return result
}
