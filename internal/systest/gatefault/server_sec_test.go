package gatefault

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/credential"
	"gatepass/internal/store"
)

// The server side of issue 11 with the real server and gate-agent processes.

// cardID is the credential id a card's text carries.
func cardID(t *testing.T, text string) string {
	t.Helper()
	tok, err := credential.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	return tok.CredentialID.String()
}

// Item 3: a signing key leaks. Rotating it is not enough: the old key stays trusted for
// what it signed before its retirement, and the intruder signs a 366-day card dated just
// before it, which an online gate grants. Declared compromised, the key leaves the gate's
// trusted set within 2 s: the forged card and the genuine cards it signed are denied, the
// genuine ones are on the list to reprint, and a reprinted card opens.
func TestCompromisedKeyDeniedAtRealGate(t *testing.T) {
	e := newEnv(t)
	g := e.newGate()
	g.start()
	g.waitOnline(true)
	ctx := context.Background()
	genuineText := e.printCard(e.resident)
	genuine := cardID(t, genuineText)
	leaked, err := e.db.Signer(ctx, uuid.MustParse(e.community), e.sealer)
	if err != nil {
		t.Fatal(err)
	}
	e.must(201, "POST", "/admin/v1/communities/"+e.community+"/keys/rotate", e.admin, nil)
	// Dated after the key's creation and before its retirement (30 s from now).
	nbf := time.Now().Truncate(time.Second)
	forged, err := credential.MintCard(leaked, credential.Claims{CredentialID: uuid.New(), Subject: credential.SubjectResident,
		Zones: 1, NotBefore: nbf, ExpiresAt: nbf.Add(credential.MaxCardLifetime)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the rotation synced and the forged card granted", func() bool {
		return g.scan(forged).Result == "granted"
	})
	if o := g.scan(genuineText); o.Result != "granted" {
		t.Fatalf("the genuine card before the compromise: %+v", o)
	}

	out := e.must(200, "POST", "/admin/v1/communities/"+e.community+"/keys/"+strconv.FormatUint(uint64(leaked.KID), 10)+"/compromise", e.admin,
		map[string]any{"reason": "signing key found on a stolen laptop"})
	cards, _ := out["cards_to_reprint"].([]any)
	if len(cards) != 1 || cards[0].(map[string]any)["card_id"] != genuine {
		t.Fatalf("cards to reprint %v, want the genuine card %s", out["cards_to_reprint"], genuine)
	}
	time.Sleep(2 * time.Second)
	for name, text := range map[string]string{"forged": forged, "genuine": genuineText} {
		if o := g.scan(text); o.Result != "denied" || o.Reason != "unknown_key" {
			t.Fatalf("%s card 2 s after the compromise: %+v", name, o)
		}
	}
	reprinted := e.printCard(e.resident)
	if o := g.scan(reprinted); o.Result != "granted" {
		t.Fatalf("the reprinted card: %+v", o)
	}
}

// Item 9: a gate whose clock is three hours ahead reports events the server refuses (more
// than 1 h beyond the largest skew): each is refused by its index, the agent sets it
// aside and its queue drains instead of retrying one batch forever; nothing of it lands
// in the entry log, and another gate's events still arrive.
func TestRefusedEventsDoNotStallTheQueue(t *testing.T) {
	e := newEnv(t)
	wrong, right := e.newGate("--clock-offset", "3h"), e.newGate()
	wrong.start()
	right.start()
	wrong.waitOnline(true)
	right.waitOnline(true)
	for i := 0; i < 5; i++ {
		if o := wrong.scan(e.token(1)); o.Result != "denied" {
			t.Fatalf("scan at a gate 3 h ahead: %+v", o)
		}
		if o := right.scan(e.token(1)); o.Result != "granted" {
			t.Fatalf("scan at the right gate: %+v", o)
		}
	}
	wrong.waitDrained()
	right.waitDrained()
	if rows, _ := e.serverEvents(wrong.id); rows != 0 {
		t.Fatalf("%d events of the gate 3 h ahead stored", rows)
	}
	if rows, _ := e.serverEvents(right.id); rows != 5 {
		t.Fatalf("%d events of the right gate stored, want 5", rows)
	}
	if !wrong.alive() {
		t.Fatal("the agent whose events were refused stopped")
	}
}

// Item 4 through deltas: the gate is online before the resident's credentials exist; the
// server sends each new credential's holder in the delta that follows its creation (a
// card printed by staff, a QR credential and a device made as mobile-api makes them), so
// anti-passback holds the person across all three within seconds.
func TestPassbackHoldersArriveByDelta(t *testing.T) {
	e := newEnv(t)
	e.must(200, "PUT", "/admin/v1/communities/"+e.community+"/zones/0", e.admin, map[string]any{"name": "Main", "anti_passback": true})
	g := e.newGate()
	g.start()
	g.waitOnline(true)
	ctx := context.Background()
	c, resident := uuid.MustParse(e.community), uuid.MustParse(e.resident)
	card := e.printCard(e.resident)
	qrCred, err := e.db.EnsureQRCredential(ctx, c, resident)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := e.db.Signer(ctx, c, e.sealer)
	if err != nil {
		t.Fatal(err)
	}
	phoneKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	valid := credential.DeviceValidity(time.Now())
	var device store.Device
	err = e.db.InTx(ctx, "resident:"+e.resident, func(tx *store.Tx) (err error) {
		device, err = tx.CreateDevice(ctx, store.NewDevice{Community: c, Resident: resident,
			PublicKey: elliptic.MarshalCompressed(elliptic.P256(), phoneKey.X, phoneKey.Y), Label: "phone", Zones: 1, //nolint:staticcheck // SEC 1 form
			NotBefore: valid.NotBefore, ExpiresAt: valid.ExpiresAt, KID: signer.KID})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // the deltas reach the online gate
	if o := g.scan(card); o.Result != "granted" {
		t.Fatalf("the card: %+v", o)
	}
	for name, cred := range map[string]uuid.UUID{"phone QR": qrCred.ID, "device": device.ID} {
		if o := g.scan(e.codeOf(cred)); o.Reason != "passback" {
			t.Errorf("the %s of the resident just granted on the card: %+v, want passback", name, o)
		}
	}
	if n := g.doorOpenings(); n != 1 {
		t.Fatalf("one person, %d openings", n)
	}
}
