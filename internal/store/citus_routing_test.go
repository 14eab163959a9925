package store_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/audit"
	"gatepass/internal/dbtest"
	"gatepass/internal/store"
	"gatepass/internal/webhook"
)

// The hot paths (a resident signs in, mints passes; a gate syncs and uploads event
// batches) name their community in every statement, so on Citus each statement goes to
// one shard group. On a Citus coordinator this test runs them on a connection where
// Citus raises an error for any statement it would split across shards
// (citus.multi_task_query_log_level = error); on plain PostgreSQL it runs the same calls,
// which checks nothing more than that they work.
func TestHotPathsRouteToOneShard(t *testing.T) {
	ctx := context.Background()
	setup := dbtest.New(t)
	url := dbtest.URL(t)
	if dbtest.Citus(t) {
		// lib/pq sends a connection parameter it does not know as a setting.
		url += "&citus.multi_task_query_log_level=error"
	}
	hot, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer hot.Close()
	hot.SetAuditKey(dbtest.Sealer(t).DeriveKey(audit.KeyLabel))

	// Staff set up a community, a resident with a passkey and a gate (not hot paths).
	c, resident := residentFix(t, setup, "routing")
	var enrol access.Enrollment
	pk := &store.Passkey{Community: c, Resident: resident, CredentialID: make([]byte, 32), PublicKey: []byte{1}, Name: "phone"}
	_, _ = rand.Read(pk.CredentialID)
	err = setup.InTx(ctx, "test", func(tx *store.Tx) error {
		if err := tx.AddPasskey(ctx, pk); err != nil {
			return err
		}
		_, enrol, err = tx.CreateGate(ctx, store.NewGate{Community: c, Name: "G", Zone: 0, Direction: "both"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// An endpoint for entries and anomalies, so that the batch fills the outbox.
	err = setup.InTx(ctx, "test", func(tx *store.Tx) error {
		_, _, err := tx.CreateWebhookEndpoint(ctx, store.NewWebhookEndpoint{Community: c, URL: "https://hooks.example.com/x",
			Events: []string{"anomaly.reuse", "entry.created"}}, dbtest.Sealer(t))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	box := make([]byte, 32)
	_, _ = rand.Read(box)
	gate, gateToken, err := setup.EnrollGate(ctx, enrol.Code, box, "test")
	if err != nil {
		t.Fatal(err)
	}

	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// Sign-in: the discoverable ceremony (nil community: one shard of its own), then the
	// resident's passkeys by the community in the user handle, the counter, the session.
	id := sha256.Sum256([]byte(uuid.NewString()))
	step("save ceremony", hot.SaveCeremony(ctx, id, store.Ceremony{Purpose: store.PurposeSignIn, Session: []byte(`{}`)}))
	_, err = hot.TakeCeremony(ctx, uuid.Nil, id, store.PurposeSignIn)
	step("take ceremony", err)
	_, err = hot.Resident(ctx, c, resident)
	step("resident", err)
	_, err = hot.Passkeys(ctx, c, resident)
	step("passkeys", err)
	_, err = hot.UsePasskey(ctx, store.PasskeyUse{Community: c, Resident: resident, CredentialID: pk.CredentialID, Count: 1, UserVerified: true})
	step("use passkey", err)
	token, err := hot.NewSession(ctx, c, resident, pk.ID, true)
	step("new session", err)

	// Minting a pass: the session (with the QR credential), the community's key and
	// zones, the QR credential on first use.
	_, err = hot.SessionByToken(ctx, token)
	step("session", err)
	_, err = hot.TrustedKeys(ctx, c) // the signer's row, without its sealed private key
	step("keys", err)
	_, err = hot.ResidentZones(ctx, c)
	step("zones", err)
	qr, err := hot.EnsureQRCredential(ctx, c, resident)
	step("QR credential", err)

	// A gate: its token, a sync from the start and from the cursor, a heartbeat and an
	// event batch.
	g, err := hot.GateByToken(ctx, gateToken)
	step("gate by token", err)
	if g.ID != gate.ID {
		t.Fatalf("gate by token = %v, want %v", g.ID, gate.ID)
	}
	out, _, err := hot.GateSync(ctx, g, 0)
	step("sync", err)
	_, _, err = hot.GateSync(ctx, g, out.Cursor)
	step("sync from cursor", err)
	// A delta with who may enter where and when (issue 16): the rules sent whole, and the
	// groups of the residents a policy names.
	err = setup.InTx(ctx, "test", func(tx *store.Tx) error {
		grp, err := tx.CreateAccessGroup(ctx, access.AccessGroup{Community: c, Name: "Cleaners", Zones: 1})
		if err != nil {
			return err
		}
		_, err = tx.SetAccessPolicy(ctx, access.AccessPolicy{Community: c, Level: access.LevelResident, Target: resident, Groups: []uuid.UUID{grp.ID}, Inherit: true})
		return err
	})
	step("access change", err)
	delta, _, err := hot.GateSync(ctx, g, out.Cursor)
	step("sync an access change", err)
	if delta.Access == nil || len(delta.Memberships) != 1 {
		t.Fatalf("access delta: %+v, memberships %v", delta.Access, delta.Memberships)
	}
	_, err = hot.GateHeartbeat(ctx, g, "test", 0, 0, nil)
	step("heartbeat", err)
	events := make([]access.GateEvent, 20)
	for i := range events {
		events[i] = access.GateEvent{ID: uuid.New(), OccurredAt: time.Now().Add(-time.Duration(i) * time.Second), Gate: g.ID,
			Credential: &qr.ID, Subject: "resident", Method: "qr", Result: "granted", Reason: "ok", ReplayKey: []byte{byte(i)}}
	}
	_, err = hot.StoreEvents(ctx, g, events)
	step("event batch", err)

	// The webhook sender, per community: claim the batch's deliveries, record a failure
	// and a success (finding the communities with due deliveries is its background
	// sweep, which reads every shard).
	claimed, err := hot.ClaimWebhookDeliveries(ctx, c, time.Now().Add(time.Second), time.Now().Add(time.Minute), 50)
	step("claim webhooks", err)
	if len(claimed) != len(events) {
		t.Fatalf("claimed %d deliveries, want %d", len(claimed), len(events))
	}
	_, err = hot.RecordWebhookAttempt(ctx, claimed[0], store.WebhookOutcome{At: time.Now(), Status: 500, Err: "status 500",
		Next: time.Now().Add(time.Minute)}, webhook.DefaultSchedule)
	step("record a failed attempt", err)
	_, err = hot.RecordWebhookAttempt(ctx, claimed[1], store.WebhookOutcome{At: time.Now(), Status: 204, OK: true}, webhook.DefaultSchedule)
	step("record a delivery", err)

	// The same through the gate API's way: the hub's shared parts and the gate's own
	// (gate_sync.go), and a batch on the gates' writes pool, prepared.
	hub := hot.NewChangeHub(slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer hub.Close()
	gctx := store.WithWork(ctx, store.GateSyncWork)
	out, _, err = hub.Sync(gctx, g, access.SyncRequest{})
	step("hub snapshot", err)
	_, _, err = hub.Sync(gctx, g, access.SyncRequest{Cursor: out.Cursor})
	step("hub delta", err)
	for i := range events {
		events[i].ID = uuid.New()
	}
	_, err = hot.StoreEvents(store.WithWork(ctx, store.GateWriteWork), g, events)
	step("event batch on the gates' pool", err)
}
