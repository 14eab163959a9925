package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/credential"
	"gatepass/internal/secret"
)

// Passholders (issue 16, item 1): people who are not residents (staff, cleaners,
// couriers, contractors) and enter with printed cards bound to one access group.

const passholderColumns = `community_id, id, name, kind, company, group_id, valid_until, created_at, ended_at`

// NewPassholder is what staff give to add a passholder.
type NewPassholder struct {
	Community  uuid.UUID
	Name       string
	Kind       string
	Company    string
	Group      uuid.UUID
	ValidUntil *time.Time
}

// groupOf checks that group is one of c's groups (a field error on group_id otherwise).
func (tx *Tx) groupOf(ctx context.Context, c, group uuid.UUID) error {
	if err := tx.exists(ctx, `SELECT 1 FROM access_groups WHERE community_id = $1 AND id = $2`, c, group); err != nil {
		return access.Invalid("group_id", "no such access group in this community")
	}
	return nil
}

// CreatePassholder adds a passholder bound to a group of the community.
func (tx *Tx) CreatePassholder(ctx context.Context, p NewPassholder) (access.Passholder, error) {
	if err := tx.groupOf(ctx, p.Community, p.Group); err != nil {
		return access.Passholder{}, err
	}
	var out access.Passholder
	err := tx.x.GetContext(ctx, &out, `INSERT INTO passholders (community_id, id, name, kind, company, group_id, valid_until)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+passholderColumns, p.Community, newID(), p.Name, p.Kind, p.Company, p.Group, p.ValidUntil)
	if err != nil {
		return out, fmt.Errorf("create passholder: %w", err)
	}
	if err := tx.membershipChanged(ctx, p.Community, membershipChange{Level: levelPassholder, ID: out.ID}); err != nil {
		return out, err
	}
	// Names stay out of the audit log, as residents' do.
	return out, tx.Audit(ctx, p.Community, "passholder.create", "passholder:"+out.ID.String(),
		map[string]any{"kind": p.Kind, "group_id": p.Group, "valid_until": p.ValidUntil})
}

// UpdatePassholder changes a passholder's name, company, group and end of validity; an
// ended passholder cannot be changed.
func (tx *Tx) UpdatePassholder(ctx context.Context, p access.Passholder) (access.Passholder, error) {
	if err := tx.groupOf(ctx, p.Community, p.Group); err != nil {
		return access.Passholder{}, err
	}
	var out access.Passholder
	err := tx.x.GetContext(ctx, &out, `UPDATE passholders SET name = $3, company = $4, group_id = $5, valid_until = $6
		WHERE community_id = $1 AND id = $2 AND ended_at IS NULL RETURNING `+passholderColumns,
		p.Community, p.ID, p.Name, p.Company, p.Group, p.ValidUntil)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := tx.db.Passholder(ctx, p.Community, p.ID); err != nil {
			return out, err
		}
		return out, fmt.Errorf("passholder has ended: %w", access.ErrConflict)
	}
	if err != nil {
		return out, fmt.Errorf("update passholder: %w", err)
	}
	if err := tx.membershipChanged(ctx, p.Community, membershipChange{Level: levelPassholder, ID: p.ID}); err != nil {
		return out, err
	}
	return out, tx.Audit(ctx, p.Community, "passholder.update", "passholder:"+p.ID.String(),
		map[string]any{"group_id": p.Group, "valid_until": p.ValidUntil})
}

// EndPassholder ends a passholder (the contract is over): every card of theirs is revoked
// at once and gates drop their groups.
func (tx *Tx) EndPassholder(ctx context.Context, c, id uuid.UUID) (int, error) {
	r, err := tx.x.ExecContext(ctx, `UPDATE passholders SET ended_at = now() WHERE community_id = $1 AND id = $2 AND ended_at IS NULL`, c, id)
	if err != nil {
		return 0, fmt.Errorf("end passholder: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		if _, err := tx.db.Passholder(ctx, c, id); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("passholder has ended already: %w", access.ErrConflict)
	}
	revoked, err := tx.revokeCredentials(ctx, c, "passholder_ended", `c.passholder_id = $3`, id)
	if err != nil {
		return 0, err
	}
	if err := tx.membershipChanged(ctx, c, membershipChange{Level: levelPassholder, ID: id}); err != nil {
		return 0, err
	}
	return revoked, tx.Audit(ctx, c, "passholder.end", "passholder:"+id.String(), map[string]any{"credentials_revoked": revoked})
}

// Passholder is one passholder of community c.
func (db *DB) Passholder(ctx context.Context, c, id uuid.UUID) (access.Passholder, error) {
	var out access.Passholder
	err := db.x.GetContext(ctx, &out, `SELECT `+passholderColumns+` FROM passholders WHERE community_id = $1 AND id = $2`, c, id)
	if errors.Is(err, sql.ErrNoRows) {
		return out, fmt.Errorf("passholder %s: %w", id, access.ErrNotFound)
	}
	if err != nil {
		return out, fmt.Errorf("passholder: %w", err)
	}
	return out, nil
}

// Passholders lists community c's passholders by name, the ended ones too.
func (db *DB) Passholders(ctx context.Context, c uuid.UUID) ([]access.Passholder, error) {
	out := []access.Passholder{}
	if err := db.x.SelectContext(ctx, &out, `SELECT `+passholderColumns+` FROM passholders WHERE community_id = $1 ORDER BY name, id`, c); err != nil {
		return nil, fmt.Errorf("list passholders: %w", err)
	}
	return out, nil
}

// PassholderCard is a passholder's printed card as staff list it.
type PassholderCard struct {
	ID         uuid.UUID  `db:"id" json:"id"`
	Passholder uuid.UUID  `db:"passholder_id" json:"passholder_id"`
	CreatedAt  time.Time  `db:"created_at" json:"created_at"`
	ExpiresAt  time.Time  `db:"expires_at" json:"expires_at"`
	RevokedAt  *time.Time `db:"revoked_at" json:"revoked_at,omitempty"`
}

// IssuePassholderCard prints a card for an active passholder, valid for the given time
// (never past the passholder's own end), and returns it with its QR text. Its zones are
// the group's; what it opens and when, the group decides at the gate.
func (db *DB) IssuePassholderCard(ctx context.Context, actor string, c, passholder uuid.UUID, valid time.Duration, sealer *secret.Sealer) (PassholderCard, string, error) {
	var card PassholderCard
	var text string
	err := db.inSignedTx(ctx, actor, c, sealer, func(tx *Tx, signer credential.Signer) error {
		if err := tx.signingKeyUsable(ctx, c, signer.KID); err != nil {
			return err
		}
		var p struct {
			access.Passholder
			Zones access.ZoneMask `db:"zones"`
		}
		err := tx.x.GetContext(ctx, &p, `SELECT p.community_id, p.id, p.name, p.kind, p.company, p.group_id, p.valid_until, p.created_at, p.ended_at, g.zones
			FROM passholders p JOIN access_groups g ON g.community_id = $1 AND g.id = p.group_id
			WHERE p.community_id = $1 AND p.id = $2 FOR SHARE OF p`, c, passholder)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("passholder %s: %w", passholder, access.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("issue passholder card: %w", err)
		}
		now := time.Now()
		if !p.Active(now) {
			return fmt.Errorf("passholder has ended: %w", access.ErrConflict)
		}
		v := credential.CardValidity(now, valid)
		if p.ValidUntil != nil && p.ValidUntil.Before(v.ExpiresAt) {
			v.ExpiresAt = p.ValidUntil.Truncate(time.Second)
		}
		err = tx.x.GetContext(ctx, &card, `INSERT INTO credentials (community_id, id, kind, subject, passholder_id, zones, expires_at, kid)
			VALUES ($1, $2, 'card', 'staff', $3, $4, $5, $6) RETURNING id, passholder_id, created_at, expires_at, revoked_at`,
			c, newID(), passholder, int64(p.Zones), v.ExpiresAt, signer.KID)
		if err != nil {
			return fmt.Errorf("issue passholder card: %w", err)
		}
		if err := tx.credentialCreated(ctx, c, card.ID); err != nil {
			return err
		}
		if text, err = credential.IssuePassholderCard(signer, card.ID, uint64(p.Zones), v); err != nil {
			return fmt.Errorf("issue passholder card: %w", err)
		}
		return tx.Audit(ctx, c, "passholder.card_issue", "passholder:"+passholder.String(),
			map[string]any{"credential_id": card.ID, "expires_at": card.ExpiresAt})
	})
	return card, text, err
}

// PassholderCards lists a passholder's cards, newest first.
func (db *DB) PassholderCards(ctx context.Context, c, passholder uuid.UUID) ([]PassholderCard, error) {
	if _, err := db.Passholder(ctx, c, passholder); err != nil {
		return nil, err
	}
	out := []PassholderCard{}
	err := db.x.SelectContext(ctx, &out, `SELECT id, passholder_id, created_at, expires_at, revoked_at FROM credentials
		WHERE community_id = $1 AND passholder_id = $2 AND kind = 'card' ORDER BY created_at DESC, id`, c, passholder)
	if err != nil {
		return nil, fmt.Errorf("list passholder cards: %w", err)
	}
	return out, nil
}

// RevokePassholderCard revokes one of a passholder's cards at once.
func (tx *Tx) RevokePassholderCard(ctx context.Context, c, passholder, card uuid.UUID) error {
	if err := tx.revokeCard(ctx, c, card, "passholder_id", passholder); err != nil {
		return err
	}
	return tx.Audit(ctx, c, "passholder.card_revoke", "passholder:"+passholder.String(), map[string]any{"credential_id": card})
}
