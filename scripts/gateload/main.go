// Command gateload measures one server under a thousand gates (issue 14 item 5, issue
// 20 item 6). It starts the real server binary on a database, makes a community with N
// gates through the admin API, enrolls every gate through POST /gate/v1/enroll, and
// runs N simulated gates that long-poll GET /gate/v1/sync with the agent's query
// (keepalive=1) and upload events as the agent does. It then measures:
//
//  1. idle fan-out: staff revoke a card; how long until every gate's sync delivered it;
//  2. the same while every gate uploads events at a realistic rate, and at its maximum;
//  3. ingest: events/s stored with batches of 1, 10 and 100, beside a bare COPY of rows
//     of the same shape into entry_events in the same run;
//  4. admin read latency (a residents page, an events page) through all of it, from a
//     process of its own ("gateload probe"), as a member of staff's browser;
//  5. server RSS and goroutines per phase, and after the gates have gone;
//  6. the server's idle CPU with N held polls, with keepalive newlines and without;
//  7. what an entry event costs on disk with its indexes.
//
// The simulated gates honour Retry-After on 429 and 503 (busy) as the agent does.
// Everything is on loopback, bounded in count and time, and stops by itself; -only
// runs some of the phases, -bin another server binary (a before-and-after in one
// session).
//
//	DATABASE_URL=... go run ./scripts/gateload -bin bin/server -gates 1000
//
// scripts/load-gates wraps it with a throwaway database; docs/benchmarks.md has the
// commands of its figures.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
)

type options struct {
	bin, dbURL         string
	gates              int
	trials, busyTrials int
	wait, rate         time.Duration
	ingestFor, idleFor time.Duration
	workers, copyChunk int
	trialTimeout       time.Duration
	compareKeepalive   bool
	gzip               bool
	only               map[string]bool // phases to run; empty: all
	adminReads         string
}

// phases are the parts of a run -only may pick.
var phases = []string{"idle", "fanout", "realistic", "busy", "ingest"}

func (o options) want(phase string) bool { return len(o.only) == 0 || o.only[phase] }

func main() {
	if len(os.Args) > 1 && os.Args[1] == "probe" {
		runProbe(os.Args[2:])
		return
	}
	var o options
	flag.StringVar(&o.bin, "bin", "bin/server", "the server binary to start")
	flag.StringVar(&o.dbURL, "database-url", os.Getenv("DATABASE_URL"), "PostgreSQL (or Citus coordinator) URL (env DATABASE_URL)")
	flag.IntVar(&o.gates, "gates", 1000, "simulated gates")
	flag.IntVar(&o.trials, "trials", 20, "revocations timed with idle gates, and with gates uploading at a realistic rate")
	flag.IntVar(&o.busyTrials, "busy-trials", 10, "revocations timed while every gate uploads as fast as it may")
	flag.DurationVar(&o.wait, "wait", 25*time.Second, "long poll wait (the agent's default)")
	flag.DurationVar(&o.rate, "event-every", 10*time.Second, "realistic rate: one event per gate this often")
	flag.DurationVar(&o.ingestFor, "ingest-for", 10*time.Second, "how long each ingest batch size runs")
	flag.DurationVar(&o.idleFor, "idle-for", 30*time.Second, "how long idle CPU is measured with keepalives (half as long without)")
	flag.IntVar(&o.workers, "ingest-workers", 32, "concurrent uploads while measuring ingest (the server has 40 database connections)")
	flag.IntVar(&o.copyChunk, "copy-chunk", 1000, "rows per bare COPY transaction (gateapi.MaxBatch)")
	flag.DurationVar(&o.trialTimeout, "trial-timeout", 60*time.Second, "longest one revocation is waited for")
	flag.BoolVar(&o.compareKeepalive, "compare-keepalive", true, "also measure idle CPU with keepalive=0")
	flag.BoolVar(&o.gzip, "gzip", true, "gates ask for gzip (Accept-Encoding), as the agent's Go transport does")
	flag.StringVar(&o.adminReads, "admin-reads", "residents,events", "the admin pages read in turn every 250 ms (100 rows each)")
	only := flag.String("only", "", "comma-separated phases to run, of "+strings.Join(phases, ",")+" (default: all)")
	flag.IntVar(&gatesNice, "nice", 0, "run the simulated gates at this nice value, the server and the staff probe at the caller's (nice.go; needs root)")
	flag.Parse()
	if err := setPriority(gatesNice); err != nil {
		fmt.Fprintln(os.Stderr, "gateload:", err)
		os.Exit(1)
	}
	if *only != "" {
		o.only = map[string]bool{}
		for _, p := range strings.Split(*only, ",") {
			if !slices.Contains(phases, p) {
				fmt.Fprintf(os.Stderr, "gateload: -only: %q is not one of %s\n", p, strings.Join(phases, ","))
				os.Exit(2)
			}
			o.only[p] = true
		}
	}
	// The generator's collector pauses would read as server latency; 1,000 gates' garbage
	// is small.
	debug.SetGCPercent(400)
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "gateload:", err)
		os.Exit(1)
	}
}

// raiseFiles lifts the soft open-file limit to the hard one: 1,000 gates hold up to two
// connections each, and the server (which inherits it) as many again.
func raiseFiles() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

func run(o options) error {
	if o.dbURL == "" {
		return errors.New("DATABASE_URL is not set")
	}
	if o.gates < 1 || o.gates > perAddress*254*200 {
		return errors.New("-gates must be from 1 to a million")
	}
	raiseFiles()
	started := time.Now()
	fmt.Printf("gateload: %d gates (gzip %v, nice %d), GOMAXPROCS %d, %d CPUs, load average %s at start\n", o.gates, o.gzip, gatesNice, runtime.GOMAXPROCS(0), runtime.NumCPU(), loadavg())
	dir, err := os.MkdirTemp("", "gateload-")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	srv, token, err := startServer(o.bin, o.dbURL, dir)
	if err != nil {
		return err
	}
	defer srv.stop()
	adm := &admin{base: srv.base, token: token, client: &http.Client{Timeout: 60 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}

	w := &watcher{}
	c, err := setUp(adm, srv.base, o)
	if err != nil {
		return fmt.Errorf("%w; server log: %s", err, srv.tail())
	}
	fmt.Printf("set up a community, %d residents, %d cards and %d gates enrolled through /gate/v1/enroll in %v\n",
		len(c.residents), len(c.cards), len(c.gates), time.Since(started).Round(time.Second))

	mon := &monitor{srv: srv, adm: adm}
	for _, p := range strings.Split(o.adminReads, ",") {
		mon.paths = append(mon.paths, "/communities/"+c.community+"/"+p+"?limit=100")
	}
	mctx, mstop := context.WithCancel(context.Background())
	var mwg sync.WaitGroup
	mwg.Add(1)
	go func() { defer mwg.Done(); mon.run(mctx) }()
	defer func() { mstop(); mwg.Wait() }()
	mon.begin("no gates connected")
	time.Sleep(5 * time.Second)

	mon.begin("gates connecting (snapshots)")
	f := &fleet{gates: c.gates}
	if err := f.start(o.wait, true, w.seen); err != nil {
		printFailures()
		return fmt.Errorf("%w; server log: %s", err, srv.tail())
	}
	mon.begin(fmt.Sprintf("idle, %d polls held (keepalive=1)", o.gates))
	time.Sleep(2 * time.Second)
	if o.want("idle") {
		mon.begin(fmt.Sprintf("idle CPU, %d polls held, keepalive=1", o.gates))
		time.Sleep(o.idleFor)
	}

	var results []fanout
	if o.want("fanout") {
		fmt.Println("\n(1) fan-out, gates idle")
		mon.begin("(1) fan-out, gates idle")
		r, err := trials(w, adm, o.gates, &c.cards, o.trials, o.trialTimeout, "idle")
		results = append(results, r)
		if err != nil {
			return err
		}
	}

	var realistic, busy float64
	if o.want("realistic") {
		fmt.Printf("\n(2a) fan-out, every gate uploading one event every %v (batches of 1, as the agent sends each event at once)\n", o.rate)
		mon.begin(fmt.Sprintf("(2a) fan-out, 1 event/gate/%v", o.rate))
		up := startUploads(c.gates, c.eventCred, 1, o.rate)
		time.Sleep(3 * time.Second)
		r, err := trials(w, adm, o.gates, &c.cards, o.trials, o.trialTimeout, fmt.Sprintf("1 event/gate/%v", o.rate))
		results = append(results, r)
		realistic = up.stop()
		fmt.Printf("  uploads: %.0f events/s stored, %d requests, %d rate-limited (429), %d busy (503), %d failed\n", realistic, up.requests.Load(), up.limited.Load(), up.busy.Load(), up.failed.Load())
		if err != nil {
			return err
		}
	}

	if o.want("busy") {
		fmt.Println("\n(2b) fan-out, every gate uploading batches of 10 back to back (a backlog drained)")
		mon.begin("(2b) fan-out, gates uploading at their maximum")
		up := startUploads(c.gates, c.eventCred, 10, 0)
		time.Sleep(3 * time.Second)
		r, err := trials(w, adm, o.gates, &c.cards, o.busyTrials, o.trialTimeout, "max uploads, batch 10")
		results = append(results, r)
		busy = up.stop()
		fmt.Printf("  uploads: %.0f events/s stored, %d requests, %d rate-limited (429), %d busy (503), %d failed\n", busy, up.requests.Load(), up.limited.Load(), up.busy.Load(), up.failed.Load())
		if err != nil {
			return err
		}
		// Draining at their maximum spent every gate's upload budget (60 batches per
		// 10 s): the ingest runs start once the window has passed, not into 429s.
		mon.begin("quiet, gates' upload budgets refilling")
		time.Sleep(11 * time.Second)
	}

	type ing struct {
		batch    int
		rate     float64
		p50, p99 time.Duration
	}
	var ings []ing
	var copyRate float64
	if o.want("ingest") {
		fmt.Printf("\n(3) ingest maximum: %d concurrent uploads for %v per batch size, polls still held\n", o.workers, o.ingestFor)
		var most int64
		for _, b := range []int{1, 10, 100} {
			mon.begin(fmt.Sprintf("(3) ingest, batch %d", b))
			rate, p50, p99, n, err := ingest(c.gates, c.eventCred, b, o.workers, o.ingestFor)
			if err != nil {
				return err
			}
			most = max(most, n)
			ings = append(ings, ing{b, rate, p50, p99})
			fmt.Printf("  batch %3d: %7.0f events/s (request p50 %s, p99 %s), load %s\n", b, rate, ms(p50), ms(p99), loadavg())
		}
		mon.begin("(3) bare COPY")
		rows := int(min(max(most, 10000), 300000))
		var err error
		if err := setPriority(0); err != nil {
			return err
		}
		copyRate, err = bareCopy(o.dbURL, uuid.MustParse(c.community), c.gates[0], c.eventCred, rows, o.copyChunk)
		if err != nil {
			return err
		}
		if err := setPriority(gatesNice); err != nil {
			return err
		}
		fmt.Printf("  bare COPY: %7.0f rows/s (%d rows, %d a transaction), load %s\n", copyRate, rows, o.copyChunk, loadavg())
		if per, n, err := eventBytes(o.dbURL); err != nil {
			fmt.Printf("  entry log size: %v\n", err)
		} else if per > 0 {
			fmt.Printf("  entry log: %d events, %.0f bytes an event with its indexes\n", n, per)
		}
	}

	if o.compareKeepalive && o.want("idle") {
		f.stop()
		mon.begin("gates reconnecting with keepalive=0")
		if err := f.start(o.wait, false, w.seen); err != nil {
			return err
		}
		// Polls the first fleet held end within a keepalive of its going: give them time.
		time.Sleep(3 * time.Second)
		mon.begin(fmt.Sprintf("idle CPU, %d polls held, keepalive=0", o.gates))
		time.Sleep(o.idleFor / 2)
	}
	mon.begin("gates gone")
	f.stop()
	// keepalive=0 polls of gates that went are held to their wait: the server only learns
	// when it answers.
	time.Sleep(o.wait + 5*time.Second)
	mon.begin("after")
	time.Sleep(3 * time.Second)
	mon.end()
	u, _ := srv.usage()

	fmt.Printf("\n=== gateload: %d gates, %v in all, load average %s at the end ===\n", o.gates, time.Since(started).Round(time.Second), loadavg())
	fmt.Println("\nRevocation fan-out (time from staff's revoke call to the gate's sync delivering it; p99 of 20 trials is the largest):")
	fmt.Println("\n| gates doing | trials | half the gates p50 | every gate p50 / p99 / max | revoke call p50 / max | deliveries missing |")
	fmt.Println("|---|---:|---:|---|---|---:|")
	for _, r := range results {
		r.print()
	}
	fmt.Printf("\nEvent uploads during (2a): %.0f events/s; during (2b): %.0f events/s\n", realistic, busy)
	if len(ings) > 0 {
		fmt.Println("\nIngest (events stored per second; bare COPY of rows of the same shape, same run):")
		fmt.Println("\n| batch | events/s | request p50 / p99 | ratio to bare COPY |")
		fmt.Println("|---:|---:|---|---:|")
		for _, i := range ings {
			fmt.Printf("| %d | %.0f | %s / %s | %.3f |\n", i.batch, i.rate, ms(i.p50), ms(i.p99), i.rate/copyRate)
		}
		fmt.Printf("| bare COPY, %d rows a transaction | %.0f | — | 1 |\n", o.copyChunk, copyRate)
	}
	fmt.Println("\nServer per phase (CPU from /proc/PID/stat, RSS from VmRSS, goroutines from go_goroutines; admin reads every 250 ms):")
	mon.report()
	fmt.Printf("\nServer VmHWM (peak RSS) %.0f MiB; simulated gate sync failures (retried) %d\n", float64(u.hwmKB)/1024, f.fails.Load())
	printFailures()
	return nil
}

// community is what the run set up.
type community struct {
	community string
	residents []string
	cards     []card    // to revoke, one a trial
	eventCred uuid.UUID // the card the gates' events name (never revoked)
	gates     []*gate
}

// setUp makes the community through the admin API: a building and unit, residents (so
// the residents page has something to read), one card per trial and one for events, and
// the gates, each enrolled through the gate API from its own loopback address.
func setUp(adm *admin, base string, o options) (*community, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var c community
	var id struct {
		ID string `json:"id"`
	}
	if err := adm.call(ctx, "POST", "/communities", map[string]string{"name": "gateload " + time.Now().Format(time.RFC3339)}, &id); err != nil {
		return nil, err
	}
	c.community = id.ID
	if err := adm.call(ctx, "POST", "/communities/"+c.community+"/buildings", map[string]string{"name": "A"}, &id); err != nil {
		return nil, err
	}
	if err := adm.call(ctx, "POST", "/communities/"+c.community+"/units", map[string]string{"building_id": id.ID, "label": "101"}, &id); err != nil {
		return nil, err
	}
	unit := id.ID
	for i := 0; i < 100; i++ {
		in := map[string]any{"name": "Resident " + strconv.Itoa(i), "unit_id": unit, "role": "owner"}
		if err := adm.call(ctx, "POST", "/communities/"+c.community+"/residents", in, &id); err != nil {
			return nil, err
		}
		c.residents = append(c.residents, id.ID)
	}
	// Cards before the gates connect: issuing one is a change every gate syncs too.
	for i := 0; i <= 2*o.trials+o.busyTrials; i++ {
		res := c.residents[i%len(c.residents)]
		cid, err := adm.issueCard(ctx, res)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			c.eventCred = uuid.MustParse(cid)
			continue
		}
		c.cards = append(c.cards, card{resident: res, id: cid})
	}
	codes := make([]string, o.gates)
	err := parallel(8, o.gates, func(i int) error {
		var g struct {
			Code string `json:"enrollment_code"`
		}
		in := map[string]any{"name": "Gate " + strconv.Itoa(i), "zone": 0, "direction": "in"}
		if err := adm.call(ctx, "POST", "/communities/"+c.community+"/gates", in, &g); err != nil {
			return err
		}
		codes[i] = g.Code
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.gates = make([]*gate, o.gates)
	for i := range c.gates {
		c.gates[i] = newGate(i, base, o.wait, o.gzip)
	}
	// One worker per source address, its gates one after another: within the server's
	// per-address budget of 20 a minute. Enrollments of one community take its lock one
	// after another (the audit chain), so a dozen at once enroll as fast as more would.
	addresses := (o.gates + perAddress - 1) / perAddress
	err = parallel(min(addresses, 12), addresses, func(a int) error {
		for i := a * perAddress; i < min((a+1)*perAddress, o.gates); i++ {
			if err := c.gates[i].enroll(ctx, codes[i]); err != nil {
				return err
			}
		}
		return nil
	})
	return &c, err
}

// parallel runs fn(0..n-1) on workers goroutines and returns the first error.
func parallel(workers, n int, fn func(i int) error) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}
