package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/dbtest"
	"gatepass/internal/store"
)

// StoreEvents stores a small batch as a multi-row INSERT of a few fixed sizes, padded
// with copies of its last row, and copies a large one: whatever the size, every event is
// stored once with every field, and a re-sent batch adds nothing (a re-sent small batch
// with one more event is copied: past the largest INSERT).
func TestStoreEventsBatchSizes(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t)
	c, resident, g := gateFix(t, db, "batches")
	staff, score, dropped := uuid.New(), float32(0.91), 7
	base := time.Now().Add(-time.Hour).UTC().Truncate(time.Microsecond)
	batch := func(n int) []access.GateEvent {
		out := make([]access.GateEvent, n)
		for i := range out {
			out[i] = access.GateEvent{ID: uuid.New(), OccurredAt: base.Add(time.Duration(len(out)-i) * time.Millisecond), Gate: g.ID,
				Method: "qr", Result: "denied", Reason: "bad_signature", ReplayKey: []byte{1, byte(i)}}
		}
		// The last row is the one a padded batch repeats: make it the fullest.
		out[n-1] = access.GateEvent{ID: uuid.New(), OccurredAt: base, Gate: g.ID, Method: "face", Result: "granted", Reason: "face_match",
			Offline: true, Stale: true, Staff: &staff, Resident: &resident, Score: &score, Dropped: &dropped, OfflineLimit: true}
		return out
	}
	for _, tc := range []struct {
		name string
		n    int
	}{
		{"one row", 1},
		{"padded to 4", 3},
		{"the largest insert", 32},
		{"copied", 33},
		{"copied, a hundred", 100},
		{"copied, more than the API takes", 1100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			events := batch(tc.n)
			ids, err := db.StoreEvents(ctx, g, events)
			if err != nil {
				t.Fatal(err)
			}
			if len(ids) != tc.n {
				t.Fatalf("StoreEvents returned %d ids, want %d", len(ids), tc.n)
			}
			// Re-sent, with one new event: only that one is added.
			again := append(events, batch(1)...)
			if _, err := db.StoreEvents(ctx, g, again); err != nil {
				t.Fatalf("re-sent batch: %v", err)
			}
			got := map[uuid.UUID]access.EntryEvent{}
			for cursor := ""; ; {
				page, err := db.Events(ctx, c, store.EventFilter{Gate: g.ID, From: base.Add(-time.Second), To: base.Add(2 * time.Second), Cursor: cursor, Limit: 500})
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range page.Events {
					got[e.ID] = e
				}
				if cursor = page.Next; cursor == "" {
					break
				}
			}
			for _, e := range again {
				if _, ok := got[e.ID]; !ok {
					t.Fatalf("event %v of %d not stored", e.ID, tc.n)
				}
			}
			last := got[events[tc.n-1].ID]
			if !last.OccurredAt.Equal(base) || last.Method != "face" || last.Result != "granted" || last.Reason != "face_match" ||
				!last.Offline || !last.Stale || !last.OfflineLimit || last.Staff == nil || *last.Staff != staff ||
				last.Resident == nil || *last.Resident != resident || last.Score == nil || *last.Score != score ||
				last.Dropped == nil || *last.Dropped != dropped || last.Credential != nil || last.Subject != nil {
				t.Fatalf("last event stored as %+v", last)
			}
			if len(got) != tc.n+1 {
				t.Fatalf("stored %d events, want %d", len(got), tc.n+1)
			}
			base = base.Add(-time.Minute) // the next size's events, apart from these
		})
	}
}

// A gate that gives up on an upload sends it again while the first may still be stored:
// uploads of the same events at once store each event once, and none fails (a COPY that
// loses the race on the primary key is stored again by INSERT ... ON CONFLICT). An event
// twice in one batch is stored once.
func TestStoreEventsResentAtOnce(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t)
	c, _, g := gateFix(t, db, "resent")
	base := time.Now().Add(-time.Hour).UTC()
	const rounds, uploads, n = 5, 6, 64
	for r := range rounds {
		events := make([]access.GateEvent, n)
		for i := range events {
			events[i] = access.GateEvent{ID: uuid.New(), OccurredAt: base.Add(time.Duration(r)*time.Minute + time.Duration(i)*time.Millisecond),
				Gate: g.ID, Method: "qr", Result: "denied", Reason: "bad_signature"}
		}
		events[n-1] = events[0]
		errs := make(chan error, uploads)
		for range uploads {
			go func() {
				_, err := db.StoreEvents(ctx, g, events)
				errs <- err
			}()
		}
		for range uploads {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v", r, err)
			}
		}
	}
	page, err := db.Events(ctx, c, store.EventFilter{Gate: g.ID, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(page.Events), rounds*(n-1); got != want {
		t.Fatalf("stored %d events, want %d", got, want)
	}
}

// gateFix is residentFix's community and resident, and a gate of the community.
func gateFix(t *testing.T, db *store.DB, name string) (c, resident uuid.UUID, g access.GateIdentity) {
	t.Helper()
	ctx := context.Background()
	c, resident = residentFix(t, db, name)
	err := db.InTx(ctx, "test", func(tx *store.Tx) error {
		gate, _, err := tx.CreateGate(ctx, store.NewGate{Community: c, Name: "G", Zone: 0, Direction: "both"})
		g = access.GateIdentity{ID: gate.ID, Community: c}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, resident, g
}
