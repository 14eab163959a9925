package store

import (
	"context"
	"fmt"
	"gatepass/internal/access"
	"gatepass/internal/consent"
	"time"

	"github.com/google/uuid"
)

// Export is everything gatepass holds about one resident, for the right of access.
type Export struct {
	ExportedAt    time.Time              `json:"exported_at"`
	Resident      access.Resident        `json:"resident"`
	Residencies   []exportResidency      `json:"residencies"`
	Passkeys      []Passkey              `json:"passkeys"`
	Sessions      []exportSession        `json:"sessions"`
	WeChatBinding []WeChatBinding        `json:"wechat_binding"`
	Credentials   []exportCred           `json:"credentials"`
	VisitorPasses []VisitorPass          `json:"visitor_passes"`
	Consents      []Consent              `json:"consents"`
	FacePurges    []access.GatePurge     `json:"face_purges"`
	Entries       []access.ResidentEntry `json:"entries"`
}

type exportResidency struct {
	Unit      uuid.UUID  `db:"unit_id" json:"unit_id"`
	UnitLabel string     `db:"label" json:"unit_label"`
	Role      string     `db:"role" json:"role"`
	ValidFrom time.Time  `db:"valid_from" json:"valid_from"`
	ValidTo   *time.Time `db:"valid_to" json:"valid_to,omitempty"`
}

type exportSession struct {
	Kind       string     `db:"kind" json:"kind"`
	CreatedAt  time.Time  `db:"created_at" json:"created_at"`
	LastSeenAt time.Time  `db:"last_seen_at" json:"last_seen_at"`
	ExpiresAt  time.Time  `db:"expires_at" json:"expires_at"`
	RevokedAt  *time.Time `db:"revoked_at" json:"revoked_at,omitempty"`
}

type exportCred struct {
	ID           uuid.UUID  `db:"id" json:"id"`
	Kind         string     `db:"kind" json:"kind"`
	Zones        int64      `db:"zones" json:"zones"`
	Label        string     `db:"label" json:"label"`
	CreatedAt    time.Time  `db:"created_at" json:"created_at"`
	ExpiresAt    *time.Time `db:"expires_at" json:"expires_at,omitempty"`
	RevokedAt    *time.Time `db:"revoked_at" json:"revoked_at,omitempty"`
	RevokeReason *string    `db:"revoke_reason" json:"revoke_reason,omitempty"`
}

// ExportResident gathers everything held about the resident. Secrets (session and
// invite hashes, passkey public keys) are not personal data the resident gave and
// are left out.
func (db *DB) ExportResident(ctx context.Context, c, resident uuid.UUID) (Export, error) {
	out := Export{ExportedAt: time.Now().UTC()}
	var err error
	if out.Resident, err = residentQ(ctx, db.x, c, resident); err != nil {
		return out, err
	}
	if out.Passkeys, err = db.Passkeys(ctx, c, resident); err != nil {
		return out, err
	}
	if out.VisitorPasses, err = db.VisitorPasses(ctx, c, resident, maxExportEntries); err != nil {
		return out, err
	}
	lists := []struct {
		dest  any
		query string
	}{
		{&out.Residencies, `SELECT rs.unit_id, u.label, rs.role, rs.valid_from, rs.valid_to FROM residencies rs
			JOIN units u ON u.community_id = rs.community_id AND u.id = rs.unit_id
			WHERE rs.community_id = $1 AND rs.resident_id = $2 ORDER BY rs.valid_from`},
		{&out.Sessions, `SELECT kind, created_at, last_seen_at, expires_at, revoked_at FROM sessions
			WHERE community_id = $1 AND resident_id = $2 ORDER BY created_at`},
		// The openid's keyed hash is not the resident's data in any readable form: left out.
		{&out.WeChatBinding, `SELECT ` + weChatBindingColumns + ` FROM wechat_bindings WHERE community_id = $1 AND resident_id = $2`},
		{&out.Credentials, `SELECT id, kind, zones, label, created_at, expires_at, revoked_at, revoke_reason FROM credentials
			WHERE community_id = $1 AND resident_id = $2 ORDER BY created_at`},
	}
	out.Residencies, out.Sessions, out.Credentials, out.WeChatBinding = []exportResidency{}, []exportSession{}, []exportCred{}, []WeChatBinding{}
	for _, l := range lists {
		if err := db.x.SelectContext(ctx, l.dest, l.query, c, resident); err != nil {
			return out, fmt.Errorf("export: %w", err)
		}
	}
	if out.Consents, err = db.Consents(ctx, c, resident); err != nil {
		return out, err
	}
	if out.FacePurges, err = db.PurgeStatus(ctx, c, resident); err != nil {
		return out, err
	}
	page, err := db.ResidentEntries(ctx, c, resident, "", maxExportEntries)
	if err != nil {
		return out, err
	}
	out.Entries = page.Entries
	return out, nil
}

// DeleteResult says what a resident's deletion ended.
type DeleteResult struct {
	Credentials   int                `json:"credentials_revoked"`
	Sessions      int                `json:"sessions_ended"`
	Passkeys      int                `json:"passkeys_deleted"`
	VisitorPasses int                `json:"visitor_passes_revoked"`
	Entries       int                `json:"entries_anonymised"`
	Face          access.PurgeResult `json:"face"`
}

// DeleteResident is the resident's right to erasure. Everything that lets them in ends
// as at a move-out (endResidency: credentials revoked and gates told, sessions, invites,
// visitor passes, face consent ended and every gate told to purge the template); then
// what is held about them is erased, not merely ended:
//
//   - the resident row becomes a tombstone: name "deleted", no phone, no age flag, and
//     no dates but the deletion's (it stays as the key of the kept records below);
//   - residencies (unit, role, dates), invites, sessions, passkeys, WebAuthn ceremonies
//     and the visitor passes they hosted (labels such as "Grandma Wang visiting") are
//     deleted;
//   - their credentials and their visitor passes' stay, revoked, because a gate's
//     snapshot must keep refusing them until they expire, but lose owner, label, device
//     key and authorising passkey;
//   - entry events stay (the community's record of its gates) but lose the credential
//     id, replay key and, for face entries, the resident id that tied them to the person;
//   - face enrolment sessions (gate commands naming them) and the sync log's template
//     entries (their sealed blobs were scrubbed by the purge) are deleted.
//
// Kept, with the resident's pseudonymous id only: consent records (the law keeps them 3
// years; consents_keep), each gate's purge (the proof it deleted the template), the
// purge messages gates still have to sync, and the append-only audit log.
// docs/mobile-app.md says what and why; mobile-api's TestDeletionErases scans every
// column of every table for what must be gone.
func (tx *Tx) DeleteResident(ctx context.Context, c, resident uuid.UUID) (DeleteResult, error) {
	var res DeleteResult
	r, err := tx.x.ExecContext(ctx, `UPDATE residents SET status = 'deleted', name = 'deleted', phone = NULL, under_14 = false,
		ended_at = now(), created_at = now() WHERE community_id = $1 AND id = $2 AND status <> 'deleted'`, c, resident)
	if err != nil {
		return res, fmt.Errorf("delete resident: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return res, fmt.Errorf("resident %s: %w", resident, access.ErrNotFound)
	}
	var faceEntries int
	steps := []step{
		{`UPDATE entry_events SET credential_id = NULL, replay_key = NULL WHERE community_id = $1
			AND credential_id IN (SELECT id FROM credentials WHERE community_id = $1 AND resident_id = $2)`, &res.Entries},
		{`UPDATE entry_events SET resident_id = NULL WHERE community_id = $1 AND resident_id = $2`, &faceEntries},
		{`DELETE FROM passkeys WHERE community_id = $1 AND resident_id = $2`, &res.Passkeys},
		// Webhook bodies not yet sent (or kept in the outbox) lose the ids as the rows do.
		{`UPDATE webhook_deliveries SET data = jsonb_set(data, '{credential_id}', 'null') WHERE community_id = $1
			AND data ->> 'credential_id' IN (SELECT id::text FROM credentials WHERE community_id = $1 AND resident_id = $2)`, nil},
		{`UPDATE webhook_deliveries SET data = jsonb_set(data, '{resident_id}', 'null') WHERE community_id = $1
			AND data ->> 'resident_id' = $2::text`, nil},
	}
	if err := tx.execSteps(ctx, "delete resident", steps, c, resident); err != nil {
		return res, err
	}
	res.Entries += faceEntries
	e, err := tx.endResidency(ctx, c, resident, "resident_deleted", consent.ReasonDeletion)
	if err != nil {
		return res, err
	}
	res.Credentials, res.Sessions, res.VisitorPasses, res.Face = e.Credentials, e.Sessions, e.VisitorPasses, e.Face
	if err := tx.eraseResident(ctx, c, resident); err != nil {
		return res, err
	}
	return res, tx.Audit(ctx, c, "resident.delete", "resident:"+resident.String(), res)
}

// eraseResident deletes or strips what is left of a resident once endResidency has ended
// it all (DeleteResident says what and why).
func (tx *Tx) eraseResident(ctx context.Context, c, resident uuid.UUID) error {
	steps := []step{
		{`DELETE FROM residencies WHERE community_id = $1 AND resident_id = $2`, nil},
		{`DELETE FROM invites WHERE community_id = $1 AND resident_id = $2`, nil},
		{`DELETE FROM sessions WHERE community_id = $1 AND resident_id = $2`, nil},
		{`DELETE FROM webauthn_ceremonies WHERE community_id = $1 AND resident_id = $2`, nil},
		// All revoked by endResidency, which the owner check (credentials_owner) requires.
		{`UPDATE credentials SET resident_id = NULL, visitor_pass_id = NULL, passkey_id = NULL, label = '', device_public_key = NULL
			WHERE community_id = $1 AND (resident_id = $2
				OR visitor_pass_id IN (SELECT id FROM visitor_passes WHERE community_id = $1 AND host_resident_id = $2))`, nil},
		{`DELETE FROM visitor_passes WHERE community_id = $1 AND host_resident_id = $2`, nil},
		// A gate that still holds such a session can only report an enrolment the server
		// refuses (the consent has ended), and then drops the template.
		{`DELETE FROM gate_commands WHERE community_id = $1 AND kind = 'face_enrol' AND payload ->> 'resident_id' = $2::text`, nil},
		// The community's newest change stays so gates' cursors stay continuable (as
		// PruneChanges keeps it); the purge's changes come after these anyway.
		{`DELETE FROM change_log WHERE community_id = $1 AND kind = 'face_template' AND entity_id = $2
			AND seq < (SELECT max(seq) FROM change_log WHERE community_id = $1)`, nil},
		// What staff set for the resident's access (issue 16), and the changes that told
		// gates of it: their credentials are revoked, so their groups no longer matter.
		{`DELETE FROM access_policies WHERE community_id = $1 AND level = 'resident' AND target_id = $2`, nil},
		{`DELETE FROM change_log WHERE community_id = $1 AND kind = 'membership' AND entity_id = $2
			AND seq < (SELECT max(seq) FROM change_log WHERE community_id = $1)`, nil},
	}
	return tx.execSteps(ctx, "erase resident", steps, c, resident)
}

// maxExportEntries bounds the entries in one export; older ones are in the paged history.
const maxExportEntries = 10000
