package face

import (
	"fmt"
	"math"
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

// Matcher does 1:N matching over the templates of each model. A search is two passes:
// a coarse one over 7-bit codes of every template (one byte per value, a quarter of the
// memory of float32 rows), which keeps the best few rows, and a float re-score of those
// few from finer values, to which the threshold applies. Codes and finer values take two
// bytes a value, half the heap of float32 rows. Safe for concurrent use: searches share
// a read lock.
type Matcher struct {
	threshold float32
	mu        sync.RWMutex
	galleries map[string]*gallery
}

// gallery holds one model's templates as 16-bit fixed point with a scale per template,
// value j = scale * (256*code_j + fine_j), split by byte into two slabs: the high bytes
// (codes) are all the coarse pass reads, the low bytes (fine) are read only for the few
// rows re-scored. Row i of every slab is resident ids[i].
//
// Why this and not float32 or float16 rows for the re-score: two bytes a value is half
// the float32 heap, and the error is at most scale/2 = max|v|/32256 per value, about 1e-5;
// on a synthetic cosine it is 4e-6 rms and 1.4e-5 at worst over 4,000 pairs. float16 rows
// next to the codes would cost three bytes a value and err 1.8e-5 rms, 7e-5 at worst
// (an 11-bit significand against 15 bits here). Re-scoring from the codes alone would
// save the fine slab but err 1e-3 rms, 4e-3 at worst: enough to flip probes near the
// threshold.
type gallery struct {
	dim   int         // values per template
	words int         // words per row of codes: dim/8 rounded up
	codes []uint64    // len(ids)*words; value j of a row in byte j%8 of word j/8, plus codeZero
	fine  []int8      // len(ids)*dim
	rows  []rowInfo   // len(ids)
	ids   []uuid.UUID // len(ids)
	row   map[uuid.UUID]int
}

type rowInfo struct {
	scale float32 // see gallery
	sum   int32   // sum of the row's offset codes, padding included, for coarseDot's offset
}

const (
	// codeMax bounds a code's magnitude. Seven bits, not eight, so that four products of
	// offset codes (at most 4*127*127 = 64516) add up inside one 16-bit lane: see coarseDot.
	codeMax = 63
	// codeZero is added to every code so that the bytes coarseDot multiplies are in
	// [1, 127], unsigned: a negative lane would borrow from the lane above it.
	codeZero = 64
	// candidates is how many rows the coarse pass keeps for the exact re-score. The coarse
	// cosine errs by 1.4e-3 rms and 6e-3 at worst (rounding of probe and template codes),
	// so only rows within about 0.01 of the best can pass it; 16 leaves room for a
	// resident enrolled twice or for look-alikes, and re-scoring them costs microseconds.
	candidates = 16
)

// laneMask picks the even bytes of a word into four 16-bit lanes. A variable, not a
// constant: the compiler then keeps it in a register instead of re-loading the 64-bit
// immediate before every AND of the kernel (8% of the search).
var laneMask uint64 = 0x00FF00FF00FF00FF

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
		dim := len(n.Embedding)
		g = &gallery{dim: dim, words: (dim + 7) / 8, row: map[uuid.UUID]int{}}
		m.galleries[t.Model] = g
	}
	i, ok := g.row[resident]
	if !ok {
		i = len(g.ids)
		g.codes = extend(g.codes, g.words)
		g.fine = extend(g.fine, g.dim)
		g.rows = extend(g.rows, 1)
		g.ids = extend(g.ids, 1)
		g.ids[i] = resident
		g.row[resident] = i
	}
	g.rows[i] = encode(n.Embedding, g.codes[i*g.words:(i+1)*g.words], g.fine[i*g.dim:(i+1)*g.dim])
	return nil
}

// encode writes the unit vector v into one row of codes and fine bytes (see gallery).
// The scale is rounded to float32 before use, so that decoding with the stored scale
// gives back exactly what was encoded.
func encode(v []float32, codes []uint64, fine []int8) rowInfo {
	var peak float32
	for _, x := range v {
		peak = max(peak, x, -x)
	}
	scale := peak / (codeMax * 256)
	clear(codes)
	var sum int32
	for j := range 8 * len(codes) {
		code := int32(0)
		if j < len(v) {
			q := int32(math.Round(float64(v[j]) / float64(scale))) // |q| <= 63*256
			code = (q + 128) >> 8                                  // nearest code, |code| <= 63
			fine[j] = int8(q - code<<8)                            // in [-128, 127]
		}
		codes[j/8] |= uint64(code+codeZero) << (8 * (j % 8))
		sum += code + codeZero
	}
	return rowInfo{scale: scale, sum: sum}
}

// decode writes row i's values, without the scale, into out (len g.dim): integers below
// 2^14, exact in float32.
func (g *gallery) decode(i int, out []float32) {
	codes, fine := g.codes[i*g.words:(i+1)*g.words], g.fine[i*g.dim:(i+1)*g.dim]
	for j := range out {
		code := int32(codes[j/8]>>(8*(j%8))&0xFF) - codeZero
		out[j] = float32(code<<8 + int32(fine[j]))
	}
}

// extend returns s with n more zero elements. It grows by a quarter rather than doubling,
// so 100,000 templates do not sit in slabs sized for 131,072, and it zeroes the old array:
// a reallocation must not leave copies of templates behind for the garbage collector.
// Everything between len and cap is zero (dropRow keeps it so), so no old value comes back.
func extend[T any](s []T, n int) []T {
	if len(s)+n > cap(s) {
		bigger := make([]T, len(s), len(s)+n+len(s)/4+64*n)
		copy(bigger, s)
		clear(s[:cap(s)])
		s = bigger
	}
	return s[:len(s)+n]
}

// dropRow moves the last row of s (rows of width elements) into row i and zeroes the
// freed tail; when s is mostly empty it is copied into a smaller array and the old one
// zeroed.
func dropRow[T any](s []T, i, width int) []T {
	last := len(s)/width - 1
	copy(s[i*width:(i+1)*width], s[last*width:])
	clear(s[last*width:])
	s = s[:last*width]
	if cap(s) > 4*len(s) {
		smaller := make([]T, len(s), 2*len(s))
		copy(smaller, s)
		clear(s[:cap(s)])
		s = smaller
	}
	return s
}

// Remove deletes a resident's templates of every model. Every slab's row is overwritten by
// the last row and the freed tail is zeroed; a slab that is mostly empty is copied into a
// smaller one and the old one zeroed, so a purge leaves no byte of the face behind in
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
	g.codes = dropRow(g.codes, i, g.words)
	g.fine = dropRow(g.fine, i, g.dim)
	g.rows = dropRow(g.rows, i, 1)
	g.ids = dropRow(g.ids, i, 1)
	delete(g.row, resident)
	if i < len(g.ids) {
		g.row[g.ids[i]] = i
	}
	if len(g.ids) == 0 {
		delete(m.galleries, model)
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

// best returns the row with the highest cosine with the unit vector p, and that cosine:
// the coarse pass keeps the candidates rows of highest coarse score, the re-score picks
// among them with the fine values. The quantised probe and the decoded rows are zeroed
// before returning.
func (g *gallery) best(p []float32) (int, float32) {
	even, odd := make([]uint64, g.words), make([]uint64, g.words)
	defer clear(even)
	defer clear(odd)
	offset := packProbe(p, even, odd)
	var top shortlist
	top.reset()
	for i, info := range g.rows {
		d := int64(coarseDot(g.codes[i*g.words:(i+1)*g.words], even, odd)) - codeZero*int64(info.sum) - offset
		if s := float32(d) * info.scale; s > top.score[top.low] {
			top.add(s, i)
		}
	}
	values := make([]float32, g.dim)
	defer clear(values)
	best, score := -1, float32(-2)
	for _, i := range top.row {
		if i < 0 {
			continue
		}
		g.decode(i, values)
		if s := Dot(p, values) * g.rows[i].scale; s > score {
			best, score = i, s
		}
	}
	return best, score
}

// packProbe writes the coarse codes of the unit vector p (scaled so its largest value is
// codeMax, plus codeZero) in the form coarseDot multiplies row word w by: the codes of
// the even values of the word in even[w], of the odd ones in odd[w], one per 16-bit lane
// in reverse order. It returns what to subtract from coarseDot, besides
// codeZero*rowInfo.sum, to get the dot product of the signed codes:
// sum (a-z)(b-z) = sum ab - z*sum a - z*sum b + z*z*n.
func packProbe(p []float32, even, odd []uint64) int64 {
	var peak float32
	for _, x := range p {
		peak = max(peak, x, -x)
	}
	var sum int64
	for j := range 8 * len(even) {
		code := int64(codeZero)
		if j < len(p) {
			code += int64(math.Round(float64(p[j] / peak * codeMax)))
		}
		lanes := even
		if j%2 == 1 {
			lanes = odd
		}
		lanes[j/8] |= uint64(code) << (16 * (3 - j%8/2))
		sum += code
	}
	return codeZero*sum - codeZero*codeZero*int64(8*len(even))
}

// coarseDot returns the dot product of a row of offset codes with a probe packed by
// packProbe. Go has no SIMD without GOEXPERIMENT=simd (simd/archsimd), which the build
// does not set, so one 64-bit multiply does four byte products at once: the even bytes
// of a word, masked into four 16-bit lanes, times the probe's codes in reverse lane
// order, put the sum of the four products in the top lane (bits 48-63); the lower lanes
// hold partial sums below 2^16 that never carry into it, because every code is in
// [1, 127]. Four times faster than byte-by-byte products (7 ms against 27 ms for
// 100,000 rows of 512), which Go compiles to one multiply and two loads per byte.
// Kept out of line: inlined into the loop of best, its sum and index spill to the
// stack and the search is 30% slower.
//
//go:noinline
func coarseDot(a, even, odd []uint64) uint64 {
	m := laneMask
	even, odd = even[:len(a)], odd[:len(a)]
	var sum uint64
	for w, x := range a {
		sum += ((x&m)*even[w])>>48 + ((x>>8&m)*odd[w])>>48
	}
	return sum
}

// shortlist holds the candidates rows of highest coarse score seen so far; low is the
// slot of the lowest, the one a better row replaces.
type shortlist struct {
	score [candidates]float32
	row   [candidates]int
	low   int
}

func (s *shortlist) reset() {
	for i := range s.row {
		s.score[i], s.row[i] = float32(math.Inf(-1)), -1
	}
}

// add puts a row in place of the lowest; the caller has checked it scores higher.
func (s *shortlist) add(score float32, row int) {
	s.score[s.low], s.row[s.low] = score, row
	for i, v := range s.score {
		if v < s.score[s.low] {
			s.low = i
		}
	}
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
