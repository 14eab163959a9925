package gate

import (
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
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

// DecideFace judges a face: no liveness, no match, stale data under the deny policy, the
// offline limit's policy, the resident's groups (zone, schedule, holidays) and lockdowns,
// or the resident refused by anti-passback; otherwise granted. Only residents with a
// live consent have a template on this gate, and a purge (withdrawal, move-out) removes
// it, so the template's presence is the resident's standing here: there is no
// revocation check.
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
		dec.OfflineLimit = st.PastOfflineLimit(now)
		if dec.OfflineLimit && st.Access.offlineRefuses(0, true) {
			dec.Reason = OfflineLimitReached
			return dec
		}
		// A face has no token zones: a resident the gate has no groups for is let in as
		// before groups existed (a template is only here for a live consent).
		if r := st.entry(f.Resident, ^access.ZoneMask(0), true, now); r != Granted {
			dec.Reason = r
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
