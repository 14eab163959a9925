package gateapi

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"gatepass/internal/access"
)

// The rules are access.GateSettings's (tested there); the wire type must reach them.
func TestSettingsDefaultsAndValidate(t *testing.T) {
	s := Settings{SkewSeconds: Int(120)}.WithDefaults()
	if *s.SkewSeconds != 120 || *s.PulseMillis != DefaultPulseMillis || s.StalePolicy != StaleFlag || s.Skew().Seconds() != 120 {
		t.Fatalf("defaults: %+v", s)
	}
	if !reflect.DeepEqual(Defaults(), Settings(access.DefaultGateSettings())) {
		t.Fatalf("defaults differ from the domain's: %+v", Defaults())
	}
	if field, err := (Settings{PulseMillis: Int(30001)}).Validate(); field != "pulse_ms" || err == nil {
		t.Errorf("pulse_ms 30001: field %q err %v", field, err)
	}
	if field, err := (Settings{StalePolicy: StaleDeny, SkewSeconds: Int(3600)}).Validate(); err != nil {
		t.Errorf("valid settings refused: %s %v", field, err)
	}
}

// Issue 11, item 8: zero means zero. A skew, card interval or passback of 0 set by staff
// stays 0 through WithDefaults (and the JSON the server stores and sends); an absent
// field takes the default. Before the fix WithDefaults turned every 0 into the default.
func TestSettingsZeroMeansZero(t *testing.T) {
	var s Settings
	if err := json.Unmarshal([]byte(`{"skew_seconds": 0, "card_min_interval_seconds": 0, "passback_seconds": 0}`), &s); err != nil {
		t.Fatal(err)
	}
	if field, err := s.Validate(); err != nil {
		t.Fatalf("zeros refused: %s %v", field, err)
	}
	d := s.WithDefaults()
	if d.Skew() != 0 || d.CardMinInterval() != 0 || d.Passback() != 0 {
		t.Fatalf("zeros became %v %v %v", d.Skew(), d.CardMinInterval(), d.Passback())
	}
	if d.Pulse() != 1500*time.Millisecond || d.Heartbeat() != 30*time.Second || d.StaleAfter() != time.Hour {
		t.Fatalf("absent fields: %v %v %v", d.Pulse(), d.Heartbeat(), d.StaleAfter())
	}
	// Stored and sent again, the zeros stay zeros.
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var back Settings
	if err := json.Unmarshal(raw, &back); err != nil || back.WithDefaults().Skew() != 0 || !strings.Contains(string(raw), `"skew_seconds":0`) {
		t.Fatalf("round trip %s: %v", raw, err)
	}
	// Where 0 means nothing sensible, it is refused rather than silently replaced.
	for _, body := range []string{`{"pulse_ms": 0}`, `{"heartbeat_seconds": 0}`, `{"stale_after_seconds": 0}`} {
		var z Settings
		if err := json.Unmarshal([]byte(body), &z); err != nil {
			t.Fatal(err)
		}
		if _, err := z.Validate(); err == nil {
			t.Errorf("%s accepted", body)
		}
	}
}
