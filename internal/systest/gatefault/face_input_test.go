package gatefault

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/face"
)

// Blobs the server relays but the gate must not trust: a template sealed for another
// community, one copied from another gate, and a replacement that does not open. Each is
// refused by the gate's binding check (face.Open) and never matches; a refused
// replacement also drops the template it replaces, so memory holds what the disk holds.
func TestFaceBlobsForAnotherCommunityOrGateNeverMatch(t *testing.T) {
	e := newEnv(t)
	a, b := e.onlineGates()
	e.offerFace()
	r1, r2, r3 := e.resident, e.newResident("R2"), e.newResident("R3")
	for _, r := range []string{r1, r2, r3} {
		e.consentInStore(r)
	}
	keyA, keyB := e.boxKey(a.id), e.boxKey(b.id)
	other := uuid.NewString() // a community these gates are not in
	gen := face.NewSynthetic(11)
	id1, id2, id3 := gen.Identity(), gen.Identity(), gen.Identity()
	model := id1.Model
	valid := func(tmpl face.Template, r string) map[string][]byte {
		return map[string][]byte{a.id: e.seal(tmpl, keyA, a.id, r, e.community), b.id: e.seal(tmpl, keyB, b.id, r, e.community)}
	}
	// R2's blobs: for A, sealed to A's key but bound to another community; for B, the blob
	// made for gate A (right community, wrong gate). Uploaded before R1's valid ones, so
	// once R1 matches at a gate that gate has processed R2's too.
	e.putBlobs(r2, model, map[string][]byte{a.id: e.seal(id2, keyA, a.id, r2, other), b.id: e.seal(id2, keyA, a.id, r2, e.community)})
	e.putBlobs(r1, model, valid(id1, r1))
	for _, g := range []*gateAgent{a, b} {
		waitFor(t, 5*time.Second, "R1's template at gate "+g.id, func() bool { return faceReason(g.probe(gen.Probe(id1, 0.7))) == "granted" })
		if got := faceReason(g.probe(gen.Probe(id2, 0.7))); got != "face_no_match" {
			t.Fatalf("gate %s: a blob not sealed for it matched: %s", g.id, got)
		}
	}
	// R1 replaces the template with blobs bound to another community; R3's valid upload
	// after it shows when each gate has processed the replacement.
	e.putBlobs(r1, model, map[string][]byte{a.id: e.seal(id1, keyA, a.id, r1, other), b.id: e.seal(id1, keyB, b.id, r1, other)})
	e.putBlobs(r3, model, valid(id3, r3))
	for _, g := range []*gateAgent{a, b} {
		waitFor(t, 5*time.Second, "R3's template at gate "+g.id, func() bool { return faceReason(g.probe(gen.Probe(id3, 0.7))) == "granted" })
		if got := faceReason(g.probe(gen.Probe(id1, 0.7))); got != "face_no_match" {
			t.Fatalf("gate %s: the template replaced by a refused blob still matches: %s", g.id, got)
		}
	}
	// After a restart (the disk only) the same holds.
	a.kill()
	a.start()
	if got := faceReason(a.probe(gen.Probe(id1, 0.7))); got != "face_no_match" {
		t.Fatalf("after restart, replaced template: %s", got)
	}
	if got := faceReason(a.probe(gen.Probe(id3, 0.7))); got != "granted" {
		t.Fatalf("after restart, R3: %s", got)
	}
	badProbes(t, a, id3, gen)
}

// badProbes is the POST /face bad input table at a running gate: each malformed probe
// gets its 4xx (a denied probe its typed reason), opens nothing and stores no event, and
// the agent keeps running; a valid probe of tmpl is granted afterwards.
func badProbes(t *testing.T, g *gateAgent, tmpl face.Template, gen *face.Synthetic) {
	num := func(n int, v string) string { return "[" + strings.TrimSuffix(strings.Repeat(v+",", n), ",") + "]" }
	valid, _ := json.Marshal(gen.Probe(tmpl, 0.7).Embedding)
	body := func(model, emb string) string {
		return `{"model":"` + model + `","embedding":` + emb + `,"liveness":true}`
	}
	withOne := func(v string) string { // a valid probe with value 7 replaced by v
		var f []json.RawMessage
		_ = json.Unmarshal(valid, &f)
		f[7] = json.RawMessage(v)
		out, _ := json.Marshal(f)
		return body("synthetic-512", string(out))
	}
	cases := []struct {
		name, body string
		code       int
		want       string // error code, or the denial's reason for 200
	}{
		{"wrong dimension", body("synthetic-512", num(511, "0.1")), 422, "invalid_probe"},
		{"dimension of another model", body("synthetic-512", num(128, "0.1")), 422, "invalid_probe"},
		{"empty embedding", body("synthetic-512", "[]"), 422, "invalid_probe"},
		{"zero vector", body("synthetic-512", num(512, "0")), 422, "invalid_probe"},
		{"unknown model", body("vendor-x-512", num(512, "0.1")), 422, "invalid_probe"},
		{"empty model", body("", num(512, "0.1")), 422, "invalid_probe"},
		{"missing embedding", `{"model":"synthetic-512","liveness":true}`, 422, "invalid_probe"},
		{"missing liveness", `{"model":"synthetic-512","embedding":` + string(valid) + `}`, 422, "invalid_probe"},
		{"missing model", `{"embedding":` + string(valid) + `,"liveness":true}`, 422, "invalid_probe"},
		{"NaN as a string", withOne(`"NaN"`), 400, "malformed_json"},
		{"Infinity as a string", withOne(`"Infinity"`), 400, "malformed_json"},
		{"bare NaN", withOne(`NaN`), 400, "malformed_json"},
		{"1e39 overflows float32 to +Inf", withOne(`1e39`), 400, "malformed_json"},
		{"-1e39 overflows float32 to -Inf", withOne(`-1e39`), 400, "malformed_json"},
		{"1e400 overflows float64", withOne(`1e400`), 400, "malformed_json"},
		{"embedding not an array", body("synthetic-512", `"0.1,0.2"`), 400, "malformed_json"},
		{"liveness a string", `{"model":"synthetic-512","embedding":` + string(valid) + `,"liveness":"yes"}`, 400, "malformed_json"},
		{"unknown field", `{"model":"synthetic-512","embedding":` + string(valid) + `,"liveness":true,"community_id":"` + uuid.NewString() + `"}`, 400, "malformed_json"},
		{"trailing data", body("synthetic-512", string(valid)) + `{}`, 400, "malformed_json"},
		{"not JSON", "model=synthetic-512", 400, "malformed_json"},
		{"empty body", "", 400, "malformed_json"},
		{"JSON array", "[]", 400, "malformed_json"},
		{"oversize body", body("synthetic-512", "["+strings.Repeat(" ", face.MaxProbeBody)+"0.1]"), 413, "body_too_large"},
		// Valid input that must be denied, recorded as a face denial.
		{"largest finite float32 values", body("synthetic-512", num(512, "3.4028235e38")), 200, "face_no_match"},
		{"model with no templates", body("mobilefacenet-128", num(128, "0.1")), 200, "face_no_match"},
		{"liveness false", `{"model":"synthetic-512","embedding":` + string(valid) + `,"liveness":false}`, 200, "no_liveness"},
	}
	// Earlier probes may still be on their way to the server; count from a drained queue.
	g.waitDrained()
	doors := g.doorOpenings()
	before, _ := g.e.serverEvents(g.id)
	denials := 0
	for _, c := range cases {
		code, out := g.postFace(c.body)
		got := faceReason(out)
		if code != 200 {
			got, _ = out["error"].(map[string]any)["code"].(string)
		} else {
			denials++
		}
		if code != c.code || got != c.want {
			t.Errorf("%s: %d %v, want %d %s", c.name, code, out, c.code, c.want)
		}
		if !g.alive() {
			t.Fatalf("%s: the agent died", c.name)
		}
	}
	if got := faceReason(g.probe(gen.Probe(tmpl, 0.7))); got != "granted" {
		t.Fatalf("valid probe after the bad input table: %s", got)
	}
	if n := g.doorOpenings(); n != doors+1 {
		t.Fatalf("door opened %d times during the table and one valid probe, want 1", n-doors)
	}
	// Only the 200s are events: malformed input is not an entry attempt to record.
	waitFor(t, 10*time.Second, "the table's events uploaded", func() bool { rows, _ := g.e.serverEvents(g.id); return rows >= before+denials+1 })
	time.Sleep(300 * time.Millisecond)
	if rows, _ := g.e.serverEvents(g.id); rows != before+denials+1 {
		t.Fatalf("events: %d new, want %d (the typed denials and the grant)", rows-before, denials+1)
	}
}
