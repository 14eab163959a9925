package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/dbtest"
	"gatepass/internal/store"
)

// accessFix is a community with buildings 1 and 3 (zones 1 and 3), a unit and a resident
// in each, an enrolled gate, and a card for the building 3 resident.
type accessFix struct {
	db             *store.DB
	c              uuid.UUID
	b1, b3, u1, u3 uuid.UUID
	res1, res3     uuid.UUID
	gate           access.GateIdentity
	cursor         int64
	ctx            context.Context
	t              *testing.T
}

func newAccessFix(t *testing.T) *accessFix {
	t.Helper()
	f := &accessFix{db: dbtest.New(t), ctx: context.Background(), t: t}
	var enrol access.Enrollment
	f.tx(func(tx *store.Tx) error {
		info, err := tx.CreateCommunity(f.ctx, "Access "+uuid.NewString(), dbtest.Sealer(t))
		if err != nil {
			return err
		}
		f.c = info.ID
		for _, z := range []int{1, 3, 4} {
			if err := tx.PutZone(f.ctx, access.Zone{Community: f.c, Zone: z, Name: "Z" + string(rune('0'+z))}); err != nil {
				return err
			}
		}
		for _, b := range []struct {
			name     string
			zone     int
			bld, u   *uuid.UUID
			resident *uuid.UUID
		}{{"1号楼", 1, &f.b1, &f.u1, &f.res1}, {"3号楼", 3, &f.b3, &f.u3, &f.res3}} {
			bl, err := tx.CreateBuildingZones(f.ctx, f.c, b.name, access.ZoneMask(0).With(b.zone))
			if err != nil {
				return err
			}
			u, err := tx.CreateUnit(f.ctx, f.c, bl.ID, "101")
			if err != nil {
				return err
			}
			r, _, err := tx.CreateResident(f.ctx, store.NewResident{Community: f.c, Name: "R", Unit: u.ID, Role: access.RoleOwner})
			if err != nil {
				return err
			}
			*b.bld, *b.u, *b.resident = bl.ID, u.ID, r.ID
		}
		_, enrol, err = tx.CreateGate(f.ctx, store.NewGate{Community: f.c, Name: "Lobby 1", Zone: 1, Direction: "in"})
		return err
	})
	var err error
	if f.gate, _, err = f.db.EnrollGate(f.ctx, enrol.Code, make([]byte, 32), "test"); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *accessFix) tx(fn func(tx *store.Tx) error) {
	f.t.Helper()
	if err := f.db.InTx(f.ctx, "test", fn); err != nil {
		f.t.Fatal(err)
	}
}

// sync syncs the gate from its cursor (0: a snapshot) and moves the cursor on.
func (f *accessFix) sync() access.GateSync {
	f.t.Helper()
	out, _, err := f.db.GateSync(f.ctx, f.gate, f.cursor)
	if err != nil {
		f.t.Fatal(err)
	}
	f.cursor = out.Cursor
	return out
}

func groupsOf(s access.GateSync) map[uuid.UUID][]uuid.UUID {
	out := map[uuid.UUID][]uuid.UUID{}
	for _, m := range s.Memberships {
		out[m.Holder] = m.Groups
	}
	return out
}

// Issue 16, item 2 in the store: groups, schedules, memberships and lockdowns reach gates
// in the snapshot and in deltas, like revocations.
func TestAccessSync(t *testing.T) {
	f := newAccessFix(t)
	snap := f.sync()
	if !snap.Full || snap.Access == nil || snap.Access.TimeZone != "Asia/Shanghai" || snap.Access.OfflinePolicy != access.OfflineAcceptAll {
		t.Fatalf("snapshot access: %+v", snap.Access)
	}
	zones := map[uuid.UUID]access.ZoneMask{}
	for _, g := range snap.Access.Groups {
		zones[g.ID] = g.Zones
	}
	if zones[f.b1] != 1|1<<1 || zones[f.b3] != 1|1<<3 {
		t.Fatalf("building groups: %v", zones)
	}
	m := groupsOf(snap)
	if len(m[f.res3]) != 1 || m[f.res3][0] != f.b3 || m[f.res1][0] != f.b1 {
		t.Fatalf("snapshot memberships: %v", m)
	}

	// Nothing changed: a delta without access rules.
	if d := f.sync(); d.Access != nil || len(d.Memberships) != 0 {
		t.Fatalf("empty delta: %+v %v", d.Access, d.Memberships)
	}

	// A group with a schedule: the rules come whole; a unit policy names its residents.
	week := access.WeeklySchedule{}
	week[time.Monday] = []access.Window{{Start: 7 * 60, End: 18 * 60}}
	var cleaners access.AccessGroup
	f.tx(func(tx *store.Tx) (err error) {
		cleaners, err = tx.CreateAccessGroup(f.ctx, access.AccessGroup{Community: f.c, Name: "保洁", Zones: 1<<1 | 1<<4, Schedule: &week,
			Holidays: []access.Holiday{{Date: "2026-10-01"}}})
		return err
	})
	d := f.sync()
	if d.Access == nil || len(d.Access.Groups) != 3 || len(d.Memberships) != 0 {
		t.Fatalf("group delta: %+v %v", d.Access, d.Memberships)
	}
	f.tx(func(tx *store.Tx) error {
		_, err := tx.SetAccessPolicy(f.ctx, access.AccessPolicy{Community: f.c, Level: access.LevelUnit, Target: f.u3, Groups: []uuid.UUID{cleaners.ID}, Inherit: true})
		return err
	})
	d = f.sync()
	if m := groupsOf(d); d.Access != nil || len(m) != 1 || len(m[f.res3]) != 2 || m[f.res3][0] != cleaners.ID || m[f.res3][1] != f.b3 {
		t.Fatalf("policy delta: %+v %v", d.Access, groupsOf(d))
	}
	// Narrowing the building to nothing reaches its residents, unit policy aside.
	f.tx(func(tx *store.Tx) error {
		_, err := tx.SetAccessPolicy(f.ctx, access.AccessPolicy{Community: f.c, Level: access.LevelBuilding, Target: f.b1})
		return err
	})
	if m := groupsOf(f.sync()); len(m) != 1 || len(m[f.res1]) != 0 || m[f.res1] == nil {
		t.Fatalf("narrowed building: %v", m)
	}

	// A passholder's card: its holder and its group arrive with it.
	var ph access.Passholder
	f.tx(func(tx *store.Tx) (err error) {
		ph, err = tx.CreatePassholder(f.ctx, store.NewPassholder{Community: f.c, Name: "王阿姨", Kind: access.PassholderCleaner, Group: cleaners.ID})
		return err
	})
	f.sync()
	card, text, err := f.db.IssuePassholderCard(f.ctx, "test", f.c, ph.ID, 24*time.Hour, dbtest.Sealer(t))
	if err != nil || text == "" {
		t.Fatal(err)
	}
	d = f.sync()
	if len(d.Holders) != 1 || d.Holders[0].Credential != card.ID || d.Holders[0].Holder != ph.ID {
		t.Fatalf("card holder: %v", d.Holders)
	}
	if m := groupsOf(d); len(m[ph.ID]) != 1 || m[ph.ID][0] != cleaners.ID {
		t.Fatalf("card holder's groups: %v", m)
	}
	// The passholder ends: the card is revoked, the groups gone.
	f.tx(func(tx *store.Tx) error {
		n, err := tx.EndPassholder(f.ctx, f.c, ph.ID)
		if n != 1 {
			t.Errorf("revoked %d cards", n)
		}
		return err
	})
	d = f.sync()
	if m := groupsOf(d); len(d.Revocations) != 1 || m[ph.ID] == nil || len(m[ph.ID]) != 0 {
		t.Fatalf("ended: revocations %v groups %v", d.Revocations, m)
	}
	// A group passholders are bound to (ended ones too: their record names it) stays; one
	// bound to nobody goes, and leaves the policies that named it.
	if err := f.db.InTx(f.ctx, "test", func(tx *store.Tx) error { return tx.DeleteAccessGroup(f.ctx, f.c, cleaners.ID) }); !errors.Is(err, access.ErrConflict) {
		t.Fatalf("deleting a group with passholders: %v", err)
	}
	var temp access.AccessGroup
	f.tx(func(tx *store.Tx) (err error) {
		if temp, err = tx.CreateAccessGroup(f.ctx, access.AccessGroup{Community: f.c, Name: "temp", Zones: 1}); err != nil {
			return err
		}
		_, err = tx.SetAccessPolicy(f.ctx, access.AccessPolicy{Community: f.c, Level: access.LevelResident, Target: f.res3, Groups: []uuid.UUID{temp.ID}, Inherit: true})
		return err
	})
	if m := groupsOf(f.sync()); len(m[f.res3]) != 3 {
		t.Fatalf("temp group: %v", m)
	}
	f.tx(func(tx *store.Tx) error { return tx.DeleteAccessGroup(f.ctx, f.c, temp.ID) })
	if d := f.sync(); d.Access == nil || len(d.Access.Groups) != 3 || len(groupsOf(d)[f.res3]) != 2 {
		t.Fatalf("group deleted: %+v %v", d.Access, groupsOf(d))
	}

	// A lockdown with an automatic end: in the rules until it ends; its end recorded.
	var l access.Lockdown
	minute := time.Minute
	f.tx(func(tx *store.Tx) (err error) {
		l, err = tx.StartLockdown(f.ctx, access.Lockdown{Community: f.c, Scope: access.LockGate, Gate: &f.gate.ID, Reason: "drill"}, uuid.New(), &minute)
		return err
	})
	d = f.sync()
	if d.Access == nil || len(d.Access.Lockdowns) != 1 || d.Access.Lockdowns[0].ID != l.ID || d.Access.Lockdowns[0].EndsAt == nil {
		t.Fatalf("lockdown delta: %+v", d.Access)
	}
	dbtest.Set(t, f.db.SQL(), dbtest.Lockdowns, dbtest.Values{"ends_at": time.Now().Add(-time.Second), "started_at": time.Now().Add(-time.Minute)},
		dbtest.Eq("id", l.ID))
	n, err := f.db.EndExpiredLockdowns(f.ctx)
	if err != nil || n != 1 {
		t.Fatalf("ended %d lockdowns: %v", n, err)
	}
	if d := f.sync(); d.Access == nil || len(d.Access.Lockdowns) != 0 {
		t.Fatalf("after the end: %+v", d.Access)
	}
	if n := dbtest.Count(t, f.db.SQL(), dbtest.AuditLog, dbtest.Eq("action", "lockdown.end")); n != 1 {
		t.Fatalf("%d lockdown.end audit rows", n)
	}
	// A snapshot shows the same as the deltas did.
	f.cursor = 0
	snap = f.sync()
	if m := groupsOf(snap); len(m[f.res1]) != 0 || len(m[f.res3]) != 2 || len(snap.Access.Lockdowns) != 0 || len(snap.Access.Groups) != 3 {
		t.Fatalf("second snapshot: %v %+v", m, snap.Access)
	}
}

// A resident's default follows their unit's building; what staff set narrows or widens
// it, and ResidentAccess says what they open.
func TestResidentAccess(t *testing.T) {
	f := newAccessFix(t)
	ra, err := f.db.ResidentAccess(f.ctx, f.c, f.res3)
	if err != nil {
		t.Fatal(err)
	}
	if ra.Zones != 1|1<<3 || len(ra.Groups) != 1 || *ra.Building != f.b3 || *ra.Unit != f.u3 {
		t.Fatalf("%+v", ra)
	}
	// Unknown zones are refused for buildings and groups; a policy's groups must exist.
	f.tx(func(tx *store.Tx) error {
		if _, err := tx.SetBuildingZones(f.ctx, f.c, f.b3, 1<<9); err == nil {
			t.Error("unknown building zone accepted")
		}
		if _, err := tx.CreateAccessGroup(f.ctx, access.AccessGroup{Community: f.c, Name: "x", Zones: 1 << 9}); err == nil {
			t.Error("unknown group zone accepted")
		}
		if _, err := tx.SetAccessPolicy(f.ctx, access.AccessPolicy{Community: f.c, Level: access.LevelUnit, Target: f.u3, Groups: []uuid.UUID{uuid.New()}}); err == nil {
			t.Error("unknown group accepted")
		}
		return nil
	})
}
