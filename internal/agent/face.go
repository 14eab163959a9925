package agent

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/face"
	"gatepass/internal/gate"
	"gatepass/internal/gateapi"
)

// The gate's face side (docs/face-entry.md): templates arrive sealed to the gate's box
// key and stay sealed on disk; the matcher holds the opened ones in memory.

// loadFaces opens every stored template with the box key into a new matcher.
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

// Face decides a face probe from the reader and carries it out. The embedding is
// matched 1:N against the templates held, then wiped; it is never logged or stored. A
// probe without liveness is not matched at all (gate.DecideFace refuses it whatever it
// would match), so its event has no score.
func (a *Agent) Face(p face.ProbeRequest) (Outcome, error) {
	t, err := p.Check()
	live := !errors.Is(err, face.ErrNoLiveness)
	if err != nil && live {
		return Outcome{}, errProbe{err}
	}
	defer t.Wipe()
	ad := admission{method: "face", atReader: true, log: "face"}
	var res face.Result
	if live {
		if res, err = a.matcher.Load().Match(t); err != nil {
			return Outcome{}, errProbe{err}
		}
		ad.score = &res.Score
	}
	if res.Matched {
		ad.resident = &res.Resident
	}
	ad.decide = func(now time.Time) gate.Decision {
		return a.decider.DecideFace(gate.Face{Live: live, Matched: res.Matched, Resident: res.Resident}, now)
	}
	return a.admit(ad)
}
