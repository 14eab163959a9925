package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/dbtest"
	"gatepass/internal/store"
)

// server keys compromise withdraws the signing key, audited, and prints the cards to
// reprint (issue 11, item 3).
func TestKeysCompromiseCommand(t *testing.T) {
	db, sealer := dbtest.New(t), dbtest.Sealer(t)
	ctx := context.Background()
	var c access.CommunityInfo
	var resident access.Resident
	err := db.InTx(ctx, "test", func(tx *store.Tx) (err error) {
		if c, err = tx.CreateCommunity(ctx, "CLI "+uuid.NewString()[:8], sealer); err != nil {
			return err
		}
		b, err := tx.CreateBuilding(ctx, c.ID, "B")
		if err != nil {
			return err
		}
		u, err := tx.CreateUnit(ctx, c.ID, b.ID, "101")
		if err != nil {
			return err
		}
		resident, _, err = tx.CreateResident(ctx, store.NewResident{Community: c.ID, Name: "Grandma Li", Unit: u.ID, Role: access.RoleOwner})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	card, _, err := db.IssueCard(ctx, "test", c.ID, resident.ID, 30*24*time.Hour, sealer)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := db.Keys(ctx, c.ID)
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys %v %v", keys, err)
	}
	keyFile := dbtest.MasterKeyFile(t)
	compromise := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(ctx, append([]string{"keys", "compromise", "--database-url", dbtest.URL(t), "--master-key-file", keyFile}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
	kid := fmt.Sprint(keys[0].KID)
	for _, bad := range [][]string{
		{"--community", c.ID.String(), "--kid", kid},                         // no reason
		{"--community", c.ID.String(), "--kid", "0", "--reason", "x"},        // no key
		{"--community", "nope", "--kid", kid, "--reason", "x"},               // no community
		{"--community", uuid.NewString(), "--kid", kid, "--reason", "x"},     // unknown community
		{"--community", c.ID.String(), "--kid", "99999999", "--reason", "x"}, // another's or none
	} {
		if code, out, msg := compromise(bad...); code == 0 || out != "" {
			t.Fatalf("%v: exit %d, %q %q", bad, code, out, msg)
		}
	}
	code, out, msg := compromise("--community", c.ID.String(), "--kid", kid, "--reason", "laptop stolen")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, msg)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], card.ID.String()+"\t"+resident.ID.String()+"\t") || !strings.HasSuffix(lines[0], "\tGrandma Li") {
		t.Fatalf("cards to reprint: %q", out)
	}
	if !strings.Contains(msg, "now signs with kid") {
		t.Fatalf("no new key said: %s", msg)
	}
	after, _ := db.Keys(ctx, c.ID)
	if len(after) != 2 || after[1].CompromisedAt == nil || after[0].RetiredAt != nil {
		t.Fatalf("keys after: %+v", after)
	}
	var actor string
	if dbtest.Get(t, db.SQL(), &actor, dbtest.AuditLog, "actor", dbtest.Eq("community_id", c.ID), dbtest.Eq("action", "key.compromise")); actor != "cli" {
		t.Fatalf("audit actor %q", actor)
	}
	if code, _, _ := compromise("--community", c.ID.String(), "--kid", kid, "--reason", "again"); code != 1 {
		t.Fatalf("second compromise: exit %d", code)
	}
}
