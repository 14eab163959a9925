package gateapi

import (
	"testing"

	"gatepass/internal/access"
)

// The rules are access.GateSettings's (tested there); the wire type must reach them.
func TestSettingsDefaultsAndValidate(t *testing.T) {
	s := Settings{SkewSeconds: 120}.WithDefaults()
	if s.SkewSeconds != 120 || s.PulseMillis != Defaults.PulseMillis || s.StalePolicy != StaleFlag || s.Skew().Seconds() != 120 {
		t.Fatalf("defaults: %+v", s)
	}
	if Defaults != Settings(access.DefaultGateSettings) {
		t.Fatalf("defaults differ from the domain's: %+v", Defaults)
	}
	if field, err := (Settings{PulseMillis: 30001}).Validate(); field != "pulse_ms" || err == nil {
		t.Errorf("pulse_ms 30001: field %q err %v", field, err)
	}
	if field, err := (Settings{StalePolicy: StaleDeny, SkewSeconds: 3600}).Validate(); err != nil {
		t.Errorf("valid settings refused: %s %v", field, err)
	}
}
