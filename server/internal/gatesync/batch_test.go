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
