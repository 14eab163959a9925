// Command citusbench measures the gate API's database work on one PostgreSQL and on a
// Citus cluster in the same run, through the store as the server calls it, and prints
// each figure with the ratio Citus ÷ PostgreSQL (docs/scaling.md):
//
//   - event ingest: gates upload batches of entry events (StoreEvents);
//   - sync fan-out: a change in a community (a revocation) and then every gate of that
//     community syncs from its cursor (GateSync), as after a long poll wakes;
//   - full sync: a gate with no cursor takes the snapshot.
//
// Pass minting is measured end to end by scripts/loadmint against each database.
//
//	go run ./scripts/citusbench -plain URL -citus URL
//
// `scripts/citus bench` starts both servers, runs this and loadmint, and stops them.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/audit"
	"gatepass/internal/secret"
	"gatepass/internal/store"
)

type config struct {
	communities, gates, batch, workers, rounds int
	duration                                   time.Duration
}

func main() {
	plain := flag.String("plain", "", "DATABASE_URL of a plain PostgreSQL database")
	citus := flag.String("citus", "", "DATABASE_URL of a Citus coordinator's database")
	var cfg config
	flag.IntVar(&cfg.communities, "communities", 20, "communities")
	flag.IntVar(&cfg.gates, "gates", 20, "gates in each community")
	flag.IntVar(&cfg.batch, "batch", 50, "events in one upload")
	flag.IntVar(&cfg.workers, "concurrency", 8, "concurrent callers")
	flag.DurationVar(&cfg.duration, "duration", 5*time.Second, "how long each measurement runs")
	flag.IntVar(&cfg.rounds, "rounds", 2, "rounds on each database (the best of each is kept)")
	flag.Parse()
	if *plain == "" || *citus == "" {
		fmt.Fprintln(os.Stderr, "citusbench: -plain and -citus are required")
		os.Exit(2)
	}
	if err := run(*plain, *citus, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "citusbench:", err)
		os.Exit(1)
	}
}

type result struct{ ingest, fanout, full float64 }

// best keeps the higher rate of each measurement: on a shared machine a slower round
// measures the neighbours, not gatepass.
func (r *result) best(o result) {
	r.ingest, r.fanout, r.full = max(r.ingest, o.ingest), max(r.fanout, o.fanout), max(r.full, o.full)
}

func run(plainURL, citusURL string, cfg config) error {
	// PostgreSQL and Citus take turns, twice, so that a burst of load from something
	// else on the machine does not fall on one side only.
	var res [2]result
	for round := range cfg.rounds {
		for i, u := range []string{plainURL, citusURL} {
			r, err := measure(u, cfg)
			if err != nil {
				return err
			}
			fmt.Printf("round %d: %+v\n", round+1, r)
			res[i].best(r)
		}
	}
	p, c := res[0], res[1]
	fmt.Printf("\n%d communities × %d gates, %d callers, %v each, best of %d rounds\n", cfg.communities, cfg.gates, cfg.workers, cfg.duration, cfg.rounds)
	fmt.Printf("%-34s %12s %12s %8s\n", "", "PostgreSQL", "Citus", "ratio")
	row := func(name string, a, b float64) { fmt.Printf("%-34s %12.0f %12.0f %8.2f\n", name, a, b, b/a) }
	row(fmt.Sprintf("event ingest (events/s, batch %d)", cfg.batch), p.ingest, c.ingest)
	row("sync fan-out (gate syncs/s)", p.fanout, c.fanout)
	row("full sync (snapshots/s)", p.full, c.full)
	return nil
}

// fixture is the communities and enrolled gates of one database.
type fixture struct {
	db    *store.DB
	gates [][]access.GateIdentity // by community
	creds [][]uuid.UUID           // residents' QR credentials, by community
}

func measure(url string, cfg config) (result, error) {
	ctx := context.Background()
	key := make([]byte, secret.MasterKeySize)
	_, _ = rand.Read(key)
	sealer, err := secret.NewSealer(key)
	if err != nil {
		return result{}, err
	}
	db, err := store.Open(ctx, url)
	if err != nil {
		return result{}, err
	}
	defer db.Close()
	db.SetAuditKey(sealer.DeriveKey(audit.KeyLabel))
	if err := db.Migrate(ctx); err != nil {
		return result{}, err
	}
	start := time.Now()
	f, err := setUp(ctx, db, sealer, cfg)
	if err != nil {
		return result{}, err
	}
	fmt.Printf("%s: set up in %v\n", redact(url), time.Since(start).Round(time.Millisecond))

	var r result
	// Event ingest: each call is one gate's batch.
	n, err := loop(cfg, func(i int) error {
		c := i % cfg.communities
		g := f.gates[c][(i/cfg.communities)%cfg.gates]
		events := make([]access.GateEvent, cfg.batch)
		for j := range events {
			cred := f.creds[c][j%len(f.creds[c])]
			events[j] = access.GateEvent{ID: uuid.New(), OccurredAt: time.Now().Add(-time.Duration(j) * time.Millisecond),
				Gate: g.ID, Credential: &cred, Subject: "resident", Method: "qr", Result: "granted", Reason: "ok"}
		}
		_, err := db.StoreEvents(ctx, g, events)
		return err
	})
	if err != nil {
		return r, fmt.Errorf("ingest: %w", err)
	}
	r.ingest = n * float64(cfg.batch)

	// Sync fan-out: every gate knows the newest cursor; a revocation lands in one
	// community, then each of its gates syncs the delta.
	cursors := make([][]atomic.Int64, cfg.communities)
	for c := range f.gates {
		cursors[c] = make([]atomic.Int64, cfg.gates)
		for g, gate := range f.gates[c] {
			out, _, err := db.GateSync(ctx, gate, 0)
			if err != nil {
				return r, fmt.Errorf("first sync: %w", err)
			}
			cursors[c][g].Store(out.Cursor)
		}
	}
	n, err = loop(cfg, func(i int) error {
		c := i % cfg.communities
		g := (i / cfg.communities) % cfg.gates
		if g == 0 { // each round of a community's gates starts with a new change
			if err := db.InTx(ctx, "citusbench", func(tx *store.Tx) error {
				id := uuid.New()
				return tx.Change(ctx, f.gates[c][0].Community, "revocation", uuid.Nil, id,
					store.Revocation{Credential: id, ForgetAfter: time.Now().Add(time.Hour)})
			}); err != nil {
				return err
			}
		}
		out, _, err := db.GateSync(ctx, f.gates[c][g], cursors[c][g].Load())
		if err == nil && out.Full {
			err = errors.New("a delta sync answered with a snapshot")
		}
		cursors[c][g].Store(out.Cursor)
		return err
	})
	if err != nil {
		return r, fmt.Errorf("fan-out: %w", err)
	}
	r.fanout = n

	n, err = loop(cfg, func(i int) error {
		_, _, err := db.GateSync(ctx, f.gates[i%cfg.communities][(i/cfg.communities)%cfg.gates], 0)
		return err
	})
	if err != nil {
		return r, fmt.Errorf("full sync: %w", err)
	}
	r.full = n
	return r, nil
}

// loop calls fn with increasing indexes from cfg.workers goroutines for cfg.duration
// (after a one-second warm-up that does not count) and returns calls per second.
func loop(cfg config, fn func(i int) error) (float64, error) {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	warm := time.Now().Add(time.Second)
	end := warm.Add(cfg.duration)
	var counted atomic.Int64
	var wg sync.WaitGroup
	for range cfg.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				if err := fn(int(next.Add(1) - 1)); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				if time.Now().After(warm) {
					counted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return float64(counted.Load()) / cfg.duration.Seconds(), firstErr
}

func setUp(ctx context.Context, db *store.DB, sealer *secret.Sealer, cfg config) (*fixture, error) {
	f := &fixture{db: db, gates: make([][]access.GateIdentity, cfg.communities), creds: make([][]uuid.UUID, cfg.communities)}
	for c := range cfg.communities {
		var codes []string
		var community uuid.UUID
		var residents []uuid.UUID
		err := db.InTx(ctx, "citusbench", func(tx *store.Tx) error {
			info, err := tx.CreateCommunity(ctx, "citusbench "+uuid.NewString()[:8], sealer)
			if err != nil {
				return err
			}
			community = info.ID
			b, err := tx.CreateBuilding(ctx, community, "A")
			if err != nil {
				return err
			}
			u, err := tx.CreateUnit(ctx, community, b.ID, "101")
			if err != nil {
				return err
			}
			for i := range 10 {
				r, _, err := tx.CreateResident(ctx, store.NewResident{Community: community, Name: fmt.Sprintf("R%d", i), Unit: u.ID, Role: access.RoleOwner})
				if err != nil {
					return err
				}
				residents = append(residents, r.ID)
			}
			for g := range cfg.gates {
				_, enrol, err := tx.CreateGate(ctx, store.NewGate{Community: community, Name: fmt.Sprintf("G%d", g), Zone: 0, Direction: "both"})
				if err != nil {
					return err
				}
				codes = append(codes, enrol.Code)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for _, r := range residents {
			q, err := db.EnsureQRCredential(ctx, community, r)
			if err != nil {
				return nil, err
			}
			f.creds[c] = append(f.creds[c], q.ID)
		}
		for _, code := range codes {
			box := make([]byte, 32)
			_, _ = rand.Read(box)
			g, _, err := db.EnrollGate(ctx, code, box, "citusbench")
			if err != nil {
				return nil, err
			}
			f.gates[c] = append(f.gates[c], g)
		}
	}
	return f, nil
}

// redact keeps a URL's host and database only.
func redact(u string) string {
	for i := len(u) - 1; i >= 0; i-- {
		if u[i] == '@' {
			return u[i+1:]
		}
	}
	return u
}
