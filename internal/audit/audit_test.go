package audit

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
)

func chain(n int) []Entry {
	c := uuid.New()
	prev := Genesis
	out := make([]Entry, n)
	for i := range out {
		out[i] = Entry{Community: c, Seq: int64(i + 1), At: time.Unix(1700000000, int64(i)*1500), Actor: "staff:x", Action: "resident.create", Target: "resident:y", Summary: []byte(`{"name":"A"}`)}
		out[i].Seal(prev)
		prev = out[i].Hash
	}
	return out
}

func TestVerify(t *testing.T) {
	tamper := map[string]func(es []Entry){
		"summary":  func(es []Entry) { es[2].Summary = []byte(`{"name":"B"}`) },
		"actor":    func(es []Entry) { es[2].Actor = "staff:z" },
		"time":     func(es []Entry) { es[2].At = es[2].At.Add(time.Microsecond) },
		"hash":     func(es []Entry) { es[2].Hash[0] ^= 1 },
		"prev":     func(es []Entry) { es[2].PrevHash[0] ^= 1 },
		"deletion": func(es []Entry) { copy(es[2:], es[3:]) },
	}
	for name, f := range tamper {
		t.Run(name, func(t *testing.T) {
			es := chain(5)
			f(es)
			var v Verifier
			var err error
			i := 0
			for ; i < 5; i++ {
				if err = v.Next(&es[i]); err != nil {
					break
				}
			}
			if !errors.Is(err, ErrBroken) || i != 2 {
				t.Fatalf("broken at %d with %v, want at 2 with ErrBroken", i, err)
			}
		})
	}
	var v Verifier
	for _, e := range chain(5) {
		if err := v.Next(&e); err != nil {
			t.Fatal(err)
		}
	}
	if v.Count() != 5 {
		t.Fatalf("count %d", v.Count())
	}
}

func TestHashSeparatesFields(t *testing.T) {
	a := Entry{Actor: "ab", Action: "c"}
	b := Entry{Actor: "a", Action: "bc"}
	if string(a.ComputeHash(Genesis)) == string(b.ComputeHash(Genesis)) {
		t.Fatal("field boundaries do not affect the hash")
	}
}
