package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"gatepass/internal/face"
	"gatepass/internal/gateapi"
)

// One-gate enrolment (docs/face-entry.md): a resident with a one_gate consent starts a
// session in the app; the gate receives a face_enrol command and, until its expires_at,
// takes one template from its own reader (POST /face/enrol). The template is sealed to
// this gate's own box key and stored like a synced one, so matching, purges and restarts
// treat it alike; the server only hears that the resident is enrolled here, never the
// template.

const kindFaceEnrol = "face_enrol"

var (
	// bEnrolled holds enrolments made here whose report to the server is not confirmed
	// yet: command id (16) -> JSON enrolRecord. The command stays unacknowledged meanwhile.
	bEnrolled = []byte("enrolled")
	// bLocalFaces keeps a second copy of each blob enrolled here (resident (16) || model ->
	// JSON faceBlob, sealed): a full sync replaces the faces bucket with the server's
	// snapshot, which has no blob for them, and keepLocalFaces puts them back.
	bLocalFaces = []byte("local_faces")
)

type enrolRecord struct {
	Resident uuid.UUID `json:"resident_id"`
	Model    string    `json:"model"`
}

// enrolState is the one open session (a newer command replaces an older one: one reader,
// one person in front of it).
type enrolState struct {
	mu   sync.Mutex
	open *enrolSession
}

type enrolSession struct {
	command  uuid.UUID
	resident uuid.UUID
	model    string    // "" takes the reader's model
	until    time.Time // gate clock
}

var (
	errNoSession = errors.New("no enrolment session is open at this gate")
	// errEnrolRefused: the server refused the report (consent withdrawn or changed
	// meanwhile): the template is dropped again.
	errEnrolRefused = errors.New("the server refused the enrolment")
)

// faceEnrolCommand handles a face_enrol command from a sync. It answers the result to
// acknowledge, or "" while the session is open or its report is not confirmed (the
// command comes again with the next sync).
func (a *Agent) faceEnrolCommand(ctx context.Context, c gateapi.Command, serverNow time.Time) string {
	if d, ok, err := a.local.Done(c.ID); err != nil {
		a.cfg.Log.Error("command state", "err", err)
		return ""
	} else if ok {
		return d.Result
	}
	if rec, ok, err := a.local.enrolled(c.ID); err != nil {
		a.cfg.Log.Error("enrolment state", "err", err)
		return ""
	} else if ok {
		result, _ := a.reportEnrolment(ctx, c.ID, rec)
		return result
	}
	var p struct {
		Resident  uuid.UUID `json:"resident_id"`
		Model     string    `json:"model"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal(c.Payload, &p); err != nil || p.Resident == uuid.Nil || p.ExpiresAt.IsZero() {
		a.cfg.Log.Error("face_enrol command without resident or expiry", "command", c.ID)
		return a.enrolDone(c.ID, "failed")
	}
	// Both ends on the server's clock: the gate's own clock may be off.
	left := p.ExpiresAt.Sub(serverNow)
	if left <= 0 {
		a.cfg.Log.Info("enrolment session expired", "command", c.ID)
		return a.enrolDone(c.ID, gateapi.ResultTooOld)
	}
	a.enrol.mu.Lock()
	if a.enrol.open == nil || a.enrol.open.command != c.ID {
		a.cfg.Log.Info("enrolment session open", "command", c.ID, "resident", p.Resident, "for", left)
	}
	a.enrol.open = &enrolSession{command: c.ID, resident: p.Resident, model: p.Model, until: a.Now().Add(left)}
	a.enrol.mu.Unlock()
	return ""
}

// enrolDone closes the command's session, if open, and records its final result.
func (a *Agent) enrolDone(id uuid.UUID, result string) string {
	a.enrol.mu.Lock()
	if a.enrol.open != nil && a.enrol.open.command == id {
		a.enrol.open = nil
	}
	a.enrol.mu.Unlock()
	if err := a.local.MarkDone(doneCommand{ID: id, Result: result, At: a.Now()}); err != nil {
		a.cfg.Log.Error("command state", "err", err)
		return ""
	}
	return result
}

// EnrolOutcome is the answer of POST /face/enrol.
type EnrolOutcome struct {
	Result   string    `json:"result"` // enrolled
	Command  uuid.UUID `json:"command_id"`
	Reported bool      `json:"reported"` // the server recorded it (else retried after the next sync)
}

// Enrol takes the template of the open session's resident from the reader: validated,
// sealed to this gate's own key, stored and matched like a synced template, then reported.
// The embedding is wiped after sealing and never logged.
func (a *Agent) Enrol(ctx context.Context, p face.ProbeRequest) (EnrolOutcome, error) {
	a.enrol.mu.Lock()
	s := a.enrol.open
	if s != nil && !a.Now().Before(s.until) {
		a.enrol.open, s = nil, nil
	}
	if s == nil {
		a.enrol.mu.Unlock()
		return EnrolOutcome{}, errNoSession
	}
	t, err := p.Check()
	if err == nil && s.model != "" && t.Model != s.model {
		err = fmt.Errorf("the session asks for model %q", s.model)
	}
	if err != nil {
		// The session stays open: the reader may capture again.
		a.enrol.mu.Unlock()
		return EnrolOutcome{}, errProbe{err}
	}
	sealed, err := face.Seal(t, a.faceKey.PublicKey().Bytes(), a.binding(s.resident, t.Model))
	t.Wipe()
	if err == nil {
		err = a.local.putEnrolled(s.command, s.resident, t.Model, sealed)
	}
	if err != nil {
		a.enrol.mu.Unlock()
		return EnrolOutcome{}, fmt.Errorf("store enrolled template: %w", err)
	}
	a.putFace(a.matcher.Load(), s.resident, t.Model, sealed)
	a.enrol.open = nil
	a.enrol.mu.Unlock()
	a.cfg.Log.Info("face enrolled on this gate", "command", s.command, "resident", s.resident, "model", t.Model)

	out := EnrolOutcome{Result: gateapi.ResultEnrolled, Command: s.command}
	result, err := a.reportEnrolment(ctx, s.command, enrolRecord{Resident: s.resident, Model: t.Model})
	if errors.Is(err, errEnrolRefused) {
		return EnrolOutcome{}, err
	}
	if result != "" {
		out.Reported = true
		a.ackCommand(ctx, s.command, result)
	}
	return out, nil
}

// reportEnrolment tells the server the resident is enrolled here (never the template).
// Confirmed, the command is done "enrolled"; refused (consent gone), the template is
// dropped and the command is done "failed"; otherwise "" and it is retried.
func (a *Agent) reportEnrolment(ctx context.Context, id uuid.UUID, rec enrolRecord) (string, error) {
	resident := rec.Resident.String()
	err := a.do(ctx, a.client, http.MethodPost, "/gate/v1/face-enrolments", gateapi.FaceEnrolment{Resident: &resident, Model: &rec.Model}, nil)
	var ae *apiError
	switch {
	case err == nil:
		if err := a.local.enrolmentDone(id, nil, doneCommand{ID: id, Result: gateapi.ResultEnrolled, At: a.Now()}); err != nil {
			a.cfg.Log.Error("enrolment state", "err", err)
			return "", err
		}
		return gateapi.ResultEnrolled, nil
	case errors.As(err, &ae) && ae.status >= 400 && ae.status < 500 && ae.status != http.StatusTooManyRequests:
		a.cfg.Log.Warn("server refused the enrolment; template dropped", "command", id, "resident", rec.Resident, "err", err)
		if err := a.local.enrolmentDone(id, &rec, doneCommand{ID: id, Result: "failed", At: a.Now()}); err != nil {
			a.cfg.Log.Error("enrolment state", "err", err)
			return "", err
		}
		a.matcher.Load().Remove(rec.Resident)
		return "failed", errEnrolRefused
	default:
		a.cfg.Log.Warn("enrolment report; retried after the next sync", "command", id, "err", err)
		return "", err
	}
}

// putEnrolled stores a template enrolled here exactly as a synced one (sealed, under
// resident || model, so purges and full reloads find it) and notes the report to make,
// in one transaction.
func (s *LocalDB) putEnrolled(command, resident uuid.UUID, model string, sealed []byte) error {
	blob, err := json.Marshal(faceBlob{Template: command, Sealed: sealed})
	if err != nil {
		return err
	}
	rec, err := json.Marshal(enrolRecord{Resident: resident, Model: model})
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bFaces).Put(faceKey(resident, model), blob); err != nil {
			return err
		}
		local, err := tx.CreateBucketIfNotExists(bLocalFaces)
		if err != nil {
			return err
		}
		if err := local.Put(faceKey(resident, model), blob); err != nil {
			return err
		}
		b, err := tx.CreateBucketIfNotExists(bEnrolled)
		if err != nil {
			return err
		}
		return b.Put(command[:], rec)
	})
}

// enrolled returns the unreported enrolment of a command, if any.
func (s *LocalDB) enrolled(command uuid.UUID) (enrolRecord, bool, error) {
	var rec enrolRecord
	var ok bool
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bEnrolled)
		if b == nil {
			return nil
		}
		raw := b.Get(command[:])
		if raw == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(raw, &rec)
	})
	return rec, ok, err
}

// enrolmentDone forgets the pending report, marks the command done and, when drop is
// set, deletes the template it made.
func (s *LocalDB) enrolmentDone(command uuid.UUID, drop *enrolRecord, d doneCommand) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bEnrolled); b != nil {
			if err := b.Delete(command[:]); err != nil {
				return err
			}
		}
		if drop != nil {
			if err := tx.Bucket(bFaces).Delete(faceKey(drop.Resident, drop.Model)); err != nil {
				return err
			}
			if b := tx.Bucket(bLocalFaces); b != nil {
				if err := b.Delete(faceKey(drop.Resident, drop.Model)); err != nil {
					return err
				}
			}
		}
		return putDone(tx, d)
	})
}

// keepLocalFaces runs after a sync is stored and before its purges are acknowledged: it
// deletes the local copies of purged residents, then puts back into the faces bucket (and
// the matcher) every template enrolled here that the sync's full snapshot dropped, or that
// a crash between the two transactions left out.
func (a *Agent) keepLocalFaces(s *gateapi.Sync) {
	type local struct {
		resident uuid.UUID
		model    string
		sealed   []byte
	}
	var back []local
	err := a.local.db.Update(func(tx *bolt.Tx) error {
		lb, err := tx.CreateBucketIfNotExists(bLocalFaces)
		if err != nil {
			return err
		}
		for _, p := range s.FacePurges {
			if err := deleteFaces(lb, p.Resident); err != nil {
				return err
			}
		}
		fb := tx.Bucket(bFaces)
		return lb.ForEach(func(k, v []byte) error {
			var b faceBlob
			if len(k) <= 16 || fb.Get(k) != nil || json.Unmarshal(v, &b) != nil {
				return nil
			}
			back = append(back, local{uuid.UUID(k[:16]), string(k[16:]), b.Sealed})
			return fb.Put(append([]byte(nil), k...), append([]byte(nil), v...))
		})
	})
	if err != nil {
		a.cfg.Log.Error("templates enrolled here", "err", err)
		return
	}
	m := a.matcher.Load()
	for _, l := range back {
		a.putFace(m, l.resident, l.model, l.sealed)
	}
}

// serveEnrol is POST /face/enrol: the reader's capture during an open session, the same
// body as POST /face. 409 without a session, 422 for no liveness or a bad template.
func (a *Agent) serveEnrol(w http.ResponseWriter, r *http.Request) {
	p, ok := decodeProbe(w, r)
	if !ok {
		return
	}
	out, err := a.Enrol(r.Context(), p)
	var bad errProbe
	switch {
	case errors.Is(err, errNoSession):
		httpError(w, http.StatusConflict, "no_enrolment_session", err.Error())
	case errors.As(err, &bad) && errors.Is(bad.err, face.ErrNoLiveness):
		httpError(w, http.StatusUnprocessableEntity, "no_liveness", "liveness not confirmed: capture again")
	case errors.As(err, &bad):
		httpError(w, http.StatusUnprocessableEntity, "invalid_template", bad.Error())
	case errors.Is(err, errEnrolRefused):
		httpError(w, http.StatusConflict, "enrolment_refused", "the server refused the enrolment (consent withdrawn or changed)")
	case err != nil:
		a.cfg.Log.Error("enrol", "err", err)
		httpError(w, http.StatusServiceUnavailable, "store_failed", "the template could not be stored")
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(out)
	}
}
