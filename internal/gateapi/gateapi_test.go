package gateapi

import "testing"

func TestSettingsDefaultsAndValidate(t *testing.T) {
	s := Settings{SkewSeconds: 120}.WithDefaults()
	if s.SkewSeconds != 120 || s.PulseMillis != Defaults.PulseMillis || s.StalePolicy != StaleFlag || s.Skew().Seconds() != 120 {
		t.Fatalf("defaults: %+v", s)
	}
	bad := map[string]Settings{
		"skew_seconds":              {SkewSeconds: -1},
		"stale_after_seconds":       {StaleAfterSeconds: 31 * 86400},
		"card_min_interval_seconds": {CardMinIntervalSeconds: 3601},
		"passback_seconds":          {PassbackSeconds: -5},
		"pulse_ms":                  {PulseMillis: 30001},
		"heartbeat_seconds":         {HeartbeatSeconds: 4000},
		"stale_policy":              {StalePolicy: "open"},
	}
	for want, s := range bad {
		if field, err := s.Validate(); field != want || err == nil {
			t.Errorf("%+v: field %q err %v, want %q", s, field, err, want)
		}
	}
	if field, err := (Settings{StalePolicy: StaleDeny, SkewSeconds: 3600}).Validate(); err != nil {
		t.Errorf("valid settings refused: %s %v", field, err)
	}
}
