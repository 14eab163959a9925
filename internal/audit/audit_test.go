package audit

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
)

var testKey = bytes.Repeat([]byte{7}, 32)

func chain(n int) []Entry {
	c := uuid.New()
	prev := Genesis
	out := make([]Entry, n)
	for i := range out {
		out[i] = Entry{Community: c, Seq: int64(i + 1), At: time.Unix(1700000000, int64(i)*1500), Actor: "staff:x", Action: "resident.create", Target: "resident:y", Summary: []byte(`{"name":"A"}`)}
		out[i].Seal(testKey, prev)
		prev = out[i].Hash
	}
	return out
}

// verify runs a Verifier over es and the head; it returns the index that failed (len(es)
// for the head) and the error.
func verify(key []byte, es []Entry, head *Head) (int, error) {
	v := NewVerifier(key)
	for i := range es {
		if err := v.Next(&es[i]); err != nil {
			return i, err
		}
	}
	if len(es) > 0 {
		return len(es), v.End(es[0].Community, head)
	}
	return 0, v.End(uuid.Nil, head)
}

func TestVerify(t *testing.T) {
	otherKey := bytes.Repeat([]byte{8}, 32)
	cases := []struct {
		name   string
		tamper func(es []Entry, h *Head) ([]Entry, *Head)
		at     int // where it must break; -1: intact
	}{
		{"intact", func(es []Entry, h *Head) ([]Entry, *Head) { return es, h }, -1},
		{"summary", func(es []Entry, h *Head) ([]Entry, *Head) { es[2].Summary = []byte(`{"name":"B"}`); return es, h }, 2},
		{"actor", func(es []Entry, h *Head) ([]Entry, *Head) { es[2].Actor = "staff:z"; return es, h }, 2},
		{"time", func(es []Entry, h *Head) ([]Entry, *Head) { es[2].At = es[2].At.Add(time.Microsecond); return es, h }, 2},
		{"hash", func(es []Entry, h *Head) ([]Entry, *Head) { es[2].Hash[0] ^= 1; return es, h }, 2},
		{"prev", func(es []Entry, h *Head) ([]Entry, *Head) { es[2].PrevHash[0] ^= 1; return es, h }, 2},
		{"deletion in the middle", func(es []Entry, h *Head) ([]Entry, *Head) { return append(es[:2], es[3:]...), h }, 2},
		{"newest rows deleted", func(es []Entry, h *Head) ([]Entry, *Head) { return es[:3], h }, 3},
		{"all rows deleted", func(es []Entry, h *Head) ([]Entry, *Head) { return nil, h }, 0},
		{"head deleted", func(es []Entry, h *Head) ([]Entry, *Head) { return es, nil }, 5},
		{"rewritten with the chain recomputed without the key", func(es []Entry, h *Head) ([]Entry, *Head) {
			prev := Genesis
			for i := range es {
				es[i].Actor = "staff:nobody"
				es[i].Seal(otherKey, prev)
				prev = es[i].Hash
			}
			forged := NewHead(otherKey, &es[len(es)-1])
			return es, &forged
		}, 0},
		{"rewritten as unkeyed v1", func(es []Entry, h *Head) ([]Entry, *Head) {
			prev := Genesis
			for i := range es {
				es[i].Version = V1
				es[i].Hash = es[i].ComputeHash(nil, prev)
				es[i].PrevHash = prev
				prev = es[i].Hash
			}
			return es, h
		}, 5},
		{"older head replayed after newest rows deleted and head kept", func(es []Entry, h *Head) ([]Entry, *Head) {
			return es[:4], h
		}, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			es := chain(5)
			head := NewHead(testKey, &es[4])
			es, h := c.tamper(es, &head)
			at, err := verify(testKey, es, h)
			if c.at < 0 {
				if err != nil {
					t.Fatalf("intact chain: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrBroken) || at != c.at {
				t.Fatalf("broken at %d with %v, want at %d with ErrBroken", at, err, c.at)
			}
		})
	}
}

func TestLegacyUnkeyedPrefixIsAccepted(t *testing.T) {
	es := chain(4)
	prev := Genesis
	for i := range es[:2] { // rows written before migration 00007
		es[i].Version = V1
		es[i].PrevHash = prev
		es[i].Hash = es[i].ComputeHash(nil, prev)
		prev = es[i].Hash
	}
	for i := 2; i < 4; i++ {
		es[i].Seal(testKey, prev)
		prev = es[i].Hash
	}
	head := NewHead(testKey, &es[3])
	if _, err := verify(testKey, es, &head); err != nil {
		t.Fatal(err)
	}
	if _, err := verify(testKey, es[:2], nil); err != nil {
		t.Fatalf("a v1-only community with no head: %v", err)
	}
}

func TestHashSeparatesFields(t *testing.T) {
	a := Entry{Actor: "ab", Action: "c", Version: V2}
	b := Entry{Actor: "a", Action: "bc", Version: V2}
	if bytes.Equal(a.ComputeHash(testKey, Genesis), b.ComputeHash(testKey, Genesis)) {
		t.Fatal("field boundaries do not affect the hash")
	}
}
