package store_test

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/dbtest"
	"gatepass/internal/store"
)

// Issue 20 item 4: a gate's token is looked up once per GateTokenTTL, not on every
// request, and a disabled gate is still refused within 2 s on every server (at once on
// the one that disabled it).
func TestGateTokenCache(t *testing.T) {
	f := newHubFix(t, 0)
	ctx := context.Background()
	enrolled := func() (uuid.UUID, string) {
		var code string
		var id uuid.UUID
		err := f.db.InTx(ctx, "test", func(tx *store.Tx) error {
			g, en, err := tx.CreateGate(ctx, store.NewGate{Community: f.c, Name: "T" + uuid.NewString()[:6], Direction: "in"})
			code, id = en.Code, g.ID
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		box, _ := ecdh.X25519().GenerateKey(rand.Reader)
		_, token, err := f.db.EnrollGate(ctx, code, box.PublicKey().Bytes(), "test")
		if err != nil {
			t.Fatal(err)
		}
		return id, token
	}
	gate := store.WithWork(ctx, store.GateSyncWork)

	// Disabled behind this server's back (another server, or by hand): refused within
	// GateTokenTTL, and answered from memory until then.
	id, token := enrolled()
	if _, err := f.db.GateByToken(gate, token); err != nil {
		t.Fatal(err)
	}
	dbtest.Set(t, f.db.SQL(), dbtest.Gates, dbtest.Values{"disabled_at": dbtest.Now()}, dbtest.Eq("id", id))
	disabled := time.Now()
	if _, err := f.db.GateByToken(gate, token); err != nil {
		t.Fatalf("a token looked up a moment ago was looked up again: %v", err)
	}
	for {
		_, err := f.db.GateByToken(gate, token)
		if errors.Is(err, access.ErrUnauthorized) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Since(disabled) > store.GateTokenTTL+200*time.Millisecond {
			t.Fatalf("a disabled gate's token still accepted %v after", time.Since(disabled))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("disabled behind the server's back: refused %v after", time.Since(disabled).Round(time.Millisecond))
	if store.GateTokenTTL > 2*time.Second {
		t.Fatalf("GateTokenTTL %v: a disabled gate must be refused within 2 s", store.GateTokenTTL)
	}

	// Disabled through the store: refused at once.
	id, token = enrolled()
	if _, err := f.db.GateByToken(gate, token); err != nil {
		t.Fatal(err)
	}
	if err := f.db.InTx(ctx, "test", func(tx *store.Tx) error { return tx.DisableGate(ctx, f.c, id) }); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.GateByToken(gate, token); !errors.Is(err, access.ErrUnauthorized) {
		t.Fatalf("right after DisableGate: %v, want unauthorized", err)
	}
}
