// Package face holds face templates and matches them, without I/O: validation of what a
// reader sends, L2 normalisation, 1:N matching over one contiguous slab per model, sealing
// a template to one gate's X25519 key (HPKE), and a fixed-seed synthetic identity
// generator for tests. No image is ever handled here: a template is the reader model's
// output vector and nothing else.
package face

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"gatepass/internal/access"
)

// Template is one face template: the id of the model that made it and its embedding.
type Template struct {
	Model     string    `json:"model"`
	Embedding []float32 `json:"embedding"`
}

// Models maps each accepted model id to the length of its embedding. A model not in the
// table is refused: comparing vectors of two different models is meaningless, and an
// unknown id is more likely a misconfigured reader than a new model.
var Models = map[string]int{
	// The fixed-seed generator of this package (tests, demos, benchmarks).
	"synthetic-512": 512,
	// InsightFace ArcFace ResNet-100: 512 floats, compared by cosine.
	"arcface-r100-512": 512,
	// MobileFaceNet as shipped on low-cost readers: 128 floats.
	"mobilefacenet-128": 128,
}

// ModelIDs lists the accepted model ids, sorted, for error messages and documentation.
func ModelIDs() []string {
	ids := make([]string, 0, len(Models))
	for id := range Models {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Reasons a template is refused; test with errors.Is. Each also matches access.ErrInvalid
// and carries an *access.FieldError naming the field, so the HTTP edge answers 422.
var (
	ErrUnknownModel = errors.New("unknown face model")
	ErrDimension    = errors.New("wrong embedding dimension")
	ErrNotFinite    = errors.New("embedding holds NaN or infinite values")
	ErrZeroVector   = errors.New("embedding is the zero vector")
)

// ValidationError says why a template was refused.
type ValidationError struct {
	Kind  error // one of the Err* values above
	Field string
	Msg   string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Msg }

// Unwrap lets errors.Is find the kind and access.ErrInvalid, and errors.As find an
// *access.FieldError for the HTTP edge.
func (e *ValidationError) Unwrap() []error {
	return []error{e.Kind, access.Invalid(e.Field, "%s", e.Msg)}
}

func invalid(kind error, field, format string, args ...any) error {
	return &ValidationError{Kind: kind, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks a template strictly: known model, exact dimension, every value finite,
// not the zero vector.
func (t Template) Validate() error {
	dim, ok := Models[t.Model]
	if !ok {
		return invalid(ErrUnknownModel, "model", "unknown model %q (accepted: %v)", t.Model, ModelIDs())
	}
	if len(t.Embedding) != dim {
		return invalid(ErrDimension, "embedding", "model %s makes %d values, got %d", t.Model, dim, len(t.Embedding))
	}
	zero := true
	for i, v := range t.Embedding {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return invalid(ErrNotFinite, "embedding", "value %d is not a finite number", i)
		}
		if v != 0 {
			zero = false
		}
	}
	if zero {
		return invalid(ErrZeroVector, "embedding", "all values are zero")
	}
	return nil
}

// Normalized validates t and returns a copy scaled to unit length, so that cosine
// similarity is a plain dot product at match time. The norm is summed in float64: a
// float32 sum of 512 squares loses digits, and values near the float32 limit would
// overflow.
func (t Template) Normalized() (Template, error) {
	if err := t.Validate(); err != nil {
		return Template{}, err
	}
	var ss float64
	for _, v := range t.Embedding {
		ss += float64(v) * float64(v)
	}
	norm := math.Sqrt(ss)
	out := Template{Model: t.Model, Embedding: make([]float32, len(t.Embedding))}
	for i, v := range t.Embedding {
		out.Embedding[i] = float32(float64(v) / norm)
	}
	// Subnormal inputs can still underflow to zero after the division.
	if err := out.Validate(); err != nil {
		return Template{}, err
	}
	return out, nil
}

// Wipe overwrites the embedding with zeros, for callers that are done with a decrypted
// template (Go cannot promise no other copy exists, but this one is gone).
func (t *Template) Wipe() {
	clear(t.Embedding)
	t.Embedding = nil
}
