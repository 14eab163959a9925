package face

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/uuid"

	"gatepass/internal/access"
)

func TestProbeRequest(t *testing.T) {
	gen := NewSynthetic(11)
	emb, _ := json.Marshal(gen.Identity().Embedding)
	cases := []struct {
		name string
		body string
		want error
	}{
		{"ok", `{"model":"synthetic-512","embedding":` + string(emb) + `,"liveness":true}`, nil},
		{"not live", `{"model":"synthetic-512","embedding":` + string(emb) + `,"liveness":false}`, ErrNoLiveness},
		{"no liveness", `{"model":"synthetic-512","embedding":` + string(emb) + `}`, access.ErrInvalid},
		{"no model", `{"embedding":` + string(emb) + `,"liveness":true}`, access.ErrInvalid},
		{"no embedding", `{"model":"synthetic-512","liveness":true}`, access.ErrInvalid},
		{"unknown model", `{"model":"x","embedding":` + string(emb) + `,"liveness":true}`, ErrUnknownModel},
		{"short", `{"model":"synthetic-512","embedding":[1,2,3],"liveness":true}`, ErrDimension},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p ProbeRequest
			if err := json.Unmarshal([]byte(c.body), &p); err != nil {
				t.Fatal(err)
			}
			_, err := p.Check()
			if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Fatalf("Check = %v, want %v", err, c.want)
			}
		})
	}
	if len(`{"model":"synthetic-512","embedding":`+string(emb)+`,"liveness":true}`) > MaxProbeBody/2 {
		t.Fatal("MaxProbeBody leaves too little room")
	}
}

func TestPutSealed(t *testing.T) {
	gen := NewSynthetic(12)
	key, _ := NewGateKey()
	m, _ := NewMatcher(DefaultThreshold)
	id := gen.Identity()
	b := Binding{Community: uuid.New(), Gate: uuid.New(), Resident: uuid.New(), Model: id.Model}
	sealed, err := Seal(id, key.PublicKey().Bytes(), b)
	if err != nil {
		t.Fatal(err)
	}
	other := b
	other.Resident = uuid.New()
	if err := m.PutSealed(sealed, key, other); !errors.Is(err, ErrSealed) || m.Len(id.Model) != 0 {
		t.Fatalf("blob for another resident: %v", err)
	}
	if err := m.PutSealed(sealed, key, b); err != nil {
		t.Fatal(err)
	}
	if r, _ := m.Match(gen.Probe(id, 0.7)); !r.Matched || r.Resident != b.Resident {
		t.Fatalf("after PutSealed: %+v", r)
	}
	// A replacement that does not open (sealed for another community) drops the template
	// it replaces, of its model only.
	small := NewSynthetic(13).Identity()
	small.Model, small.Embedding = "mobilefacenet-128", small.Embedding[:128]
	if err := m.Put(b.Resident, small); err != nil {
		t.Fatal(err)
	}
	elsewhere := b
	elsewhere.Community = uuid.New()
	bad, err := Seal(id, key.PublicKey().Bytes(), elsewhere)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.PutSealed(bad, key, b); !errors.Is(err, ErrSealed) || m.Len(id.Model) != 0 || m.Len(small.Model) != 1 {
		t.Fatalf("refused replacement: %v, %d and %d templates left", err, m.Len(id.Model), m.Len(small.Model))
	}
}
