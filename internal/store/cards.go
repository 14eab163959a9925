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

// Card is a printed card credential (type 0x03) as staff list it.
type Card struct {
	ID        uuid.UUID  `db:"id" json:"id"`
	Resident  uuid.UUID  `db:"resident_id" json:"resident_id"`
	Zones     int64      `db:"zones" json:"zones"`
	CreatedAt time.Time  `db:"created_at" json:"created_at"`
	ExpiresAt time.Time  `db:"expires_at" json:"expires_at"`
	RevokedAt *time.Time `db:"revoked_at" json:"revoked_at,omitempty"`
}

// IssueCard makes a printed card for an active resident, valid for the given time, and
// returns it with its QR text: CreateCard and credential.IssueCard in one transaction,
// for a caller that holds no signer of its own. The text is not stored: a lost card is
// revoked and a new one printed.
func (db *DB) IssueCard(ctx context.Context, actor string, c, resident uuid.UUID, valid time.Duration, sealer *secret.Sealer) (Card, string, error) {
	var card Card
	var text string
	err := db.inSignedTx(ctx, actor, c, sealer, func(tx *Tx, signer credential.Signer) (err error) {
		v := credential.CardValidity(time.Now(), valid)
		var zones access.ZoneMask
		if card, zones, err = tx.CreateCard(ctx, c, resident, signer.KID, v); err != nil {
			return err
		}
		if text, err = credential.IssueCard(signer, card.ID, uint64(zones), v); err != nil {
			return fmt.Errorf("issue card: %w", err)
		}
		return nil
	})
	return card, text, err
}

// inSignedTx runs fn in a transaction with community c's active signer. It runs it once
// more if the key was declared compromised between opening it and the transaction: the
// second try opens the key that replaced it.
func (db *DB) inSignedTx(ctx context.Context, actor string, c uuid.UUID, sealer *secret.Sealer, fn func(tx *Tx, signer credential.Signer) error) error {
	for try := 0; ; try++ {
		signer, err := db.Signer(ctx, c, sealer)
		if err != nil {
			return err
		}
		err = db.InTx(ctx, actor, func(tx *Tx) error { return fn(tx, signer) })
		if errors.Is(err, access.ErrKeyCompromised) && try == 0 {
			continue
		}
		return err
	}
}

// CreateCard records a printed card for an active resident, valid over v, and returns it
// with the zones it opens; the caller signs it (credential.IssueCard) with key kid in the
// same transaction, so a failure leaves no row. The kid is recorded so that the key's
// compromise revokes the card (a compromised key is refused: ErrKeyCompromised).
func (tx *Tx) CreateCard(ctx context.Context, c, resident uuid.UUID, kid uint32, v credential.Validity) (Card, access.ZoneMask, error) {
	if err := tx.signingKeyUsable(ctx, c, kid); err != nil {
		return Card{}, 0, err
	}
	r, err := residentQ(ctx, tx.x, c, resident)
	if err != nil {
		return Card{}, 0, err
	}
	if !r.Status.MayHoldPass() {
		return Card{}, 0, fmt.Errorf("resident has %s: %w", r.Status, access.ErrConflict)
	}
	zones, err := residentZones(ctx, tx.x, c)
	if err != nil {
		return Card{}, 0, err
	}
	var card Card
	err = tx.x.GetContext(ctx, &card, `INSERT INTO credentials (community_id, id, kind, subject, resident_id, zones, expires_at, kid)
		VALUES ($1, $2, 'card', 'resident', $3, $4, $5, $6) RETURNING id, resident_id, zones, created_at, expires_at, revoked_at`,
		c, newID(), resident, int64(zones), v.ExpiresAt, kid)
	if err != nil {
		return Card{}, 0, fmt.Errorf("issue card: %w", err)
	}
	if err := tx.credentialCreated(ctx, c, card.ID); err != nil {
		return Card{}, 0, err
	}
	return card, zones, tx.Audit(ctx, c, "card.issue", "resident:"+resident.String(),
		map[string]any{"credential_id": card.ID, "expires_at": card.ExpiresAt})
}

// Cards lists a resident's cards, newest first.
func (db *DB) Cards(ctx context.Context, c, resident uuid.UUID) ([]Card, error) {
	if _, err := residentQ(ctx, db.x, c, resident); err != nil {
		return nil, err
	}
	out := []Card{}
	err := db.x.SelectContext(ctx, &out, `SELECT id, resident_id, zones, created_at, expires_at, revoked_at FROM credentials
		WHERE community_id = $1 AND resident_id = $2 AND kind = 'card' ORDER BY created_at DESC, id`, c, resident)
	if err != nil {
		return nil, fmt.Errorf("list cards: %w", err)
	}
	return out, nil
}

// RevokeCard revokes one of a resident's cards at once: gates learn it through sync.
func (tx *Tx) RevokeCard(ctx context.Context, c, resident, card uuid.UUID) error {
	if err := tx.revokeCard(ctx, c, card, "resident_id", resident); err != nil {
		return err
	}
	return tx.Audit(ctx, c, "card.revoke", "resident:"+resident.String(), map[string]any{"credential_id": card})
}

// revokeCard revokes card, which must be a card of owner (ownerColumn names which kind
// of owner: resident_id or passholder_id, never input). A card that is not the owner's
// is not found; one revoked already is a conflict.
func (tx *Tx) revokeCard(ctx context.Context, c, card uuid.UUID, ownerColumn string, owner uuid.UUID) error {
	n, err := tx.revokeCredentials(ctx, c, "card_revoked", `c.id = $3 AND c.`+ownerColumn+` = $4 AND c.kind = 'card'`, card, owner)
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	var revoked bool
	err = tx.x.GetContext(ctx, &revoked, `SELECT revoked_at IS NOT NULL FROM credentials
		WHERE community_id = $1 AND id = $2 AND `+ownerColumn+` = $3 AND kind = 'card'`, c, card, owner)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("card %s: %w", card, access.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("revoke card: %w", err)
	}
	return fmt.Errorf("card already revoked: %w", access.ErrConflict)
}
