package agent

import (
	"context"
	"crypto/ecdh"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"gatepass/internal/face"
	"gatepass/internal/gate"
	"gatepass/internal/gateapi"
)

// faces is the gate's face side (docs/face-entry.md): templates arrive sealed to the
// gate's box key and stay sealed on disk; the matcher holds the opened ones in memory.
type faces struct {
	key     *ecdh.PrivateKey
	matcher *face.Matcher
}

// loadFaces opens the box key and puts every stored template into a new matcher.
func (a *Agent) loadFaces() (*face.Matcher, error) {
	m, err := face.NewMatcher(face.DefaultThreshold)
	if err != nil {
		return nil, err
	}
	err = a.local.EachFace(func(resident uuid.UUID, model string, sealed []byte) {
		a.putFace(m, resident, model, sealed)
	})
	return m, err
}

func (a *Agent) binding(resident uuid.UUID, model string) face.Binding {
	return face.Binding{Community: a.reg.Gate.Community, Gate: a.reg.Gate.ID, Resident: resident, Model: model}
}

func (a *Agent) putFace(m *face.Matcher, resident uuid.UUID, model string, sealed []byte) {
	if err := m.PutSealed(sealed, a.faceKey, a.binding(resident, model)); err != nil {
		// A blob that does not open for this gate is skipped, never trusted.
		a.cfg.Log.Warn("face template refused", "resident", resident, "err", err)
	}
}

// applyFaces updates the matcher after a sync was stored, then acknowledges purges.
func (a *Agent) applyFaces(ctx context.Context, s *gateapi.Sync) {
	if s.Full {
		m, err := a.loadFaces()
		if err != nil {
			a.cfg.Log.Error("face templates", "err", err)
		} else {
			a.matcher.Store(m)
		}
	} else {
		m := a.matcher.Load()
		for _, p := range s.FacePurges {
			m.Remove(p.Resident)
		}
		for _, t := range s.FaceTemplates {
			a.putFace(m, t.Resident, t.Model, t.Sealed)
		}
	}
	a.ackPurges(ctx)
}

// ackPurges acknowledges every purge carried out and not yet confirmed; the deletion is
// on disk already. Failures are retried after the next sync.
func (a *Agent) ackPurges(ctx context.Context) {
	ids, err := a.local.PendingPurgeAcks()
	if err != nil {
		a.cfg.Log.Error("purge acks", "err", err)
		return
	}
	for _, id := range ids {
		err := a.do(ctx, a.client, http.MethodPost, "/gate/v1/face-purges/"+id.String()+"/ack", map[string]any{}, nil)
		var ae *apiError
		if err == nil || (errors.As(err, &ae) && ae.status == http.StatusNotFound) {
			_ = a.local.PurgeAcked(id)
			continue
		}
		a.cfg.Log.Warn("purge ack", "purge", id, "err", err)
	}
}

// errProbe is a probe the reader sent wrong (400/422 for the local HTTP caller).
type errProbe struct{ err error }

func (e errProbe) Error() string { return e.err.Error() }

// Face decides a face probe from the reader: the embedding is matched 1:N against the
// templates held, then wiped; it is never logged or stored. The event carries the
// resident and the score.
func (a *Agent) Face(ctx context.Context, p face.ProbeRequest) (Outcome, error) {
	t, err := p.Check()
	noLiveness := errors.Is(err, face.ErrNoLiveness)
	if err != nil && !noLiveness {
		return Outcome{}, errProbe{err}
	}
	defer t.Wipe()
	var res face.Result
	if !noLiveness {
		if res, err = a.matcher.Load().Match(t); err != nil {
			return Outcome{}, errProbe{err}
		}
	}
	a.mu.Lock()
	now := a.Now()
	dec := a.decider.DecideFace(gate.Face{Live: !noLiveness, Matched: res.Matched, Resident: res.Resident}, now)
	ev := a.event(now, "face", dec)
	if !noLiveness {
		score := res.Score
		ev.Score = &score
	}
	if res.Matched {
		r := res.Resident
		ev.Resident, ev.Subject = &r, "resident"
	}
	var passback = a.decider.State().Policy.PassbackUntil(now)
	if err := a.local.Commit(ev, dec, passback, nil); err != nil {
		a.mu.Unlock()
		a.cfg.Log.Error("store face event; door not opened", "err", err)
		return Outcome{Result: "denied", Reason: "store_failed"}, fmt.Errorf("store face event: %w", err)
	}
	a.decider.Record(dec, now)
	a.mu.Unlock()
	a.kickUpload()
	a.cfg.Log.Info("face", "result", ev.Result, "reason", ev.Reason, "resident", ev.Resident, "event", ev.ID)
	if dec.Granted {
		a.open(ctx, ev)
	}
	a.feedback(ctx, ev.Result, ev.Reason)
	return Outcome{EventID: ev.ID, Result: ev.Result, Reason: ev.Reason, Score: ev.Score}, nil
}
