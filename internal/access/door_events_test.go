package access

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

// Door events have their own method and results, and each door reason its one result, so
// that no door fact is ever read as an entry and no entry as a door fact.
func TestDoorEventCheck(t *testing.T) {
	gate, cred := uuid.New(), uuid.New()
	door := GateEvent{ID: uuid.New(), OccurredAt: time.Now(), Gate: gate, Method: MethodDoor, Result: ResultAlarm, Reason: DoorForcedOpen}
	score := float32(0.5)
	cases := []struct {
		name string
		edit func(*GateEvent)
		want string // "" for valid
	}{
		{"forced open", func(*GateEvent) {}, ""},
		{"held open", func(e *GateEvent) { e.Reason = DoorHeldOpen }, ""},
		{"exit button", func(e *GateEvent) { e.Result, e.Reason = ResultInfo, DoorExitButton }, ""},
		{"grant's door not answering, with its credential", func(e *GateEvent) { e.Reason, e.Credential, e.Subject = DoorNoAnswer, &cred, "resident" }, ""},
		{"exit button as alarm", func(e *GateEvent) { e.Reason = DoorExitButton }, "reason of a door event must be a door reason with its result"},
		{"forced open as info", func(e *GateEvent) { e.Result = ResultInfo }, "reason of a door event must be a door reason with its result"},
		{"decision reason", func(e *GateEvent) { e.Reason = "ok" }, "reason of a door event must be a door reason with its result"},
		{"door granted", func(e *GateEvent) { e.Result = "granted" }, "result alarm or info is for door events, and door events have no other"},
		{"qr alarm", func(e *GateEvent) { e.Method = "qr" }, "result alarm or info is for door events, and door events have no other"},
		{"replay key", func(e *GateEvent) { e.ReplayKey = []byte{1} }, "a door event has no replay_key or score"},
		{"score", func(e *GateEvent) { e.Score = &score }, "a door event has no replay_key or score"},
	}
	for _, c := range cases {
		e := door
		c.edit(&e)
		got := ""
		if err := e.Check(gate, e.OccurredAt, time.Hour); err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	for reason, result := range DoorReasons {
		if result != ResultAlarm && result != ResultInfo {
			t.Errorf("door reason %s has result %s", reason, result)
		}
		if e := (GateEvent{Method: MethodDoor, Result: result, Credential: &cred, Subject: "visitor"}); e.UsesVisitorEntry() || e.MovesFaceRetention() {
			t.Errorf("door event %s counts as an entry", reason)
		}
	}
}
