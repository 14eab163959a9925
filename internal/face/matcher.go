package face

import (
	"fmt"
	"sync"

	"github.com/google/uuid"
)

// DefaultThreshold is the cosine similarity at or above which a probe matches. ArcFace-
// class models give 0.5 to 0.85 for two images of the same person and about 0 +- 0.1 for
// two people; 0.45 keeps the 1:N false accept rate at zero over a gallery of a large
// community while rejecting under 1% of genuine probes (see TestSyntheticAccuracy).
const DefaultThreshold = 0.45

// Result is the outcome of one 1:N search.
type Result struct {
	Resident uuid.UUID // the best-scoring resident; uuid.Nil when the gallery is empty
	Score    float32   // cosine similarity of the best row
	Matched  bool      // Score >= the matcher's threshold
}

// Matcher does 1:N matching over the templates of each model. Each model's templates sit
// in one contiguous []float32 (row i = resident ids[i]), so a search is one sequential
// pass over memory. Safe for concurrent use: searches share a read lock.
type Matcher struct {
	threshold float32
	mu        sync.RWMutex
	galleries map[string]*gallery
}

type gallery struct {
	dim  int
	slab []float32 // len = len(ids) * dim
	ids  []uuid.UUID
	row  map[uuid.UUID]int
}

// NewMatcher makes an empty matcher; threshold is a cosine similarity in (0, 1].
func NewMatcher(threshold float64) (*Matcher, error) {
	if !(threshold > 0 && threshold <= 1) {
		return nil, fmt.Errorf("face threshold %v: must be in (0, 1]", threshold)
	}
	return &Matcher{threshold: float32(threshold), galleries: map[string]*gallery{}}, nil
}

// Threshold returns the matcher's threshold.
func (m *Matcher) Threshold() float64 { return float64(m.threshold) }

// Put adds or replaces the template of a resident for t's model. t is validated and
// normalised; the matcher keeps its own copy.
func (m *Matcher) Put(resident uuid.UUID, t Template) error {
	n, err := t.Normalized()
	if err != nil {
		return err
	}
	defer n.Wipe()
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.galleries[t.Model]
	if g == nil {
		g = &gallery{dim: len(n.Embedding), row: map[uuid.UUID]int{}}
		m.galleries[t.Model] = g
	}
	if i, ok := g.row[resident]; ok {
		copy(g.slab[i*g.dim:(i+1)*g.dim], n.Embedding)
		return nil
	}
	g.grow(g.dim)
	g.slab = append(g.slab, n.Embedding...)
	g.row[resident] = len(g.ids)
	g.ids = append(g.ids, resident)
	return nil
}

// grow makes room for extra more floats. It grows by a quarter rather than doubling, so
// 100,000 templates do not sit in a slab sized for 131,072, and it zeroes the old slab:
// a reallocation must not leave copies of templates behind for the garbage collector.
func (g *gallery) grow(extra int) {
	if len(g.slab)+extra <= cap(g.slab) {
		return
	}
	bigger := make([]float32, len(g.slab), len(g.slab)+extra+len(g.slab)/4+64*g.dim)
	copy(bigger, g.slab)
	clear(g.slab[:cap(g.slab)])
	g.slab = bigger
}

// Remove deletes a resident's templates of every model. The row is overwritten by the
// last row and the freed tail is zeroed; when the slab is mostly empty it is copied into
// a smaller one and the old one zeroed, so a purge leaves no float of the face behind in
// this process. It reports whether there was anything to remove.
func (m *Matcher) Remove(resident uuid.UUID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	found := false
	for model := range m.galleries {
		found = m.removeLocked(model, resident) || found
	}
	return found
}

// removeLocked deletes a resident's template of one model, as Remove describes; m.mu is
// held for writing.
func (m *Matcher) removeLocked(model string, resident uuid.UUID) bool {
	g := m.galleries[model]
	if g == nil {
		return false
	}
	i, ok := g.row[resident]
	if !ok {
		return false
	}
	last := len(g.ids) - 1
	if i != last {
		copy(g.slab[i*g.dim:(i+1)*g.dim], g.slab[last*g.dim:])
		g.ids[i] = g.ids[last]
		g.row[g.ids[i]] = i
	}
	clear(g.slab[last*g.dim:])
	g.slab = g.slab[:last*g.dim]
	g.ids = g.ids[:last]
	delete(g.row, resident)
	switch {
	case last == 0:
		clear(g.slab[:cap(g.slab)])
		delete(m.galleries, model)
	case cap(g.slab) > 4*len(g.slab):
		smaller := make([]float32, len(g.slab), 2*len(g.slab))
		copy(smaller, g.slab)
		clear(g.slab[:cap(g.slab)])
		g.slab = smaller
	}
	return true
}

// Len returns how many templates of a model the matcher holds.
func (m *Matcher) Len(model string) int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if g := m.galleries[model]; g != nil {
		return len(g.ids)
	}
	return 0
}

// Match finds the best template of the probe's model. The probe is validated and
// normalised first; a model with no templates gives a Result that did not match.
func (m *Matcher) Match(probe Template) (Result, error) {
	p, err := probe.Normalized()
	if err != nil {
		return Result{}, err
	}
	defer p.Wipe()
	m.mu.RLock()
	defer m.mu.RUnlock()
	g := m.galleries[p.Model]
	if g == nil {
		return Result{}, nil
	}
	best, score := g.best(p.Embedding)
	if best < 0 {
		return Result{}, nil
	}
	return Result{Resident: g.ids[best], Score: score, Matched: score >= m.threshold}, nil
}

// best returns the row with the highest dot product with p, and that product.
func (g *gallery) best(p []float32) (int, float32) {
	best, score := -1, float32(-2)
	for i, off := 0, 0; off < len(g.slab); i, off = i+1, off+g.dim {
		if s := Dot(p, g.slab[off:off+g.dim]); s > score {
			best, score = i, s
		}
	}
	return best, score
}

// Dot is the dot product of two vectors of the same length. Eight independent
// accumulators let the CPU overlap the multiply-adds instead of waiting on one sum;
// re-slicing b to a's length lets the compiler drop the bounds checks.
func Dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= len(a); i += 8 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
		s4 += a[i+4] * b[i+4]
		s5 += a[i+5] * b[i+5]
		s6 += a[i+6] * b[i+6]
		s7 += a[i+7] * b[i+7]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3) + (s4 + s5) + (s6 + s7)
}
