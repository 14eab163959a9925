package agent

import "testing"

func TestRejectedIndex(t *testing.T) {
	for body, want := range map[string]int{
		`{"error":{"code":"invalid_field","field":"events[7]","message":"x"}}`: 7,
		`{"error":{"code":"invalid_field","field":"events","message":"x"}}`:    -1,
		`{"error":{"field":"events[x]"}}`:                                      -1,
		`not json`:                                                             -1,
	} {
		i, ok := rejectedIndex(body)
		if (want < 0 && ok) || (want >= 0 && (!ok || i != want)) {
			t.Errorf("%s: %d %v, want %d", body, i, ok, want)
		}
	}
}
