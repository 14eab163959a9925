package admin_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/dbtest"
	"gatepass/internal/store"
	"gatepass/server/internal/servertest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// harness is the shared server harness with the admin tests' own helpers on it.
type harness struct{ *servertest.Harness }

func newHarness(t testing.TB) *harness { return &harness{servertest.New(t)} }

// activeKID is the kid of f's signing key (each allowed caller of the matrix compromises
// it, and a new one takes over).
func (h *harness) activeKID(f servertest.Fixture) string {
	h.T.Helper()
	keys, err := h.DB.Keys(context.Background(), uuid.MustParse(f.ID))
	if err != nil {
		h.T.Fatal(err)
	}
	for _, k := range keys {
		if k.RetiredAt == nil {
			return strconv.FormatUint(uint64(k.KID), 10)
		}
	}
	h.T.Fatal("no active key")
	return ""
}

// release queues a manual release of gate g of community f and returns its command id.
func (h *harness) release(f servertest.Fixture, g string) string {
	h.T.Helper()
	var out access.Release
	err := h.DB.InTx(context.Background(), "test", func(tx *store.Tx) (err error) {
		out, err = tx.UnlockGate(context.Background(), uuid.MustParse(f.ID), uuid.MustParse(g), uuid.New(), "test")
		return err
	})
	if err != nil {
		h.T.Fatal(err)
	}
	return out.ID.String()
}
