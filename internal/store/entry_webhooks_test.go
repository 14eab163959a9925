package store_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/dbtest"
	"gatepass/internal/store"
	"gatepass/internal/webhook"
)

// hookFix is a community with a building, gates and one active endpoint subscribed to
// entry.created and anomaly.reuse.
type hookFix struct {
	c, building, endpoint uuid.UUID
	gates                 []access.GateIdentity
}

func newHookFix(t testing.TB, db *store.DB, gates int) hookFix {
	t.Helper()
	ctx := context.Background()
	var f hookFix
	err := db.InTx(ctx, "test", func(tx *store.Tx) error {
		info, err := tx.CreateCommunity(ctx, "hooks "+uuid.NewString(), dbtest.Sealer(t))
		if err != nil {
			return err
		}
		f.c = info.ID
		b, err := tx.CreateBuilding(ctx, f.c, "B")
		if err != nil {
			return err
		}
		f.building = b.ID
		for i := 0; i < gates; i++ {
			g, _, err := tx.CreateGate(ctx, store.NewGate{Community: f.c, Name: fmt.Sprintf("G%d", i), Zone: 0, Direction: "both"})
			if err != nil {
				return err
			}
			f.gates = append(f.gates, access.GateIdentity{ID: g.ID, Community: f.c, Name: g.Name, Direction: g.Direction})
		}
		ep, _, err := tx.CreateWebhookEndpoint(ctx, store.NewWebhookEndpoint{Community: f.c, URL: "https://hooks.example.com/" + uuid.NewString(),
			Events: []string{"entry.created", "anomaly.reuse"}}, dbtest.Sealer(t))
		f.endpoint = ep.ID
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// anomalyID is the event id the store gives the anomaly.reuse of entry id.
func anomalyID(id uuid.UUID) uuid.UUID {
	return uuid.UUID(md5.Sum([]byte("anomaly.reuse/" + id.String())))
}

// replayKey is a replay key of token type typ, unique to n.
func replayKey(typ byte, n string) []byte {
	sum := md5.Sum([]byte(n))
	return append(append([]byte{typ}, sum[:]...), sum[:8]...)
}

// strictJSON decodes data into v, failing the test on a field v does not have: the
// outbox's data is built in SQL and must stay the webhook package's shape.
func strictJSON(t testing.TB, data []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("data %s: %v", data, err)
	}
}

// samePtr reports whether a and b are both nil or point to equal values.
func samePtr[T comparable](a, b *T) bool {
	return a == b || (a != nil && b != nil && *a == *b)
}

func grant(g access.GateIdentity, at time.Time, key []byte) access.GateEvent {
	cred := uuid.New()
	return access.GateEvent{ID: uuid.New(), OccurredAt: at, Gate: g.ID, Credential: &cred, Subject: "resident", Method: "qr",
		Result: "granted", Reason: "ok", ReplayKey: key}
}

// Every stored entry event reaches the outbox with its stored fields, whatever partition
// it lands in (this month's, an older month's, the default one for a time no month
// covers) and whether its batch was inserted or copied (a large one), and a code
// granted at a second gate within the hour of the first is reported, in each of these
// partitions; nothing else is (one gate, over an hour apart, a card, a denial). A
// re-sent batch adds nothing.
func TestEntryWebhooksInEveryPartition(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	old := now.AddDate(0, -2, 0)      // an older month's partition
	ancient := now.AddDate(-10, 0, 0) // no month covers it: the default partition
	for _, from := range []time.Time{old, now} {
		if _, err := db.EnsurePartitions(ctx, from); err != nil {
			t.Fatal(err)
		}
	}
	f := newHookFix(t, db, 2)
	g1, g2 := f.gates[0], f.gates[1]

	// A batch comes from one gate; the second gate's re-uses the first's codes.
	first := []access.GateEvent{
		grant(g1, now, replayKey(1, "now")),
		grant(g1, old, replayKey(1, "old")),
		grant(g1, ancient, replayKey(2, "ancient")),
		grant(g1, old.Add(time.Minute), replayKey(3, "card")), // a card opens several gates
		grant(g1, old.Add(2*time.Minute), replayKey(1, "late")),
		grant(g1, ancient.Add(time.Hour), replayKey(1, "same gate")),
		grant(g1, ancient.Add(time.Hour+time.Minute), replayKey(1, "same gate")),
		grant(g1, now.Add(-time.Hour), replayKey(1, "denied later")),
	}
	second := []access.GateEvent{
		grant(g2, now.Add(time.Minute), replayKey(1, "now")),
		grant(g2, old.Add(10*time.Minute), replayKey(1, "old")),
		grant(g2, ancient.Add(-5*time.Minute), replayKey(2, "ancient")),
		grant(g2, old.Add(2*time.Minute), replayKey(3, "card")),
		grant(g2, old.Add(63*time.Minute), replayKey(1, "late")), // over an hour later
		grant(g2, now.Add(-30*time.Minute), replayKey(1, "denied later")),
	}
	second[5].Result, second[5].Reason = "denied", "replay"
	wantAnomalies := second[:3]
	// More than StoreEvents inserts: the second batch is copied. Face entries released by
	// staff, offline, carry every field an entry reports.
	staff := uuid.New()
	for i := range 40 {
		e := grant(g2, now.Add(-time.Duration(i)*time.Second), replayKey(1, fmt.Sprint("more", i)))
		if i%4 == 0 {
			resident := uuid.New()
			e.Credential, e.Subject, e.Method, e.Reason, e.ReplayKey = nil, "", "face", "face_match", nil
			e.Resident, e.Staff, e.Offline, e.Stale = &resident, &staff, true, true
		}
		second = append(second, e)
	}

	for _, batch := range [][]access.GateEvent{first, second, first, second} { // each sent twice
		g := g1
		if batch[0].Gate == g2.ID {
			g = g2
		}
		if _, err := db.StoreEvents(ctx, g, batch); err != nil {
			t.Fatal(err)
		}
	}

	conn := db.SQL()
	if n := dbtest.Count(t, conn, dbtest.WebhookDeliveries, dbtest.Eq("community_id", f.c), dbtest.Eq("event_type", "entry.created")); n != len(first)+len(second) {
		t.Fatalf("%d entry.created rows, want %d", n, len(first)+len(second))
	}
	for _, e := range append(slices.Clone(first), second...) {
		var data []byte
		dbtest.Get(t, conn, &data, dbtest.WebhookDeliveries, "data", dbtest.Eq("community_id", f.c),
			dbtest.Eq("endpoint_id", f.endpoint), dbtest.Eq("event_id", e.ID), dbtest.Eq("event_type", "entry.created"))
		var got webhook.Entry
		strictJSON(t, data, &got)
		var received time.Time
		dbtest.Get(t, conn, &received, dbtest.EntryEvents, "received_at", dbtest.Eq("community_id", f.c), dbtest.Eq("id", e.ID))
		subject := &e.Subject
		if e.Subject == "" {
			subject = nil
		}
		if got.ID != e.ID || !got.OccurredAt.Equal(e.OccurredAt) || !got.ReceivedAt.Equal(received) || got.Gate != e.Gate ||
			!samePtr(got.Credential, e.Credential) || !samePtr(got.Subject, subject) || got.Method != e.Method ||
			got.Result != e.Result || got.Reason != e.Reason || got.Offline != e.Offline || got.Stale != e.Stale ||
			!samePtr(got.Staff, e.Staff) || !samePtr(got.Resident, e.Resident) {
			t.Fatalf("entry %s at %s: data %s", e.ID, e.OccurredAt, data)
		}
	}
	if n := dbtest.Count(t, conn, dbtest.WebhookDeliveries, dbtest.Eq("community_id", f.c), dbtest.Eq("event_type", "anomaly.reuse")); n != len(wantAnomalies) {
		t.Fatalf("%d anomaly.reuse rows, want %d", n, len(wantAnomalies))
	}
	for _, e := range wantAnomalies {
		var data []byte
		dbtest.Get(t, conn, &data, dbtest.WebhookDeliveries, "data", dbtest.Eq("community_id", f.c),
			dbtest.Eq("endpoint_id", f.endpoint), dbtest.Eq("event_id", anomalyID(e.ID)), dbtest.Eq("event_type", "anomaly.reuse"))
		var got webhook.Anomaly
		strictJSON(t, data, &got)
		other := g1.ID
		if e.Gate == g1.ID {
			other = g2.ID
		}
		if got.Entry != e.ID || got.Gate != e.Gate || !got.OccurredAt.Equal(e.OccurredAt) || got.Credential == nil ||
			*got.Credential != *e.Credential || len(got.OtherGates) != 1 || got.OtherGates[0] != other {
			t.Fatalf("anomaly of %s at %s: data %s", e.ID, e.OccurredAt, data)
		}
	}
}

// benchSeed is the community BenchmarkEntryWebhooks times, seeded once per run.
var benchSeed struct {
	once sync.Once
	f    hookFix
	err  error
}

// BenchmarkEntryWebhooks times StoreEvents of a batch of 10 and of 100 fresh entries
// (granted QR codes, each with its replay key, a few denied) in one community holding
// BENCH_EVENTS entry events (default 500,000) spread over the last 100 days (four
// monthly partitions), with its endpoint for entry.created and anomaly.reuse paused
// (the outbox is skipped: the floor) and active, alternately in the same run, and
// reports each one's median and the ratio with/without (goal: at most 1.5 at batch 100;
// docs/benchmarks.md, issue 20). Each iteration stores one batch of each size both
// ways: run it with -benchtime 40x.
func BenchmarkEntryWebhooks(b *testing.B) {
	events := 500_000
	if v := os.Getenv("BENCH_EVENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatal(err)
		}
		events = n
	}
	ctx := context.Background()
	db := dbtest.New(b)
	benchSeed.once.Do(func() {
		now := time.Now()
		for _, from := range []time.Time{now.AddDate(0, -3, 0), now} {
			if _, err := db.EnsurePartitions(ctx, from); err != nil {
				benchSeed.err = err
				return
			}
		}
		benchSeed.f = newHookFix(b, db, 4)
		gates := make([]uuid.UUID, len(benchSeed.f.gates))
		for i, g := range benchSeed.f.gates {
			gates[i] = g.ID
		}
		start := time.Now()
		benchSeed.err = db.SeedScale(ctx, benchSeed.f.c, benchSeed.f.building, gates,
			store.Scale{Units: 100, Residents: 5000, Events: events, Days: 100, ReplayKeys: true})
		b.Logf("seeded %d entry events over 100 days in %v", events, time.Since(start).Round(time.Second))
	})
	if benchSeed.err != nil {
		b.Fatal(benchSeed.err)
	}
	f := benchSeed.f
	gateCtx := store.WithWork(ctx, store.GateWriteWork)
	batch := func(n int) []access.GateEvent {
		out := make([]access.GateEvent, n)
		now := time.Now().UTC()
		for i := range out {
			out[i] = grant(f.gates[0], now.Add(-time.Duration(i)*time.Second), replayKey(1, uuid.NewString()))
			if i%20 == 3 {
				out[i].Result, out[i].Reason = "denied", "expired"
			}
		}
		return out
	}
	hooks := func(state string) {
		dbtest.Set(b, db.SQL(), dbtest.WebhookEndpoints, dbtest.Values{"state": state}, dbtest.Eq("community_id", f.c), dbtest.Eq("id", f.endpoint))
	}
	sizes := []int{1, 10, 100}
	took := map[string][]time.Duration{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, n := range sizes {
			for _, state := range []string{"paused", "active"} {
				b.StopTimer()
				hooks(state)
				events := batch(n)
				b.StartTimer()
				start := time.Now()
				if _, err := db.StoreEvents(gateCtx, f.gates[0], events); err != nil {
					b.Fatal(err)
				}
				key := fmt.Sprintf("%d/%s", n, state)
				took[key] = append(took[key], time.Since(start))
			}
		}
	}
	b.StopTimer()
	median := func(d []time.Duration) time.Duration {
		s := slices.Clone(d)
		slices.Sort(s)
		return s[len(s)/2]
	}
	for _, n := range sizes {
		without, with := median(took[fmt.Sprintf("%d/paused", n)]), median(took[fmt.Sprintf("%d/active", n)])
		ratio := float64(with) / float64(without)
		b.Logf("batch %d over %d events: median %v without an endpoint, %v with one: ratio %.2f (%d batches each)",
			n, events, without.Round(10*time.Microsecond), with.Round(10*time.Microsecond), ratio, b.N)
		b.ReportMetric(ratio, fmt.Sprintf("with/without@%d", n))
		b.ReportMetric(float64(with.Microseconds())/1000, fmt.Sprintf("ms-with@%d", n))
		b.ReportMetric(float64(without.Microseconds())/1000, fmt.Sprintf("ms-without@%d", n))
	}
}
