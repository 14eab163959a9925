package face

import (
	"flag"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The 100,000-template gallery, and the same templates as float32 rows for the exact
// search the matcher did before, are built once for all benchmarks of a run.
var (
	benchOnce sync.Once
	benchM    *Matcher
	benchRef  *refGallery
)

func bench100k(b *testing.B) (*Matcher, *refGallery) {
	benchOnce.Do(func() {
		benchRef = &refGallery{}
		benchM = fill(b, 100_000, func(id uuid.UUID, t Template) { benchRef.put(b, id, t) })
	})
	return benchM, benchRef
}

// sumWords is the bare pass over the coarse slab: it reads every word once and adds it.
// No coarse pass can beat it; the ratio of Match to it says how far the search is from
// memory bandwidth.
func sumWords(s []uint64) uint64 {
	var s0, s1, s2, s3 uint64
	for i := 3; i < len(s); i += 4 {
		s0 += s[i-3]
		s1 += s[i-2]
		s2 += s[i-1]
		s3 += s[i]
	}
	return s0 + s1 + s2 + s3
}

// sumSlab is the bare pass over the float32 rows of before, with the same eight
// accumulators as Dot.
func sumSlab(s []float32) float32 {
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= len(s); i += 8 {
		s0 += s[i]
		s1 += s[i+1]
		s2 += s[i+2]
		s3 += s[i+3]
		s4 += s[i+4]
		s5 += s[i+5]
		s6 += s[i+6]
		s7 += s[i+7]
	}
	for ; i < len(s); i++ {
		s0 += s[i]
	}
	return (s0 + s1) + (s2 + s3) + (s4 + s5) + (s6 + s7)
}

// dotAll is the coarse kernel alone over every row, with no shortlist, re-score or lock:
// what the search costs beyond it is the bookkeeping.
func dotAll(g *gallery, even, odd []uint64) uint64 {
	var t uint64
	for i := range g.rows {
		t += coarseDot(g.codes[i*g.words:(i+1)*g.words], even, odd)
	}
	return t
}

var (
	sink   float32
	sinkU  uint64
	sinkID uuid.UUID
)

// bare is one pass timed next to each search.
type bare struct {
	name string
	run  func()
	laps []time.Duration
}

// BenchmarkMatch100k: one 1:N search over 100,000 templates of 512 values on one core
// (GOMAXPROCS 1 for the benchmark), next to the bare passes over the coarse slab and over
// the float32 rows of before, and the exact float32 search of before. Every iteration
// times each of them once (outside the benchmark timer), so the ratios are measured under
// the same load; p50/p99 are over the iterations: run with -benchtime 300x.
func BenchmarkMatch100k(b *testing.B) {
	m, ref := bench100k(b)
	g := m.galleries["synthetic-512"]
	even, odd := make([]uint64, g.words), make([]uint64, g.words)
	packProbe(NewSynthetic(98).Identity().Embedding, even, odd)
	probes := benchProbes()
	i := 0
	matchBench(b, m, []*bare{
		{name: "codes-read", run: func() { sinkU += sumWords(g.codes) }},
		{name: "codes-dot", run: func() { sinkU += dotAll(g, even, odd) }},
		{name: "f32-read", run: func() { sink += sumSlab(ref.slab) }},
		{name: "f32-search", run: func() {
			id, _ := ref.match(b, probes[i%len(probes)])
			sinkID, i = id, i+1
		}},
	})
}

// BenchmarkMatch1M: the same at 1,000,000 templates (1.02 GB of codes and fine bytes, a
// minute to fill); it runs only when asked by name, -bench 1M, never under -bench . or
// make test. The float32 passes are left out: their rows would need 2 GB more.
func BenchmarkMatch1M(b *testing.B) {
	if !strings.Contains(flag.Lookup("test.bench").Value.String(), "1M") {
		b.Skip("allocates 1 GB: run with -bench 1M")
	}
	m := fill(b, 1_000_000, nil)
	g := m.galleries["synthetic-512"]
	even, odd := make([]uint64, g.words), make([]uint64, g.words)
	packProbe(NewSynthetic(98).Identity().Embedding, even, odd)
	matchBench(b, m, []*bare{
		{name: "codes-read", run: func() { sinkU += sumWords(g.codes) }},
		{name: "codes-dot", run: func() { sinkU += dotAll(g, even, odd) }},
	})
}

func benchProbes() []Template {
	gen := NewSynthetic(99)
	probes := make([]Template, 64)
	for i := range probes {
		probes[i] = gen.Identity()
	}
	return probes
}

// matchBench times one search per iteration and then each bare pass once, and reports
// the p50 and p99 of each and the search's p50 over each bare pass's p50.
func matchBench(b *testing.B, m *Matcher, passes []*bare) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	probes := benchProbes()
	var search []time.Duration
	runtime.GC()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		t0 := time.Now()
		if _, err := m.Match(probes[i%len(probes)]); err != nil {
			b.Fatal(err)
		}
		search = append(search, time.Since(t0))
		b.StopTimer()
		for _, p := range passes {
			t1 := time.Now()
			p.run()
			p.laps = append(p.laps, time.Since(t1))
		}
		b.StartTimer()
		i++
	}
	sp50, sp99 := percentiles(search)
	b.ReportMetric(ms(sp50), "p50-ms")
	// On a shared machine all p99s rise together when another process takes the core.
	b.ReportMetric(ms(sp99), "p99-ms")
	for _, p := range passes {
		p50, p99 := percentiles(p.laps)
		b.ReportMetric(ms(p50), p.name+"-p50-ms")
		b.ReportMetric(ms(p99), p.name+"-p99-ms")
		b.ReportMetric(float64(sp50)/float64(p50), "ratio-to-"+p.name)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2], s[(len(s)*99)/100]
}
