package face

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/uuid"
)

// unitVec returns a random unit vector of n values, or one of a fixed shape.
func unitVec(rng *rand.Rand, n int, shape string) []float32 {
	v := make([]float64, n)
	for i := range v {
		switch shape {
		case "random":
			v[i] = rng.NormFloat64()
		case "positive":
			v[i] = 1
		case "negative":
			v[i] = -1
		case "one-hot":
			if i == 0 {
				v[i] = 1
			}
		case "spike":
			v[i] = 1e-6 * rng.NormFloat64()
			if i == n/2 {
				v[i] = -50
			}
		}
	}
	return to32(unit(v))
}

// rowCodes returns the signed codes of row i, padding included.
func rowCodes(g *gallery, i int) []int64 {
	out := make([]int64, 8*g.words)
	for j := range out {
		out[j] = int64(g.codes[i*g.words+j/8]>>(8*(j%8))&0xFF) - codeZero
	}
	return out
}

func oneRow(v []float32) *gallery {
	g := &gallery{dim: len(v), words: (len(v) + 7) / 8}
	g.codes, g.fine = make([]uint64, g.words), make([]int8, g.dim)
	g.rows = []rowInfo{encode(v, g.codes, g.fine)}
	return g
}

var shapes = []struct {
	dim   int
	shape string
}{
	{512, "random"}, {128, "random"}, {13, "random"}, {1, "random"}, {16, "random"},
	{512, "positive"}, {512, "negative"}, {128, "one-hot"}, {512, "spike"}, {13, "spike"},
}

func TestEncodeDecode(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, c := range shapes {
		t.Run(fmt.Sprint(c.dim, " ", c.shape), func(t *testing.T) {
			v := unitVec(rng, c.dim, c.shape)
			g := oneRow(v)
			var sum int64
			for j, code := range rowCodes(g, 0) {
				if code < -codeMax || code > codeMax || (j >= c.dim && code != 0) {
					t.Fatalf("code %d of %d = %d", j, c.dim, code)
				}
				sum += code + codeZero
			}
			if sum != int64(g.rows[0].sum) {
				t.Fatalf("sum %d, rowInfo says %d", sum, g.rows[0].sum)
			}
			out := make([]float32, c.dim)
			g.decode(0, out)
			scale := g.rows[0].scale
			for j := range v {
				if d := math.Abs(float64(out[j]*scale - v[j])); d > float64(scale)*0.501 {
					t.Fatalf("value %d: %v decodes to %v (scale %v)", j, v[j], out[j]*scale, scale)
				}
			}
		})
	}
}

// coarseDot must give the exact integer dot product of the codes, including where every
// lane holds its largest products (all 127 x 127) and where the row needs padding.
func TestCoarseDot(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, a := range shapes {
		for _, probeShape := range []string{"random", "positive", "negative"} {
			t.Run(fmt.Sprint(a.dim, " ", a.shape, " x ", probeShape), func(t *testing.T) {
				v, p := unitVec(rng, a.dim, a.shape), unitVec(rng, a.dim, probeShape)
				g := oneRow(v)
				even, odd := make([]uint64, g.words), make([]uint64, g.words)
				offset := packProbe(p, even, odd)
				got := int64(coarseDot(g.codes, even, odd)) - codeZero*int64(g.rows[0].sum) - offset
				var peak float32
				for _, x := range p {
					peak = max(peak, x, -x)
				}
				var want int64
				for j, code := range rowCodes(g, 0)[:a.dim] {
					want += code * int64(math.Round(float64(p[j]/peak*codeMax)))
				}
				if got != want {
					t.Fatalf("coarse dot %d, want %d", got, want)
				}
			})
		}
	}
}

func TestShortlist(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	const n = 1000
	orders := map[string][]int{"ascending": make([]int, n), "descending": make([]int, n), "shuffled": rng.Perm(n), "few": {5, 1, 3}}
	for i := range n {
		orders["ascending"][i], orders["descending"][i] = i, n-1-i
	}
	for name, order := range orders {
		t.Run(name, func(t *testing.T) {
			var s shortlist
			s.reset()
			for _, row := range order {
				if score := float32(row); score > s.score[s.low] {
					s.add(score, row)
				}
			}
			want := slices.Sorted(slices.Values(order))
			want = want[max(0, len(want)-candidates):]
			var got []int
			for _, row := range s.row {
				if row >= 0 {
					got = append(got, row)
				}
			}
			if slices.Sort(got); !slices.Equal(got, want) {
				t.Fatalf("kept %v, want %v", got, want)
			}
		})
	}
}

// Over a gallery of 20,000 the coarse pass must still hand the re-score the row the exact
// float32 search finds, for genuine probes near and far from the threshold and for
// strangers, and for a model of 128 values as well as 512 (the 128 are the first of the
// synthetic 512, so there the similarities are only about those asked for).
func TestMatchAgreesWithExactSearch(t *testing.T) {
	for _, c := range []struct {
		model string
		dim   int
	}{{"synthetic-512", 512}, {"mobilefacenet-128", 128}} {
		t.Run(c.model, func(t *testing.T) {
			cut := func(e Template) Template { return Template{c.model, e.Embedding[:c.dim]} }
			m, _ := NewMatcher(DefaultThreshold)
			var ref refGallery
			var enrolled []Template
			fill(t, 20_000, func(id uuid.UUID, e Template) {
				if err := m.Put(id, cut(e)); err != nil {
					t.Fatal(err)
				}
				ref.put(t, id, cut(e))
				if len(enrolled) < 120 {
					enrolled = append(enrolled, Template{e.Model, slices.Clone(e.Embedding)})
				}
			})
			gen := NewSynthetic(11)
			var worst float32
			for i, sim := range []float64{0.3, 0.45, 0.5, 0.7, 0.9, 0} {
				for k := range 20 {
					probe := gen.Identity()
					if sim > 0 {
						probe = gen.Probe(enrolled[i*20+k], sim)
					}
					r, err := m.Match(cut(probe))
					if err != nil {
						t.Fatal(err)
					}
					id, score := ref.match(t, cut(probe))
					if r.Resident != id || math.Abs(float64(r.Score-score)) > 1e-4 {
						t.Fatalf("similarity %v: matcher %v %.5f, exact search %v %.5f", sim, r.Resident, r.Score, id, score)
					}
					worst = max(worst, r.Score-score, score-r.Score)
				}
			}
			t.Logf("largest score difference from the exact float32 search: %.1e", worst)
		})
	}
}
