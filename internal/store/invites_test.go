package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"gatepass/internal/dbtest"
	"gatepass/internal/secret"
	"gatepass/internal/store"
)

// An invite's short code finds it, typed any forgiving way, until it is used; the
// community comes from the code's bucket, which SQL computes as secret.ShortBucket does.
func TestInviteShortCode(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t)
	c, resident := residentFix(t, db, "short")
	var inv store.Invite
	if err := db.InTx(ctx, "test", func(tx *store.Tx) (err error) {
		inv, err = tx.ReissueInvite(ctx, c, resident)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	normal, bucket, err := secret.ParseShort(strings.ToLower(inv.ShortCode))
	if err != nil || bucket != secret.ShortBucket(c) {
		t.Fatalf("short code %q: bucket %d (community's %d), %v", inv.ShortCode, bucket, secret.ShortBucket(c), err)
	}
	var sqlBucket int
	if err := db.SQL().QueryRow(`SELECT (get_byte(sha256(uuid_send($1::uuid)), 0) * 256 + get_byte(sha256(uuid_send($1::uuid)), 1)) % 1024`, c).Scan(&sqlBucket); err != nil || sqlBucket != bucket {
		t.Fatalf("SQL bucket %d, Go bucket %d: %v", sqlBucket, bucket, err)
	}
	got, err := db.InviteByShortCode(ctx, normal, bucket)
	if err != nil || got.Community != c || got.Resident != resident {
		t.Fatalf("InviteByShortCode = %+v, %v", got, err)
	}
	// The long code finds the same invite.
	lc, h, err := secret.Parse(secret.KindInvite, inv.Code)
	if err != nil {
		t.Fatal(err)
	}
	if long, err := db.InviteByCode(ctx, lc, h); err != nil || long.ID != got.ID {
		t.Fatalf("InviteByCode = %+v, %v", long, err)
	}
	// Nothing is stored in clear, and the stored hash is keyed.
	var stored []byte
	if err := db.SQL().QueryRow(`SELECT short_hash FROM invites WHERE community_id = $1 AND id = $2`, c, got.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if plain := secret.ShortHash(nil, normal); string(stored) == string(plain[:]) || strings.Contains(string(stored), normal) {
		t.Fatal("the short code is stored unkeyed")
	}
	// Another bucket, another code, a used invite: not found.
	other := []byte(normal)
	other[len(other)-1] = map[bool]byte{true: '2', false: '3'}[other[len(other)-1] != '2']
	for _, try := range []struct {
		normal string
		bucket int
	}{{normal, (bucket + 1) % secret.ShortBuckets}, {string(other), bucket}} {
		if _, err := db.InviteByShortCode(ctx, try.normal, try.bucket); !errors.Is(err, store.ErrInviteUnusable) {
			t.Errorf("InviteByShortCode(%s, %d) = %v, want ErrInviteUnusable", try.normal, try.bucket, err)
		}
	}
	if _, err := db.SQL().Exec(`UPDATE invites SET used_at = now() WHERE community_id = $1 AND id = $2`, c, got.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.InviteByShortCode(ctx, normal, bucket); !errors.Is(err, store.ErrInviteUnusable) {
		t.Fatalf("a used invite's short code = %v", err)
	}
}
