package gate

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/credential"
	"gatepass/internal/gateapi"
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
	live := Face{Live: true, Matched: true, Resident: resident}
	dec := d.DecideFace(live, t0)
	if !dec.Granted || dec.PassbackKey != resident {
		t.Fatalf("match: %+v", dec)
	}
	d.Record(dec, t0)
	if dec := d.DecideFace(live, t0.Add(time.Minute)); dec.Reason != Passback {
		t.Fatalf("face passback: %+v", dec)
	}
	if dec := d.DecideFace(live, t0.Add(6*time.Minute)); !dec.Granted {
		t.Fatalf("after passback time: %+v", dec)
	}
}

// Liveness comes first: a face that may be a photo is refused whatever it matched, and
// before staleness, so the reason says what the reader has to do (capture again).
func TestDecideFaceReasons(t *testing.T) {
	f := newFixture(t)
	resident := uuid.New()
	stale := basePolicy()
	stale.StaleDeny = true
	cases := []struct {
		name      string
		face      Face
		policy    Policy
		at        time.Time
		want      Reason
		wantStale bool
	}{
		{"granted", Face{Live: true, Matched: true, Resident: resident}, basePolicy(), t0, Granted, false},
		{"no liveness", Face{Matched: true, Resident: resident}, basePolicy(), t0, NoLiveness, false},
		{"no liveness, no match", Face{}, basePolicy(), t0, NoLiveness, false},
		{"no liveness on stale data", Face{Matched: true, Resident: resident}, stale, t0.Add(2 * time.Hour), NoLiveness, false},
		{"no match", Face{Live: true}, basePolicy(), t0, FaceNoMatch, false},
		{"match without a resident", Face{Live: true, Matched: true}, basePolicy(), t0, FaceNoMatch, false},
		{"stale flagged", Face{Live: true, Matched: true, Resident: resident}, basePolicy(), t0.Add(2 * time.Hour), Granted, true},
		{"stale denied", Face{Live: true, Matched: true, Resident: resident}, stale, t0.Add(2 * time.Hour), StaleData, true},
	}
	for _, c := range cases {
		got := f.decider(c.policy).DecideFace(c.face, c.at)
		if got.Reason != c.want || got.Granted != (c.want == Granted) || got.Stale != c.wantStale {
			t.Errorf("%s: %s (granted %v, stale %v), want %s (stale %v)", c.name, got.Reason, got.Granted, got.Stale, c.want, c.wantStale)
		}
	}
	if got := NewDecider(NewMemory()).DecideFace(Face{Live: true, Matched: true, Resident: resident}, t0); !got.Granted {
		t.Errorf("a gate with no synced state refused a matched face: %+v", got)
	}
}

// Oversize input is malformed before anything else is looked at, even on a gate that has
// no key yet; up to the cap it goes to the parser.
func TestOversizeInput(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name     string
		text     string
		enrolled bool
		want     Reason
		oversize bool
	}{
		{"at the cap", "GA1:" + strings.Repeat("0", MaxInput-4), true, Malformed, false},
		{"one byte over", "GA1:" + strings.Repeat("0", MaxInput-3), true, Malformed, true},
		{"huge", strings.Repeat("x", 1<<20), true, Malformed, true},
		{"at the cap, no key: malformed, not no_trusted_key", strings.Repeat("x", MaxInput), false, Malformed, false},
		{"over the cap, no key", strings.Repeat("x", MaxInput+1), false, Malformed, true},
	}
	for _, c := range cases {
		d := NewDecider(NewMemory())
		if c.enrolled {
			d = f.decider(basePolicy())
		}
		got := d.Decide(c.text, t0)
		if got.Reason != c.want || got.Granted || errors.Is(got.Detail, ErrOversize) != c.oversize {
			t.Errorf("%s: %s (%v), want %s (oversize %v)", c.name, got.Reason, got.Detail, c.want, c.oversize)
		}
	}
}

func TestZones(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name  string
		zone  int
		zones uint64
		want  Reason
	}{
		{"perimeter", 0, 1, Granted},
		{"zone in the mask", 2, 1 | 1<<2, Granted},
		{"zone not in the mask", 2, 1 | 1<<3, WrongZone},
		{"highest zone", 63, 1 << 63, Granted},
		{"all zones", 17, ^uint64(0), Granted},
		{"gate zone out of range", 64, ^uint64(0), WrongZone},
		{"negative gate zone", -1, ^uint64(0), WrongZone},
		{"no zones", 0, 0, WrongZone},
	}
	for _, c := range cases {
		p := basePolicy()
		p.Zone = c.zone
		got := f.decider(p).Decide(f.issued(t, f.signer, uuid.New(), c.zones, t0), t0)
		if got.Reason != c.want {
			t.Errorf("%s: %s, want %s", c.name, got.Reason, c.want)
		}
	}
}

func TestStale(t *testing.T) {
	cases := []struct {
		name       string
		syncedAt   time.Time
		staleAfter time.Duration
		at         time.Time
		want       bool
	}{
		{"never synced", time.Time{}, time.Hour, t0, true},
		{"never synced, no limit", time.Time{}, 0, t0, true},
		{"just synced", t0, time.Hour, t0, false},
		{"at the limit", t0, time.Hour, t0.Add(time.Hour), false},
		{"past the limit", t0, time.Hour, t0.Add(time.Hour + time.Second), true},
		{"no limit", t0, 0, t0.Add(1000 * time.Hour), false},
		{"clock behind the sync", t0, time.Hour, t0.Add(-time.Hour), false},
	}
	for _, c := range cases {
		st := &State{SyncedAt: c.syncedAt, Policy: Policy{StaleAfter: c.staleAfter}}
		if got := st.Stale(c.at); got != c.want {
			t.Errorf("%s: stale %v, want %v", c.name, got, c.want)
		}
	}
}

func TestDecideRelease(t *testing.T) {
	if ReleaseMaxAge != gateapi.ReleaseMaxAge {
		t.Fatalf("gate.ReleaseMaxAge %v, the wire's %v", ReleaseMaxAge, gateapi.ReleaseMaxAge)
	}
	cases := []struct {
		name string
		age  time.Duration
		want Reason
	}{
		{"just pressed", 0, ManualRelease},
		{"a little late", 59 * time.Second, ManualRelease},
		{"at the limit", ReleaseMaxAge, ManualRelease},
		{"past the limit", ReleaseMaxAge + time.Millisecond, ReleaseExpired},
		{"after an outage", time.Hour, ReleaseExpired},
		{"created after the server's now", -time.Second, ManualRelease},
	}
	for _, c := range cases {
		got := DecideRelease(t0.Add(-c.age), t0)
		if got.Reason != c.want || got.Granted != (c.want == ManualRelease) || got.Verified || got.PassbackKey != uuid.Nil {
			t.Errorf("%s: %+v, want %s", c.name, got, c.want)
		}
	}
}

// Each source has its own last read; only the same text from the same source within the
// window is a repeat.
func TestReads(t *testing.T) {
	r := NewReads(2 * time.Second)
	steps := []struct {
		name   string
		source string
		text   string
		at     time.Duration
		repeat bool
	}{
		{"first read", "tcp:a", "GA1:X", 0, false},
		{"scanner repeats", "tcp:a", "GA1:X", time.Second, true},
		{"other source, same text", "tcp:b", "GA1:X", time.Second, false},
		{"window counts from the first read", "tcp:a", "GA1:X", 2 * time.Second, false},
		{"new text", "tcp:a", "GA1:Y", 2500 * time.Millisecond, false},
		{"back to the old text", "tcp:a", "GA1:X", 2600 * time.Millisecond, false},
		{"clock stepped back", "tcp:a", "GA1:X", time.Second, false},
		{"after the window", "tcp:b", "GA1:X", 10 * time.Second, false},
	}
	for _, s := range steps {
		if got := r.Repeat(s.source, s.text, t0.Add(s.at)); got != s.repeat {
			t.Errorf("%s: repeat %v, want %v", s.name, got, s.repeat)
		}
	}
	// Many short-lived sources (TCP connections) are forgotten once idle past the window.
	for i := 0; i < 3*maxSources; i++ {
		r.Repeat(fmt.Sprint("tcp:", i), "GA1:Z", t0.Add(time.Duration(i)*time.Second))
	}
	if n := len(r.last); n > maxSources+1 {
		t.Fatalf("%d sources kept", n)
	}
	if !r.Repeat(fmt.Sprint("tcp:", 3*maxSources-1), "GA1:Z", t0.Add(time.Duration(3*maxSources-1)*time.Second+time.Millisecond)) {
		t.Fatal("the newest source was forgotten")
	}
}
