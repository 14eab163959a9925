package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/consent"
)

// maxReportEnds bounds the list of withdrawals in one report (newest first).
const maxReportEnds = 1000

// ReportPage selects a page of the report's residents, in resident id order.
type ReportPage struct {
	Cursor string // from the previous page's NextCursor; "" for the first page
	Limit  int
}

// ConsentReport builds a community's consent report and audits that it was viewed, in
// this transaction: looking at who consented is itself an act on personal data. The
// counts, withdrawals and gates are whole on every page; the residents are one page.
func (tx *Tx) ConsentReport(ctx context.Context, c uuid.UUID, page ReportPage) (access.ConsentReport, error) {
	var after any // keyset on resident id; the cursor is the last id of the previous page
	if page.Cursor != "" {
		id, err := uuid.Parse(page.Cursor)
		if err != nil {
			return access.ConsentReport{}, ErrBadCursor
		}
		after = id
	}
	rep := access.ConsentReport{Community: c, NoticeVersion: consent.CurrentVersion, GeneratedAt: time.Now().UTC(),
		Residents: []access.ResidentConsent{}, Withdrawals: []access.ConsentEnd{}, UnackedGates: []access.GatePendingPurge{}}
	err := tx.x.GetContext(ctx, &rep.Counts, `SELECT
		count(*) FILTER (WHERE withdrawn_at IS NULL) AS live,
		count(*) FILTER (WHERE withdrawn_at IS NULL AND notice_version <> $2) AS live_old_notice,
		count(*) FILTER (WHERE withdrawn_at IS NULL AND scope = 'one_gate') AS one_gate,
		count(*) FILTER (WHERE withdrawn_at IS NULL AND scope = 'community') AS community_scope,
		count(*) FILTER (WHERE withdrawn_at IS NULL AND given_by <> resident_id) AS by_guardian,
		count(*) FILTER (WHERE end_reason = 'withdrawal') AS withdrawn,
		count(*) FILTER (WHERE end_reason = 'move_out') AS moved_out,
		count(*) FILTER (WHERE end_reason = 'deletion') AS deleted,
		count(*) FILTER (WHERE end_reason = 'retention') AS retention,
		count(*) FILTER (WHERE end_reason = 'service_ended') AS service_ended,
		(SELECT count(DISTINCT resident_id) FROM face_templates WHERE community_id = $1) AS with_templates,
		(SELECT count(*) FROM face_purges WHERE community_id = $1 AND acked_at IS NULL) AS pending_purges
		FROM consents WHERE community_id = $1 AND purpose = 'face_entry'`, c, consent.CurrentVersion)
	if err != nil {
		return rep, fmt.Errorf("consent report counts: %w", err)
	}
	// Subqueries name the community as $1 (not k.community_id): Citus then sends the
	// report to the community's shard only.
	err = tx.x.SelectContext(ctx, &rep.Residents, `SELECT DISTINCT ON (k.resident_id) k.resident_id,
			coalesce(k.end_reason, 'live') AS status, k.scope, k.gate_id, k.given_by, k.notice_version, k.notice_language,
			k.channel, k.granted_at, k.withdrawn_at, k.last_face_entry_at,
			(SELECT count(*) FROM face_templates t WHERE t.community_id = $1 AND t.resident_id = k.resident_id) AS templates,
			(SELECT count(*) FROM face_purges p WHERE p.community_id = $1 AND p.resident_id = k.resident_id
				AND p.acked_at IS NULL) AS pending_purges
		FROM consents k WHERE k.community_id = $1 AND k.purpose = 'face_entry'
		  AND ($2::uuid IS NULL OR k.resident_id > $2::uuid)
		ORDER BY k.resident_id, k.granted_at DESC, k.id DESC LIMIT $3`, c, after, page.Limit+1)
	if err != nil {
		return rep, fmt.Errorf("consent report residents: %w", err)
	}
	if len(rep.Residents) > page.Limit {
		rep.Residents = rep.Residents[:page.Limit]
		rep.NextCursor = rep.Residents[page.Limit-1].Resident.String()
	}
	err = tx.x.SelectContext(ctx, &rep.Withdrawals, `SELECT id, resident_id, end_reason, withdrawn_by, withdrawn_at
		FROM consents WHERE community_id = $1 AND withdrawn_at IS NOT NULL AND end_reason <> 'superseded'
		ORDER BY withdrawn_at DESC, id DESC LIMIT $2`, c, maxReportEnds)
	if err != nil {
		return rep, fmt.Errorf("consent report withdrawals: %w", err)
	}
	err = tx.x.SelectContext(ctx, &rep.UnackedGates, `SELECT p.gate_id, g.name, count(*) AS pending, min(p.requested_at) AS oldest, g.last_seen_at
		FROM face_purges p JOIN gates g ON g.community_id = p.community_id AND g.id = p.gate_id
		WHERE p.community_id = $1 AND p.acked_at IS NULL
		GROUP BY p.gate_id, g.name, g.last_seen_at ORDER BY oldest`, c)
	if err != nil {
		return rep, fmt.Errorf("consent report gates: %w", err)
	}
	return rep, tx.Audit(ctx, c, "consent.report", "community:"+c.String(), map[string]any{
		"live": rep.Counts.Live, "residents": len(rep.Residents), "unconfirmed_purges": rep.Counts.PendingPurges, "cursor": page.Cursor,
	})
}
