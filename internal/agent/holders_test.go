package agent

import (
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/credential"
	"gatepass/internal/gate"
	"gatepass/internal/gateapi"
)

// Issue 11, items 4 and 7, at the agent: the holders and foreign key ids a sync carries
// are applied (Full replaces the holders, a delta adds; foreign kids accumulate), asked
// for with kid_after, kept on disk across a restart, and decide passback per person and
// wrong_community.
func TestSyncHoldersAndForeignKIDs(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	own, other := credential.Signer{KID: 77, Key: priv}, credential.Signer{KID: 15, Key: otherPriv}
	resident := uuid.New()
	card, phone, device := uuid.New(), uuid.New(), uuid.New()
	gateInfo := gateapi.Gate{ID: uuid.New(), Community: uuid.New(), Zone: 0}
	answers := []gateapi.Sync{
		{Full: true, Cursor: 5, Holders: []gateapi.Holder{{Credential: card, Holder: resident}, {Credential: phone, Holder: resident}}, ForeignKIDs: []uint32{8, 12}},
		{Cursor: 6, Holders: []gateapi.Holder{{Credential: device, Holder: resident}}, ForeignKIDs: []uint32{15}},
		{Full: true, Cursor: 7, Holders: []gateapi.Holder{{Credential: card, Holder: resident}}},
	}
	var mu sync.Mutex
	var kidAfter []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		kidAfter = append(kidAfter, r.URL.Query().Get("kid_after"))
		out := answers[min(len(kidAfter), len(answers))-1]
		out.ServerTime, out.Gate = time.Now().UTC(), gateInfo
		out.Keys = []gateapi.Key{{KID: 77, Public: pub, NotBefore: time.Now().Add(-time.Hour)}}
		out.Zones = []gateapi.Zone{{Zone: 0, AntiPassback: true}}
		_ = json.NewEncoder(w).Encode(out)
	}))
	defer srv.Close()
	dir := t.TempDir()
	key, _ := ecdh.X25519().GenerateKey(rand.Reader)
	if err := writePrivate(filepath.Join(dir, registrationFile), Registration{Server: srv.URL, Token: "gpg_x", Gate: gateInfo, BoxPrivateKey: key.Bytes()}); err != nil {
		t.Fatal(err)
	}
	a := openTest(t, Config{StateDir: dir, Door: &countingDoor{}})
	ctx := context.Background()
	code := func(s credential.Signer, cred uuid.UUID) string {
		now := time.Now()
		text, err := credential.MintIssued(s, credential.Claims{CredentialID: cred, Subject: credential.SubjectResident, Zones: 1, NotBefore: now, ExpiresAt: now.Add(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		return text
	}
	steps := []struct {
		name   string
		sync   bool // sync once before the scan
		signer credential.Signer
		cred   uuid.UUID
		want   gate.Reason
	}{
		{"card after the first snapshot", true, own, card, gate.Granted},
		{"the phone of the same resident", false, own, phone, gate.Passback},
		{"a device the delta adds", true, own, device, gate.Passback},
		{"another community's code (kid 15 from the delta)", false, other, uuid.New(), gate.WrongCommunity},
		{"a snapshot without the phone: the phone is its own holder", true, own, phone, gate.Granted},
		{"foreign kids kept across the snapshot", false, other, uuid.New(), gate.WrongCommunity},
	}
	for i, s := range steps {
		if s.sync {
			if _, err := a.SyncOnce(ctx, 0); err != nil {
				t.Fatal(err)
			}
		}
		out, err := a.Scan("test", code(s.signer, s.cred))
		if err != nil || out.Reason != string(s.want) {
			t.Fatalf("step %d, %s: %+v %v, want %s", i, s.name, out, err, s.want)
		}
	}
	mu.Lock()
	if len(kidAfter) != 3 || kidAfter[0] != "0" || kidAfter[1] != "12" || kidAfter[2] != "15" {
		t.Fatalf("kid_after sent: %v", kidAfter)
	}
	mu.Unlock()
	// Restarted: the holders and foreign kids come back from disk.
	a.Close()
	a = openTest(t, Config{StateDir: dir, Door: &countingDoor{}})
	defer a.Close()
	st := a.decider.State()
	if st.Holder(card) != resident || st.Holder(phone) != phone || len(st.Foreign) != 3 {
		t.Fatalf("after restart: holders %v foreign %v", st.Holders, st.Foreign)
	}
	if out, _ := a.Scan("test", code(other, uuid.New())); out.Reason != string(gate.WrongCommunity) {
		t.Fatalf("after restart: %+v", out)
	}
}
