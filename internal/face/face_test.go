package face

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"testing"
	"unsafe"

	"github.com/google/uuid"

	"gatepass/internal/access"
)

func vec(n int, v float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestValidate(t *testing.T) {
	withAt := func(i int, v float32) []float32 { e := vec(512, 0.1); e[i] = v; return e }
	cases := []struct {
		name  string
		t     Template
		want  error
		field string
	}{
		{"ok synthetic", Template{"synthetic-512", vec(512, 0.1)}, nil, ""},
		{"ok arcface", Template{"arcface-r100-512", vec(512, -0.3)}, nil, ""},
		{"ok 128", Template{"mobilefacenet-128", vec(128, 1)}, nil, ""},
		{"unknown model", Template{"facenet-999", vec(512, 0.1)}, ErrUnknownModel, "model"},
		{"empty model", Template{"", vec(512, 0.1)}, ErrUnknownModel, "model"},
		{"short", Template{"synthetic-512", vec(511, 0.1)}, ErrDimension, "embedding"},
		{"long", Template{"synthetic-512", vec(513, 0.1)}, ErrDimension, "embedding"},
		{"empty", Template{"synthetic-512", nil}, ErrDimension, "embedding"},
		{"128 for a 512 model", Template{"arcface-r100-512", vec(128, 0.1)}, ErrDimension, "embedding"},
		{"NaN", Template{"synthetic-512", withAt(7, float32(math.NaN()))}, ErrNotFinite, "embedding"},
		{"+Inf", Template{"synthetic-512", withAt(511, float32(math.Inf(1)))}, ErrNotFinite, "embedding"},
		{"-Inf", Template{"synthetic-512", withAt(0, float32(math.Inf(-1)))}, ErrNotFinite, "embedding"},
		{"zero", Template{"synthetic-512", vec(512, 0)}, ErrZeroVector, "embedding"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.t.Validate()
			if c.want == nil {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			if !errors.Is(err, c.want) || !errors.Is(err, access.ErrInvalid) {
				t.Fatalf("Validate = %v, want %v and access.ErrInvalid", err, c.want)
			}
			var fe *access.FieldError
			if !errors.As(err, &fe) || fe.Field != c.field {
				t.Fatalf("Validate = %v, want a FieldError on %q", err, c.field)
			}
			if _, err := c.t.Normalized(); !errors.Is(err, c.want) {
				t.Fatalf("Normalized = %v, want %v", err, c.want)
			}
		})
	}
}

func TestNormalized(t *testing.T) {
	in := Template{"synthetic-512", vec(512, 3)}
	// Values near the float32 limit: a float32 sum of squares would overflow.
	huge := Template{"synthetic-512", vec(512, 3e38)}
	tiny := Template{"synthetic-512", vec(512, 1e-30)}
	for _, tc := range []Template{in, huge, tiny} {
		n, err := tc.Normalized()
		if err != nil {
			t.Fatal(err)
		}
		if d := Dot(n.Embedding, n.Embedding); math.Abs(float64(d)-1) > 1e-5 {
			t.Fatalf("|n|^2 = %v", d)
		}
	}
	if in.Embedding[0] != 3 {
		t.Fatal("Normalized changed its input")
	}
	// A subnormal vector normalises fine; one that underflows is refused, not divided by 0.
	sub := Template{"synthetic-512", vec(512, 0)}
	sub.Embedding[3] = math.SmallestNonzeroFloat32
	if _, err := sub.Normalized(); err != nil {
		t.Fatalf("one subnormal value: %v", err)
	}
}

func TestDot(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 128, 512, 515} {
		a, b := make([]float32, n), make([]float32, n)
		var want float64
		for i := range a {
			a[i], b[i] = float32(i%13)-6, float32(i%7)*0.5
			want += float64(a[i]) * float64(b[i])
		}
		if got := Dot(a, b); math.Abs(float64(got)-want) > 1e-3 {
			t.Fatalf("Dot n=%d = %v, want %v", n, got, want)
		}
	}
}

func TestMatcherPutReplaceRemove(t *testing.T) {
	m, err := NewMatcher(DefaultThreshold)
	if err != nil {
		t.Fatal(err)
	}
	gen := NewSynthetic(1)
	a, b, c := uuid.New(), uuid.New(), uuid.New()
	ta, tb, tc := gen.Identity(), gen.Identity(), gen.Identity()
	for _, p := range []struct {
		id uuid.UUID
		t  Template
	}{{a, ta}, {b, tb}, {c, tc}} {
		if err := m.Put(p.id, p.t); err != nil {
			t.Fatal(err)
		}
	}
	match := func(probe Template) Result {
		t.Helper()
		r, err := m.Match(probe)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := match(gen.Probe(tb, 0.7)); !r.Matched || r.Resident != b {
		t.Fatalf("probe of b: %+v", r)
	}
	// Replacing b's template with a new identity: the old face no longer matches b.
	tb2 := gen.Identity()
	if err := m.Put(b, tb2); err != nil {
		t.Fatal(err)
	}
	if m.Len("synthetic-512") != 3 {
		t.Fatalf("Len = %d after replace", m.Len("synthetic-512"))
	}
	if r := match(gen.Probe(tb, 0.7)); r.Matched {
		t.Fatalf("old face of b still matches: %+v", r)
	}
	if r := match(gen.Probe(tb2, 0.7)); !r.Matched || r.Resident != b {
		t.Fatalf("new face of b: %+v", r)
	}
	// Removing a (not the last row) moves c into its row; both lookups stay right.
	if !m.Remove(a) || m.Remove(a) {
		t.Fatal("Remove reported wrongly")
	}
	if r := match(gen.Probe(ta, 0.9)); r.Matched {
		t.Fatalf("removed face matches: %+v", r)
	}
	if r := match(gen.Probe(tc, 0.7)); !r.Matched || r.Resident != c {
		t.Fatalf("c after removing a: %+v", r)
	}
	// A probe of another model is never compared with these templates.
	other := Template{"arcface-r100-512", gen.Probe(tc, 0.99).Embedding}
	if r := match(other); r.Matched || r.Resident != uuid.Nil {
		t.Fatalf("cross-model match: %+v", r)
	}
	if _, err := m.Match(Template{"synthetic-512", vec(3, 1)}); !errors.Is(err, ErrDimension) {
		t.Fatalf("bad probe: %v", err)
	}
	if err := m.Put(a, Template{"synthetic-512", vec(512, 0)}); !errors.Is(err, ErrZeroVector) {
		t.Fatalf("bad template: %v", err)
	}
	for _, th := range []float64{0, -0.1, 1.01, math.NaN()} {
		if _, err := NewMatcher(th); err == nil {
			t.Fatalf("threshold %v accepted", th)
		}
	}
}

// A purge must leave nothing of the face in the matcher's memory: neither in the slabs
// in use nor in the slabs it let go of when it grew or shrank.
func TestRemoveZeroesMemory(t *testing.T) {
	m, _ := NewMatcher(DefaultThreshold)
	gen := NewSynthetic(2)
	ids := make([]uuid.UUID, 300)
	var codes [][]uint64 // every slab the gallery ever had, seen through their full capacity
	var fine [][]int8
	var rows [][]rowInfo
	keep := func() {
		if g := m.galleries["synthetic-512"]; g != nil {
			codes, fine, rows = appendSlab(codes, g.codes), appendSlab(fine, g.fine), appendSlab(rows, g.rows)
		}
	}
	for i := range ids {
		ids[i] = uuid.New()
		if err := m.Put(ids[i], gen.Identity()); err != nil {
			t.Fatal(err)
		}
		keep()
	}
	victim := ids[17]
	g := m.galleries["synthetic-512"]
	at := g.row[victim]
	victimCodes := slices.Clone(g.codes[at*g.words : (at+1)*g.words])
	victimFine := slices.Clone(g.fine[at*g.dim : (at+1)*g.dim])
	for _, id := range ids {
		if id != victim {
			m.Remove(id)
			keep()
		}
	}
	m.Remove(victim)
	if m.Len("synthetic-512") != 0 || m.galleries["synthetic-512"] != nil {
		t.Fatal("gallery not empty")
	}
	for _, s := range codes {
		checkWiped(t, "codes", s, victimCodes[:4])
	}
	for _, s := range fine {
		checkWiped(t, "fine", s, victimFine[:16])
	}
	for _, s := range rows {
		checkWiped(t, "rows", s, nil)
	}
	if len(codes) < 3 || len(fine) < 3 || len(rows) < 3 {
		t.Fatalf("the test saw only %d/%d/%d slabs: growth and shrinking were not exercised", len(codes), len(fine), len(rows))
	}
}

// checkWiped fails if any element of s up to its capacity is not zero, saying first
// whether the removed template's run is still there.
func checkWiped[T comparable](t *testing.T, name string, s, run []T) {
	t.Helper()
	all := s[:cap(s)]
	if len(run) > 0 && containsRun(all, run) {
		t.Fatalf("a %s slab still holds the removed template", name)
	}
	var zero T
	for _, v := range all {
		if v != zero {
			t.Fatalf("a %s slab the matcher let go of is not zeroed", name)
		}
	}
}

func appendSlab[T any](list [][]T, s []T) [][]T {
	if len(list) > 0 && unsafe.SliceData(list[len(list)-1]) == unsafe.SliceData(s) {
		return list
	}
	return append(list, s)
}

func containsRun[T comparable](hay, run []T) bool {
	for i := 0; i+len(run) <= len(hay); i++ {
		if slices.Equal(hay[i:i+len(run)], run) {
			return true
		}
	}
	return false
}

// refGallery is the exact float32 1:N search the matcher had before the coarse pass: one
// dot product with every normalised template. The tests hold the matcher to it.
type refGallery struct {
	slab []float32
	ids  []uuid.UUID
}

func (r *refGallery) put(tb testing.TB, id uuid.UUID, t Template) {
	n, err := t.Normalized()
	if err != nil {
		tb.Fatal(err)
	}
	r.slab = append(r.slab, n.Embedding...)
	r.ids = append(r.ids, id)
}

func (r *refGallery) match(tb testing.TB, probe Template) (uuid.UUID, float32) {
	p, err := probe.Normalized()
	if err != nil {
		tb.Fatal(err)
	}
	dim := len(p.Embedding)
	best, score := -1, float32(-2)
	for i := range r.ids {
		if s := Dot(p.Embedding, r.slab[i*dim:(i+1)*dim]); s > score {
			best, score = i, s
		}
	}
	return r.ids[best], score
}

// tally counts the outcomes of one matcher over a synthetic run.
type tally struct {
	rejects, wrong, accepts int
	minGenuine, maxImpostor float32
}

// TestSyntheticAccuracy: 1,000 enrolled identities; a genuine probe of each must come
// back as that resident above the default threshold (false reject rate under 1%), and
// probes of 1,000 people who never enrolled must match nobody (false accept rate 0).
// The noise model is described on Synthetic: genuine similarity 0.68 +- 0.08, impostor
// pairs about 0 +- 0.07. Every probe also goes to the exact float32 search: the false
// reject rates must agree within 0.1 point, and the two must name the same resident with
// scores within 1e-4 (the re-score's error is a few 1e-6).
func TestSyntheticAccuracy(t *testing.T) {
	for _, seed := range []uint64{42, 1, 2, 3} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) { syntheticAccuracy(t, seed) })
	}
}

func syntheticAccuracy(t *testing.T, seed uint64) {
	const n = 1000
	gen := NewSynthetic(seed)
	m, _ := NewMatcher(DefaultThreshold)
	var ref refGallery
	ids := make([]uuid.UUID, n)
	tmpl := make([]Template, n)
	for i := range ids {
		ids[i], tmpl[i] = uuid.New(), gen.Identity()
		if err := m.Put(ids[i], tmpl[i]); err != nil {
			t.Fatal(err)
		}
		ref.put(t, ids[i], tmpl[i])
	}
	got, want := tally{minGenuine: 1, maxImpostor: -1}, tally{minGenuine: 1, maxImpostor: -1}
	var maxDiff float32
	probe := func(p Template, who uuid.UUID) {
		r, err := m.Match(p)
		if err != nil {
			t.Fatal(err)
		}
		refID, refScore := ref.match(t, p)
		if r.Resident != refID {
			t.Fatalf("matcher names %v (%.5f), exact search %v (%.5f)", r.Resident, r.Score, refID, refScore)
		}
		maxDiff = max(maxDiff, r.Score-refScore, refScore-r.Score)
		got.count(r.Resident, r.Score, r.Matched, who)
		want.count(refID, refScore, refScore >= DefaultThreshold, who)
	}
	for i := range ids {
		probe(gen.Probe(tmpl[i], gen.GenuineSimilarity()), ids[i])
	}
	for range n {
		probe(gen.Probe(gen.Identity(), gen.GenuineSimilarity()), uuid.Nil)
	}
	frr, refFRR := float64(got.rejects)/n, float64(want.rejects)/n
	t.Logf("threshold %.2f: FRR %.2f%% (%d/%d; exact float32 %.2f%%), FAR %d/%d + %d misidentified; lowest genuine best score %.3f, highest impostor %.3f; largest score difference from float32 %.1e",
		DefaultThreshold, 100*frr, got.rejects, n, 100*refFRR, got.accepts, n, got.wrong, got.minGenuine, got.maxImpostor, maxDiff)
	if got.accepts != 0 || got.wrong != 0 {
		t.Fatalf("false accepts: %d strangers, %d misidentified", got.accepts, got.wrong)
	}
	if frr >= 0.01 {
		t.Fatalf("false reject rate %.2f%% >= 1%%", 100*frr)
	}
	if math.Abs(frr-refFRR) > 0.001 {
		t.Fatalf("false reject rate %.2f%%, exact float32 search %.2f%%", 100*frr, 100*refFRR)
	}
	if maxDiff > 1e-4 {
		t.Fatalf("scores differ from the exact float32 search by up to %v", maxDiff)
	}
	// The test must be able to fail: at a threshold above the genuine mean most are rejected.
	strict, _ := NewMatcher(0.8)
	for i := range 50 {
		_ = strict.Put(ids[i], tmpl[i])
	}
	rej := 0
	for i := range 50 {
		if r, _ := strict.Match(gen.Probe(tmpl[i], gen.GenuineSimilarity())); !r.Matched {
			rej++
		}
	}
	if rej < 40 {
		t.Fatalf("at threshold 0.8 only %d/50 genuine probes were rejected: the noise model is too easy", rej)
	}
}

// count records one search's outcome; who is the probe's resident, uuid.Nil for a stranger.
func (c *tally) count(got uuid.UUID, score float32, matched bool, who uuid.UUID) {
	switch {
	case matched && got != who && who != uuid.Nil:
		c.wrong++ // a genuine probe taken for someone else is a false accept
	case matched && who == uuid.Nil:
		c.accepts++
	case !matched && who != uuid.Nil:
		c.rejects++
	}
	if who == uuid.Nil {
		c.maxImpostor = max(c.maxImpostor, score)
	} else if got == who {
		c.minGenuine = min(c.minGenuine, score)
	}
}

func TestSyntheticIsDeterministic(t *testing.T) {
	a, b := NewSynthetic(9), NewSynthetic(9)
	ta, tb := a.Identity(), b.Identity()
	for i := range ta.Embedding {
		if ta.Embedding[i] != tb.Embedding[i] {
			t.Fatal("same seed, different identity")
		}
	}
	if c := NewSynthetic(10).Identity(); Dot(c.Embedding, ta.Embedding) > 0.5 {
		t.Fatal("different seeds give the same identity")
	}
	p := a.Probe(ta, 0.7)
	if s := Dot(p.Embedding, ta.Embedding); math.Abs(float64(s)-0.7) > 1e-4 {
		t.Fatalf("probe similarity %v, want 0.7", s)
	}
}

func TestMatcherConcurrent(t *testing.T) {
	m, _ := NewMatcher(DefaultThreshold)
	gen := NewSynthetic(3)
	fixed := uuid.New()
	ft := gen.Identity()
	_ = m.Put(fixed, ft)
	probe := gen.Probe(ft, 0.75)
	var churn []Template
	for range 50 {
		churn = append(churn, gen.Identity())
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				id := uuid.NewSHA1(uuid.Nil, []byte{byte(w), byte(i % 50)})
				_ = m.Put(id, churn[i%50])
				if i%3 == 0 {
					m.Remove(id)
				}
				r, err := m.Match(probe)
				if err != nil || !r.Matched || r.Resident != fixed {
					t.Errorf("match under churn: %+v %v", r, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestMemory100k measures the Go heap that 100,000 templates of 512 values take in a
// matcher: codes and fine bytes are 102.4 MB, against 204.8 MB for the float32 rows the
// matcher kept before.
func TestMemory100k(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 130 MB")
	}
	const n = 100_000
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m := fill(t, n, nil)
	runtime.GC()
	runtime.ReadMemStats(&after)
	used := float64(after.HeapAlloc-before.HeapAlloc) / 1e6
	raw := float64(n*(512+512)) / 1e6
	t.Logf("heap for %d templates: %.1f MB (codes and fine bytes %.1f MB, overhead %.1f%%; as float32 %.1f MB)",
		n, used, raw, 100*(used/raw-1), float64(n*512*4)/1e6)
	if used > raw*1.35 {
		t.Fatalf("heap %.1f MB for %.1f MB of templates", used, raw)
	}
	runtime.KeepAlive(m)
}

// fill makes a matcher of n synthetic templates quickly: identities are cheap rotations
// of a few hundred generated ones, which is the same work for the matcher. Each template
// is also given to also, when not nil.
func fill(tb testing.TB, n int, also func(uuid.UUID, Template)) *Matcher {
	m, _ := NewMatcher(DefaultThreshold)
	gen := NewSynthetic(7)
	base := make([]Template, 256)
	for i := range base {
		base[i] = gen.Identity()
	}
	e := make([]float32, 512)
	for i := range n {
		b := base[i%len(base)].Embedding
		k := i / len(base)
		for j := range e {
			e[j] = b[(j+k)%512]
		}
		id, t := uuid.New(), Template{"synthetic-512", e}
		if err := m.Put(id, t); err != nil {
			tb.Fatal(err)
		}
		if also != nil {
			also(id, t)
		}
	}
	return m
}
