package store_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/dbtest"
	"gatepass/internal/store"
)

// hubFix is a community with gates, a resident with cards and a staff member.
type hubFix struct {
	db       *store.DB
	hub      *store.ChangeHub
	c        uuid.UUID
	gates    []access.GateIdentity
	resident uuid.UUID
	staff    uuid.UUID
}

func newHubFix(t *testing.T, gates int) *hubFix {
	t.Helper()
	ctx := context.Background()
	f := &hubFix{db: dbtest.New(t)}
	err := f.db.InTx(ctx, "test", func(tx *store.Tx) error {
		com, err := tx.CreateCommunity(ctx, "hub "+uuid.NewString()[:8], dbtest.Sealer(t))
		if err != nil {
			return err
		}
		f.c = com.ID
		b, err := tx.CreateBuilding(ctx, f.c, "B")
		if err != nil {
			return err
		}
		u, err := tx.CreateUnit(ctx, f.c, b.ID, "101")
		if err != nil {
			return err
		}
		r, _, err := tx.CreateResident(ctx, store.NewResident{Community: f.c, Name: "R", Unit: u.ID, Role: access.RoleOwner})
		if err != nil {
			return err
		}
		f.resident = r.ID
		s, _, err := tx.CreateStaff(ctx, store.NewStaff{Community: f.c, Name: "guard", Role: access.StaffGuard, Token: store.TokenSpec{Default: access.DefaultTokenTTL}})
		if err != nil {
			return err
		}
		f.staff = s.ID
		for i := range gates {
			g, _, err := tx.CreateGate(ctx, store.NewGate{Community: f.c, Name: fmt.Sprintf("G%d", i), Direction: "in"})
			if err != nil {
				return err
			}
			f.gates = append(f.gates, access.GateIdentity{ID: g.ID, Community: f.c, Name: g.Name, Direction: g.Direction})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f.hub = f.db.NewChangeHub(slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() { f.hub.Close() })
	waitLive(t, f.hub)
	return f
}

func waitLive(t *testing.T, h *store.ChangeHub) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !h.Live(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("change listener not live after 10 s")
		}
	}
}

func (f *hubFix) card(t *testing.T) uuid.UUID {
	t.Helper()
	card, _, err := f.db.IssueCard(context.Background(), "test", f.c, f.resident, 24*time.Hour, dbtest.Sealer(t))
	if err != nil {
		t.Fatal(err)
	}
	return card.ID
}

func (f *hubFix) revoke(t *testing.T, card uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	if err := f.db.InTx(ctx, "test", func(tx *store.Tx) error { return tx.RevokeCard(ctx, f.c, f.resident, card) }); err != nil {
		t.Fatal(err)
	}
}

func (f *hubFix) unlock(t *testing.T, gate uuid.UUID) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	var r access.Release
	err := f.db.InTx(ctx, "test", func(tx *store.Tx) (err error) {
		r, err = tx.UnlockGate(ctx, f.c, gate, f.staff, "test")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return r.ID
}

// sync asks the hub and, for comparison, the uncached GateSyncFor: the two must agree.
func (f *hubFix) sync(t *testing.T, g access.GateIdentity, cursor int64) (access.GateSync, bool) {
	t.Helper()
	ctx := context.Background()
	out, changed, err := f.hub.Sync(ctx, g, access.SyncRequest{Cursor: cursor})
	if err != nil {
		t.Fatal(err)
	}
	want, wantChanged, err := f.db.GateSyncFor(ctx, g, access.SyncRequest{Cursor: cursor})
	if err != nil {
		t.Fatal(err)
	}
	out.ServerTime, want.ServerTime = time.Time{}, time.Time{}
	if !reflect.DeepEqual(normal(out), normal(want)) || changed != wantChanged {
		t.Fatalf("gate %s from %d: the hub answered (changed %v)\n%+v\nGateSyncFor (changed %v)\n%+v", g.Name, cursor, changed, out, wantChanged, want)
	}
	return out, changed
}

// normal makes empty lists nil, so that answers compare by content.
func normal(s access.GateSync) access.GateSync {
	v := reflect.ValueOf(&s).Elem()
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Slice && f.Len() == 0 {
			f.SetZero()
		}
	}
	return s
}

// Issue 20: a change is read once for every gate it wakes, a change addressed to one
// gate wakes that gate alone, and nothing is read while nothing changes.
func TestHubSharesOneReadPerChange(t *testing.T) {
	f := newHubFix(t, 20)
	card := f.card(t)
	// Every gate's snapshot, then each holds at the same cursor.
	var cursor int64
	for _, g := range f.gates {
		s, _ := f.sync(t, g, 0)
		cursor = s.Cursor
	}
	for _, g := range f.gates {
		if _, changed := f.sync(t, g, cursor); changed {
			t.Fatalf("gate %s: a delta with nothing new says changed", g.Name)
		}
	}
	// Idle: the polls that run out and come back read nothing.
	shared0, parts0, _ := f.hub.HubReads()
	for range 3 {
		for _, g := range f.gates {
			if _, changed, err := f.hub.Sync(context.Background(), g, access.SyncRequest{Cursor: cursor}); err != nil || changed {
				t.Fatalf("idle poll: changed %v, %v", changed, err)
			}
		}
	}
	if shared, parts, _ := f.hub.HubReads(); shared != shared0 || parts != parts0 {
		t.Fatalf("60 idle polls read the database: %d community parts, %d gate parts", shared-shared0, parts-parts0)
	}

	// A revocation wakes every gate; they all ask at once, and the community's part is
	// read once (twice at most, when the first read began before the notification).
	waiters := make([]*store.Waiter, len(f.gates))
	for i, g := range f.gates {
		w, cancel := f.hub.Subscribe(g)
		defer cancel()
		waiters[i] = w
	}
	f.revoke(t, card)
	shared0, parts0, _ = f.hub.HubReads()
	var wg sync.WaitGroup
	answers := make([]access.GateSync, len(f.gates))
	for i, g := range f.gates {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-waiters[i].C:
			case <-time.After(5 * time.Second):
				t.Errorf("gate %s not woken by the revocation", g.Name)
				return
			}
			out, changed, err := f.hub.Sync(context.Background(), g, access.SyncRequest{Cursor: cursor})
			if err != nil || !changed {
				t.Errorf("gate %s after the revocation: changed %v, %v", g.Name, changed, err)
			}
			answers[i] = out
		}()
	}
	wg.Wait()
	shared, parts, _ := f.hub.HubReads()
	t.Logf("revocation to %d gates: %d community parts, %d gate parts read", len(f.gates), shared-shared0, parts-parts0)
	if shared-shared0 != 1 || parts != parts0 {
		t.Fatalf("revocation to %d gates read %d community parts and %d gate parts; want 1 and 0", len(f.gates), shared-shared0, parts-parts0)
	}
	for i, a := range answers {
		if len(a.Revocations) != 1 || a.Revocations[0].Credential != card || a.Gate.ID != f.gates[i].ID {
			t.Fatalf("gate %d's answer: %+v", i, a)
		}
	}
	cursor = answers[0].Cursor
	f.sync(t, f.gates[0], cursor)
	f.sync(t, f.gates[3], cursor-1)

	// A manual release for one gate wakes that gate only, and its answer carries it.
	for _, w := range waiters {
		select {
		case <-w.C:
		default:
		}
	}
	cmd := f.unlock(t, f.gates[3].ID)
	select {
	case <-waiters[3].C:
	case <-time.After(5 * time.Second):
		t.Fatal("the release did not wake its gate")
	}
	time.Sleep(200 * time.Millisecond) // the LISTEN copy too
	for i, w := range waiters {
		select {
		case <-w.C:
			if i != 3 {
				t.Fatalf("gate %d woken by gate 3's release", i)
			}
		default:
		}
	}
	out, changed := f.sync(t, f.gates[3], cursor)
	if !changed || len(out.Commands) != 1 || out.Commands[0].ID != cmd {
		t.Fatalf("gate 3 after its release: changed %v, commands %+v", changed, out.Commands)
	}
	// The other gates, from the same cursor, see nothing new and pass over the row.
	out, changed = f.sync(t, f.gates[4], cursor)
	if changed || len(out.Commands) != 0 || out.Cursor <= cursor {
		t.Fatalf("gate 4 from %d after gate 3's release: changed %v, cursor %d, commands %+v", cursor, changed, out.Cursor, out.Commands)
	}
	// Acknowledged, it leaves gate 3's answers at once.
	if err := f.db.AckGateCommand(context.Background(), f.gates[3], cmd, "executed"); err != nil {
		t.Fatal(err)
	}
	if err := f.hub.GateStateChanged(context.Background(), f.gates[3]); err != nil {
		t.Fatal(err)
	}
	if out, _ := f.sync(t, f.gates[3], out.Cursor); len(out.Commands) != 0 {
		t.Fatalf("acknowledged command still sent: %+v", out.Commands)
	}
}

// Issue 20: when the listener is lost nothing computed is trusted (every poll reads
// anew, shared by the gates asking at once), and when it is back each waiter re-checks
// once.
func TestHubListenerLostAndBack(t *testing.T) {
	f := newHubFix(t, 5)
	s, _ := f.sync(t, f.gates[0], 0)
	cursor := s.Cursor
	for _, g := range f.gates {
		f.sync(t, g, cursor)
	}
	w, cancel := f.hub.Subscribe(f.gates[0])
	defer cancel()
	f.hub.SetLive(false)
	select {
	case <-w.C:
	case <-time.After(time.Second):
		t.Fatal("losing the listener did not wake the waiters")
	}
	shared0, _, _ := f.hub.HubReads()
	for range 2 {
		if _, _, err := f.hub.Sync(context.Background(), f.gates[1], access.SyncRequest{Cursor: cursor}); err != nil {
			t.Fatal(err)
		}
	}
	if shared, _, _ := f.hub.HubReads(); shared-shared0 != 2 {
		t.Fatalf("two polls while the listener is lost read %d community parts, want 2 (nothing trusted)", shared-shared0)
	}
	f.hub.SetLive(true)
	select {
	case <-w.C:
	case <-time.After(time.Second):
		t.Fatal("the listener back did not wake the waiters")
	}
	shared0, parts0, _ := f.hub.HubReads()
	for _, g := range f.gates {
		f.sync(t, g, cursor)
	}
	if shared, parts, _ := f.hub.HubReads(); shared-shared0 != 1 || parts-parts0 != int64(len(f.gates)) {
		t.Fatalf("re-check after the listener came back: %d community parts, %d gate parts; want 1 and %d", shared-shared0, parts-parts0, len(f.gates))
	}
	// A ping unanswered makes it not live; one answered again, live again.
	f.hub.SetSilent(true)
	if f.hub.Live() {
		t.Fatal("live with its pings unanswered")
	}
	f.hub.SetSilent(false)
	if !f.hub.Live() {
		t.Fatal("not live again once a ping is answered")
	}
}

// merge, which puts every answer together, carries every field of access.GateSync from
// a partial answer: a kind of synced state added to it reaches the gates without a line
// in the hub.
func TestMergeCoversEveryField(t *testing.T) {
	var part access.GateSync
	v := reflect.ValueOf(&part).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Slice:
			f.Set(reflect.MakeSlice(f.Type(), 1, 1))
		case reflect.Pointer:
			f.Set(reflect.New(f.Type().Elem()))
		case reflect.Map:
			f.Set(reflect.MakeMap(f.Type()))
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			f.SetInt(7)
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			f.SetUint(7)
		case reflect.String:
			f.SetString("x")
		case reflect.Struct:
			if f.Type() == reflect.TypeOf(time.Time{}) {
				f.Set(reflect.ValueOf(time.Unix(1, 0)))
			} else if f.Type() == reflect.TypeOf(access.GateIdentity{}) {
				f.Set(reflect.ValueOf(access.GateIdentity{Name: "x"}))
			}
		}
		if f.IsZero() {
			t.Fatalf("the test cannot fill field %s (%s): teach it", v.Type().Field(i).Name, f.Type())
		}
	}
	shared := access.GateSync{Revocations: make([]access.Revocation, 1, 10)}
	out := shared
	store.Merge(&out, &part)
	o := reflect.ValueOf(out)
	for i := range o.NumField() {
		name := o.Type().Field(i).Name
		if o.Field(i).IsZero() {
			t.Errorf("merge lost field %s", name)
		}
	}
	if len(out.Revocations) != 2 || len(shared.Revocations) != 1 || &out.Revocations[0] == &shared.Revocations[0] {
		t.Errorf("merge wrote into the shared answer's list")
	}
}
