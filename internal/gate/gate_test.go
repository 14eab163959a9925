package gate

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/credential"
)

var (
	community = uuid.MustParse("0195f3a0-0000-7000-8000-000000000001")
	otherComm = uuid.MustParse("0195f3a0-0000-7000-8000-000000000002")
	t0        = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
)

type fixture struct {
	signer, foreign credential.Signer
	keys            *credential.KeySet
}

func newFixture(t testing.TB) fixture {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	_, opriv, _ := ed25519.GenerateKey(rand.Reader)
	f := fixture{signer: credential.Signer{KID: 7, Key: priv}, foreign: credential.Signer{KID: 8, Key: opriv}}
	var err error
	f.keys, err = credential.NewKeySet(
		credential.Key{KID: 7, Community: community, Public: priv.Public().(ed25519.PublicKey), NotBefore: t0.Add(-time.Hour)},
		credential.Key{KID: 8, Community: otherComm, Public: opriv.Public().(ed25519.PublicKey), NotBefore: t0.Add(-time.Hour)},
	)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f fixture) issued(t testing.TB, s credential.Signer, cred uuid.UUID, zones uint64, from time.Time) string {
	t.Helper()
	text, err := credential.MintIssued(s, credential.Claims{CredentialID: cred, Subject: credential.SubjectResident, Zones: zones,
		NotBefore: from, ExpiresAt: from.Add(60 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	return text
}

func (f fixture) decider(p Policy, revoked ...uuid.UUID) *Decider {
	d := NewDecider(NewMemory())
	st := &State{Keys: f.keys, Revoked: map[uuid.UUID]int64{}, Policy: p, SyncedAt: t0.Add(-time.Minute)}
	for _, r := range revoked {
		st.Revoked[r] = t0.Add(time.Hour).Unix()
	}
	d.SetState(st)
	return d
}

func basePolicy() Policy {
	return Policy{Community: community, Zone: 2, Skew: 30 * time.Second, Passback: 5 * time.Minute,
		CardMinInterval: 5 * time.Second, StaleAfter: time.Hour}
}

func TestDecisionReasons(t *testing.T) {
	f := newFixture(t)
	revoked := uuid.New()
	zone2 := uint64(1 | 1<<2)
	good := f.issued(t, f.signer, uuid.New(), zone2, t0)
	tok, _ := credential.Parse(good)
	tok.Sig[3] ^= 1
	tampered := tok.Text()
	cases := []struct {
		name string
		text string
		at   time.Time
		want Reason
	}{
		{"granted", good, t0.Add(time.Second), Granted},
		{"empty", "", t0, Malformed},
		{"not GA1", "hello", t0, Malformed},
		{"binary", "GA1:\x00\xff", t0, Malformed},
		{"foreign community", f.issued(t, f.foreign, uuid.New(), zone2, t0), t0, WrongCommunity},
		{"unknown kid", f.issued(t, credential.Signer{KID: 99, Key: f.signer.Key}, uuid.New(), zone2, t0), t0, UnknownKey},
		{"tampered", tampered, t0, BadSignature},
		{"expired", good, t0.Add(2 * time.Minute), Expired},
		{"not yet valid", good, t0.Add(-time.Minute), NotYetValid},
		{"within skew", good, t0.Add(-20 * time.Second), Granted},
		{"revoked", f.issued(t, f.signer, revoked, zone2, t0), t0, Revoked},
		{"wrong zone", f.issued(t, f.signer, uuid.New(), 1, t0), t0, WrongZone},
	}
	d := f.decider(basePolicy(), revoked)
	for _, c := range cases {
		if got := d.Decide(c.text, c.at); got.Reason != c.want || got.Granted != (c.want == Granted) {
			t.Errorf("%s: %s (granted %v, %v), want %s", c.name, got.Reason, got.Granted, got.Detail, c.want)
		}
	}
	if got := NewDecider(NewMemory()).Decide(good, t0); got.Reason != NotEnrolled {
		t.Errorf("no state: %s", got.Reason)
	}
}

func TestReplayPassbackCardsAndStale(t *testing.T) {
	f := newFixture(t)
	p := basePolicy()
	p.Zone = 0
	d := f.decider(p)
	cred := uuid.New()
	a := f.issued(t, f.signer, cred, 1, t0)
	grant := func(text string, at time.Time) Decision {
		dec := d.Decide(text, at)
		d.Record(dec, at)
		return dec
	}
	if r := grant(a, t0).Reason; r != Granted {
		t.Fatalf("first: %s", r)
	}
	if r := grant(a, t0.Add(10*time.Second)).Reason; r != Replayed {
		t.Fatalf("same token again: %s", r)
	}
	// Without anti-passback a new code of the same credential opens.
	if r := grant(f.issued(t, f.signer, cred, 1, t0), t0.Add(11*time.Second)).Reason; r != Granted {
		t.Fatalf("new code, no passback: %s", r)
	}
	// With anti-passback it is refused at this gate for the passback time.
	p.AntiPassback = true
	d.SetState(&State{Keys: f.keys, Revoked: map[uuid.UUID]int64{}, Policy: p, SyncedAt: t0})
	cred2 := uuid.New()
	if r := grant(f.issued(t, f.signer, cred2, 1, t0), t0.Add(time.Second)).Reason; r != Granted {
		t.Fatalf("passback first: %s", r)
	}
	if r := grant(f.issued(t, f.signer, cred2, 1, t0), t0.Add(2*time.Second)).Reason; r != Passback {
		t.Fatalf("passback second: %s", r)
	}
	if r := grant(f.issued(t, f.signer, cred2, 1, t0.Add(6*time.Minute)), t0.Add(6*time.Minute)).Reason; r != Granted {
		t.Fatalf("after passback time: %s", r)
	}
	// A card is static: refused within the card interval, not forever.
	p.AntiPassback = false
	d.SetState(&State{Keys: f.keys, Revoked: map[uuid.UUID]int64{}, Policy: p, SyncedAt: t0})
	card, err := credential.MintCard(f.signer, credential.Claims{CredentialID: uuid.New(), Subject: credential.SubjectResident, Zones: 1,
		NotBefore: t0.Add(-time.Hour), ExpiresAt: t0.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		after time.Duration
		want  Reason
	}{{0, Granted}, {3 * time.Second, Replayed}, {9 * time.Second, Granted}, {10 * time.Second, Replayed}, {time.Hour, Granted}} {
		if r := grant(card, t0.Add(step.after)).Reason; r != step.want {
			t.Fatalf("card at +%v: %s, want %s", step.after, r, step.want)
		}
	}
	// A device presentation is one per 30 s counter.
	phone, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert, err := credential.CertifyDevice(f.signer, credential.Claims{CredentialID: uuid.New(), Subject: credential.SubjectResident, Zones: 1,
		NotBefore: t0.Add(-time.Hour), ExpiresAt: t0.Add(24 * time.Hour)}, &phone.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pres, err := credential.PresentDevice(cert, phone, t0)
	if err != nil {
		t.Fatal(err)
	}
	if r := grant(pres, t0).Reason; r != Granted {
		t.Fatalf("device: %s", r)
	}
	if r := grant(pres, t0.Add(5*time.Second)).Reason; r != Replayed {
		t.Fatalf("device replay: %s", r)
	}
	// Stale data: flagged by default, refused under the deny policy.
	old := t0.Add(2 * time.Hour)
	fresh := f.issued(t, f.signer, uuid.New(), 1, old)
	if dec := d.Decide(fresh, old); !dec.Granted || !dec.Stale {
		t.Fatalf("stale flag: %+v", dec)
	}
	p.StaleDeny = true
	d.SetState(&State{Keys: f.keys, Revoked: map[uuid.UUID]int64{}, Policy: p, SyncedAt: t0})
	if dec := d.Decide(fresh, old); dec.Granted || dec.Reason != StaleData {
		t.Fatalf("stale deny: %+v", dec)
	}
	// Pruning forgets ended entries only.
	if n := d.mem.Prune(t0.Add(48 * time.Hour)); n != 0 {
		t.Fatalf("after prune %d entries remain", n)
	}
}

func TestDecideFace(t *testing.T) {
	f := newFixture(t)
	p := basePolicy()
	p.AntiPassback = true
	d := f.decider(p)
	resident := uuid.New()
	if dec := d.DecideFace(false, resident, t0); dec.Granted || dec.Reason != FaceNoMatch {
		t.Fatalf("no match: %+v", dec)
	}
	dec := d.DecideFace(true, resident, t0)
	if !dec.Granted || dec.PassbackKey != resident {
		t.Fatalf("match: %+v", dec)
	}
	d.Record(dec, t0)
	if dec := d.DecideFace(true, resident, t0.Add(time.Minute)); dec.Reason != Passback {
		t.Fatalf("face passback: %+v", dec)
	}
	if dec := d.DecideFace(true, resident, t0.Add(6*time.Minute)); !dec.Granted {
		t.Fatalf("after passback time: %+v", dec)
	}
}
