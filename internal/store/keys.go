package store

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"gatepass/internal/access"
	"gatepass/internal/credential"
	"gatepass/internal/secret"
)

// keyAD binds a sealed private key to its community and kid, so a sealed key copied to
// another row does not open.
func keyAD(c uuid.UUID, kid uint32) []byte {
	ad := append([]byte("gatepass/signing-key/v1"), c[:]...)
	return binary.BigEndian.AppendUint32(ad, kid)
}

// createSigningKey makes community c's new active key, sealed under the master key.
func (tx *Tx) createSigningKey(ctx context.Context, c uuid.UUID, sealer *secret.Sealer) (access.KeyInfo, error) {
	var kid uint32
	if err := tx.x.GetContext(ctx, &kid, `SELECT nextval('signing_key_kid_seq')`); err != nil {
		return access.KeyInfo{}, fmt.Errorf("new signing key: %w", err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return access.KeyInfo{}, fmt.Errorf("new signing key: %w", err)
	}
	sealed, err := sealer.Seal(priv.Seed(), keyAD(c, kid))
	if err != nil {
		return access.KeyInfo{}, err
	}
	var k access.KeyInfo
	err = tx.x.GetContext(ctx, &k, `INSERT INTO signing_keys (community_id, kid, public_key, private_key_enc) VALUES ($1, $2, $3, $4)
		RETURNING kid, public_key, created_at, retired_at, publish_until`, c, kid, []byte(pub), sealed)
	if err != nil {
		return access.KeyInfo{}, fmt.Errorf("new signing key: %w", err)
	}
	return k, tx.Change(ctx, c, "key", uuid.Nil, c, k)
}

func seconds(d time.Duration) string { return fmt.Sprintf("%d seconds", int64(d.Seconds())) }

// RotateKey retires community c's active key and makes a new one. The retired key stays
// published until every token it could have signed has expired.
func (tx *Tx) RotateKey(ctx context.Context, c uuid.UUID, sealer *secret.Sealer) (access.KeyInfo, error) {
	var old access.KeyInfo
	err := tx.x.GetContext(ctx, &old, `UPDATE signing_keys SET retired_at = now() + $2::interval,
			publish_until = now() + $2::interval + $3::interval
		WHERE community_id = $1 AND retired_at IS NULL RETURNING kid, public_key, created_at, retired_at, publish_until`,
		c, seconds(access.KeyRotationGrace), seconds(credential.RetiredKeyRetention(credential.DefaultSkew)))
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return access.KeyInfo{}, fmt.Errorf("rotate key: %w", err)
	}
	if err == nil {
		if err := tx.Change(ctx, c, "key", uuid.Nil, c, old); err != nil {
			return access.KeyInfo{}, err
		}
	}
	k, err := tx.createSigningKey(ctx, c, sealer)
	if err != nil {
		return k, err
	}
	return k, tx.Audit(ctx, c, "key.rotate", fmt.Sprintf("key:%d", k.KID), map[string]any{"retired_kid": old.KID, "new_kid": k.KID})
}

// Keys lists community c's keys, newest first.
func (db *DB) Keys(ctx context.Context, c uuid.UUID) ([]access.KeyInfo, error) {
	out := []access.KeyInfo{}
	err := db.x.SelectContext(ctx, &out, `SELECT kid, public_key, created_at, retired_at, publish_until, compromised_at FROM signing_keys
		WHERE community_id = $1 ORDER BY kid DESC`, c)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return out, nil
}

// TrustedKeys are the keys gates of community c must trust now: the active one and the
// retired ones still inside their publication window.
func (db *DB) TrustedKeys(ctx context.Context, c uuid.UUID) ([]credential.Key, error) {
	rows, err := publishedKeys(ctx, db.x, c)
	if err != nil {
		return nil, fmt.Errorf("trusted keys: %w", err)
	}
	out := make([]credential.Key, len(rows))
	for i, r := range rows {
		out[i] = credential.Key{KID: r.KID, Community: c, Public: ed25519.PublicKey(r.Public), NotBefore: r.CreatedAt.Truncate(time.Second)}
		if r.RetiredAt != nil {
			out[i].NotAfter = *r.RetiredAt
		}
	}
	return out, nil
}

// publishedKeys lists community c's keys still inside their publication window, by kid,
// never a compromised one; the gate sync reads them inside its own repeatable-read
// transaction. Its list is complete, and a gate replaces its key set with it, so a key
// left out here is dropped by every gate at its next sync.
func publishedKeys(ctx context.Context, q selecter, c uuid.UUID) ([]access.KeyInfo, error) {
	var rows []access.KeyInfo
	err := q.SelectContext(ctx, &rows, `SELECT kid, public_key, created_at, retired_at, publish_until, compromised_at FROM signing_keys
		WHERE community_id = $1 AND (publish_until IS NULL OR publish_until > now()) AND compromised_at IS NULL ORDER BY kid`, c)
	return rows, err
}

// Signer opens community c's active private key.
func (db *DB) Signer(ctx context.Context, c uuid.UUID, sealer *secret.Sealer) (credential.Signer, error) {
	return db.signer(ctx, c, sealer, `retired_at IS NULL`)
}

// SignerByKID opens one particular key of community c, retired or not (for tests and
// for re-signing during an incident), never a compromised one: nothing it signs could
// open a door, and nobody should sign with a key an intruder holds.
func (db *DB) SignerByKID(ctx context.Context, c uuid.UUID, kid uint32, sealer *secret.Sealer) (credential.Signer, error) {
	return db.signer(ctx, c, sealer, `kid = $2 AND compromised_at IS NULL`, kid)
}

func (db *DB) signer(ctx context.Context, c uuid.UUID, sealer *secret.Sealer, where string, args ...any) (credential.Signer, error) {
	var row struct {
		KID    uint32 `db:"kid"`
		Sealed []byte `db:"private_key_enc"`
	}
	err := db.x.GetContext(ctx, &row, `SELECT kid, private_key_enc FROM signing_keys WHERE community_id = $1 AND `+where, append([]any{c}, args...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return credential.Signer{}, fmt.Errorf("community %s has no such signing key: %w", c, access.ErrNotFound)
	}
	if err != nil {
		return credential.Signer{}, fmt.Errorf("signer: %w", err)
	}
	seed, err := sealer.Open(row.Sealed, keyAD(c, row.KID))
	if err != nil {
		return credential.Signer{}, fmt.Errorf("signer of community %s: %w", c, err)
	}
	return credential.Signer{KID: row.KID, Key: ed25519.NewKeyFromSeed(seed)}, nil
}

// signingKeyUsable checks, for a credential about to be recorded as signed by kid, that
// the key is community c's and not compromised, and holds the key row (FOR SHARE) until
// the caller commits: CompromiseKey takes the row FOR UPDATE first, so either it sees
// the new credential and revokes it, or the credential is refused here.
func (tx *Tx) signingKeyUsable(ctx context.Context, c uuid.UUID, kid uint32) error {
	var compromised bool
	err := tx.x.GetContext(ctx, &compromised, `SELECT compromised_at IS NOT NULL FROM signing_keys
		WHERE community_id = $1 AND kid = $2 FOR SHARE`, c, kid)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("signing key %d of community %s: %w", kid, c, access.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("signing key: %w", err)
	}
	if compromised {
		return fmt.Errorf("signing key %d: %w", kid, access.ErrKeyCompromised)
	}
	return nil
}

// signedBy is the condition on credentials c that finds the cards and device
// certificates signed by a key: those that record its kid ($2), and those issued before
// kids were recorded while the key was signing, from $3 (its creation, less a second:
// a device's issue time is truncated to the second) to $4 (its retirement).
// A credential issued during a rotation's grace may have been signed by either key, so
// both keys' compromises count it: a card reprinted needlessly is the safe mistake.
const signedBy = `c.kind IN ('card', 'device') AND (c.kid = $2
	OR (c.kid IS NULL AND c.created_at >= $3 AND c.created_at <= $4))`

// CompromiseKey declares community c's key kid compromised (see access.KeyCompromise):
// it is retired and unpublished now, for good; if it was signing, a new key signs from
// now on; every live card and device certificate it signed is revoked, and gates learn
// both at their next sync. It returns the cards to reprint. A key compromised already
// is ErrConflict, an unknown one ErrNotFound.
func (tx *Tx) CompromiseKey(ctx context.Context, c uuid.UUID, kid uint32, reason string, sealer *secret.Sealer) (access.KeyCompromise, error) {
	out := access.KeyCompromise{KID: kid, CardsToReprint: []access.CardToReprint{}}
	var key struct {
		CreatedAt   time.Time  `db:"created_at"`
		RetiredAt   *time.Time `db:"retired_at"`
		Compromised bool       `db:"compromised"`
	}
	err := tx.x.GetContext(ctx, &key, `SELECT created_at, retired_at, compromised_at IS NOT NULL AS compromised FROM signing_keys
		WHERE community_id = $1 AND kid = $2 FOR UPDATE`, c, kid)
	if errors.Is(err, sql.ErrNoRows) {
		return out, fmt.Errorf("key %d: %w", kid, access.ErrNotFound)
	}
	if err != nil {
		return out, fmt.Errorf("compromise key: %w", err)
	}
	if key.Compromised {
		return out, fmt.Errorf("key %d is compromised already: %w", kid, access.ErrConflict)
	}
	// Retired now unless it retired before; unpublished now whatever its window said.
	// least() skips a NULL retired_at; COALESCE would do the same, but Citus refuses a
	// non-immutable function (now()) inside COALESCE or CASE.
	var retired time.Time
	err = tx.x.QueryRowxContext(ctx, `UPDATE signing_keys SET compromised_at = now(),
			retired_at = least(retired_at, now()), publish_until = now()
		WHERE community_id = $1 AND kid = $2 RETURNING compromised_at, retired_at`, c, kid).Scan(&out.CompromisedAt, &retired)
	if err != nil {
		return out, fmt.Errorf("compromise key: %w", err)
	}
	out.CompromisedAt = out.CompromisedAt.UTC()
	if err := tx.Change(ctx, c, "key", uuid.Nil, c, map[string]any{"kid": kid, "compromised": true}); err != nil {
		return out, err
	}
	// If it was the signing key (or in a rotation's grace with no successor: never, but
	// the check is on the table, not on that belief), a new key takes over.
	var active bool
	if err := tx.x.GetContext(ctx, &active, `SELECT EXISTS (SELECT 1 FROM signing_keys WHERE community_id = $1 AND retired_at IS NULL)`, c); err != nil {
		return out, fmt.Errorf("compromise key: %w", err)
	}
	if !active {
		k, err := tx.createSigningKey(ctx, c, sealer)
		if err != nil {
			return out, err
		}
		out.NewKey = &k
	}
	from := key.CreatedAt.Add(-time.Second)
	var signed []struct {
		ID        uuid.UUID `db:"id"`
		Kind      string    `db:"kind"`
		ExpiresAt time.Time `db:"expires_at"`
	}
	// Live ones only: what is revoked already needs nothing more.
	err = tx.x.SelectContext(ctx, &signed, `SELECT c.id, c.kind, c.expires_at FROM credentials c
		WHERE c.community_id = $1 AND c.revoked_at IS NULL AND `+signedBy+` FOR UPDATE`, c, kid, from, retired)
	if err != nil {
		return out, fmt.Errorf("compromise key: credentials: %w", err)
	}
	ids := make([]uuid.UUID, 0, len(signed))
	now := time.Now()
	for _, s := range signed {
		ids = append(ids, s.ID)
		if s.Kind == "device" {
			out.DevicesRevoked++
		}
	}
	err = tx.x.SelectContext(ctx, &out.CardsToReprint, `SELECT c.id, c.resident_id, r.name AS resident_name, c.created_at, c.expires_at
		FROM credentials c JOIN residents r ON r.community_id = c.community_id AND r.id = c.resident_id
		WHERE c.community_id = $1 AND c.id = ANY($2) AND c.kind = 'card' AND c.expires_at > $3
		ORDER BY r.name, c.created_at, c.id`, c, pq.Array(uuidStrings(ids)), now)
	if err != nil {
		return out, fmt.Errorf("compromise key: cards: %w", err)
	}
	if len(ids) > 0 {
		if out.Revoked, err = tx.revokeCredentials(ctx, c, access.RevokeKeyCompromised, `c.id = ANY($3)`, pq.Array(uuidStrings(ids))); err != nil {
			return out, err
		}
	}
	cards := make([]uuid.UUID, len(out.CardsToReprint))
	for i, card := range out.CardsToReprint {
		cards[i] = card.Card
	}
	summary := map[string]any{"kid": kid, "reason": reason, "revoked": out.Revoked, "devices_revoked": out.DevicesRevoked, "cards_to_reprint": cards}
	if out.NewKey != nil {
		summary["new_kid"] = out.NewKey.KID
	}
	return out, tx.Audit(ctx, c, "key.compromise", fmt.Sprintf("key:%d", kid), summary)
}
