package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/gate"
	"gatepass/internal/gateapi"
)

// Outcome is what a presentation led to, for inputs that answer (local HTTP).
type Outcome struct {
	EventID    uuid.UUID  `json:"event_id,omitempty"`
	Result     string     `json:"result"`
	Reason     string     `json:"reason"`
	Duplicate  bool       `json:"duplicate_read,omitempty"`
	Credential *uuid.UUID `json:"credential_id,omitempty"`
	Stale      bool       `json:"stale,omitempty"`
	Score      *float32   `json:"score,omitempty"`
	// Detail says why an input was refused before it was parsed (too long, empty).
	Detail string `json:"detail,omitempty"`
	// Suppressed: a denial past its input's flood limit, decided and answered but not
	// recorded on its own (its count goes into a flood_suppressed event).
	Suppressed bool `json:"suppressed,omitempty"`
}

// admission is one presentation at the door (a code, a face, a staff release) as its
// input knows it; admit carries it out.
type admission struct {
	method string // the event's method: qr, face or manual
	// decide asks package gate at the gate's time, under a.mu, so that no other
	// decision changes the replay and passback caches between deciding and recording.
	decide func(now time.Time) gate.Decision
	// What only the input knows, for the event: the matched resident and the score of a
	// face, the staff member behind a release.
	resident *uuid.UUID
	score    *float32
	staff    *uuid.UUID
	// done, when set, is the command this decision carries out. It is committed with the
	// event, so a release delivered again after a crash is answered, never repeated.
	done func(dec gate.Decision, now time.Time) doneCommand
	// atReader: someone at the reader waits for the beep or light of the feedback
	// program. A staff release is made from afar and has no one to answer.
	atReader bool
	log      string // the log line's message
	logArgs  []any  // what the input adds to the log line (source, command)
	// flood is the input whose denials are rate limited (gate.Flood); empty: none (a
	// face reader's and a staff release's decisions are always recorded).
	flood string
}

// admit is the one path of every door decision: decide, commit the event (with a
// grant's replay and passback entries and the command it carries out) in one fsynced
// transaction, remember the grant in memory, then queue the door's pulse and answer the
// reader. The door opens only after the commit: without a durable record it stays shut.
func (a *Agent) admit(ad admission) (Outcome, error) {
	a.mu.Lock()
	now := a.Now()
	dec := ad.decide(now)
	if !dec.Granted && ad.flood != "" && !a.flood.Record(ad.flood, now) {
		// Past the input's limit: answered, not stored, no beep; counted for the
		// summary event (summariseFloods).
		a.mu.Unlock()
		a.dropped.Add(1)
		out := Outcome{Result: "denied", Reason: string(dec.Reason), Stale: dec.Stale, Suppressed: true}
		if dec.Verified {
			id := dec.Claims.CredentialID
			out.Credential = &id
		}
		return out, nil
	}
	ev := a.event(now, &ad, dec)
	var passback time.Time
	if st := a.decider.State(); st != nil && dec.Granted {
		passback = st.Policy.PassbackUntil(now)
	}
	var done *doneCommand
	if ad.done != nil {
		d := ad.done(dec, now)
		done = &d
	}
	if err := a.local.Commit(ev, dec, passback, done); err != nil {
		a.mu.Unlock()
		// The door stays shut. The attempt keeps its id: the answer and the log line name
		// it, and the server hears of it under that id (from memory: the disk refused it).
		a.storage.failed(err, refusedEvent(ev))
		a.kickUpload()
		a.cfg.Log.Error("store event; door not opened", "method", ad.method, "event", ev.ID, "err", err)
		return Outcome{EventID: ev.ID, Result: "denied", Reason: reasonStoreFailed, Credential: ev.Credential,
			Detail: "the gate could not store the event; the door stayed shut"}, fmt.Errorf("store %s event: %w", ad.method, err)
	}
	a.storage.stored()
	a.decider.Record(dec, now)
	a.mu.Unlock()
	a.kickUpload()
	a.cfg.Log.Info(ad.log, append(ad.logArgs, "result", ev.Result, "reason", ev.Reason, "credential", ev.Credential,
		"resident", ev.Resident, "offline", ev.Offline, "stale", ev.Stale, "event", ev.ID, "detail", errString(dec.Detail))...)
	// The pulse and the beep run on the agent's context, queued: the answer goes now, and
	// a reader that hangs up cannot cut the pulse (outputs).
	if dec.Granted {
		a.pulses.run(func(ctx context.Context) { a.open(ctx, ev) })
	}
	if ad.atReader {
		a.beep.run(func(ctx context.Context) { a.feedback(ctx, ev.Result, ev.Reason) })
	}
	return Outcome{EventID: ev.ID, Result: ev.Result, Reason: ev.Reason, Credential: ev.Credential, Stale: ev.Stale, Score: ev.Score}, nil
}

// Read decides one input as read by a channel (gate.Frame: a line with its ending, an
// HTTP body; cut: it went on past what was read) and carries it out. Its error is
// gate.ErrEmpty for a blank input (no decision, no event), gate.ErrOversize for one the
// gate refused unread (decided and recorded as malformed), or a storage failure.
func (a *Agent) Read(source string, raw []byte, cut bool) (Outcome, error) {
	text, err := gate.Frame(raw, cut)
	switch {
	case errors.Is(err, gate.ErrEmpty):
		return Outcome{Result: "ignored", Reason: "empty", Detail: err.Error()}, err
	case err != nil:
		out, serr := a.admit(admission{
			method:   "qr",
			decide:   func(time.Time) gate.Decision { return gate.Refusal(err) },
			atReader: true,
			log:      "scan",
			logArgs:  []any{"source", source},
			flood:    floodKey(source),
		})
		if serr != nil {
			return out, serr
		}
		out.Detail = err.Error()
		return out, err
	}
	return a.Scan(source, text)
}

// Scan decides one read from input source and carries it out. A repeated read (gate.Reads)
// is answered without an event: it is the same person's same scan.
func (a *Agent) Scan(source, text string) (Outcome, error) {
	if a.reads.Repeat(source, text, a.Now()) {
		return Outcome{Result: "ignored", Reason: string(gate.DuplicateRead), Duplicate: true}, nil
	}
	return a.admit(admission{
		method:   "qr",
		decide:   func(now time.Time) gate.Decision { return a.decider.Decide(text, now) },
		atReader: true,
		log:      "scan",
		logArgs:  []any{"source", source},
		flood:    floodKey(source),
	})
}

// Check decides text as the gate would now for an installer (gate-agent check, POST
// /check), framed as any input is: it makes no event, opens nothing and is not
// remembered as a read. Its error is gate.ErrEmpty for a blank text (no decision).
func (a *Agent) Check(text string) (gate.Decision, error) {
	return a.CheckInput([]byte(text), false)
}

// CheckInput is Check of a channel's raw input (see Read). An oversize one is refused
// with gate.ErrOversize and its decision.
func (a *Agent) CheckInput(raw []byte, cut bool) (gate.Decision, error) {
	text, err := gate.Frame(raw, cut)
	switch {
	case errors.Is(err, gate.ErrEmpty):
		return gate.Decision{}, err
	case err != nil:
		return gate.Refusal(err), err
	}
	return a.decider.Decide(text, a.Now()), nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// event is the entry event of one decision. Its id is made here, at the gate, so the
// server can store an event uploaded twice only once.
func (a *Agent) event(now time.Time, ad *admission, dec gate.Decision) gateapi.Event {
	ev := gateapi.Event{
		ID: uuid.Must(uuid.NewV7()), OccurredAt: now.UTC(), GateID: a.reg.Gate.ID, Method: ad.method,
		Result: "denied", Reason: string(dec.Reason), Offline: !a.contact.online(), Stale: dec.Stale,
		Staff: ad.staff, Score: ad.score, OfflineLimit: dec.OfflineLimit,
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
	if ad.resident != nil {
		ev.Resident, ev.Subject = ad.resident, "resident"
	}
	return ev
}

func (a *Agent) pulse() time.Duration {
	if a.cfg.PulseOverride > 0 {
		return a.cfg.PulseOverride
	}
	return a.gateInfo.Load().Settings.WithDefaults().Pulse()
}

// open opens the door for a granted event: a door behind a controller on the network
// through the door worker (doorevents.go), never waiting for its answer; any other here.
func (a *Agent) open(ctx context.Context, ev gateapi.Event) {
	if a.door.queue != nil {
		a.openRemote(ev)
		return
	}
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

// floodKey is the flood limit's key of an input source: a TCP input's connections from
// one host share it, so a flood cannot make itself new sources by reconnecting.
func floodKey(source string) string {
	if rest, ok := strings.CutPrefix(source, "tcp:"); ok {
		return "tcp:" + remoteHost(rest)
	}
	return source
}

// summariseFloods records one flood_suppressed event per source whose dropped denials
// are due (gate.Flood.Due); final: all of them (the agent stops). A summary is stored
// like any event; if the disk fails, its count is logged.
func (a *Agent) summariseFloods(final bool) {
	for _, d := range a.flood.Due(a.Now(), final) {
		n := d.Count
		ev := gateapi.Event{ID: uuid.Must(uuid.NewV7()), OccurredAt: d.First.UTC(), GateID: a.reg.Gate.ID, Method: "qr",
			Result: "denied", Reason: string(gate.FloodSuppressed), Offline: !a.contact.online(), Dropped: &n}
		a.mu.Lock()
		err := a.local.Commit(ev, gate.Decision{}, time.Time{}, nil)
		a.mu.Unlock()
		if err != nil {
			a.storage.failed(err, &ev) // the count goes to the server from memory
		}
		a.cfg.Log.Warn("denied reads not recorded one by one: a flood at an input", "source", d.Source, "dropped", n,
			"from", d.First.UTC(), "to", d.Last.UTC(), "event", ev.ID, "err", err)
		a.kickUpload()
	}
}
