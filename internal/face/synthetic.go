package face

import (
	"math"
	"math/rand/v2"
)

// Synthetic makes fixed-seed synthetic identities and noisy probes of them, for tests,
// benchmarks and demos (model "synthetic-512"). Same seed, same sequence.
//
// The noise model is meant to be as hard as a real recognition model, not easier:
//   - Real embeddings do not fill all 512 directions evenly; they concentrate in a
//     subspace, which makes two different people correlate more than two random vectors
//     would. Identities here have 128 strong directions (variance 1) and 384 weak ones
//     (variance 0.1): an effective dimension of about 210, so two identities have cosine
//     about 0 +- 0.07, like impostor pairs of ArcFace on hard data, instead of the
//     0 +- 0.044 of isotropic 512-d vectors.
//   - A probe of a person has cosine s with their enrolled template, s drawn from a
//     normal distribution with mean 0.68 and deviation 0.08 (clipped to [0, 0.99]): the
//     spread a real model gives for a gate camera image against an enrolment image
//     (lighting, angle, glasses, ageing), with a tail below 0.5 that a real gate rejects.
type Synthetic struct {
	rng   *rand.Rand
	Model string
	dim   int
}

// Genuine-probe similarity distribution (see the type's comment).
const (
	syntheticGenuineMean = 0.68
	syntheticGenuineSD   = 0.08
	syntheticStrongDims  = 128
	syntheticWeakVar     = 0.1
)

// NewSynthetic returns a generator for "synthetic-512" seeded with seed.
func NewSynthetic(seed uint64) *Synthetic {
	return &Synthetic{rng: rand.New(rand.NewPCG(seed, 0x6761746570617373)), Model: "synthetic-512", dim: Models["synthetic-512"]}
}

// raw draws one vector of the anisotropic distribution, in float64.
func (s *Synthetic) raw() []float64 {
	v := make([]float64, s.dim)
	weak := math.Sqrt(syntheticWeakVar)
	for i := range v {
		v[i] = s.rng.NormFloat64()
		if i >= syntheticStrongDims {
			v[i] *= weak
		}
	}
	return v
}

func unit(v []float64) []float64 {
	var ss float64
	for _, x := range v {
		ss += x * x
	}
	n := math.Sqrt(ss)
	for i := range v {
		v[i] /= n
	}
	return v
}

func to32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// Identity returns a new person's enrolment template (unit length).
func (s *Synthetic) Identity() Template {
	return Template{Model: s.Model, Embedding: to32(unit(s.raw()))}
}

// GenuineSimilarity draws how similar a new probe of a person is to their template.
func (s *Synthetic) GenuineSimilarity() float64 {
	return min(max(syntheticGenuineMean+syntheticGenuineSD*s.rng.NormFloat64(), 0), 0.99)
}

// Probe returns a probe of the person whose template is id with cosine similarity
// exactly sim (up to float32 rounding): sim*id + sqrt(1-sim^2)*n, n a unit vector of the
// same distribution made orthogonal to id.
func (s *Synthetic) Probe(id Template, sim float64) Template {
	n := s.raw()
	var dot float64
	for i, x := range id.Embedding {
		dot += n[i] * float64(x)
	}
	for i, x := range id.Embedding {
		n[i] -= dot * float64(x)
	}
	n = unit(n)
	c := math.Sqrt(1 - sim*sim)
	for i, x := range id.Embedding {
		n[i] = sim*float64(x) + c*n[i]
	}
	return Template{Model: s.Model, Embedding: to32(n)}
}
