package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"gatepass/internal/access"
	"gatepass/internal/consent"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Errors of the face store; test with errors.Is.
var (
	// ErrNoConsent: templates need a live consent to the current notice.
	ErrNoConsent = fmt.Errorf("no live face-entry consent to the current notice: %w", access.ErrConflict)
	// ErrAlreadyConsented: there is a live consent of the current notice already.
	ErrAlreadyConsented = fmt.Errorf("face-entry consent is already given: %w", access.ErrConflict)
)

// GiveConsent is a resident's explicit consent to face entry, as the app records it after
// showing the notice and a passkey assertion.
type GiveConsent struct {
	Community     uuid.UUID
	Resident      uuid.UUID // whose face
	GivenBy       uuid.UUID // the resident, or a guardian in the same unit for a child under 14
	NoticeVersion string
	NoticeLang    string
	NoticeHash    []byte // SHA-256 of the notice text shown
	Scope         consent.Scope
	Gate          uuid.UUID // the gate of a one_gate consent; uuid.Nil otherwise
	Channel       string    // "h5", "mini_program", "native_app", ...
}

// Consent is one consent record.
type Consent struct {
	Community      uuid.UUID     `db:"community_id" json:"community_id"`
	ID             uuid.UUID     `db:"id" json:"id"`
	Resident       uuid.UUID     `db:"resident_id" json:"resident_id"`
	GivenBy        uuid.UUID     `db:"given_by" json:"given_by"`
	Scope          consent.Scope `db:"scope" json:"scope"`
	Gate           *uuid.UUID    `db:"gate_id" json:"gate_id,omitempty"`
	NoticeVersion  string        `db:"notice_version" json:"notice_version"`
	NoticeLang     string        `db:"notice_language" json:"notice_language"`
	NoticeHash     []byte        `db:"notice_hash" json:"notice_hash"`
	Channel        string        `db:"channel" json:"channel"`
	GrantedAt      time.Time     `db:"granted_at" json:"granted_at"`
	WithdrawnAt    *time.Time    `db:"withdrawn_at" json:"withdrawn_at,omitempty"`
	WithdrawnBy    *string       `db:"withdrawn_by" json:"withdrawn_by,omitempty"`
	EndReason      *string       `db:"end_reason" json:"end_reason,omitempty"`
	LastFaceEntry  *time.Time    `db:"last_face_entry_at" json:"last_face_entry_at,omitempty"`
	CurrentVersion bool          `db:"-" json:"current_notice"`
}

const consentCols = `community_id, id, resident_id, given_by, scope, gate_id, notice_version, notice_language,
	notice_hash, channel, granted_at, withdrawn_at, withdrawn_by, end_reason, last_face_entry_at`

// person loads what the guardian rule needs about a resident of community c.
func (tx *Tx) person(ctx context.Context, c, id uuid.UUID) (consent.Person, error) {
	var row struct {
		Under14 bool          `db:"under_14"`
		Status  string        `db:"status"`
		Unit    uuid.NullUUID `db:"unit_id"`
	}
	// The subquery names the community as $1, not r.community_id: Citus routes a locking
	// read to one shard only when every table in it is filtered by the same constant.
	err := tx.x.GetContext(ctx, &row, `SELECT r.under_14, r.status,
		(SELECT unit_id FROM residencies WHERE community_id = $1 AND resident_id = $2 AND valid_to IS NULL
		 ORDER BY valid_from DESC LIMIT 1) AS unit_id
		FROM residents r WHERE r.community_id = $1 AND r.id = $2 FOR SHARE`, c, id)
	if errors.Is(err, sql.ErrNoRows) {
		return consent.Person{}, fmt.Errorf("resident %s: %w", id, access.ErrNotFound)
	}
	if err != nil {
		return consent.Person{}, fmt.Errorf("load resident: %w", err)
	}
	return consent.Person{ID: id, Under14: row.Under14, Active: access.ResidentStatus(row.Status).MayHoldPass(), Unit: row.Unit.UUID}, nil
}

// GiveConsent records a consent to the current notice. An adult consents only for
// themselves, a child under 14 only through a guardian resident of the same unit
// (consent.CheckGiver). A live consent to an older notice is superseded (its templates
// stay valid under the new record if the scope is the same); a live consent to the
// current notice is ErrAlreadyConsented.
func (tx *Tx) GiveConsent(ctx context.Context, in GiveConsent) (Consent, error) {
	n, err := consent.Shown(in.NoticeVersion, in.NoticeLang, in.NoticeHash)
	if err != nil {
		return Consent{}, err
	}
	if _, err := faceOperator(ctx, tx.x, in.Community, "FOR SHARE"); err != nil {
		return Consent{}, err
	}
	if err := consent.CheckChannel(in.Channel); err != nil {
		return Consent{}, err
	}
	if err := in.Scope.CheckGate(in.Gate); err != nil {
		return Consent{}, err
	}
	var gate any
	if in.Scope == consent.ScopeOneGate {
		if err := tx.exists(ctx, `SELECT 1 FROM gates WHERE community_id = $1 AND id = $2 AND disabled_at IS NULL`, in.Community, in.Gate); err != nil {
			return Consent{}, access.Invalid("gate_id", "no such gate in this community")
		}
		gate = in.Gate
	}
	// The guardian rule decides on statuses and units read FOR SHARE (person), so that a
	// move-out cannot change them before this consent commits: it stays in the transaction.
	subject, err := tx.person(ctx, in.Community, in.Resident)
	if err != nil {
		return Consent{}, err
	}
	giver := subject
	if in.GivenBy != in.Resident {
		if giver, err = tx.person(ctx, in.Community, in.GivenBy); err != nil {
			return Consent{}, err
		}
	}
	if err := consent.CheckGiver(subject, giver); err != nil {
		return Consent{}, err
	}
	prev, err := tx.liveConsent(ctx, in.Community, in.Resident)
	if err != nil && !errors.Is(err, ErrNoConsent) {
		return Consent{}, err
	}
	id := newID()
	if prev != nil {
		if prev.NoticeVersion == consent.CurrentVersion {
			return Consent{}, ErrAlreadyConsented
		}
		if prev.Scope != in.Scope || (prev.Gate != nil) != (gate != nil) || (prev.Gate != nil && *prev.Gate != in.Gate) {
			return Consent{}, fmt.Errorf("withdraw the consent first to change where the template is kept: %w", access.ErrConflict)
		}
		if _, err := tx.x.ExecContext(ctx, `UPDATE consents SET withdrawn_at = now(), withdrawn_by = $3, end_reason = 'superseded'
			WHERE community_id = $1 AND id = $2`, in.Community, prev.ID, tx.actor); err != nil {
			return Consent{}, fmt.Errorf("supersede consent: %w", err)
		}
	}
	var out Consent
	err = tx.x.GetContext(ctx, &out, `INSERT INTO consents (community_id, id, resident_id, given_by, purpose, scope, gate_id,
		notice_version, notice_language, notice_hash, channel)
		VALUES ($1, $2, $3, $4, 'face_entry', $5, $6, $7, $8, $9, $10) RETURNING `+consentCols,
		in.Community, id, in.Resident, in.GivenBy, in.Scope, gate, n.Version, n.Lang, n.Hash[:], in.Channel)
	if isUnique(err) {
		return Consent{}, ErrAlreadyConsented
	}
	if err != nil {
		return Consent{}, fmt.Errorf("give consent: %w", err)
	}
	if prev != nil {
		if _, err := tx.x.ExecContext(ctx, `UPDATE face_templates SET consent_id = $3 WHERE community_id = $1 AND consent_id = $2`,
			in.Community, prev.ID, id); err != nil {
			return Consent{}, fmt.Errorf("move templates to the new consent: %w", err)
		}
	}
	out.CurrentVersion = true
	return out, tx.Audit(ctx, in.Community, "face.consent", "resident:"+in.Resident.String(), map[string]any{
		"consent_id": id, "given_by": in.GivenBy, "scope": in.Scope, "gate_id": gate,
		"notice_version": n.Version, "notice_language": n.Lang, "channel": in.Channel,
	})
}

// liveConsent returns the resident's live face-entry consent, or ErrNoConsent.
func (tx *Tx) liveConsent(ctx context.Context, c, resident uuid.UUID) (*Consent, error) {
	var out Consent
	err := tx.x.GetContext(ctx, &out, `SELECT `+consentCols+` FROM consents
		WHERE community_id = $1 AND resident_id = $2 AND purpose = 'face_entry' AND withdrawn_at IS NULL FOR UPDATE`, c, resident)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoConsent
	}
	if err != nil {
		return nil, fmt.Errorf("load consent: %w", err)
	}
	out.CurrentVersion = out.NoticeVersion == consent.CurrentVersion
	return &out, nil
}

// Consents lists a resident's consent records, newest first (for the resident's app).
func (db *DB) Consents(ctx context.Context, c, resident uuid.UUID) ([]Consent, error) {
	out := []Consent{}
	err := db.x.SelectContext(ctx, &out, `SELECT `+consentCols+` FROM consents
		WHERE community_id = $1 AND resident_id = $2 ORDER BY granted_at DESC, id DESC`, c, resident)
	if err != nil {
		return nil, fmt.Errorf("list consents: %w", err)
	}
	for i := range out {
		out[i].CurrentVersion = out[i].NoticeVersion == consent.CurrentVersion
	}
	return out, nil
}

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

// WithdrawConsent ends a resident's face-entry consent at once, by the resident or, for
// a child under 14, a guardian of the same unit: the blobs on the server are deleted and
// every gate is sent a purge to acknowledge. Without a live consent it is ErrNoConsent.
func (tx *Tx) WithdrawConsent(ctx context.Context, c, resident, by uuid.UUID) (access.PurgeResult, error) {
	subject, err := tx.person(ctx, c, resident)
	if err != nil {
		return access.PurgeResult{}, err
	}
	giver := subject
	if by != resident {
		if giver, err = tx.person(ctx, c, by); err != nil {
			return access.PurgeResult{}, err
		}
	}
	if err := consent.CheckGiver(subject, giver); err != nil {
		return access.PurgeResult{}, err
	}
	if _, err := tx.liveConsent(ctx, c, resident); err != nil {
		return access.PurgeResult{}, err
	}
	return tx.PurgeFaceData(ctx, c, resident, consent.ReasonWithdrawal)
}
