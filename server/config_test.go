package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// A retention period that cannot be read stops the command with a message naming it,
// from the environment as from a flag, before anything is opened or pruned.
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
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("EVENT_RETENTION", "")
			t.Setenv("CHANGE_LOG_RETENTION", "")
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
