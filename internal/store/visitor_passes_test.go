package store_test

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/dbtest"
	"gatepass/internal/secret"
	"gatepass/internal/store"
)

// residentFix makes a community with one building, unit and resident in it (name), in
// its own transaction, and returns the community and resident ids.
func residentFix(t *testing.T, db *store.DB, name string) (uuid.UUID, uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	key := make([]byte, secret.MasterKeySize)
	_, _ = rand.Read(key)
	sealer, _ := secret.NewSealer(key)
	var c, resident uuid.UUID
	err := db.InTx(ctx, "test", func(tx *store.Tx) error {
		info, err := tx.CreateCommunity(ctx, name+" "+uuid.NewString(), sealer)
		if err != nil {
			return err
		}
		c = info.ID
		bl, err := tx.CreateBuilding(ctx, c, "B")
		if err != nil {
			return err
		}
		u, err := tx.CreateUnit(ctx, c, bl.ID, "1")
		if err != nil {
			return err
		}
		r, _, err := tx.CreateResident(ctx, store.NewResident{Community: c, Name: name, Unit: u.ID, Role: access.RoleOwner})
		resident = r.ID
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, resident
}

func TestCountVisitorEntries(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t)
	c, host := residentFix(t, db, "host")
	var a, b store.VisitorPass
	err := db.InTx(ctx, "test", func(tx *store.Tx) (err error) {
		now := time.Now()
		p := store.NewVisitorPass{Community: c, Host: host, Label: "a", Zones: 1, ValidFrom: now, ValidUntil: now.Add(time.Hour), MaxEntries: 3}
		if a, _, err = tx.CreateVisitorPass(ctx, p); err != nil {
			return err
		}
		p.Label = "b"
		b, _, err = tx.CreateVisitorPass(ctx, p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Two entries of a, one of b, and credentials that are no visitor pass's.
	n, err := db.CountVisitorEntries(ctx, c, []uuid.UUID{a.Credential, b.Credential, a.Credential, uuid.New()})
	if err != nil || n != 2 {
		t.Fatalf("passes counted: %d %v", n, err)
	}
	if n, err := db.CountVisitorEntries(ctx, uuid.New(), []uuid.UUID{a.Credential}); err != nil || n != 0 {
		t.Fatalf("another community's count touched %d passes (%v)", n, err)
	}
	list, err := db.VisitorPasses(ctx, c, uuid.Nil, 10)
	if err != nil {
		t.Fatal(err)
	}
	used := map[uuid.UUID]int{}
	for _, p := range list {
		used[p.ID] = p.EntriesUsed
	}
	if used[a.ID] != 2 || used[b.ID] != 1 {
		t.Fatalf("entries used %v", used)
	}

	// Staff list the passes with their state, decided by the resident rules.
	if _, err := db.CountVisitorEntries(ctx, c, []uuid.UUID{a.Credential}); err != nil {
		t.Fatal(err)
	}
	if list, err = db.VisitorPasses(ctx, c, uuid.Nil, 10); err != nil {
		t.Fatal(err)
	}
	state := map[uuid.UUID]access.VisitorState{}
	for _, p := range list {
		state[p.ID] = p.State(time.Now())
	}
	if state[a.ID] != access.VisitorUsedUp || state[b.ID] != access.VisitorActive {
		t.Fatalf("states %v", state)
	}
	if err := db.InTx(ctx, "test", func(tx *store.Tx) error { return tx.RevokeVisitorPass(ctx, c, uuid.Nil, b.ID) }); err != nil {
		t.Fatal(err)
	}
	if list, err = db.VisitorPasses(ctx, c, a.Host, 10); err != nil || len(list) != 2 {
		t.Fatalf("host's passes %v %v", list, err)
	}
	for _, p := range list {
		if p.HostStatus != access.ResidentActive || p.ID == b.ID && p.State(time.Now()) != access.VisitorRevoked {
			t.Fatalf("pass %s: host %s, state %s", p.Label, p.HostStatus, p.State(time.Now()))
		}
	}
}

// TestMoveOutRacingAVisitorPass: a move-out in flight (its UPDATE of the resident not yet
// committed) while the host creates a pass. The pass must not outlive the move-out: the
// creating transaction waits for it and is refused. Before activeResident held the row,
// it read the old status and the pass was created after the move-out's revocations.
func TestMoveOutRacingAVisitorPass(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t)
	sealer := dbtest.Sealer(t)
	var c, host uuid.UUID
	err := db.InTx(ctx, "test", func(tx *store.Tx) error {
		info, err := tx.CreateCommunity(ctx, "race "+uuid.NewString(), sealer)
		if err != nil {
			return err
		}
		c = info.ID
		bl, err := tx.CreateBuilding(ctx, c, "B")
		if err != nil {
			return err
		}
		u, err := tx.CreateUnit(ctx, c, bl.ID, "1")
		if err != nil {
			return err
		}
		r, _, err := tx.CreateResident(ctx, store.NewResident{Community: c, Name: "host", Unit: u.ID, Role: access.RoleOwner})
		host = r.ID
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	moveOut, err := db.SQL().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := moveOut.Exec(`UPDATE residents SET status = 'moved_out', ended_at = now() WHERE community_id = $1 AND id = $2`, c, host); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		now := time.Now()
		done <- db.InTx(ctx, "test", func(tx *store.Tx) error {
			_, _, err := tx.CreateVisitorPass(ctx, store.NewVisitorPass{Community: c, Host: host, Label: "late", Zones: 1,
				ValidFrom: now, ValidUntil: now.Add(time.Hour), MaxEntries: 1})
			return err
		})
	}()
	select {
	case err := <-done:
		t.Fatalf("the pass was decided while the move-out was in flight: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := moveOut.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, access.ErrForbidden) {
		t.Fatalf("pass for a host whose move-out committed first: %v, want ErrForbidden", err)
	}
}
