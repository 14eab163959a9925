package admin_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
)

// TestPagingInputIsA4xx: query parameters that reach SQL as cursors or bounds answer 4xx
// naming the field, never 500 (issue 13 item 6: a NUL in a residents cursor, an odd time
// offset in an events cursor and a before_seq past 2^31 all answered 500).
func TestPagingInputIsA4xx(t *testing.T) {
	h := newHarness(t)
	f := h.Community()
	base := "/admin/v1/communities/" + f.ID
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	nul, _ := json.Marshal(map[string]any{"n": "a\x00b", "i": "01a2135b-9b6e-7c4e-8d3e-3f8e2a4b5c6d"})
	cases := []struct {
		name, path, field string
	}{
		{"NUL in a residents cursor", base + "/residents?cursor=" + b64(string(nul)), "cursor"},
		{"invalid UTF-8 in a residents cursor", base + "/residents?cursor=" + b64(`{"n":"`+"\xff"+`","i":"01a2135b-9b6e-7c4e-8d3e-3f8e2a4b5c6d"}`), "cursor"},
		{"NUL in a residents search", base + "/residents?q=" + url.QueryEscape("a\x00b"), "q"},
		{"offset beyond PostgreSQL's in an events cursor", base + "/events?cursor=" + b64("2025-01-01T00:00:00+99:00|01a2135b-9b6e-7c4e-8d3e-3f8e2a4b5c6d"), "cursor"},
		{"offset beyond PostgreSQL's in an events filter", base + "/events?from=" + url.QueryEscape("2025-01-01T00:00:00+99:00"), "from"},
		{"before_seq past int32", "/admin/v1/audit?before_seq=9223372036854775807", ""},
		{"before_seq past int64", "/admin/v1/audit?before_seq=9223372036854775808", "before_seq"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := h.Do("GET", c.path, f.Admin, nil)
			if c.field == "" {
				if status != http.StatusOK {
					t.Fatalf("%d %v, want 200 (an empty page)", status, body)
				}
				return
			}
			if status < 400 || status >= 500 {
				t.Fatalf("%d %v, want 4xx", status, body)
			}
			e, _ := body["error"].(map[string]any)
			if e["field"] != c.field {
				t.Fatalf("error %v does not name %s", e, c.field)
			}
		})
	}
}
