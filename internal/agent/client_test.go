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
