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
	err := db.x.SelectContext(ctx, &out, `SELECT kid, public_key, created_at, retired_at, publish_until FROM signing_keys
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

// publishedKeys lists community c's keys still inside their publication window, by kid;
// the gate sync reads them inside its own repeatable-read transaction.
func publishedKeys(ctx context.Context, q selecter, c uuid.UUID) ([]access.KeyInfo, error) {
	var rows []access.KeyInfo
	err := q.SelectContext(ctx, &rows, `SELECT kid, public_key, created_at, retired_at, publish_until FROM signing_keys
		WHERE community_id = $1 AND (publish_until IS NULL OR publish_until > now()) ORDER BY kid`, c)
	return rows, err
}

// Signer opens community c's active private key.
func (db *DB) Signer(ctx context.Context, c uuid.UUID, sealer *secret.Sealer) (credential.Signer, error) {
	return db.signer(ctx, c, sealer, `retired_at IS NULL`)
}

// SignerByKID opens one particular key of community c, retired or not (for tests and
// for re-signing during an incident).
func (db *DB) SignerByKID(ctx context.Context, c uuid.UUID, kid uint32, sealer *secret.Sealer) (credential.Signer, error) {
	return db.signer(ctx, c, sealer, `kid = $2`, kid)
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
