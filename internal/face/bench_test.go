package face

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// The 100,000-template gallery is built once for all benchmarks of a run.
var (
	benchOnce sync.Once
	benchM    *Matcher
)

func benchMatcher(b *testing.B) *Matcher {
	benchOnce.Do(func() { benchM = fill(b, 100_000) })
	return benchM
}

// sumSlab is the bare pass over the same memory that a search makes: it reads every
// float once and adds it, with the same eight accumulators as Dot. No 1:N search can
// beat it; the ratio of Match to it says how far the kernel is from memory bandwidth.
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

var sink float32

// BenchmarkSlabSum100k: the memory-bandwidth floor, 100,000 x 512 float32 (204.8 MB).
func BenchmarkSlabSum100k(b *testing.B) {
	slab := benchMatcher(b).galleries["synthetic-512"].slab
	b.SetBytes(int64(len(slab) * 4))
	b.ResetTimer()
	for b.Loop() {
		sink += sumSlab(slab)
	}
}

// BenchmarkMatch100k: one 1:N search over 100,000 templates of 512 float32 on one core.
// Every iteration also times a bare pass over the slab (outside the benchmark timer), so
// the ratio is measured under the same load; p50/p99 are over the iterations.
func BenchmarkMatch100k(b *testing.B) {
	m := benchMatcher(b)
	slab := m.galleries["synthetic-512"].slab
	gen := NewSynthetic(99)
	probes := make([]Template, 64)
	for i := range probes {
		probes[i] = gen.Identity()
	}
	var match, floor []time.Duration
	b.SetBytes(int64(len(slab) * 4))
	b.ResetTimer()
	i := 0
	for b.Loop() {
		t0 := time.Now()
		if _, err := m.Match(probes[i%len(probes)]); err != nil {
			b.Fatal(err)
		}
		match = append(match, time.Since(t0))
		b.StopTimer()
		t1 := time.Now()
		sink += sumSlab(slab)
		floor = append(floor, time.Since(t1))
		b.StartTimer()
		i++
	}
	mp50, mp99 := percentiles(match)
	fp50, fp99 := percentiles(floor)
	b.ReportMetric(float64(mp50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(mp99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(fp50.Microseconds())/1000, "floor-p50-ms")
	// On a shared machine both p99s rise together when another process takes the core.
	b.ReportMetric(float64(fp99.Microseconds())/1000, "floor-p99-ms")
	b.ReportMetric(float64(mp50)/float64(fp50), "ratio-to-floor")
}

func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2], s[(len(s)*99)/100]
}
