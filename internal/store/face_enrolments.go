package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/consent"
)

// CommandFaceEnrol is the gate command kind that opens an enrolment session.
const CommandFaceEnrol = "face_enrol"

var (
	// ErrNoOneGateConsent: a session needs a live one_gate consent, to the current notice,
	// naming that very gate (a community-scope consent enrols on the phone instead).
	ErrNoOneGateConsent = fmt.Errorf("no live one-gate face-entry consent for this gate under the current notice: %w", access.ErrConflict)
)

// EnrolStart asks a gate to enrol a resident of a one_gate consent on its own reader.
type EnrolStart struct {
	Community uuid.UUID
	Resident  uuid.UUID // whose face
	Gate      uuid.UUID
	Model     string        // the model the reader must use; "" for the reader's own
	TTL       time.Duration // access.EnrolSessionTTL unless set (tests use less)
}

// enrolPayload is the stored payload of a face_enrol command (gate_commands.payload),
// which the gate receives as it is and GateEnrolment reads back.
type enrolPayload struct {
	Resident  uuid.UUID `json:"resident_id"`
	Model     string    `json:"model,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
}

// StartGateEnrolment queues a face_enrol command for the gate; the gate learns it through
// its long poll and opens a session for the resident until expires_at. A gate that is not
// the community's (or not at all) is ErrNotFound, a disabled one ErrConflict, and without
// a matching consent it is ErrNoOneGateConsent.
//
// All of it needs the transaction: the gate row is locked, and the consent is read
// under that lock.
func (tx *Tx) StartGateEnrolment(ctx context.Context, in EnrolStart) (access.EnrolSession, error) {
	if err := tx.liveGate(ctx, in.Community, in.Gate); err != nil {
		return access.EnrolSession{}, err
	}
	cons, err := tx.liveConsent(ctx, in.Community, in.Resident)
	if errors.Is(err, ErrNoConsent) {
		return access.EnrolSession{}, ErrNoOneGateConsent
	}
	if err != nil {
		return access.EnrolSession{}, err
	}
	if !cons.CurrentVersion || cons.Scope != consent.ScopeOneGate || cons.Gate == nil || *cons.Gate != in.Gate {
		return access.EnrolSession{}, ErrNoOneGateConsent
	}
	ttl := in.TTL
	if ttl <= 0 {
		ttl = access.EnrolSessionTTL
	}
	var now time.Time
	if err := tx.x.GetContext(ctx, &now, `SELECT now()`); err != nil {
		return access.EnrolSession{}, fmt.Errorf("enrol session: %w", err)
	}
	s := access.EnrolSession{ID: newID(), Gate: in.Gate, CreatedAt: now.UTC(), ExpiresAt: now.Add(ttl).UTC()}
	payload, err := json.Marshal(enrolPayload{Resident: in.Resident, Model: in.Model, ExpiresAt: s.ExpiresAt})
	if err != nil {
		return access.EnrolSession{}, fmt.Errorf("enrol session: %w", err)
	}
	// created_by names staff for releases; a session is the resident's own act, and the
	// payload names them.
	if _, err := tx.x.ExecContext(ctx, `INSERT INTO gate_commands (community_id, id, gate_id, kind, payload, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, in.Community, s.ID, in.Gate, CommandFaceEnrol, string(payload), now); err != nil {
		return access.EnrolSession{}, fmt.Errorf("enrol session: %w", err)
	}
	if err := tx.Change(ctx, in.Community, "command", in.Gate, s.ID, map[string]any{"kind": CommandFaceEnrol}); err != nil {
		return access.EnrolSession{}, err
	}
	return s, tx.Audit(ctx, in.Community, "face.enrol_session", "resident:"+in.Resident.String(),
		map[string]any{"command_id": s.ID, "gate_id": in.Gate, "consent_id": cons.ID, "expires_at": s.ExpiresAt})
}

// GateEnrolment returns one of the resident's enrolment sessions (another resident's, or
// another community's, is ErrNotFound).
func (db *DB) GateEnrolment(ctx context.Context, c, resident, id uuid.UUID) (access.EnrolSession, error) {
	var s access.EnrolSession
	err := db.x.GetContext(ctx, &s, `SELECT id, gate_id, created_at, (payload ->> 'expires_at')::timestamptz AS expires_at,
			acked_at, result
		FROM gate_commands WHERE community_id = $1 AND id = $2 AND kind = $3 AND payload ->> 'resident_id' = $4`,
		c, id, CommandFaceEnrol, resident.String())
	if errors.Is(err, sql.ErrNoRows) {
		return s, fmt.Errorf("enrolment session %s: %w", id, access.ErrNotFound)
	}
	if err != nil {
		return s, fmt.Errorf("enrolment session: %w", err)
	}
	s.CreatedAt, s.ExpiresAt = s.CreatedAt.UTC(), s.ExpiresAt.UTC()
	return s, nil
}
