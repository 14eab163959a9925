package gatefault

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/dbtest"
	"gatepass/internal/face"
	"gatepass/internal/store"
)

// Face entry end to end: a consenting resident's template reaches the gate sealed, a
// probe of them opens the door with the score recorded; withdrawal purges the template
// from the gate (acknowledged) and the next probe is refused.
func TestFaceEntryAndPurgeAtTheGate(t *testing.T) {
	e := newEnv(t)
	g := e.newGate()
	g.start()
	g.waitOnline(true)
	ctx := context.Background()
	c, resident, gate := uuid.MustParse(e.community), uuid.MustParse(e.resident), uuid.MustParse(g.id)
	var boxKey []byte
	if dbtest.Get(t, e.db.SQL(), &boxKey, dbtest.Gates, "box_public_key", dbtest.Eq("id", g.id)); len(boxKey) != 32 {
		t.Fatalf("box key after enrollment: %x", boxKey)
	}
	gen := face.NewSynthetic(42)
	tmpl := gen.Identity()
	sealed, err := face.Seal(tmpl, boxKey, face.Binding{Community: c, Gate: gate, Resident: resident, Model: tmpl.Model})
	if err != nil {
		t.Fatal(err)
	}
	dbtest.FaceConsent(t, e.db, c, resident, gate, "zh", tmpl.Model, sealed)
	probe := func(emb []float32, live bool) (int, map[string]any) {
		body, _ := json.Marshal(map[string]any{"model": tmpl.Model, "embedding": emb, "liveness": live})
		resp, err := http.Post("http://"+g.local+"/face", "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out := map[string]any{}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	same := gen.Probe(tmpl, 0.7).Embedding
	waitFor(t, 5*time.Second, "template synced: a probe of the resident opens", func() bool {
		_, out := probe(same, true)
		return out["result"] == "granted"
	})
	if n := g.doorOpenings(); n != 1 {
		t.Fatalf("door opened %d times", n)
	}
	if code, out := probe(same, false); code != 200 || out["reason"] != "no_liveness" {
		t.Fatalf("no liveness: %d %v", code, out)
	}
	stranger := gen.Identity()
	if _, out := probe(stranger.Embedding, true); out["reason"] != "face_no_match" {
		t.Fatalf("stranger: %v", out)
	}
	for _, bad := range []string{`{"model":"synthetic-512","embedding":[1,2],"liveness":true}`, `{"model":"x","embedding":[],"liveness":true,"extra":1}`, `not json`} {
		resp, err := http.Post("http://"+g.local+"/face", "application/json", strings.NewReader(bad))
		if err != nil || (resp.StatusCode != 400 && resp.StatusCode != 422) {
			t.Fatalf("bad probe %q: %v %v", bad, err, resp.StatusCode)
		}
		resp.Body.Close()
	}
	// Withdrawal: the purge reaches the gate, which deletes, then acknowledges.
	err = e.db.InTx(ctx, "resident:"+e.resident, func(tx *store.Tx) error {
		_, err := tx.WithdrawConsent(ctx, c, resident, resident)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitFor(t, 5*time.Second, "purge acknowledged by the gate", func() bool {
		return dbtest.Count(t, e.db.SQL(), dbtest.FacePurges, dbtest.Eq("gate_id", g.id), dbtest.NotNull("acked_at")) == 1
	})
	t.Logf("purge acknowledged %v after withdrawal", time.Since(start))
	if _, out := probe(same, true); out["reason"] != "face_no_match" {
		t.Fatalf("after withdrawal: %v", out)
	}
	// The events reached the server with resident and score; the retention clock moved.
	waitFor(t, 10*time.Second, "face events uploaded", func() bool { rows, _ := e.serverEvents(g.id); return rows >= 4 })
	if granted := dbtest.Count(t, e.db.SQL(), dbtest.EntryEvents, dbtest.Eq("gate_id", g.id), dbtest.Eq("method", "face"), dbtest.Eq("result", "granted"),
		dbtest.Eq("resident_id", e.resident), dbtest.Gt("score", 0.6)); granted != 1 {
		t.Fatalf("granted face events %d", granted)
	}
	// The gate's disk holds no template any more: a restarted agent still refuses.
	g.kill()
	g.start()
	if _, out := probe(same, true); out["reason"] != "face_no_match" {
		t.Fatalf("after restart: %v", out)
	}
}
