package gatefault

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/apitest"
	"gatepass/internal/consent"
	"gatepass/internal/dbtest"
	"gatepass/internal/face"
	"gatepass/internal/store"
)

var (
	mobileOnce sync.Once
	mobileErr  error
)

// mobileAPI starts the mobile-api binary on this env's database and returns a copy of the
// env whose do/must talk to it: the resident's side of face entry (notice, consent,
// sealed templates, withdrawal, status) and the QR pass, through the real endpoints.
func (e *env) mobileAPI() *env {
	e.t.Helper()
	binaries(e.t) // sets binDir
	bin := filepath.Join(binDir, "mobile-api")
	mobileOnce.Do(func() {
		args := []string{"build", "-o", bin}
		if os.Getenv("GATEFAULT_RACE") == "1" {
			args = append(args, "-race")
		}
		root, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			mobileErr = err
			return
		}
		cmd := exec.Command("go", append(args, "./mobile-api")...)
		cmd.Dir = filepath.Dir(strings.TrimSpace(string(root)))
		if out, err := cmd.CombinedOutput(); err != nil {
			mobileErr = fmt.Errorf("build mobile-api: %v: %s", err, out)
		}
	})
	if mobileErr != nil {
		e.t.Fatal(mobileErr)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "serve", "--no-migrate", "--listen", addr)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbtest.URL(e.t), "MASTER_KEY_FILE="+e.keyFile, "LOG_LEVEL=warn")
	cmd.Stderr = &prefixWriter{t: e.t, prefix: "mobile-api: "}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	m := *e
	m.base = "http://" + addr
	waitFor(e.t, 15*time.Second, "mobile-api up", func() bool {
		resp, err := http.Get(m.base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
	return &m
}

// session signs a resident in as a completed passkey sign-in would: a passkey row and a
// user-verified session (a fresh step-up). The WebAuthn ceremony itself is tested in
// mobile-api; here only its result is needed to drive the face endpoints.
func (e *env) session(resident string) string {
	e.t.Helper()
	ctx := context.Background()
	c, r := uuid.MustParse(e.community), uuid.MustParse(resident)
	p := store.Passkey{Community: c, Resident: r, CredentialID: random(32), PublicKey: random(77), AttestationType: "none",
		AAGUID: make([]byte, 16), UserVerified: true, Name: "test phone"}
	if err := e.db.InTx(ctx, "test", func(tx *store.Tx) error { return tx.AddPasskey(ctx, &p) }); err != nil {
		e.t.Fatal(err)
	}
	tok, err := e.db.NewSession(ctx, c, r, p.ID, true)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// newResident adds a resident in a unit of their own through the admin API.
func (e *env) newResident(name string) string {
	e.t.Helper()
	base := "/admin/v1/communities/" + e.community
	b := e.must(201, "POST", base+"/buildings", e.admin, map[string]any{"name": "B " + uuid.NewString()[:8]})["id"].(string)
	u := e.must(201, "POST", base+"/units", e.admin, map[string]any{"building_id": b, "label": "201"})["id"].(string)
	return e.must(201, "POST", base+"/residents", e.admin, map[string]any{"name": name, "unit_id": u, "role": "owner"})["id"].(string)
}

// offerFace names the community's data handler: face entry is offered from then on.
func (e *env) offerFace() {
	e.t.Helper()
	e.must(200, "PUT", "/admin/v1/communities/"+e.community+"/face-operator", e.admin,
		map[string]any{"operator_name": "Sunshine Property", "operator_contact": "privacy@example.com"})
}

// enrolFace runs the resident app's flow on mobile-api (m): read the notice, consent with
// scope community, fetch the gates' box keys, seal tmpl to each and upload the blobs.
// It returns the gates the template was sealed to.
func (m *env) enrolFace(token, resident string, tmpl face.Template) []string {
	m.t.Helper()
	n := m.must(200, "GET", "/api/v1/face/notice?lang=en", token, nil)
	m.must(201, "POST", "/api/v1/face/consent", token, map[string]any{"notice_version": n["version"], "notice_lang": "en",
		"notice_hash": n["hash"], "scope": "community"})
	var gates []string
	var blobs []map[string]any
	for _, x := range m.must(200, "GET", "/api/v1/face/gates", token, nil)["gates"].([]any) {
		gk := x.(map[string]any)
		pub, err := base64.StdEncoding.DecodeString(gk["box_public_key"].(string))
		if err != nil {
			m.t.Fatal(err)
		}
		gate := gk["gate_id"].(string)
		blobs = append(blobs, map[string]any{"gate_id": gate, "model": tmpl.Model,
			"sealed": base64.StdEncoding.EncodeToString(m.seal(tmpl, pub, gate, resident, m.community))})
		gates = append(gates, gate)
	}
	if out := m.must(201, "POST", "/api/v1/face/templates", token, map[string]any{"templates": blobs}); out["templates_stored"] != float64(len(gates)) {
		m.t.Fatalf("templates stored: %v", out)
	}
	return gates
}

func (e *env) seal(tmpl face.Template, pub []byte, gate, resident, community string) []byte {
	e.t.Helper()
	sealed, err := face.Seal(tmpl, pub, face.Binding{Community: uuid.MustParse(community), Gate: uuid.MustParse(gate),
		Resident: uuid.MustParse(resident), Model: tmpl.Model})
	if err != nil {
		e.t.Fatal(err)
	}
	return sealed
}

// boxKey is a gate's X25519 public key as enrollment stored it.
func (e *env) boxKey(gate string) []byte {
	e.t.Helper()
	var k []byte
	if dbtest.Get(e.t, e.db.SQL(), &k, dbtest.Gates, "box_public_key", dbtest.Eq("id", gate)); len(k) != 32 {
		e.t.Fatalf("box key of gate %s: %x", gate, k)
	}
	return k
}

// consentInStore records a community-scope consent through the store, as mobile-api does
// after the passkey step-up (for tests whose subject is the gate, not the app).
func (e *env) consentInStore(resident string) {
	e.t.Helper()
	ctx := context.Background()
	n, err := consent.Current("en")
	if err != nil {
		e.t.Fatal(err)
	}
	r := uuid.MustParse(resident)
	err = e.db.InTx(ctx, "resident:"+resident, func(tx *store.Tx) error {
		_, err := tx.GiveConsent(ctx, store.GiveConsent{Community: uuid.MustParse(e.community), Resident: r, GivenBy: r,
			NoticeVersion: n.Version, NoticeLang: n.Lang, NoticeHash: n.Hash[:], Scope: consent.ScopeCommunity, Channel: "h5"})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// putBlobs uploads one sealed blob per gate for a resident, as PutSealedTemplates takes
// them from the app: the server cannot open them, so it relays whatever it is given.
func (e *env) putBlobs(resident, model string, blobs map[string][]byte) {
	e.t.Helper()
	ctx := context.Background()
	var in []store.SealedTemplate
	for gate, b := range blobs {
		in = append(in, store.SealedTemplate{Gate: uuid.MustParse(gate), Model: model, Sealed: b})
	}
	err := e.db.InTx(ctx, "resident:"+resident, func(tx *store.Tx) error {
		_, err := tx.PutSealedTemplates(ctx, uuid.MustParse(e.community), uuid.MustParse(resident), in)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// postFace sends a raw body to the agent's local POST /face.
func (g *gateAgent) postFace(body string) (int, map[string]any) { return g.postLocal("/face", body) }

// postLocal sends a raw body to one of the agent's local endpoints, as a reader would.
func (g *gateAgent) postLocal(path, body string) (int, map[string]any) {
	g.e.t.Helper()
	resp := apitest.Do(g.e.t, "POST", "http://"+g.local+path, "", body)
	out := map[string]any{}
	_ = json.Unmarshal(resp.Body, &out)
	return resp.Status, out
}

// probe posts a live probe of t and returns the decision (the request must be valid).
func (g *gateAgent) probe(t face.Template) map[string]any {
	g.e.t.Helper()
	raw, _ := json.Marshal(map[string]any{"model": t.Model, "embedding": t.Embedding, "liveness": true})
	code, out := g.postFace(string(raw))
	if code != 200 {
		g.e.t.Fatalf("probe: %d %v", code, out)
	}
	return out
}

// faceReason is the decision's reason, "granted" for a grant.
func faceReason(out map[string]any) string {
	if out["result"] == "granted" {
		return "granted"
	}
	r, _ := out["reason"].(string)
	return r
}

// onlineGates creates two gates with running agents, both online.
func (e *env) onlineGates() (a, b *gateAgent) {
	e.t.Helper()
	a, b = e.newGate(), e.newGate()
	a.start()
	b.start()
	a.waitOnline(true)
	b.waitOnline(true)
	return a, b
}
