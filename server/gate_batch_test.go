package main

import (
	"testing"

	"gatepass/internal/gateapi"
)

// A full batch (the most a gate sends at once) fits the server's body limit and is
// stored whole.
func TestFullEventBatch(t *testing.T) {
	h := newHarness(t)
	f := h.community()
	gate, tok := h.enrolledGate(f)
	batch := make([]any, gateapi.MaxBatch)
	for i := range batch {
		batch[i] = gateEvent(gate, "granted")
	}
	if size := len(mustJSON(map[string]any{"events": batch})); size <= 64<<10 {
		t.Fatalf("a full batch is only %d bytes; the test should exceed the admin limit", size)
	}
	h.must(200, "POST", "/gate/v1/events", tok, map[string]any{"events": batch})
	if n := countEvents(t, h.db, gate); n != gateapi.MaxBatch {
		t.Fatalf("stored %d events of a full batch", n)
	}
}
