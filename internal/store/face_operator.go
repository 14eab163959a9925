package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/consent"
)

// ErrFaceOff: the community has not named the handler of face data, so face entry is not
// offered there (no notice can be shown without one).
var ErrFaceOff = fmt.Errorf("face entry is not set up in this community: %w", access.ErrConflict)

// SetFaceOperator names the personal information handler shown in the face-entry notice
// of community c. Setting it is what switches face entry on for the community; it never
// switches any other way in off.
func (tx *Tx) SetFaceOperator(ctx context.Context, c uuid.UUID, op consent.Operator) error {
	name, contact := strings.TrimSpace(op.Name), strings.TrimSpace(op.Contact)
	if l := len([]rune(name)); l < 1 || l > 200 {
		return access.Invalid("operator_name", "must be 1 to 200 characters")
	}
	if l := len([]rune(contact)); l < 1 || l > 200 {
		return access.Invalid("operator_contact", "must be 1 to 200 characters")
	}
	r, err := tx.x.ExecContext(ctx, `UPDATE communities SET face_operator_name = $2, face_operator_contact = $3 WHERE id = $1`, c, name, contact)
	if err != nil {
		return fmt.Errorf("set face operator: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("community %s: %w", c, access.ErrNotFound)
	}
	// The audit keeps what every notice showed, and from when.
	return tx.Audit(ctx, c, "face.operator", "community:"+c.String(), map[string]any{"operator_name": name, "operator_contact": contact})
}

// FaceStop says what switching face entry off did.
type FaceStop struct {
	Residents int `json:"residents_purged"`
	Templates int `json:"templates_deleted"`
	Purges    int `json:"gate_purges_requested"`
}

// StopFaceEntry switches face entry off in community c: the handler is cleared (so the
// notice, consent and enrolment are no longer offered), every live consent ends and
// every resident's face data is purged from the server and every gate with the reason
// service_ended, in this transaction. QR codes, cards and manual release are untouched.
// Stopping where face entry is already off is not an error: it purges whatever remains.
func (tx *Tx) StopFaceEntry(ctx context.Context, c uuid.UUID) (FaceStop, error) {
	r, err := tx.x.ExecContext(ctx, `UPDATE communities SET face_operator_name = NULL, face_operator_contact = NULL WHERE id = $1`, c)
	if err != nil {
		return FaceStop{}, fmt.Errorf("stop face entry: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return FaceStop{}, fmt.Errorf("community %s: %w", c, access.ErrNotFound)
	}
	var residents []uuid.UUID
	err = tx.x.SelectContext(ctx, &residents, `SELECT resident_id FROM consents WHERE community_id = $1 AND withdrawn_at IS NULL
		UNION SELECT resident_id FROM face_templates WHERE community_id = $1 ORDER BY 1`, c)
	if err != nil {
		return FaceStop{}, fmt.Errorf("stop face entry: %w", err)
	}
	var out FaceStop
	for _, resident := range residents {
		res, err := tx.PurgeFaceData(ctx, c, resident, consent.ReasonServiceEnded)
		if err != nil {
			return FaceStop{}, fmt.Errorf("stop face entry: resident %s: %w", resident, err)
		}
		out.Residents++
		out.Templates += res.Templates
		out.Purges += res.Gates
	}
	return out, tx.Audit(ctx, c, "face.stop", "community:"+c.String(), out)
}

// FaceOperator returns the handler named in community c's notice, or ErrFaceOff.
func (db *DB) FaceOperator(ctx context.Context, c uuid.UUID) (consent.Operator, error) {
	return faceOperator(ctx, db.x, c, "")
}

// faceOperator reads the handler; lock is "" or a row-lock clause (GiveConsent holds the
// row FOR SHARE so that StopFaceEntry cannot end face entry under a consent being given).
func faceOperator(ctx context.Context, q getter, c uuid.UUID, lock string) (consent.Operator, error) {
	var row struct {
		Name    sql.NullString `db:"face_operator_name"`
		Contact sql.NullString `db:"face_operator_contact"`
	}
	err := q.GetContext(ctx, &row, `SELECT face_operator_name, face_operator_contact FROM communities WHERE id = $1 `+lock, c)
	if errors.Is(err, sql.ErrNoRows) {
		return consent.Operator{}, fmt.Errorf("community %s: %w", c, access.ErrNotFound)
	}
	if err != nil {
		return consent.Operator{}, fmt.Errorf("face operator: %w", err)
	}
	if !row.Name.Valid {
		return consent.Operator{}, ErrFaceOff
	}
	return consent.Operator{Name: row.Name.String, Contact: row.Contact.String}, nil
}
