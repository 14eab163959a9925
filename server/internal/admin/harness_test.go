package admin_test

import (
	"testing"

	"gatepass/internal/dbtest"
	"gatepass/server/internal/servertest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// harness is the shared server harness with the admin tests' own helpers on it.
type harness struct{ *servertest.Harness }

func newHarness(t testing.TB) *harness { return &harness{servertest.New(t)} }
