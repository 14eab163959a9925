package agent

import (
	"testing"
	"time"
)

// Retry delays grow, stay under the cap and are jittered (a fleet does not retry in step).
func TestBackoff(t *testing.T) {
	max := 30 * time.Second
	seen := map[time.Duration]bool{}
	for n := 0; n < 40; n++ {
		d := backoff(n, max)
		if d <= 0 || d > max {
			t.Fatalf("backoff(%d) = %v", n, d)
		}
		seen[d] = true
	}
	if backoff(0, max) > 200*time.Millisecond || backoff(30, max) < max/2 {
		t.Fatalf("backoff(0) = %v, backoff(30) = %v", backoff(0, max), backoff(30, max))
	}
	if len(seen) < 30 {
		t.Fatalf("only %d distinct delays in 40: no jitter", len(seen))
	}
}

// Issue 20: the server's Retry-After is honoured on a 503 (busy, or its database away:
// the second half of it, never past the cap) and on a 429 (this gate's upload budget is
// spent: all of it, since an earlier retry is refused again, whatever the cap).
func TestRetryAfterHonoured(t *testing.T) {
	for range 50 {
		busy := &apiError{status: 503, retryAfter: time.Second}
		if d := retryDelay(busy, 7, 30*time.Second); d < 500*time.Millisecond || d > time.Second {
			t.Fatalf("503 Retry-After 1: waited %v, want 0.5-1 s", d)
		}
		if d := retryDelay(busy, 0, 200*time.Millisecond); d > 200*time.Millisecond {
			t.Fatalf("503 with a 200 ms cap: waited %v", d)
		}
		limited := &apiError{status: 429, retryAfter: 8 * time.Second}
		if d := retryDelay(limited, 0, time.Second); d < 8*time.Second || d > 10*time.Second {
			t.Fatalf("429 Retry-After 8: waited %v, want 8-10 s", d)
		}
		if d := retryDelay(&apiError{status: 429}, 0, 30*time.Second); d > 200*time.Millisecond {
			t.Fatalf("429 without Retry-After: waited %v, want the first backoff step", d)
		}
	}
}
