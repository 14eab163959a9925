package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// A retention period or staff token lifetime that cannot be read stops the command with
// a message naming it, from the environment as from a flag, before anything is opened or
// pruned; STAFF_TOKEN_TTL is bounded as a console token is.
func TestRetentionSettings(t *testing.T) {
	cases := []struct {
		name, env, value string
		args             []string
		want             string // in stderr; "" means accepted
	}{
		{"env not a duration", "EVENT_RETENTION", "180d", nil, `EVENT_RETENTION="180d"`},
		{"env negative", "CHANGE_LOG_RETENTION", "-1h", nil, "must be positive"},
		{"env zero", "EVENT_RETENTION", "0s", nil, "must be positive"},
		{"flag not a duration", "", "", []string{"--change-retention", "month"}, "change-retention"},
		{"flag zero", "", "", []string{"--event-retention", "0"}, "must be positive"},
		{"flag overrides a bad-looking env", "CHANGE_LOG_RETENTION", "-5m", []string{"--change-retention", "1h"}, ""},
		{"token lifetime in days", "STAFF_TOKEN_TTL", "30d", nil, ""},
		{"token lifetime in hours", "STAFF_TOKEN_TTL", "2160h", nil, ""},
		{"token lifetime not a lifetime", "STAFF_TOKEN_TTL", "90 days", nil, `STAFF_TOKEN_TTL="90 days"`},
		{"token lifetime past a console token's", "STAFF_TOKEN_TTL", "181d", nil, "180 days"},
		{"token lifetime under an hour", "", "", []string{"--staff-token-ttl", "30m"}, "1 hour"},
		{"webhook timeout zero", "WEBHOOK_TIMEOUT", "0s", nil, "WEBHOOK_TIMEOUT"},
		{"webhook retry base not a duration", "WEBHOOK_RETRY_BASE", "soon", nil, `WEBHOOK_RETRY_BASE="soon"`},
		{"gate offline time negative", "", "", []string{"--gate-offline-after", "-1m"}, "GATE_OFFLINE_AFTER"},
		{"webhook settings", "WEBHOOK_TIMEOUT", "3s", []string{"--webhook-retry-base", "1s", "--gate-offline-after", "2m"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, d := range durationEnv {
				t.Setenv(d.env, "")
			}
			if c.env != "" {
				t.Setenv(c.env, c.value)
			}
			var out, errb bytes.Buffer
			// No database URL: an accepted configuration fails later, on that.
			args := append([]string{"migrate", "--database-url", ""}, c.args...)
			t.Setenv("DATABASE_URL", "")
			code := run(context.Background(), args, &out, &errb)
			msg := errb.String()
			if c.want == "" {
				if !strings.Contains(msg, "DATABASE_URL is not set") {
					t.Fatalf("accepted settings: %d %q, want it to reach the database check", code, msg)
				}
				return
			}
			if code == 0 || !strings.Contains(msg, c.want) {
				t.Fatalf("%d %q, want a failure naming %q", code, msg, c.want)
			}
		})
	}
}
