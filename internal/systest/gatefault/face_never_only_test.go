package gatefault

import (
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatepass/internal/dbtest"
	"gatepass/internal/face"
	"gatepass/internal/qr"
)

// Face entry is never the only way (issue 6, item 2). Through every face state a
// community and a gate can be in (face not offered; offered with nobody enrolled; the
// gate holding a template; after a withdrawal and its purge), and with the gate's
// stricter stale policy, a fresh QR code from mobile-api is granted at the gate for a
// resident who consented and for one who never did; the one who never did also gets in
// with a printed card and by a guard's manual release, and face denials do not lock
// anyone out. There is no gate setting that turns QR, cards or release off: such keys
// are refused and change nothing, and gate-agent has no flag for it.
//
// The gate settings (PUT /admin/v1/gates/{id}/settings, access.GateSettings) have no face
// field at all, and gate-agent's matching threshold is face.DefaultThreshold, not a flag:
// the face states below are the only face "modes" there are.
func TestQRWhateverTheFaceSettings(t *testing.T) {
	e := newEnv(t)
	g := e.newGate()
	g.start()
	g.waitOnline(true)
	m := e.mobileAPI()
	fan, none := e.resident, e.newResident("No Face")
	fanTok, noneTok := e.session(fan), e.session(none)
	qrGranted := func(state string) {
		t.Helper()
		for who, tok := range map[string]string{"consenting resident": fanTok, "resident without consent": noneTok} {
			pass := m.must(200, "GET", "/api/v1/pass", tok, nil)
			if o := g.scan(pass["payload"].(string)); o.Result != "granted" {
				t.Fatalf("%s: QR of the %s: %+v", state, who, o)
			}
		}
	}

	qrGranted("face not offered")
	if st := m.must(200, "GET", "/api/v1/face/status", noneTok, nil); st["offered"] != false {
		t.Fatalf("status before face is offered: %v", st)
	}

	e.offerFace()
	qrGranted("face offered, nobody enrolled")

	gen := face.NewSynthetic(21)
	tmpl := gen.Identity()
	m.enrolFace(fanTok, fan, tmpl)
	waitFor(t, 5*time.Second, "the template at the gate", func() bool { return faceReason(g.probe(gen.Probe(tmpl, 0.7))) == "granted" })
	// Face denials of the resident without consent (no template anywhere) lock nothing.
	stranger := gen.Identity()
	for i := 0; i < 5; i++ {
		if got := faceReason(g.probe(gen.Probe(stranger, 0.7))); got != "face_no_match" {
			t.Fatalf("face of a resident without consent: %s", got)
		}
	}
	qrGranted("the gate holds a template")
	if st := m.must(200, "GET", "/api/v1/face/status", noneTok, nil); st["offered"] != true || len(st["consents"].([]any)) != 0 {
		t.Fatalf("status of the resident without consent: %v", st)
	}

	// The resident without consent: a printed card and a manual release work too.
	card := e.printCard(none)
	waitFor(t, 10*time.Second, "the card's key at the gate", func() bool { return g.scan(card).Result == "granted" })
	doors := g.doorOpenings()
	e.must(201, "POST", "/admin/v1/gates/"+g.id+"/unlock", e.guard, map[string]any{"reason": "resident without phone"})
	waitFor(t, 2*time.Second, "the door opened by manual release", func() bool { return g.doorOpenings() == doors+1 })

	// The strictest stale policy refuses QR only while the gate's data is stale, never
	// because of face: online, QR still opens.
	// The skew in the same change shows when the gate has applied it: a code valid from
	// 60 s ahead passes the check only with the wider skew.
	ahead := e.tokenAt(e.community, 1, time.Now().Add(60*time.Second))
	if got := g.check(ahead); got != "denied" {
		t.Fatalf("a code valid from 60 s ahead with the default skew: %s", got)
	}
	e.must(200, "PUT", "/admin/v1/gates/"+g.id+"/settings", e.admin, map[string]any{"stale_policy": "deny", "skew_seconds": 120})
	waitFor(t, 5*time.Second, "the settings applied at the gate", func() bool { return g.check(ahead) == "granted" })
	qrGranted("stale_policy deny, gate online")

	// No setting switches QR, cards or release off, or makes face the only way.
	var before string
	settings := func() string {
		var s string
		dbtest.Get(t, e.db.SQL(), &s, dbtest.Gates, "settings", dbtest.Eq("id", g.id))
		return s
	}
	before = settings()
	for _, body := range []map[string]any{{"qr": false}, {"qr_enabled": false}, {"disable_qr": true}, {"cards": false},
		{"manual_release": false}, {"face_only": true}, {"mode": "face"}, {"face_threshold": 0.1}, {"methods": []string{"face"}}} {
		code, out := e.do("PUT", "/admin/v1/gates/"+g.id+"/settings", e.admin, body)
		if code != 400 || !strings.Contains(string(out["_raw"].([]byte)), "unknown_field") {
			t.Fatalf("PUT settings %v = %d %s, want 400 unknown_field", body, code, out["_raw"])
		}
	}
	for _, body := range []map[string]any{{"stale_policy": "face_only"}, {"stale_policy": "qr_off"}} {
		if code, out := e.do("PUT", "/admin/v1/gates/"+g.id+"/settings", e.admin, body); code != 422 {
			t.Fatalf("PUT settings %v = %d %s, want 422", body, code, out["_raw"])
		}
	}
	if after := settings(); after != before {
		t.Fatalf("refused settings changed the gate: %s -> %s", before, after)
	}
	for _, flag := range []string{"--no-qr", "--qr=false", "--face-only", "--no-cards", "--no-release", "--face-threshold=0.1"} {
		out, err := exec.Command(e.agentBin, "run", "--state", filepath.Join(t.TempDir(), "none"), flag).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "flag provided but not defined") {
			t.Fatalf("gate-agent run %s: %v %s", flag, err, out)
		}
	}

	// Withdrawal and its purge leave QR as it was.
	m.must(200, "POST", "/api/v1/face/withdraw", fanTok, nil)
	waitFor(t, 5*time.Second, "the purge acknowledged", func() bool {
		return dbtest.Count(t, e.db.SQL(), dbtest.FacePurges, dbtest.Eq("gate_id", g.id), dbtest.NotNull("acked_at")) == 1
	})
	qrGranted("after withdrawal and purge")
	if got := faceReason(g.probe(gen.Probe(tmpl, 0.7))); got != "face_no_match" {
		t.Fatalf("withdrawn face: %s", got)
	}
}

// printCard issues a printed card for a resident and reads its QR back from the PNG, as
// a scanner would.
func (e *env) printCard(resident string) string {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.base+"/admin/v1/residents/"+resident+"/cards", nil)
	req.Header.Set("Authorization", "Bearer "+e.guard)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		e.t.Fatalf("issue card: %v %v", err, resp)
	}
	png, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text, err := qr.Decode(png)
	if err != nil {
		e.t.Fatal(err)
	}
	return text
}

// check asks the agent's POST /check for a decision without acting on it.
func (g *gateAgent) check(text string) string {
	g.e.t.Helper()
	result, _ := g.checkDecision(text)
	return result
}
