package gatesync_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/apitest"
	"gatepass/internal/dbtest"
	"gatepass/internal/gateapi"
	"gatepass/internal/store"
	"gatepass/server/internal/servertest"
)

// A full batch (the most a gate sends at once) fits the server's body limit and is
// stored whole.
func TestFullEventBatch(t *testing.T) {
	h := servertest.New(t)
	f := h.Community()
	gate, tok := h.EnrolledGate(f)
	batch := make([]any, gateapi.MaxBatch)
	for i := range batch {
		batch[i] = servertest.GateEvent(gate, "granted")
	}
	if size := len(apitest.MustJSON(t, map[string]any{"events": batch})); size <= 64<<10 {
		t.Fatalf("a full batch is only %d bytes; the test should exceed the admin limit", size)
	}
	h.Must(200, "POST", "/gate/v1/events", tok, map[string]any{"events": batch})
	if n := countEvents(t, h.DB, gate); n != gateapi.MaxBatch {
		t.Fatalf("stored %d events of a full batch", n)
	}
}

// A granted visitor entry uses one of the pass's entries, once, however often the gate
// re-sends the batch; denials and residents' entries use none.
func TestVisitorEntriesCounted(t *testing.T) {
	h := servertest.New(t)
	f := h.Community()
	gate, tok := h.EnrolledGate(f)
	ctx := context.Background()
	var pass store.VisitorPass
	err := h.DB.InTx(ctx, "test", func(tx *store.Tx) (err error) {
		now := time.Now()
		pass, _, err = tx.CreateVisitorPass(ctx, store.NewVisitorPass{Community: uuid.MustParse(f.ID), Host: uuid.MustParse(f.Resident),
			Label: "plumber", Zones: 1, ValidFrom: now, ValidUntil: now.Add(time.Hour), MaxEntries: 3})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	visit := func(result string) map[string]any {
		e := servertest.GateEvent(gate, result)
		e["credential_id"], e["subject"] = pass.Credential.String(), "visitor"
		return e
	}
	batch := map[string]any{"events": []any{visit("granted"), visit("denied"), servertest.GateEvent(gate, "granted")}}
	for range 3 {
		h.Must(200, "POST", "/gate/v1/events", tok, batch)
	}
	var used int
	if dbtest.Get(t, h.DB.SQL(), &used, dbtest.VisitorPasses, "entries_used", dbtest.Eq("id", pass.ID)); used != 1 {
		t.Fatalf("entries used after one granted visit sent three times: %d", used)
	}
	h.Must(200, "POST", "/gate/v1/events", tok, map[string]any{"events": []any{visit("granted")}})
	if dbtest.Get(t, h.DB.SQL(), &used, dbtest.VisitorPasses, "entries_used", dbtest.Eq("id", pass.ID)); used != 2 {
		t.Fatalf("entries used after a second visit: %d", used)
	}
}

// A batch that arrives while a member of staff's request is being answered waits for it
// (at most a fifth of a second), so that on a busy machine staff's pages are not read
// behind the gates' uploads; then it is stored.
func TestBatchWaitsForStaff(t *testing.T) {
	h := servertest.New(t)
	f := h.Community()
	gate, tok := h.EnrolledGate(f)
	for _, tc := range []struct {
		name    string
		endsIn  time.Duration // the staff request is answered after this; 0: never, during the test
		atLeast time.Duration
	}{
		{"until the staff request is answered", 100 * time.Millisecond, 100 * time.Millisecond},
		{"at most a fifth of a second", 0, 200 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := countEvents(t, h.DB, gate)
			end := h.StaffFirst.Begin()
			defer end()
			start := time.Now() // before the end is set off: it comes tc.endsIn after this at the soonest
			if tc.endsIn > 0 {
				time.AfterFunc(tc.endsIn, end)
			}
			h.Must(200, "POST", "/gate/v1/events", tok, map[string]any{"events": []any{servertest.GateEvent(gate, "granted")}})
			if took := time.Since(start); took < tc.atLeast {
				t.Fatalf("the batch was stored in %v, within the staff request (want at least %v)", took, tc.atLeast)
			}
			if n := countEvents(t, h.DB, gate); n != before+1 {
				t.Fatalf("stored %d events, want %d", n, before+1)
			}
		})
	}
}
