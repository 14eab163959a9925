package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/consent"
	"gatepass/internal/face"
)

// Errors of the face store; test with errors.Is.
var (
	// ErrNoConsent: templates need a live consent to the current notice.
	ErrNoConsent = fmt.Errorf("no live face-entry consent to the current notice: %w", access.ErrConflict)
	// ErrStaleNotice: consent was given to a notice that is no longer current.
	ErrStaleNotice = fmt.Errorf("the face-entry notice has changed; show the current version: %w", access.ErrConflict)
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
	err := tx.x.GetContext(ctx, &row, `SELECT r.under_14, r.status,
		(SELECT unit_id FROM residencies WHERE community_id = r.community_id AND resident_id = r.id AND valid_to IS NULL
		 ORDER BY valid_from DESC LIMIT 1) AS unit_id
		FROM residents r WHERE r.community_id = $1 AND r.id = $2 FOR SHARE`, c, id)
	if errors.Is(err, sql.ErrNoRows) {
		return consent.Person{}, fmt.Errorf("resident %s: %w", id, access.ErrNotFound)
	}
	if err != nil {
		return consent.Person{}, fmt.Errorf("load resident: %w", err)
	}
	return consent.Person{ID: id, Under14: row.Under14, Active: row.Status == string(access.ResidentActive), Unit: row.Unit.UUID}, nil
}

// GiveConsent records a consent to the current notice. An adult consents only for
// themselves, a child under 14 only through a guardian resident of the same unit
// (consent.CheckGiver). A live consent to an older notice is superseded (its templates
// stay valid under the new record if the scope is the same); a live consent to the
// current notice is ErrAlreadyConsented.
func (tx *Tx) GiveConsent(ctx context.Context, in GiveConsent) (Consent, error) {
	n, err := consent.Lookup(in.NoticeVersion, in.NoticeLang)
	if err != nil {
		return Consent{}, access.Invalid("notice_version", "no published notice %q in %q", in.NoticeVersion, in.NoticeLang)
	}
	if string(in.NoticeHash) != string(n.Hash[:]) {
		return Consent{}, access.Invalid("notice_hash", "is not the hash of notice %s.%s", n.Version, n.Lang)
	}
	if n.Version != consent.CurrentVersion {
		return Consent{}, ErrStaleNotice
	}
	if _, err := faceOperator(ctx, tx.x, in.Community, "FOR SHARE"); err != nil {
		return Consent{}, err
	}
	if l := len([]rune(in.Channel)); l < 1 || l > 40 {
		return Consent{}, access.Invalid("channel", "must be 1 to 40 characters")
	}
	var gate any
	switch in.Scope {
	case consent.ScopeCommunity:
		if in.Gate != uuid.Nil {
			return Consent{}, access.Invalid("gate_id", "is only for scope one_gate")
		}
	case consent.ScopeOneGate:
		if err := tx.exists(ctx, `SELECT 1 FROM gates WHERE community_id = $1 AND id = $2 AND disabled_at IS NULL`, in.Community, in.Gate); err != nil {
			return Consent{}, access.Invalid("gate_id", "no such gate in this community")
		}
		gate = in.Gate
	default:
		return Consent{}, access.Invalid("scope", "must be one of %v", consent.Scopes)
	}
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

// GateBoxKey is a gate's X25519 public key, to seal templates to.
type GateBoxKey struct {
	Gate      uuid.UUID `db:"id" json:"gate_id"`
	PublicKey []byte    `db:"box_public_key" json:"box_public_key"`
}

// FaceGateKeys lists the box keys of a community's enabled gates: the gates a template of
// a community-scope consent is sealed to.
func (db *DB) FaceGateKeys(ctx context.Context, c uuid.UUID) ([]GateBoxKey, error) {
	out := []GateBoxKey{}
	err := db.x.SelectContext(ctx, &out, `SELECT id, box_public_key FROM gates
		WHERE community_id = $1 AND box_public_key IS NOT NULL AND disabled_at IS NULL ORDER BY id`, c)
	if err != nil {
		return nil, fmt.Errorf("list gate box keys: %w", err)
	}
	return out, nil
}

// SealedTemplate is a template sealed (face.Seal) to one gate.
type SealedTemplate struct {
	Gate   uuid.UUID
	Model  string
	Sealed []byte
}

// FaceTemplateChange is the data of a "face_template" change for one gate (the change's
// gate_id is that gate, its entity_id the resident). Sealed is the face.Seal blob for
// face.Binding{community, gate, resident, model}; the gate opens it with its private key.
// A change whose Sealed is empty was scrubbed after a purge or a replacement: skip it.
type FaceTemplateChange struct {
	Template uuid.UUID `json:"template_id"`
	Resident uuid.UUID `json:"resident_id"`
	Model    string    `json:"model"`
	Sealed   []byte    `json:"sealed,omitempty"`
}

// PutSealedTemplates stores a resident's templates sealed to every gate of the community
// that has a box key, one blob per gate, and sends each gate its own blob through sync.
// It needs a live community-scope consent to the current notice. The server checks only
// the form of each blob: it cannot open them.
func (tx *Tx) PutSealedTemplates(ctx context.Context, c, resident uuid.UUID, blobs []SealedTemplate) (int, error) {
	cons, err := tx.liveConsent(ctx, c, resident)
	if err != nil {
		return 0, err
	}
	if !cons.CurrentVersion {
		return 0, ErrNoConsent
	}
	if cons.Scope != consent.ScopeCommunity {
		return 0, fmt.Errorf("a one_gate template never leaves its gate: %w", access.ErrConflict)
	}
	var keyed []uuid.UUID
	if err := tx.x.SelectContext(ctx, &keyed, `SELECT id FROM gates WHERE community_id = $1 AND box_public_key IS NOT NULL
		AND disabled_at IS NULL`, c); err != nil {
		return 0, fmt.Errorf("list gates: %w", err)
	}
	want := map[uuid.UUID]bool{}
	for _, g := range keyed {
		want[g] = true
	}
	if len(blobs) == 0 || len(blobs) != len(want) {
		return 0, access.Invalid("templates", "need one sealed template for each of the %d gates with a key", len(want))
	}
	seen := map[uuid.UUID]bool{}
	for i, b := range blobs {
		field := fmt.Sprintf("templates[%d]", i)
		switch {
		case !want[b.Gate]:
			return 0, access.Invalid(field+".gate_id", "no gate with a key of this id in this community")
		case seen[b.Gate]:
			return 0, access.Invalid(field+".gate_id", "two templates for one gate")
		case face.Models[b.Model] == 0:
			return 0, access.Invalid(field+".model", "unknown model %q", b.Model)
		case face.CheckSealed(b.Sealed) != nil:
			return 0, access.Invalid(field+".sealed", "is not a sealed face template")
		}
		seen[b.Gate] = true
	}
	for _, b := range blobs {
		var id uuid.UUID
		err := tx.x.GetContext(ctx, &id, `INSERT INTO face_templates (community_id, id, resident_id, consent_id, gate_id, model, sealed)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (community_id, resident_id, gate_id, model)
			DO UPDATE SET sealed = excluded.sealed, consent_id = excluded.consent_id, created_at = now()
			RETURNING id`, c, newID(), resident, cons.ID, b.Gate, b.Model, b.Sealed)
		if err != nil {
			return 0, fmt.Errorf("store sealed template: %w", err)
		}
		// A replaced blob must not live on in the change log.
		if err := tx.scrubTemplateChanges(ctx, c, resident, b.Gate); err != nil {
			return 0, err
		}
		ch := FaceTemplateChange{Template: id, Resident: resident, Model: b.Model, Sealed: b.Sealed}
		if err := tx.Change(ctx, c, "face_template", b.Gate, resident, ch); err != nil {
			return 0, err
		}
	}
	return len(blobs), tx.Audit(ctx, c, "face.enrol", "resident:"+resident.String(),
		map[string]any{"consent_id": cons.ID, "gates": len(blobs), "model": blobs[0].Model})
}

// RecordGateEnrolment records that a gate enrolled a resident of a one_gate consent on
// the gate itself: the template stays there (no blob on the server), and the row lets
// purges and the filing count know about it. The gate API calls it.
func (tx *Tx) RecordGateEnrolment(ctx context.Context, c, gate, resident uuid.UUID, model string) error {
	cons, err := tx.liveConsent(ctx, c, resident)
	if err != nil {
		return err
	}
	if !cons.CurrentVersion || cons.Scope != consent.ScopeOneGate || cons.Gate == nil || *cons.Gate != gate {
		return ErrNoConsent
	}
	if face.Models[model] == 0 {
		return access.Invalid("model", "unknown model %q", model)
	}
	_, err = tx.x.ExecContext(ctx, `INSERT INTO face_templates (community_id, id, resident_id, consent_id, gate_id, model, sealed)
		VALUES ($1, $2, $3, $4, $5, $6, NULL)
		ON CONFLICT (community_id, resident_id, gate_id, model) DO UPDATE SET created_at = now()`,
		c, newID(), resident, cons.ID, gate, model)
	if err != nil {
		return fmt.Errorf("record gate enrolment: %w", err)
	}
	return tx.Audit(ctx, c, "face.enrol", "resident:"+resident.String(),
		map[string]any{"consent_id": cons.ID, "gate_id": gate, "model": model, "on_gate_only": true})
}

// NoteFaceEntry moves the retention clock of a resident's live consent to the time of a
// granted face entry. The gate API calls it when it stores a granted event of method face.
func (tx *Tx) NoteFaceEntry(ctx context.Context, c, resident uuid.UUID, at time.Time) error {
	_, err := tx.x.ExecContext(ctx, `UPDATE consents SET last_face_entry_at = greatest(last_face_entry_at, $3)
		WHERE community_id = $1 AND resident_id = $2 AND withdrawn_at IS NULL`, c, resident, at)
	if err != nil {
		return fmt.Errorf("note face entry: %w", err)
	}
	return nil
}

// scrubTemplateChanges removes the sealed blobs of a resident's earlier "face_template"
// changes (of one gate, or every gate for uuid.Nil): after a replacement or a purge the
// server keeps no copy of them, not even in the sync log. Gates skip scrubbed changes.
func (tx *Tx) scrubTemplateChanges(ctx context.Context, c, resident, gate uuid.UUID) error {
	_, err := tx.x.ExecContext(ctx, `UPDATE change_log SET data = data - 'sealed'
		WHERE community_id = $1 AND kind = 'face_template' AND entity_id = $2
		  AND ($3::uuid IS NULL OR gate_id = $3) AND data ? 'sealed'`, c, resident, nullUUID(gate))
	if err != nil {
		return fmt.Errorf("scrub template changes: %w", err)
	}
	return nil
}
