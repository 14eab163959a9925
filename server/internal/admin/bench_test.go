package admin_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/apitest"
	"gatepass/internal/store"
)

// BenchmarkListResidents50k lists pages of 100 residents, over HTTP through the real
// handler, in a community of 50,000: the first page, a page deep in the list (by
// cursor) and a name search. Goal: under 50 ms a page.
func BenchmarkListResidents50k(b *testing.B) {
	h := newHarness(b)
	f := h.Community()
	start := time.Now()
	_, err := h.DB.SQL().Exec(`WITH r AS (
			INSERT INTO residents (community_id, id, name)
			SELECT $1, gen_random_uuid(), (ARRAY['王','李','张','刘','陈','Smith ','Garcia '])[1 + i % 7] || 'Resident ' || lpad(i::text, 6, '0')
			FROM generate_series(1, 50000) i RETURNING community_id, id)
		INSERT INTO residencies (community_id, id, resident_id, unit_id, role)
		SELECT community_id, gen_random_uuid(), id, $2, 'tenant' FROM r`, f.ID, f.Unit)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := h.DB.SQL().Exec(`ANALYZE residents; ANALYZE residencies`); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded 50,000 residents in %v", time.Since(start).Round(time.Millisecond))
	base := "/admin/v1/communities/" + f.ID + "/residents?limit=100"
	// A cursor about 30,000 residents in.
	deep := h.Must(http.StatusOK, "GET", base+"&q="+url.QueryEscape("Resident 030000"), f.Admin, nil)["residents"].([]any)[0].(map[string]any)
	cursor := encodeCursor(b, deep["name"].(string), deep["id"].(string))
	// The same first page straight from the store, without HTTP: the floor to compare with.
	b.Run("store-only", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			page, err := h.DB.Residents(context.Background(), uuid.MustParse(f.ID), store.ResidentFilter{Limit: 100})
			if err != nil || len(page.Residents) != 100 {
				b.Fatalf("page of %d: %v", len(page.Residents), err)
			}
		}
	})
	for _, bc := range []struct{ name, path string }{
		{"first-page", base},
		{"deep-page", base + "&cursor=" + cursor},
		{"search", base + "&q=" + url.QueryEscape("李Resident 01")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h.T = b
			for i := 0; i < b.N; i++ {
				out := h.Must(http.StatusOK, "GET", bc.path, f.Admin, nil)
				if n := len(out["residents"].([]any)); n != 100 {
					b.Fatalf("page of %d", n)
				}
			}
		})
	}
}

func encodeCursor(b testing.TB, name, id string) string {
	// The same shape store.Residents hands out: a page boundary after (name, id).
	return base64.RawURLEncoding.EncodeToString(apitest.MustJSON(b, map[string]string{"n": name, "i": id}))
}
