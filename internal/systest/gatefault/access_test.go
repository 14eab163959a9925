package gatefault

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/credential"
	"gatepass/internal/dbtest"
	"gatepass/internal/store"
)

// Issue 16 with real server and gate-agent processes: who may enter where and when,
// enforced at the gate from what sync brought.

// phonePass is a resident's phone QR code as mobile-api mints it (the resident's QR
// credential, the community's zones, 300 s) valid from from.
func (e *env) phonePass(resident string, from time.Time) string {
	e.t.Helper()
	ctx := context.Background()
	qrCred, err := e.db.EnsureQRCredential(ctx, uuid.MustParse(e.community), uuid.MustParse(resident))
	if err != nil {
		e.t.Fatal(err)
	}
	s, err := e.db.Signer(ctx, uuid.MustParse(e.community), e.sealer)
	if err != nil {
		e.t.Fatal(err)
	}
	text, err := credential.IssueCode(s, qrCred.ID, credential.SubjectResident, uint64(qrCred.Zones),
		credential.Validity{NotBefore: from, ExpiresAt: from.Add(300 * time.Second)})
	if err != nil {
		e.t.Fatal(err)
	}
	return text
}

// zones names zones of the env's community.
func (e *env) zones(names map[int]string) {
	e.t.Helper()
	for z, name := range names {
		e.must(200, "PUT", "/admin/v1/communities/"+e.community+"/zones/"+strconv.Itoa(z), e.admin, map[string]any{"name": name})
	}
}

// resident adds a resident to a new unit of building and returns their id.
func (e *env) residentOf(building, unit string) string {
	e.t.Helper()
	base := "/admin/v1/communities/" + e.community
	u := e.must(201, "POST", base+"/units", e.admin, map[string]any{"building_id": building, "label": unit})["id"].(string)
	return e.must(201, "POST", base+"/residents", e.admin, map[string]any{"name": "R " + unit, "unit_id": u, "role": "owner"})["id"].(string)
}

// waitReason waits until the gate decides text with reason (POST /check, which records
// nothing) and returns how long that took.
func (g *gateAgent) waitReason(limit time.Duration, text, reason string) time.Duration {
	g.e.t.Helper()
	start := time.Now()
	waitFor(g.e.t, limit, "reason "+reason, func() bool { return g.checkReason(text) == reason })
	return time.Since(start)
}

// restartAt restarts the agent with its clock set so that it reads at (--clock-offset).
func (g *gateAgent) restartAt(base []string, at time.Time) {
	g.e.t.Helper()
	g.kill()
	g.args = append(append([]string{}, base...), "--clock-offset", time.Until(at).Round(time.Second).String())
	g.start()
}

// Item 1 and 2: a resident of building 3 is refused at building 1's lobby (wrong_zone)
// and granted at the perimeter, with no staff action but giving the buildings their
// zones; a resident of building 1 opens its lobby.
func TestResidentsOpenTheirOwnBuilding(t *testing.T) {
	e := newEnv(t)
	e.zones(map[int]string{1: "Building 1 lobby", 3: "Building 3 lobby"})
	base := "/admin/v1/communities/" + e.community
	b1 := e.must(201, "POST", base+"/buildings", e.admin, map[string]any{"name": "1号楼", "zones": []int{1}})["id"].(string)
	b3 := e.must(201, "POST", base+"/buildings", e.admin, map[string]any{"name": "3号楼", "zones": []int{3}})["id"].(string)
	r1, r3 := e.residentOf(b1, "1-1-101"), e.residentOf(b3, "3-1-502")
	lobby1, perimeter := e.newGateAt(1, "in"), e.newGateAt(0, "in")
	lobby1.start()
	perimeter.start()
	lobby1.waitOnline(true)
	perimeter.waitOnline(true)
	_, card3 := e.cardAt("/admin/v1/residents/"+r3+"/cards", 30)
	_, card1 := e.cardAt("/admin/v1/residents/"+r1+"/cards", 30)
	// The cards' holders and groups reach the gates with them.
	lobby1.waitReason(5*time.Second, card3, "wrong_zone")
	if o := lobby1.scan(card3); o.Result != "denied" || o.Reason != "wrong_zone" {
		t.Fatalf("building 3's resident at building 1's lobby: %+v", o)
	}
	perimeter.waitReason(5*time.Second, card3, "ok")
	if o := perimeter.scan(card3); o.Result != "granted" {
		t.Fatalf("building 3's resident at the perimeter: %+v", o)
	}
	if o := lobby1.scan(card1); o.Result != "granted" {
		t.Fatalf("building 1's resident at its lobby: %+v", o)
	}
	// The same for the phone pass of the building 3 resident.
	pass := e.phonePass(r3, time.Now())
	lobby1.waitReason(5*time.Second, pass, "wrong_zone")
	// Staff widen building 3's resident to building 1 (a visit rota): the card printed
	// before opens the lobby now, without a reprint.
	grp := e.must(201, "POST", base+"/access-groups", e.admin, map[string]any{"name": "Building 1 visitors", "zones": []int{1}})["id"].(string)
	e.must(200, "PUT", base+"/access-policies/resident/"+r3, e.admin, map[string]any{"group_ids": []string{grp}, "inherit": true})
	if took := lobby1.waitReason(5*time.Second, card3, "ok"); took > 2*time.Second {
		t.Fatalf("a policy change took %v to reach the gate", took)
	}
}

// Item 1 and 2: a cleaner's card (保洁, Mon–Sat 07:00–18:00, lobby and perimeter, closed
// on a holiday) opens at 08:00 and is refused at 19:00 and on the holiday, by the gate's
// clock (set with --clock-offset); a schedule change reaches the gate within 2 s.
func TestCleanerCardFollowsItsSchedule(t *testing.T) {
	e := newEnv(t)
	e.zones(map[int]string{1: "Building 1 lobby"})
	base := "/admin/v1/communities/" + e.community
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	// The next working day (Mon–Sat) from tomorrow, and the one after it: the holiday.
	nextWorkday := func(after time.Time) time.Time {
		d := after.In(shanghai)
		for {
			d = time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, shanghai)
			if d.Weekday() != time.Sunday {
				return d
			}
		}
	}
	work := nextWorkday(time.Now())
	holiday := nextWorkday(work)
	at := func(day time.Time, h int) time.Time { return day.Add(time.Duration(h) * time.Hour) }
	day := []map[string]string{{"start": "07:00", "end": "18:00"}}
	schedule := map[string]any{"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day}
	group := map[string]any{"name": "保洁", "zones": []int{0, 1}, "schedule": schedule,
		"holidays": []any{map[string]any{"date": holiday.Format(time.DateOnly), "name": "节日"}}}
	grp := e.must(201, "POST", base+"/access-groups", e.admin, group)["id"].(string)
	ph := e.must(201, "POST", base+"/passholders", e.admin, map[string]any{"name": "王阿姨", "kind": "cleaner", "group_id": grp})["id"].(string)
	_, card := e.cardAt(base+"/passholders/"+ph+"/cards", 30)

	g := e.newGateAt(1, "in")
	plain := g.args
	for _, step := range []struct {
		name   string
		at     time.Time
		reason string
	}{
		{"08:00 on a working day", at(work, 8), "ok"},
		{"19:00 on a working day", at(work, 19), "outside_schedule"},
		{"08:00 on the holiday", at(holiday, 8), "holiday"},
	} {
		g.restartAt(plain, step.at)
		g.waitOnline(true)
		g.waitReason(10*time.Second, card, step.reason) // the first sync after the restart
		if o := g.scan(card); o.Reason != step.reason {
			t.Fatalf("%s: %+v, want %s", step.name, o, step.reason)
		}
	}
	// At 19:00 again, staff extend the evening: the gate learns it within 2 s.
	g.restartAt(plain, at(work, 19))
	g.waitOnline(true)
	g.waitReason(10*time.Second, card, "outside_schedule")
	late := []map[string]string{{"start": "07:00", "end": "20:00"}}
	group["schedule"] = map[string]any{"mon": late, "tue": late, "wed": late, "thu": late, "fri": late, "sat": late}
	e.must(200, "PUT", base+"/access-groups/"+grp, e.admin, group)
	if took := g.waitReason(5*time.Second, card, "ok"); took > 2*time.Second {
		t.Fatalf("the schedule change took %v to reach the gate", took)
	}
	if o := g.scan(card); o.Result != "granted" {
		t.Fatalf("after the change: %+v", o)
	}
}

// Item 3: a lockdown of a gate denies a valid card and a phone pass within 2 s; a
// staff manual release still opens; the lockdown's automatic end restores access; an
// exit reader is never locked; lifting is one action. Every step is audited. (The API's
// shortest automatic end is a minute; this one, made in the store, ends in 12 s.)
func TestLockdownAndItsAutomaticEnd(t *testing.T) {
	e := newEnv(t)
	g := e.newGate()
	exit := e.newGateAt(0, "out")
	g.start()
	exit.start()
	g.waitOnline(true)
	exit.waitOnline(true)
	_, card := e.issueCard(30)
	pass := func() string { return e.phonePass(e.resident, time.Now()) }
	g.waitReason(5*time.Second, card, "ok")
	if o := g.scan(pass()); o.Result != "granted" {
		t.Fatalf("phone pass before: %+v", o)
	}
	base := "/admin/v1/communities/" + e.community
	// The community is locked down, ending by itself in 12 s.
	end := 12 * time.Second
	var lockdown access.Lockdown
	err := e.db.InTx(context.Background(), "test", func(tx *store.Tx) (err error) {
		lockdown, err = tx.StartLockdown(context.Background(), access.Lockdown{Community: uuid.MustParse(e.community), Scope: access.LockCommunity,
			Reason: "intruder reported"}, uuid.New(), &end)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	if took := g.waitReason(5*time.Second, card, "lockdown"); took > 2*time.Second {
		t.Fatalf("the lockdown took %v to reach the gate", took)
	}
	if o := g.scan(card); o.Result != "denied" || o.Reason != "lockdown" {
		t.Fatalf("card under lockdown: %+v", o)
	}
	if o := g.scan(pass()); o.Result != "denied" || o.Reason != "lockdown" {
		t.Fatalf("phone pass under lockdown: %+v", o)
	}
	if r := exit.checkReason(card); r != "ok" {
		t.Fatalf("an exit reader under lockdown: %s", r)
	}
	if s := g.localStatus(); s["lockdown"] == nil {
		t.Fatalf("status without the lockdown: %v", s)
	}
	// A guard's manual release still opens the door.
	before := g.doorOpenings()
	e.must(201, "POST", "/admin/v1/gates/"+g.id+"/unlock", e.guard, map[string]any{"reason": "fire brigade"})
	waitFor(t, 5*time.Second, "manual release opens", func() bool { return g.doorOpenings() == before+1 })
	// The automatic end: the gate ends it by itself at its end (the server's time).
	ends := *lockdown.EndsAt
	g.waitReason(time.Until(ends)+10*time.Second, card, "ok")
	if time.Now().Before(ends) {
		t.Fatalf("the lockdown ended before its end %v", ends)
	}
	if o := g.scan(pass()); o.Result != "granted" {
		t.Fatalf("phone pass after the end: %+v", o)
	}
	waitFor(t, 15*time.Second, "the end recorded", func() bool {
		return dbtest.Count(t, e.db.SQL(), dbtest.AuditLog, dbtest.Eq("community_id", e.community), dbtest.Eq("action", "lockdown.end")) == 1
	})
	if n := dbtest.Count(t, e.db.SQL(), dbtest.AuditLog, dbtest.Eq("community_id", e.community), dbtest.Eq("action", "lockdown.start")); n != 1 {
		t.Fatalf("%d lockdown.start audit rows", n)
	}
	t.Logf("lockdown held %v", time.Since(started).Round(time.Second))

	// The guard on duty locks this gate through the API; lifting is one action, and
	// reaches the gate as fast.
	l := e.must(201, "POST", base+"/lockdowns", e.guard, map[string]any{"scope": "gate", "gate_id": g.id, "reason": "drill", "duration_minutes": 30})
	g.waitReason(5*time.Second, card, "lockdown")
	e.must(200, "POST", base+"/lockdowns/"+l["id"].(string)+"/lift", e.guard, nil)
	if took := g.waitReason(5*time.Second, card, "ok"); took > 2*time.Second {
		t.Fatalf("the lift took %v to reach the gate", took)
	}
}

// Item 3: a gate offline when a lockdown starts applies it as soon as it reconnects.
// Item 5: a gate that has not synced for longer than its community's offline limit
// follows the chosen policy, marks its events offline_limit and says so in its status
// and metrics. Its clock is moved on with --clock-offset instead of waiting.
func TestOfflineGatePastItsLimit(t *testing.T) {
	e := newEnv(t)
	base := "/admin/v1/communities/" + e.community
	e.must(200, "PUT", base+"/access-settings", e.admin, map[string]any{"offline_limit_seconds": 60, "offline_policy": "cards_and_device_passes_only"})
	g := e.newGate()
	plain := g.args
	g.start()
	g.waitOnline(true)
	_, card := e.issueCard(30)
	g.waitReason(5*time.Second, card, "ok")

	// An offline gate applies a lockdown as it reconnects: its server goes away; staff
	// lock the community down through another server copy; the gate's server comes back.
	e.killServer()
	g.waitOnline(false)
	var l string
	e.onAnotherServer(func() {
		l = e.must(201, "POST", base+"/lockdowns", e.admin, map[string]any{"scope": "community", "reason": "storm"})["id"].(string)
	})
	time.Sleep(time.Second)
	if r := g.checkReason(card); r != "ok" {
		t.Fatalf("offline, before it reconnects: %s", r)
	}
	e.startServer()
	g.waitReason(20*time.Second, card, "lockdown")
	e.must(200, "POST", base+"/lockdowns/"+l+"/lift", e.admin, nil)
	g.waitReason(5*time.Second, card, "ok")

	// Past the limit under cards_and_device_passes_only: the card opens, marked; the
	// server-minted phone code does not.
	e.killServer()
	skew := 90 * time.Second
	g.restartAt(plain, time.Now().Add(skew))
	if o := g.scan(card); o.Result != "granted" {
		t.Fatalf("card past the limit: %+v", o)
	}
	if o := g.scan(e.phonePass(e.resident, time.Now().Add(skew))); o.Result != "denied" || o.Reason != "offline_limit" {
		t.Fatalf("phone pass past the limit: %+v", o)
	}
	if ol, _ := g.localStatus()["offline_limit"].(map[string]any); ol == nil || ol["past"] != true {
		t.Fatalf("status: %v", g.localStatus())
	}
	if m := g.metrics(); !strings.Contains(m, "gatepass_gate_offline_limit_exceeded 1") {
		t.Fatalf("metrics:\n%s", m)
	}
	// Back online: within the limit again; staff choose manual_release_only.
	e.startServer()
	g.waitOnline(true)
	e.must(200, "PUT", base+"/access-settings", e.admin, map[string]any{"offline_policy": "manual_release_only"})
	waitFor(t, 5*time.Second, "the policy synced", func() bool {
		ol, _ := g.localStatus()["offline_limit"].(map[string]any)
		return ol != nil && ol["policy"] == "manual_release_only" && ol["past"] == false
	})
	g.waitDrained()
	marked := dbtest.Count(t, e.db.SQL(), dbtest.EntryEvents, dbtest.Eq("gate_id", g.id), dbtest.Eq("offline_limit", true))
	if marked != 2 {
		t.Fatalf("%d events marked offline_limit on the server, want 2", marked)
	}
	e.killServer()
	g.restartAt(plain, time.Now().Add(2*skew))
	time.Sleep(6 * time.Second) // past the card's repeat interval
	if o := g.scan(card); o.Result != "denied" || o.Reason != "offline_limit" {
		t.Fatalf("card past the limit under manual_release_only: %+v", o)
	}
}

// onAnotherServer runs fn with the env's requests going to a second server process on
// the same database (the gate's server stays as it is).
func (e *env) onAnotherServer(fn func()) {
	e.t.Helper()
	addr, base := e.addr, e.base
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	other := ln.Addr().String()
	ln.Close()
	cmd := e.serverCmd("serve", "--no-migrate", "--listen", other)
	cmd.Stderr = &prefixWriter{t: e.t, prefix: "server 2: "}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	e.addr, e.base = other, "http://"+other
	defer func() { e.addr, e.base = addr, base }()
	waitFor(e.t, 15*time.Second, "server 2 up", func() bool {
		resp, err := http.Get(e.base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
	fn()
}

// metrics reads the agent's local GET /metrics.
func (g *gateAgent) metrics() string {
	g.e.t.Helper()
	resp, err := http.Get("http://" + g.local + "/metrics")
	if err != nil {
		g.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return string(raw)
}
