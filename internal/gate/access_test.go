package gate

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"
	_ "time/tzdata" // the gate binary embeds it; so does this test

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/credential"
)

// Shanghai has no daylight saving: 2026-11-23 (a Monday) 12:00 UTC is 20:00 there.
var shanghai, _ = time.LoadLocation("Asia/Shanghai")

// local is the instant of a Shanghai wall-clock time.
func local(y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, shanghai)
}

func win(a, b string) access.Window {
	var w access.Window
	if err := w.UnmarshalJSON([]byte(`{"start":"` + a + `","end":"` + b + `"}`)); err != nil {
		panic(err)
	}
	return w
}

// accessFixture is a gate in zone 2 of community, with these groups:
//   - building 3's residents: perimeter and zone 3, always;
//   - building 2's residents: perimeter and zone 2, always;
//   - cleaners (保洁): zones 2 and 4, Mon–Sat 07:00–18:00, closed on 2026-10-01, 09:00–12:00 on 2026-10-02;
//   - night guards: zone 2, 20:00–24:00 every day.
type accessFixture struct {
	f                                               fixture
	b3, b2, cleaners, guards                        uuid.UUID
	res3, res2, cleaner, guard, both, nobody, other uuid.UUID // holders
	rules                                           access.GateAccess
	members                                         map[uuid.UUID][]uuid.UUID
	gate                                            uuid.UUID
}

func newAccessFixture(t testing.TB) *accessFixture {
	f := newFixture(t)
	var err error
	// The fixture's keys are valid from 2026-11-23; these decisions go back to October.
	f.keys, err = credential.NewKeySet(credential.Key{KID: 7, Community: community, Public: f.signer.Key.Public().(ed25519.PublicKey),
		NotBefore: local(2026, 1, 1, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	a := &accessFixture{f: f, b3: uuid.New(), b2: uuid.New(), cleaners: uuid.New(), guards: uuid.New(),
		res3: uuid.New(), res2: uuid.New(), cleaner: uuid.New(), guard: uuid.New(), both: uuid.New(), nobody: uuid.New(), other: uuid.New(),
		gate: uuid.New()}
	day := []access.Window{win("07:00", "18:00")}
	week := access.WeeklySchedule{}
	for d := time.Monday; d <= time.Saturday; d++ {
		week[d] = day
	}
	night := access.WeeklySchedule{}
	for d := range night {
		night[d] = []access.Window{win("20:00", "24:00")}
	}
	a.rules = access.GateAccess{TimeZone: "Asia/Shanghai", OfflineLimitSeconds: 3600, OfflinePolicy: access.OfflineAcceptAll,
		Groups: []access.GateGroup{
			{ID: a.b3, Zones: 1 | 1<<3},
			{ID: a.b2, Zones: 1 | 1<<2},
			{ID: a.cleaners, Zones: 1<<2 | 1<<4, Schedule: &week, Holidays: []access.Holiday{
				{Date: "2026-10-01", Name: "国庆节"}, {Date: "2026-10-02", Windows: []access.Window{win("09:00", "12:00")}}}},
			{ID: a.guards, Zones: 1 << 2, Schedule: &night},
		}}
	a.members = map[uuid.UUID][]uuid.UUID{
		a.res3: {a.b3}, a.res2: {a.b2}, a.cleaner: {a.cleaners}, a.guard: {a.guards},
		a.both: {a.cleaners, a.guards}, a.nobody: {},
	}
	return a
}

// decider is a decider at the zone-2 gate; holders maps credentials to holders.
func (a *accessFixture) decider(t testing.TB, rules access.GateAccess, direction string, holders map[uuid.UUID]uuid.UUID) *Decider {
	t.Helper()
	acc, err := CompileAccess(rules, a.members, a.gate, 2, direction)
	if err != nil {
		t.Fatal(err)
	}
	d := NewDecider(NewMemory())
	d.SetState(&State{Keys: a.f.keys, Revoked: map[uuid.UUID]int64{}, Holders: holders, Policy: basePolicy(), SyncedAt: local(2026, 9, 30, 0, 0),
		Access: acc, Clock: ServerClock{Server: local(2026, 9, 30, 0, 0)}})
	return d
}

func (a *accessFixture) card(t testing.TB, cred uuid.UUID, subject credential.Subject, zones uint64) string {
	t.Helper()
	text, err := credential.MintCard(a.f.signer, credential.Claims{CredentialID: cred, Subject: subject, Zones: zones,
		NotBefore: local(2026, 1, 1, 0, 0), ExpiresAt: local(2027, 1, 1, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// Issue 16, items 1 and 2 at the gate: the holder's groups decide the zone, their
// schedules and holidays the time, at the gate's local time; a visitor keeps its token's
// zones, and a holder the gate has not heard of is judged by its token's zones.
func TestGroupsSchedulesAndHolidays(t *testing.T) {
	a := newAccessFixture(t)
	creds := map[string]uuid.UUID{}
	holders := map[uuid.UUID]uuid.UUID{}
	for name, h := range map[string]uuid.UUID{"res3": a.res3, "res2": a.res2, "cleaner": a.cleaner, "guard": a.guard, "both": a.both, "nobody": a.nobody} {
		creds[name] = uuid.New()
		holders[creds[name]] = h
	}
	d := a.decider(t, a.rules, "in", holders)
	all := uint64(1<<2 | 1<<3 | 1<<4 | 1)
	mon8 := local(2026, 11, 23, 8, 0) // a Monday
	cases := []struct {
		name    string
		cred    uuid.UUID
		subject credential.Subject
		zones   uint64
		at      time.Time
		want    Reason
	}{
		{"building 2 resident at zone 2", creds["res2"], credential.SubjectResident, all, mon8, Granted},
		{"building 3 resident at zone 2: its token's zones do not matter", creds["res3"], credential.SubjectResident, all, mon8, WrongZone},
		{"a holder in no group", creds["nobody"], credential.SubjectResident, all, mon8, WrongZone},
		{"cleaner Monday 08:00", creds["cleaner"], credential.SubjectStaff, all, mon8, Granted},
		{"cleaner Monday 07:00 (the window's start)", creds["cleaner"], credential.SubjectStaff, all, local(2026, 11, 23, 7, 0), Granted},
		{"cleaner Monday 18:00 (the window's end)", creds["cleaner"], credential.SubjectStaff, all, local(2026, 11, 23, 18, 0), OutsideSchedule},
		{"cleaner Monday 19:00", creds["cleaner"], credential.SubjectStaff, all, local(2026, 11, 23, 19, 0), OutsideSchedule},
		{"cleaner Sunday 08:00", creds["cleaner"], credential.SubjectStaff, all, local(2026, 11, 22, 8, 0), OutsideSchedule},
		{"cleaner on a closed holiday (a Thursday)", creds["cleaner"], credential.SubjectStaff, all, local(2026, 10, 1, 8, 0), Holiday},
		{"cleaner on a holiday with its own window, inside", creds["cleaner"], credential.SubjectStaff, all, local(2026, 10, 2, 10, 0), Granted},
		{"cleaner on a holiday with its own window, outside", creds["cleaner"], credential.SubjectStaff, all, local(2026, 10, 2, 8, 0), Holiday},
		{"cleaner at 08:00 Shanghai is 00:00 UTC", creds["cleaner"], credential.SubjectStaff, all, time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), Granted},
		{"night guard at 21:00", creds["guard"], credential.SubjectStaff, all, local(2026, 11, 23, 21, 0), Granted},
		{"night guard at 08:00", creds["guard"], credential.SubjectStaff, all, mon8, OutsideSchedule},
		{"cleaner and night guard: either group opens", creds["both"], credential.SubjectStaff, all, local(2026, 11, 23, 21, 0), Granted},
		{"cleaner and night guard on the holiday at night", creds["both"], credential.SubjectStaff, all, local(2026, 10, 1, 21, 0), Granted},
		{"cleaner and night guard on the holiday at 08:00", creds["both"], credential.SubjectStaff, all, local(2026, 10, 1, 8, 0), Holiday},
		{"a credential the gate has not heard of: its token's zones", uuid.New(), credential.SubjectResident, all, mon8, Granted},
		{"... without zone 2", uuid.New(), credential.SubjectResident, 1, mon8, WrongZone},
		{"a visitor keeps its own zones even if its pass is a holder", creds["nobody"], credential.SubjectVisitor, 1 << 2, mon8, Granted},
		{"a visitor without zone 2", uuid.New(), credential.SubjectVisitor, 1, mon8, WrongZone},
	}
	for _, c := range cases {
		dec := d.Decide(a.card(t, c.cred, c.subject, c.zones), c.at)
		if dec.Reason != c.want || dec.Granted != (c.want == Granted) {
			t.Errorf("%s: %s (granted %v), want %s", c.name, dec.Reason, dec.Granted, c.want)
		}
	}
	// A face is the resident's: the same groups.
	if dec := d.DecideFace(Face{Live: true, Matched: true, Resident: a.res3}, mon8); dec.Reason != WrongZone {
		t.Errorf("face of a building 3 resident: %s", dec.Reason)
	}
	if dec := d.DecideFace(Face{Live: true, Matched: true, Resident: a.cleaner}, local(2026, 11, 23, 19, 0)); dec.Reason != OutsideSchedule {
		t.Errorf("face of a cleaner at 19:00: %s", dec.Reason)
	}
	if dec := d.DecideFace(Face{Live: true, Matched: true, Resident: uuid.New()}, mon8); !dec.Granted {
		t.Errorf("face of a resident the gate has no groups for: %s", dec.Reason)
	}
	// Without rules (an older server), the token's zones alone, as before.
	d.SetState(&State{Keys: a.f.keys, Revoked: map[uuid.UUID]int64{}, Holders: holders, Policy: basePolicy(), SyncedAt: mon8})
	if dec := d.Decide(a.card(t, creds["res3"], credential.SubjectResident, all), mon8); !dec.Granted {
		t.Errorf("no rules: %s", dec.Reason)
	}
}

// Issue 16, item 3 at the gate: a lockdown covering the gate refuses every code, card and
// face (after the zone and schedule checks), ends by itself at its end on the server's
// clock (not the gate's), and never covers an exit reader.
func TestLockdown(t *testing.T) {
	a := newAccessFixture(t)
	cred := uuid.New()
	holders := map[uuid.UUID]uuid.UUID{cred: a.res2}
	start := local(2026, 11, 23, 8, 0)
	end := start.Add(30 * time.Minute)
	zone2, zone3, other := 2, 3, uuid.New()
	cases := []struct {
		name     string
		lockdown access.GateLockdown
		dir      string
		at       time.Time
		want     Reason
	}{
		{"community", access.GateLockdown{Scope: access.LockCommunity}, "in", start, LockedDown},
		{"this gate's zone", access.GateLockdown{Scope: access.LockZone, Zone: &zone2}, "both", start, LockedDown},
		{"another zone", access.GateLockdown{Scope: access.LockZone, Zone: &zone3}, "in", start, Granted},
		{"this gate", access.GateLockdown{Scope: access.LockGate, Gate: &a.gate}, "in", start, LockedDown},
		{"another gate", access.GateLockdown{Scope: access.LockGate, Gate: &other}, "in", start, Granted},
		{"an exit reader is never locked", access.GateLockdown{Scope: access.LockCommunity}, "out", start, Granted},
		{"before its end", access.GateLockdown{Scope: access.LockCommunity, EndsAt: &end}, "in", end.Add(-time.Second), LockedDown},
		{"at its end", access.GateLockdown{Scope: access.LockCommunity, EndsAt: &end}, "in", end, Granted},
	}
	for _, c := range cases {
		rules := a.rules
		c.lockdown.ID, c.lockdown.Reason = uuid.New(), "fire drill"
		rules.Lockdowns = []access.GateLockdown{c.lockdown}
		d := a.decider(t, rules, c.dir, holders)
		// The gate's estimate of the server's time is the decision time.
		st := *d.State()
		st.Clock = ServerClock{Server: c.at, At: c.at}
		d.SetState(&st)
		card := a.card(t, cred, credential.SubjectResident, 1<<2)
		if dec := d.Decide(card, c.at); dec.Reason != c.want {
			t.Errorf("%s: card %s, want %s", c.name, dec.Reason, c.want)
		}
		if dec := d.DecideFace(Face{Live: true, Matched: true, Resident: a.res2}, c.at); dec.Reason != c.want {
			t.Errorf("%s: face %s, want %s", c.name, dec.Reason, c.want)
		}
		// A manual release is not a decision of the rules: it opens under any lockdown.
		if dec := DecideRelease(c.at, c.at.Add(time.Second)); !dec.Granted {
			t.Errorf("%s: release %s", c.name, dec.Reason)
		}
	}
	// A gate clock a day ahead does not end the lockdown: its end is the server's.
	rules := a.rules
	rules.Lockdowns = []access.GateLockdown{{ID: uuid.New(), Scope: access.LockCommunity, EndsAt: &end}}
	d := a.decider(t, rules, "in", holders)
	st := *d.State()
	st.Clock = ServerClock{Server: start, At: start.Add(24 * time.Hour)} // the gate read its clock a day ahead at the sync
	d.SetState(&st)
	if dec := d.Decide(a.card(t, cred, credential.SubjectResident, 1<<2), start.Add(24*time.Hour+time.Minute)); dec.Reason != LockedDown {
		t.Errorf("gate clock ahead: %s", dec.Reason)
	}
}

// Issue 16, item 5 at the gate: past the offline limit each policy decides what it says,
// and every decision past it is marked.
func TestOfflineLimitPolicies(t *testing.T) {
	a := newAccessFixture(t)
	synced := local(2026, 11, 23, 8, 0)
	within, past := synced.Add(59*time.Minute), synced.Add(61*time.Minute)
	phone, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert, err := credential.CertifyDevice(a.f.signer, credential.Claims{CredentialID: uuid.New(), Subject: credential.SubjectResident, Zones: 1 << 2,
		NotBefore: synced.Add(-time.Hour), ExpiresAt: synced.Add(24 * time.Hour)}, &phone.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	device := func(at time.Time) string {
		p, err := credential.PresentDevice(cert, phone, at)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	code := func(at time.Time) string { return a.f.issued(t, a.f.signer, uuid.New(), 1<<2, at) }
	card := a.card(t, uuid.New(), credential.SubjectResident, 1<<2)
	type want struct{ within, code, card, device, face Reason }
	for policy, w := range map[string]want{
		access.OfflineAcceptAll:       {Granted, Granted, Granted, Granted, Granted},
		access.OfflineCardsAndDevices: {Granted, OfflineLimitReached, Granted, Granted, OfflineLimitReached},
		access.OfflineManualOnly:      {Granted, OfflineLimitReached, OfflineLimitReached, OfflineLimitReached, OfflineLimitReached},
	} {
		rules := a.rules
		rules.OfflinePolicy = policy
		d := a.decider(t, rules, "in", nil)
		st := *d.State()
		st.SyncedAt = synced
		d.SetState(&st)
		if dec := d.Decide(code(within), within); dec.Reason != w.within || dec.OfflineLimit {
			t.Errorf("%s within the limit: %s (marked %v)", policy, dec.Reason, dec.OfflineLimit)
		}
		for name, c := range map[string]struct {
			dec  Decision
			want Reason
		}{
			"code": {d.Decide(code(past), past), w.code}, "card": {d.Decide(card, past), w.card},
			"device": {d.Decide(device(past), past), w.device},
			"face":   {d.DecideFace(Face{Live: true, Matched: true, Resident: uuid.New()}, past), w.face},
		} {
			if c.dec.Reason != c.want || !c.dec.OfflineLimit {
				t.Errorf("%s past the limit, %s: %s (marked %v), want %s", policy, name, c.dec.Reason, c.dec.OfflineLimit, c.want)
			}
		}
		if dec := DecideRelease(past, past); !dec.Granted {
			t.Errorf("%s: a manual release past the limit: %s", policy, dec.Reason)
		}
	}
}
