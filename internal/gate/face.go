package gate

import (
	"time"

	"github.com/google/uuid"
)

// Face reasons.
const (
	FaceNoMatch Reason = "face_no_match"
	NoLiveness  Reason = "no_liveness"
)

// Face is what the reader and the 1:N search (done by the agent) say of one face.
type Face struct {
	// Live: the reader confirmed a live person. Without it the face may be a photo or a
	// screen, so it is refused before any match counts.
	Live     bool
	Matched  bool
	Resident uuid.UUID // the matched resident
}

// DecideFace judges a face: no liveness, no match, stale data under the deny policy, or
// the resident refused by anti-passback; otherwise granted. Only residents with a live
// consent have a template on this gate, and a purge (withdrawal, move-out) removes it,
// so the template's presence is the resident's standing here: there is no revocation
// or zone check.
func (d *Decider) DecideFace(f Face, now time.Time) Decision {
	if !f.Live {
		return Decision{Reason: NoLiveness}
	}
	if !f.Matched || f.Resident == uuid.Nil {
		return Decision{Reason: FaceNoMatch}
	}
	dec := Decision{PassbackKey: f.Resident}
	if st := d.state.Load(); st != nil {
		p := &st.Policy
		dec.Stale = st.Stale(now)
		if dec.Stale && p.StaleDeny {
			dec.Reason = StaleData
			return dec
		}
		d.mem.mu.Lock()
		refused := p.AntiPassback && d.mem.passback[f.Resident] > now.UnixNano()
		d.mem.mu.Unlock()
		if refused {
			dec.Reason = Passback
			return dec
		}
	}
	dec.Granted, dec.Reason = true, Granted
	return dec
}
