package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// quantile is the nearest-rank q-quantile of d (sorted in place): p99 of 20 trials is
// the largest, said as such in the report.
func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	i := int(math.Ceil(q*float64(len(d)))) - 1
	return d[max(0, min(i, len(d)-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000) }

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// phase is what the server did and how admin reads fared while one part of the run went on.
type phase struct {
	name                 string
	began, ended         time.Time
	maxRSS, lastRSS      int64 // KiB
	maxG, lastG          int64
	cpu0, cpu1           time.Duration   // server CPU at the start and end
	self0, self1         time.Duration   // this program's CPU
	admin, adminServer   []time.Duration // a read's latency at the client, and in the server
	adminErrs, usageErrs int
	load                 string // load average at the end
}

// monitor samples the server once a second and reads the admin API every 250 ms (a
// residents page, then an events page), into the current phase. It stops with ctx.
type monitor struct {
	srv   *server
	adm   *admin
	paths []string

	mu     sync.Mutex
	cur    *phase
	phases []*phase
}

func (m *monitor) begin(name string) {
	u, _ := m.srv.usage()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur != nil {
		m.endLocked(u)
	}
	m.cur = &phase{name: name, began: time.Now(), cpu0: u.cpu, self0: selfCPU(), lastRSS: u.rssKB, maxRSS: u.rssKB, lastG: u.goroutines, maxG: u.goroutines}
	m.phases = append(m.phases, m.cur)
}

func (m *monitor) end() {
	u, _ := m.srv.usage()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur != nil {
		m.endLocked(u)
	}
	m.cur = nil
}

func (m *monitor) endLocked(u usage) {
	p := m.cur
	p.ended, p.cpu1, p.self1, p.load = time.Now(), u.cpu, selfCPU(), loadavg()
	m.noteLocked(u)
}

func (m *monitor) noteLocked(u usage) {
	if p := m.cur; p != nil && u.rssKB > 0 {
		p.lastRSS, p.lastG = u.rssKB, u.goroutines
		p.maxRSS, p.maxG = max(p.maxRSS, u.rssKB), max(p.maxG, u.goroutines)
	}
}

func (m *monitor) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			u, err := m.srv.usage()
			m.mu.Lock()
			if err != nil && m.cur != nil {
				m.cur.usageErrs++
			}
			m.noteLocked(u)
			m.mu.Unlock()
			sleep(ctx, time.Second)
		}
	}()
	go func() {
		defer wg.Done()
		m.probe(ctx)
	}()
	wg.Wait()
}

// probe reads the admin API every 250 ms from a process of its own (this program run as
// "gateload probe"), as a member of staff's browser would: in this process the reads
// would queue behind a thousand simulated gates' goroutines and measure this program's
// scheduler, not the server. Each read's start and latency come back on its stdout.
func (m *monitor) probe(ctx context.Context) {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gateload: probe:", err)
		return
	}
	cmd := atCallersPriority(ctx, self, append([]string{"probe", m.adm.base, m.adm.token}, m.paths...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gateload: probe:", err)
		return
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var at, took, inServer int64
		var ok int
		if _, err := fmt.Sscan(sc.Text(), &at, &took, &ok, &inServer); err != nil {
			continue
		}
		start := time.Unix(0, at)
		m.mu.Lock()
		// The phase the read began in.
		for i := len(m.phases) - 1; i >= 0; i-- {
			if p := m.phases[i]; !start.Before(p.began) {
				if ok == 1 {
					p.admin = append(p.admin, time.Duration(took))
					if inServer >= 0 {
						p.adminServer = append(p.adminServer, time.Duration(inServer))
					}
				} else {
					p.adminErrs++
				}
				break
			}
		}
		m.mu.Unlock()
	}
	_ = cmd.Wait()
}

// runProbe is "gateload probe BASE TOKEN PATH...": GET each path of the admin API in
// turn, every 250 ms, until the parent ends it, printing "start-ns latency-ns ok
// server-ns", the last the server's own time (its Server-Timing header).
func runProbe(args []string) {
	if len(args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: gateload probe BASE TOKEN PATH...")
		os.Exit(2)
	}
	base, token, paths := args[0], args[1], args[2:]
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2}}
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		t0 := time.Now()
		inServer, err := probeRead(ctx, client, base+"/admin/v1"+paths[i%len(paths)], token)
		took := time.Since(t0)
		cancel()
		ok := 1
		if err != nil {
			ok = 0
		}
		fmt.Fprintf(w, "%d %d %d %d\n", t0.UnixNano(), took.Nanoseconds(), ok, inServer.Nanoseconds())
		if w.Flush() != nil {
			return // the parent has gone
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// probeRead GETs url and reads the whole answer; it returns the server's time from the
// answer's "Server-Timing: app;dur=MS", or -1 without one.
func probeRead(ctx context.Context, client *http.Client, url, token string) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	var ms float64
	if _, err := fmt.Sscanf(resp.Header.Get("Server-Timing"), "app;dur=%g", &ms); err != nil {
		return -1, nil // a server from before Server-Timing (-bin)
	}
	return time.Duration(ms * float64(time.Millisecond)), nil
}

func (m *monitor) report() {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Printf("\n| phase | s | server CPU (cores) | gateload CPU (cores) | RSS max / end (MiB) | goroutines max / end | admin reads | admin p50 / p95 / p99 / max | of which in the server p50 / p99 / max | load avg at end |\n")
	fmt.Printf("|---|---:|---:|---:|---:|---:|---:|---|---|---|\n")
	for _, p := range m.phases {
		secs := p.ended.Sub(p.began).Seconds()
		a := slices.Clone(p.admin)
		reads := fmt.Sprint(len(a))
		if p.adminErrs > 0 {
			reads += fmt.Sprintf(" (%d failed)", p.adminErrs)
		}
		lat, in := "—", "—"
		if len(a) > 0 {
			lat = ms(quantile(a, 0.5)) + " / " + ms(quantile(a, 0.95)) + " / " + ms(quantile(a, 0.99)) + " / " + ms(quantile(a, 1))
			if s := slices.Clone(p.adminServer); len(s) > 0 {
				in = ms(quantile(s, 0.5)) + " / " + ms(quantile(s, 0.99)) + " / " + ms(quantile(s, 1))
			}
		}
		fmt.Printf("| %s | %.0f | %.2f | %.2f | %.0f / %.0f | %d / %d | %s | %s | %s | %s |\n", p.name, secs,
			(p.cpu1-p.cpu0).Seconds()/secs, (p.self1-p.self0).Seconds()/secs,
			float64(p.maxRSS)/1024, float64(p.lastRSS)/1024, p.maxG, p.lastG, reads, lat, in, p.load)
	}
}
