package agent

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/gate"
	"gatepass/internal/gateapi"
)

func TestLocalDBQueueAndPrune(t *testing.T) {
	st, err := OpenLocalDB(filepath.Join(t.TempDir(), "agent.db"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	var ids []uuid.UUID
	for i := 0; i < 50; i++ {
		ev := gateapi.Event{ID: uuid.Must(uuid.NewV7()), OccurredAt: now, Method: "qr", Result: "denied", Reason: strings.Repeat("r", 60)}
		if err := st.Commit(ev, gate.Decision{}, time.Time{}, nil); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.ID)
	}
	batch, got, err := st.Pending(1000, 2000)
	if err != nil || len(batch) == 0 || len(batch) >= 50 || got[0] != ids[0] {
		t.Fatalf("pending by bytes: %d %v", len(batch), err)
	}
	if err := st.Delete(got); err != nil || st.QueueDepth() != 50-len(got) {
		t.Fatalf("after delete: %d %v", st.QueueDepth(), err)
	}
	sync := &gateapi.Sync{Full: true, Cursor: 9, Revocations: []gateapi.Revocation{
		{Credential: uuid.New(), ForgetAfter: now.Add(-time.Minute)}, {Credential: uuid.New(), ForgetAfter: now.Add(time.Hour)}}}
	if err := st.ApplySync(sync, now); err != nil {
		t.Fatal(err)
	}
	if err := st.Prune(now); err != nil || st.RevocationCount() != 1 {
		t.Fatalf("revocations after prune: %d %v", st.RevocationCount(), err)
	}
	if c, _ := st.Cursor(); c != 9 {
		t.Fatalf("cursor %d", c)
	}
}

func TestLocalDBRejectSetsAside(t *testing.T) {
	st, err := OpenLocalDB(filepath.Join(t.TempDir(), "agent.db"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ev := gateapi.Event{ID: uuid.Must(uuid.NewV7()), Method: "qr", Result: "denied", Reason: "x"}
	if err := st.Commit(ev, gate.Decision{}, time.Time{}, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.Reject(ev.ID); err != nil || st.QueueDepth() != 0 {
		t.Fatalf("after reject: depth %d %v", st.QueueDepth(), err)
	}
}
