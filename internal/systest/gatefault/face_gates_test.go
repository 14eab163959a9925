package gatefault

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/dbtest"
	"gatepass/internal/face"
)

// Issue 6, end to end at two gates with every resident step on the real mobile-api:
// notice -> consent (scope community) -> the template sealed to each gate's key and
// uploaded -> a probe is granted at gate A and at gate B -> withdrawal -> a probe is
// denied at both within 2 s, both gates acknowledge the purge, and the app's status (and
// the store's PurgeStatus) shows both confirmations.
func TestFaceAtTwoGatesThenWithdrawal(t *testing.T) {
	e := newEnv(t)
	a, b := e.onlineGates()
	e.offerFace()
	m := e.mobileAPI()
	tok := e.session(e.resident)

	gen := face.NewSynthetic(6)
	tmpl := gen.Identity()
	sealedTo := m.enrolFace(tok, e.resident, tmpl)
	sort.Strings(sealedTo)
	want := []string{a.id, b.id}
	sort.Strings(want)
	if len(sealedTo) != 2 || sealedTo[0] != want[0] || sealedTo[1] != want[1] {
		t.Fatalf("the app sealed to %v, want both gates %v", sealedTo, want)
	}
	probe := gen.Probe(tmpl, 0.7)
	start := time.Now()
	for _, g := range []*gateAgent{a, b} {
		waitFor(t, 5*time.Second, "template synced to gate "+g.id, func() bool { return faceReason(g.probe(probe)) == "granted" })
		if n := g.doorOpenings(); n != 1 {
			t.Fatalf("gate %s: door opened %d times for one granted probe", g.id, n)
		}
	}
	t.Logf("template upload -> granted at both gates: %v", time.Since(start))
	st := m.must(200, "GET", "/api/v1/face/status", tok, nil)
	for _, x := range st["gates"].([]any) {
		if x.(map[string]any)["has_template"] != true {
			t.Fatalf("status before withdrawal: %v", st["gates"])
		}
	}

	// Withdrawal: one call; then probe both gates until each refuses.
	m.must(200, "POST", "/api/v1/face/withdraw", tok, nil)
	start = time.Now()
	deniedAfter := map[string]time.Duration{}
	for len(deniedAfter) < 2 && time.Since(start) < 5*time.Second {
		for _, g := range []*gateAgent{a, b} {
			if _, done := deniedAfter[g.id]; !done && faceReason(g.probe(probe)) == "face_no_match" {
				deniedAfter[g.id] = time.Since(start)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	for name, g := range map[string]*gateAgent{"A": a, "B": b} {
		d, ok := deniedAfter[g.id]
		t.Logf("gate %s: probe denied %v after withdrawal", name, d)
		if !ok || d > 2*time.Second {
			t.Fatalf("gate %s: withdrawn face not denied within 2 s (%v, denied=%v)", g.id, d, ok)
		}
	}
	waitFor(t, 5*time.Second, "both gates acknowledged the purge", func() bool {
		return dbtest.Distinct(t, e.db.SQL(), dbtest.FacePurges, "gate_id", dbtest.Eq("community_id", e.community), dbtest.Eq("resident_id", e.resident),
			dbtest.NotNull("acked_at")) == 2
	})
	t.Logf("both purge acknowledgements recorded %v after withdrawal", time.Since(start))

	// The resident's app shows each gate's confirmation; the store agrees.
	st = m.must(200, "GET", "/api/v1/face/status", tok, nil)
	purges := st["purges"].([]any)
	if len(purges) != 2 {
		t.Fatalf("app purge status: %v", purges)
	}
	confirmed := map[string]bool{}
	for _, x := range purges {
		p := x.(map[string]any)
		if p["acked"] != true || p["acked_at"] == nil || p["reason"] != "withdrawal" {
			t.Fatalf("app purge status, gate not confirmed: %v", p)
		}
		confirmed[p["gate_id"].(string)] = true
	}
	for _, x := range st["gates"].([]any) {
		if x.(map[string]any)["has_template"] != false {
			t.Fatalf("a gate still holds the template after withdrawal: %v", st["gates"])
		}
	}
	ps, err := e.db.PurgeStatus(context.Background(), uuid.MustParse(e.community), uuid.MustParse(e.resident))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if !p.Acked || p.AckedAt == nil || !confirmed[p.Gate.String()] {
			t.Fatalf("store purge status: %+v", p)
		}
	}
	if len(ps) != 2 || !confirmed[a.id] || !confirmed[b.id] {
		t.Fatalf("purge confirmations: store %d rows, app %v", len(ps), confirmed)
	}
	// The server keeps no blob of the resident.
	if blobs := dbtest.Count(t, e.db.SQL(), dbtest.FaceTemplates, dbtest.Eq("resident_id", e.resident)); blobs != 0 {
		t.Fatalf("server blobs after withdrawal: %d", blobs)
	}
}

// Staff switch face entry off for the community: both residents' templates are purged at
// both gates (each gate acknowledges every purge), faces are denied, and QR codes work.
func TestFaceSwitchedOffForTheCommunity(t *testing.T) {
	e := newEnv(t)
	a, b := e.onlineGates()
	e.offerFace()
	keyA, keyB := e.boxKey(a.id), e.boxKey(b.id)
	gen := face.NewSynthetic(17)
	residents := []string{e.resident, e.newResident("R2")}
	var probes []face.Template
	for _, r := range residents {
		e.consentInStore(r)
		id := gen.Identity()
		e.putBlobs(r, id.Model, map[string][]byte{a.id: e.seal(id, keyA, a.id, r, e.community), b.id: e.seal(id, keyB, b.id, r, e.community)})
		probes = append(probes, gen.Probe(id, 0.7))
	}
	gates := []*gateAgent{a, b}
	for _, g := range gates {
		for _, p := range probes {
			waitFor(t, 5*time.Second, "template at gate "+g.id, func() bool { return faceReason(g.probe(p)) == "granted" })
		}
	}
	out := e.must(200, "DELETE", "/admin/v1/communities/"+e.community+"/face-operator", e.admin, nil)
	if out["residents_purged"] != 2.0 || out["gate_purges_requested"] != 4.0 {
		t.Fatalf("stop: %v", out)
	}
	for _, g := range gates {
		for _, p := range probes {
			waitFor(t, 5*time.Second, "face denied at gate "+g.id, func() bool { return faceReason(g.probe(p)) == "face_no_match" })
		}
	}
	waitFor(t, 5*time.Second, "every gate acknowledged every purge", func() bool {
		return dbtest.Count(t, e.db.SQL(), dbtest.FacePurges, dbtest.Eq("community_id", e.community), dbtest.Eq("reason", "service_ended"), dbtest.NotNull("acked_at")) == 4
	})
	for _, g := range gates {
		if got := g.check(e.token(1)); got != "granted" {
			t.Fatalf("gate %s: a valid QR after face entry was switched off: %s", g.id, got)
		}
	}
}
