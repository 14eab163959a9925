package gate

import (
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/credential"
)

// Issue 11, item 4: anti-passback is per person. A resident refused on the card walked
// through on the phone's QR and on a second device within a minute; with the holder map
// every credential of one resident (and the resident's face) shares one passback entry.
func TestPassbackPerHolder(t *testing.T) {
	f := newFixture(t)
	p := basePolicy()
	p.Zone, p.AntiPassback = 0, true
	resident, neighbour, visitorPass := uuid.New(), uuid.New(), uuid.New()
	card, phone, device, theirs, visitor, unknown := uuid.New(), uuid.New(), uuid.New(), uuid.New(), uuid.New(), uuid.New()
	d := NewDecider(NewMemory())
	d.SetState(&State{Keys: f.keys, Revoked: map[uuid.UUID]int64{}, Policy: p, SyncedAt: t0,
		Holders: map[uuid.UUID]uuid.UUID{card: resident, phone: resident, device: resident, theirs: neighbour, visitor: visitorPass}})
	steps := []struct {
		name string
		cred uuid.UUID // a code of this credential; uuid.Nil: the resident's face
		at   time.Duration
		want Reason
	}{
		{"the card", card, 0, Granted},
		{"the phone, 20 s later", phone, 20 * time.Second, Passback},
		{"a second device", device, 40 * time.Second, Passback},
		{"the resident's face", uuid.Nil, 50 * time.Second, Passback},
		{"a neighbour", theirs, 55 * time.Second, Granted},
		{"a visitor", visitor, 56 * time.Second, Granted},
		{"a credential without a known holder is its own", unknown, 57 * time.Second, Granted},
		{"the same again", unknown, 58 * time.Second, Passback},
		{"the phone after the passback time", phone, 6 * time.Minute, Granted},
		{"then the face", uuid.Nil, 6*time.Minute + time.Second, Passback},
	}
	for _, s := range steps {
		now := t0.Add(s.at)
		var dec Decision
		if s.cred == uuid.Nil {
			dec = d.DecideFace(Face{Live: true, Matched: true, Resident: resident}, now)
		} else {
			dec = d.Decide(f.issued(t, f.signer, s.cred, 1, now), now)
		}
		if dec.Reason != s.want {
			t.Fatalf("%s: %s, want %s", s.name, dec.Reason, s.want)
		}
		if want := d.State().Holder(s.cred); s.cred != uuid.Nil && dec.Granted && dec.PassbackKey != want {
			t.Fatalf("%s: passback key %v, want the holder %v", s.name, dec.PassbackKey, want)
		}
		d.Record(dec, now)
	}
}

// Issue 11, item 7: a code of another community reads wrong_community. The gate syncs
// only its own community's keys, so before the fix such a code was unknown_key and the
// documented wrong_community never happened; now it knows the other communities' key
// ids (ids only) and names them, without trying a signature.
func TestForeignKeyIDsAreWrongCommunity(t *testing.T) {
	f := newFixture(t)
	own, err := credential.NewKeySet(credential.Key{KID: 7, Community: community, Public: f.signer.Key.Public().(ed25519.PublicKey), NotBefore: t0.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	stranger := credential.Signer{KID: 9, Key: f.foreign.Key} // a kid nobody synced
	foreignCode := f.issued(t, f.foreign, uuid.New(), 4, t0)
	cases := []struct {
		name    string
		foreign map[uint32]struct{}
		text    string
		want    Reason
	}{
		{"another community's code", map[uint32]struct{}{8: {}}, foreignCode, WrongCommunity},
		{"tampered too: no signature is tried", map[uint32]struct{}{8: {}}, foreignCode[:len(foreignCode)-2] + "00", WrongCommunity},
		{"a kid nobody knows", map[uint32]struct{}{8: {}}, f.issued(t, stranger, uuid.New(), 4, t0), UnknownKey},
		{"before the foreign ids are synced", nil, foreignCode, UnknownKey},
		{"garbage stays malformed", map[uint32]struct{}{8: {}}, "GA1:%%%", Malformed},
		{"own code", map[uint32]struct{}{8: {}}, f.issued(t, f.signer, uuid.New(), 4, t0), Granted},
	}
	for _, c := range cases {
		d := NewDecider(NewMemory())
		d.SetState(&State{Keys: own, Revoked: map[uuid.UUID]int64{}, Foreign: c.foreign, Policy: basePolicy(), SyncedAt: t0})
		if got := d.Decide(c.text, t0.Add(time.Second)); got.Reason != c.want {
			t.Errorf("%s: %s (%v), want %s", c.name, got.Reason, got.Detail, c.want)
		}
	}
}

// A forgotten revocation takes its credential's holder with it.
func TestForgettingDropsHolders(t *testing.T) {
	gone, kept, live := uuid.New(), uuid.New(), uuid.New()
	s := &State{Revoked: map[uuid.UUID]int64{gone: t0.Unix(), kept: t0.Add(time.Hour).Unix()},
		Holders: map[uuid.UUID]uuid.UUID{gone: uuid.New(), kept: uuid.New(), live: uuid.New()}}
	next := s.Forgetting(t0)
	if _, ok := next.Holders[gone]; ok || len(next.Holders) != 2 || len(s.Holders) != 3 {
		t.Fatalf("holders %v (old %v)", next.Holders, s.Holders)
	}
}
