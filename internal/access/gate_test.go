package access

import (
	"math"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestGateSettingsDefaultsAndValidate(t *testing.T) {
	s := GateSettings{SkewSeconds: Int(120)}.WithDefaults()
	if *s.SkewSeconds != 120 || *s.PulseMillis != DefaultPulseMillis || s.StalePolicy != StaleFlag {
		t.Fatalf("defaults: %+v", s)
	}
	bad := map[string]GateSettings{
		"skew_seconds":              {SkewSeconds: Int(-1)},
		"stale_after_seconds":       {StaleAfterSeconds: Int(31 * 86400)},
		"card_min_interval_seconds": {CardMinIntervalSeconds: Int(3601)},
		"passback_seconds":          {PassbackSeconds: Int(-5)},
		"pulse_ms":                  {PulseMillis: Int(30001)},
		"heartbeat_seconds":         {HeartbeatSeconds: Int(4000)},
		"stale_policy":              {StalePolicy: "open"},
	}
	for want, s := range bad {
		if field, err := s.Validate(); field != want || err == nil {
			t.Errorf("%+v: field %q err %v, want %q", s, field, err, want)
		}
	}
	if field, err := (GateSettings{StalePolicy: StaleDeny, SkewSeconds: Int(MaxSkewSeconds)}).Validate(); err != nil {
		t.Errorf("valid settings refused: %s %v", field, err)
	}
	// Zero means zero where it means something; unset takes the default.
	z := GateSettings{SkewSeconds: Int(0), CardMinIntervalSeconds: Int(0), PassbackSeconds: Int(0)}
	if _, err := z.Validate(); err != nil {
		t.Fatalf("zeros refused: %v", err)
	}
	if d := z.WithDefaults(); *d.SkewSeconds != 0 || *d.PassbackSeconds != 0 || *d.HeartbeatSeconds != DefaultHeartbeatSeconds {
		t.Fatalf("zeros filled: %+v", d)
	}
	if d := DefaultGateSettings(); d.SkewSeconds == s.SkewSeconds {
		t.Fatal("WithDefaults shares a pointer with the defaults")
	}
}

func TestGateEventCheck(t *testing.T) {
	gate, resident := uuid.New(), uuid.New()
	ok := GateEvent{ID: uuid.New(), OccurredAt: time.Now(), Gate: gate, Method: "qr", Result: "granted", Reason: "ok"}
	score := func(f float32) *float32 { return &f }
	cases := []struct {
		name string
		edit func(*GateEvent)
		want string // "" for valid
	}{
		{"valid", func(*GateEvent) {}, ""},
		{"face with resident and score", func(e *GateEvent) { e.Method, e.Resident, e.Score = "face", &resident, score(0.9) }, ""},
		{"visitor", func(e *GateEvent) { e.Subject = "visitor" }, ""},
		{"no id", func(e *GateEvent) { e.ID = uuid.Nil }, "id is required"},
		{"other gate", func(e *GateEvent) { e.Gate = uuid.New() }, "gate_id must be the reporting gate"},
		{"no time", func(e *GateEvent) { e.OccurredAt = time.Time{} }, "occurred_at is required"},
		{"ancient", func(e *GateEvent) { e.OccurredAt = time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC) }, "occurred_at is older than the entry log keeps events (4320h0m0s)"},
		{"method", func(e *GateEvent) { e.Method = "pin" }, "method must be qr, face, manual or door"},
		{"result", func(e *GateEvent) { e.Result = "maybe" }, "result must be granted, denied, alarm or info"},
		{"subject", func(e *GateEvent) { e.Subject = "cat" }, "subject must be resident, visitor or staff"},
		{"reason", func(e *GateEvent) { e.Reason = string(make([]byte, MaxEventReason+1)) }, "reason must be a reason code: a lowercase letter, then lowercase letters, digits or underscores, at most 64 bytes"},
		{"replay key", func(e *GateEvent) { e.ReplayKey = make([]byte, 65) }, "replay_key must be 25 bytes starting with a token type (1, 2 or 3)"},
		{"score NaN", func(e *GateEvent) { e.Method, e.Score = "face", score(float32(math.NaN())) }, "score must be from -1 to 1"},
		{"score high", func(e *GateEvent) { e.Method, e.Score = "face", score(1.5) }, "score must be from -1 to 1"},
		{"resident on qr", func(e *GateEvent) { e.Resident = &resident }, "resident_id is for face events"},
	}
	for _, c := range cases {
		e := ok
		c.edit(&e)
		err := e.Check(gate, time.Now(), 180*24*time.Hour)
		if got := ""; err != nil {
			got = err.Error()
			if got != c.want {
				t.Errorf("%s: %q, want %q", c.name, got, c.want)
			}
		} else if c.want != "" {
			t.Errorf("%s: accepted, want %q", c.name, c.want)
		}
	}
}

func TestGateEventCounts(t *testing.T) {
	cred, resident := uuid.New(), uuid.New()
	cases := []struct {
		e            GateEvent
		visit, clock bool
	}{
		{GateEvent{Result: "granted", Credential: &cred, Subject: "visitor", Method: "qr"}, true, false},
		{GateEvent{Result: "denied", Credential: &cred, Subject: "visitor", Method: "qr"}, false, false},
		{GateEvent{Result: "granted", Credential: &cred, Subject: "resident", Method: "qr"}, false, false},
		{GateEvent{Result: "granted", Subject: "visitor", Method: "manual"}, false, false},
		{GateEvent{Result: "granted", Method: "face", Resident: &resident}, false, true},
		{GateEvent{Result: "denied", Method: "face", Resident: &resident}, false, false},
		{GateEvent{Result: "granted", Method: "face"}, false, false},
	}
	for _, c := range cases {
		if got := c.e.UsesVisitorEntry(); got != c.visit {
			t.Errorf("%+v: UsesVisitorEntry %v", c.e, got)
		}
		if got := c.e.MovesFaceRetention(); got != c.clock {
			t.Errorf("%+v: MovesFaceRetention %v", c.e, got)
		}
	}
}
