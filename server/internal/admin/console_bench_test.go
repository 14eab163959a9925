package admin_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/store"
)

// BenchmarkConsoleLists times the console's list pages over HTTP through the real
// handlers in one community of 50,000 residents and BENCH_EVENTS entry events (default
// 1,000,000; the figure is 5,000,000): residents by page and by search, and the
// entry log's first page, a page 20 days deep, and each filter, with names resolved.
// Goal: every page under 100 ms. Run it with scripts/console-bench.
func BenchmarkConsoleLists(b *testing.B) {
	events := 1_000_000
	if v := os.Getenv("BENCH_EVENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatal(err)
		}
		events = n
	}
	h := newHarness(b)
	f := h.Community()
	gates := []uuid.UUID{uuid.MustParse(f.Gate)}
	for i := 0; i < 3; i++ {
		gates = append(gates, uuid.MustParse(h.NewGate(f)))
	}
	if _, err := h.DB.EnsurePartitions(context.Background(), time.Now()); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	err := h.DB.SeedScale(context.Background(), uuid.MustParse(f.ID), uuid.MustParse(f.Building), gates,
		store.Scale{Units: 1000, Residents: 50_000, Events: events})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded 50,000 residents and %d entry events in %v", events, time.Since(start).Round(time.Second))
	res := "/admin/v1/communities/" + f.ID + "/residents?limit=100"
	ev := "/admin/v1/communities/" + f.ID + "/events?limit=100"
	deep := base64.RawURLEncoding.EncodeToString([]byte(time.Now().Add(-20*24*time.Hour).UTC().Format(time.RFC3339Nano) + "|" + uuid.Max.String()))
	for _, bc := range []struct{ name, path string }{
		{"residents-first-page", res},
		{"residents-search-name", res + "&q=" + url.QueryEscape("李Resident 01")},
		{"residents-search-unit", res + "&q=0420"},
		{"events-first-page", ev},
		{"events-20-days-deep", ev + "&cursor=" + deep},
		{"events-denied", ev + "&result=denied"},
		{"events-denied-revoked", ev + "&result=denied&reason=revoked"},
		{"events-manual", ev + "&method=manual"},
		{"events-gate", ev + "&gate_id=" + gates[2].String()},
		{"events-who-resident", ev + "&who=" + url.QueryEscape("Resident 004242")},
		{"events-who-unit", ev + "&who=0420"},
		{"events-last-week-denied", ev + "&result=denied&from=" + url.QueryEscape(time.Now().Add(-7*24*time.Hour).UTC().Format(time.RFC3339))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h.T = b
			for i := 0; i < b.N; i++ {
				h.Must(http.StatusOK, "GET", bc.path, f.Admin, nil)
			}
		})
	}
}
