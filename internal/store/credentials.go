package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"gatepass/internal/access"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
)

// QRCredential is a resident's QR identity: what the gates revoke when the resident's
// rotating codes must stop working.
type QRCredential struct {
	ID    uuid.UUID
	Zones access.ZoneMask
}

// EnsureQRCredential returns the resident's live QR credential, creating it on first
// use with the resident's zones. A revoked one is not replaced: staff revoked it (or the
// resident left), and minting must stop.
func (db *DB) EnsureQRCredential(ctx context.Context, c, resident uuid.UUID) (QRCredential, error) {
	var out QRCredential
	err := db.InTx(ctx, "resident:"+resident.String(), func(tx *Tx) error {
		if err := tx.activeResident(ctx, c, resident); err != nil {
			return err
		}
		zones, err := residentZones(ctx, tx.x, c)
		if err != nil {
			return err
		}
		// The partial unique index keeps one live QR credential per resident, so a
		// concurrent first pass finds the other request's row.
		var created []uuid.UUID
		if err := tx.x.SelectContext(ctx, &created, `INSERT INTO credentials (community_id, id, kind, subject, resident_id, zones)
			SELECT $1, $2, 'qr', 'resident', $3, $4
			WHERE NOT EXISTS (SELECT 1 FROM credentials WHERE community_id = $1 AND resident_id = $3 AND kind = 'qr')
			ON CONFLICT DO NOTHING RETURNING id`, c, newID(), resident, int64(zones)); err != nil {
			return fmt.Errorf("create qr credential: %w", err)
		}
		for _, id := range created {
			if err := tx.credentialCreated(ctx, c, id); err != nil {
				return err
			}
		}
		var row struct {
			ID      uuid.UUID `db:"id"`
			Zones   int64     `db:"zones"`
			Revoked bool      `db:"revoked"`
		}
		err = tx.x.GetContext(ctx, &row, `SELECT id, zones, revoked_at IS NOT NULL AS revoked FROM credentials
			WHERE community_id = $1 AND resident_id = $2 AND kind = 'qr' ORDER BY created_at DESC LIMIT 1`, c, resident)
		if err != nil {
			return fmt.Errorf("qr credential: %w", err)
		}
		if row.Revoked {
			return fmt.Errorf("qr credential is revoked: %w", access.ErrForbidden)
		}
		out = QRCredential{ID: row.ID, Zones: access.ZoneMask(row.Zones)}
		return nil
	})
	return out, err
}

// UpdateQRZones records the zones a resident's QR codes carry now that the community's
// zones changed (codes are minted with the current zones; the row follows).
func (db *DB) UpdateQRZones(ctx context.Context, c, credential uuid.UUID, zones access.ZoneMask) error {
	if _, err := db.x.ExecContext(ctx, `UPDATE credentials SET zones = $3 WHERE community_id = $1 AND id = $2 AND kind = 'qr'`,
		c, credential, int64(zones)); err != nil {
		return fmt.Errorf("update qr zones: %w", err)
	}
	return nil
}

// revokeOwned revokes a credential of one kind that belongs to resident, telling a
// missing one (404) from one revoked already (409).
func (tx *Tx) revokeOwned(ctx context.Context, c, resident, id uuid.UUID, kind, reason string) error {
	n, err := tx.revokeCredentials(ctx, c, reason, `c.id = $3 AND c.resident_id = $4 AND c.kind = $5`, id, resident, kind)
	if err != nil {
		return err
	}
	if n == 0 {
		var revoked bool
		err := tx.x.GetContext(ctx, &revoked, `SELECT revoked_at IS NOT NULL FROM credentials
			WHERE community_id = $1 AND id = $2 AND resident_id = $3 AND kind = $4`, c, id, resident, kind)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%s %s: %w", kind, id, access.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("revoke %s: %w", kind, err)
		}
		return fmt.Errorf("%s already revoked: %w", kind, access.ErrConflict)
	}
	return tx.Audit(ctx, c, kind+".revoke", "resident:"+resident.String(), map[string]any{"credential_id": id})
}

// credentialCreated tells gates that a credential was made, so that the next delta
// carries who holds it (access.CredentialHolder): every function that creates a
// credential calls it in its transaction. The change names the credential only; the
// holder is read at sync time, so the change log never holds a resident's id, and an
// erased resident's credentials (revoked, owner cleared) are sent with no holder.
func (tx *Tx) credentialCreated(ctx context.Context, c, credential uuid.UUID) error {
	return tx.Change(ctx, c, "credential", uuid.Nil, credential, credentialChange{Credential: credential})
}

// credentialChange is the data of a "credential" change.
type credentialChange struct {
	Credential uuid.UUID `json:"credential_id"`
}

// liveHolders lists the holders of community c's credentials that may still verify at a
// gate: not revoked, and not expired by more than the largest skew a gate may allow (a
// gate still judges those; past that, nothing of theirs verifies anywhere). With ids,
// only those credentials (a delta's new ones).
func liveHolders(ctx context.Context, q selecter, c uuid.UUID, ids []uuid.UUID) ([]access.CredentialHolder, error) {
	out := []access.CredentialHolder{}
	var only any
	if ids != nil {
		only = pq.Array(uuidStrings(ids))
	}
	err := q.SelectContext(ctx, &out, `SELECT id, coalesce(resident_id, visitor_pass_id, passholder_id) AS holder_id FROM credentials
		WHERE community_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now() - $2::interval)
		  AND coalesce(resident_id, visitor_pass_id, passholder_id) IS NOT NULL AND ($3::uuid[] IS NULL OR id = ANY($3::uuid[]))
		ORDER BY id`, c, seconds(access.MaxSkew), only)
	if err != nil {
		return nil, fmt.Errorf("live holders: %w", err)
	}
	return out, nil
}

// Revocation is what gates learn when a credential stops working.
type Revocation struct {
	Credential  uuid.UUID `json:"credential_id"`
	ForgetAfter time.Time `json:"forget_after"`
}

// revokeCredentials revokes the live credentials matched by where (a condition on
// credentials c, with $1 = community and args from $3) and tells the gates.
func (tx *Tx) revokeCredentials(ctx context.Context, community uuid.UUID, reason, where string, args ...any) (int, error) {
	var rows []struct {
		ID        uuid.UUID  `db:"id"`
		RevokedAt time.Time  `db:"revoked_at"`
		ExpiresAt *time.Time `db:"expires_at"`
	}
	err := tx.x.SelectContext(ctx, &rows, `UPDATE credentials c SET revoked_at = now(), revoke_reason = $2
		WHERE c.community_id = $1 AND c.revoked_at IS NULL AND (`+where+`)
		RETURNING c.id, c.revoked_at, c.expires_at`, append([]any{community, reason}, args...)...)
	if err != nil {
		return 0, fmt.Errorf("revoke credentials: %w", err)
	}
	for _, r := range rows {
		rev := Revocation{Credential: r.ID, ForgetAfter: access.ForgetRevocationAfter(r.RevokedAt, r.ExpiresAt)}
		if err := tx.Change(ctx, community, "revocation", uuid.Nil, r.ID, rev); err != nil {
			return 0, err
		}
	}
	return len(rows), nil
}
