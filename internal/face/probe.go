package face

import (
	"errors"
	"fmt"

	"gatepass/internal/access"
)

// ProbeRequest is the body a reader posts to the gate agent's local POST /face:
// {"model": "arcface-r100-512", "embedding": [512 numbers], "liveness": true}.
// Pointers tell a missing field from a zero one (decode it with httpx.DecodeJSON, which
// refuses unknown fields and trailing data).
type ProbeRequest struct {
	Model     *string   `json:"model"`
	Embedding []float32 `json:"embedding"`
	Liveness  *bool     `json:"liveness"`
}

// ErrNoLiveness: the reader did not confirm a live face (a photo, a screen, a mask). It
// is a denial to record, not a malformed request.
var ErrNoLiveness = errors.New("liveness not confirmed")

// MaxProbeBody bounds the body of POST /face: 512 floats as JSON text need about 12 KB;
// 64 KB leaves room for pretty-printing and no room for abuse.
const MaxProbeBody = 64 << 10

// Check validates a probe: every field present, the template valid for its model. A
// probe with liveness false is valid input that must be denied: Check returns the
// template and ErrNoLiveness, so the caller can record the denial.
func (p ProbeRequest) Check() (Template, error) {
	if p.Model == nil {
		return Template{}, access.Invalid("model", "is required")
	}
	if p.Embedding == nil {
		return Template{}, access.Invalid("embedding", "is required")
	}
	if p.Liveness == nil {
		return Template{}, access.Invalid("liveness", "is required")
	}
	t := Template{Model: *p.Model, Embedding: p.Embedding}
	if err := t.Validate(); err != nil {
		return Template{}, err
	}
	if !*p.Liveness {
		return t, fmt.Errorf("probe of model %s: %w", t.Model, ErrNoLiveness)
	}
	return t, nil
}
