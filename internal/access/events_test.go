package access

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The checks of a reported event at the edges of each rule (issue 11, item 9).
func TestGateEventCheckEdges(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	gate, nilID := uuid.New(), uuid.Nil
	keep := 180 * 24 * time.Hour
	key := func(typ byte, n int) []byte { k := make([]byte, n); k[0] = typ; return k }
	cases := []struct {
		name string
		edit func(e *GateEvent)
		ok   bool
	}{
		{"good", func(*GateEvent) {}, true},
		{"at the future limit", func(e *GateEvent) { e.OccurredAt = now.Add(EventFutureLimit) }, true},
		{"past the future limit", func(e *GateEvent) { e.OccurredAt = now.Add(EventFutureLimit + time.Second) }, false},
		{"as old as the retention", func(e *GateEvent) { e.OccurredAt = now.Add(-keep) }, true},
		{"older than the retention", func(e *GateEvent) { e.OccurredAt = now.Add(-keep - time.Second) }, false},
		{"zero time", func(e *GateEvent) { e.OccurredAt = time.Time{} }, false},
		{"reason code", func(e *GateEvent) { e.Reason = "flood_suppressed2" }, true},
		{"longest reason", func(e *GateEvent) { e.Reason = strings.Repeat("r", MaxEventReason) }, true},
		{"reason too long", func(e *GateEvent) { e.Reason = strings.Repeat("r", MaxEventReason+1) }, false},
		{"empty reason", func(e *GateEvent) { e.Reason = "" }, false},
		{"reason with NUL", func(e *GateEvent) { e.Reason = "ok\x00" }, false},
		{"reason formula", func(e *GateEvent) { e.Reason = "=1+1" }, false},
		{"reason upper case", func(e *GateEvent) { e.Reason = "OK" }, false},
		{"reason starting with a digit", func(e *GateEvent) { e.Reason = "1ok" }, false},
		{"replay key of a card", func(e *GateEvent) { e.ReplayKey = key(3, 25) }, true},
		{"empty replay key", func(e *GateEvent) { e.ReplayKey = []byte{} }, false},
		{"replay key of type 0", func(e *GateEvent) { e.ReplayKey = key(0, 25) }, false},
		{"replay key too long", func(e *GateEvent) { e.ReplayKey = key(1, 26) }, false},
		{"nil credential", func(e *GateEvent) { e.Credential = &nilID }, false},
		{"nil resident", func(e *GateEvent) { e.Method, e.Resident = "face", &nilID }, false},
		{"nil staff", func(e *GateEvent) { e.Staff = &nilID }, false},
	}
	for _, c := range cases {
		cred := uuid.New()
		e := GateEvent{ID: uuid.New(), OccurredAt: now, Gate: gate, Credential: &cred, Subject: "resident", Method: "qr",
			Result: "granted", Reason: "ok"}
		c.edit(&e)
		if err := e.Check(gate, now, keep); (err == nil) != c.ok {
			t.Errorf("%s: %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

// A face event dated ahead of the server moves the retention clock only to now.
func TestFaceEntryAt(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, at := range []time.Time{now.Add(-time.Hour), now, now.Add(time.Hour), time.Date(2199, 1, 1, 0, 0, 0, 0, time.UTC)} {
		want := at
		if at.After(now) {
			want = now
		}
		if got := (GateEvent{OccurredAt: at}).FaceEntryAt(now); !got.Equal(want) {
			t.Errorf("FaceEntryAt(%v) = %v, want %v", at, got, want)
		}
	}
}
