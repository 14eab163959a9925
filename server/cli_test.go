package main

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"gatepass/internal/apitest"
	"gatepass/internal/dbtest"
	"gatepass/server/internal/servertest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func TestAuditChainAndTampering(t *testing.T) {
	h := servertest.New(t)
	f := h.Community()
	h.Must(http.StatusOK, "POST", "/admin/v1/communities/"+f.ID+"/residents/"+f.Resident+"/move-out", f.Admin, nil)
	entries := h.Must(http.StatusOK, "GET", "/admin/v1/audit?community_id="+f.ID, f.Auditor, nil)["entries"].([]any)
	actions := map[string]bool{}
	for _, e := range entries {
		m := e.(map[string]any)
		actions[m["action"].(string)] = true
		if strings.Contains(string(apitest.MustJSON(t, m["summary"])), "gpi_") {
			t.Fatalf("an invite code is in the audit log: %v", m)
		}
	}
	for _, a := range []string{"community.create", "building.create", "unit.create", "resident.create", "gate.create", "resident.move_out"} {
		if !actions[a] {
			t.Errorf("no audit row for %s (have %v)", a, actions)
		}
	}

	keyFile := dbtest.MasterKeyFile(t)
	verify := func() (int, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"audit", "verify", "--database-url", dbtest.URL(t), "--master-key-file", keyFile}, &out, &errb)
		return code, out.String() + errb.String()
	}
	if code, msg := verify(); code != 0 {
		t.Fatalf("verify on an untouched log: %d %s", code, msg)
	}
	if err := dbtest.SetErr(t, h.DB.SQL(), dbtest.AuditLog, dbtest.Values{"actor": "x"}, dbtest.Eq("community_id", f.ID)); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("updating the audit log: %v, want the append-only refusal", err)
	}
	// Someone with the database owner's rights goes around the trigger.
	var seq int64
	dbtest.Get(t, h.DB.SQL(), &seq, dbtest.AuditLog, "seq", dbtest.Eq("community_id", f.ID), dbtest.Eq("action", "resident.create"))
	tamper := func(summary string) {
		t.Helper()
		dbtest.Tamper(t, h.DB.SQL(), dbtest.AuditLog, dbtest.Values{"summary": summary}, dbtest.Eq("community_id", f.ID), dbtest.Eq("seq", seq))
	}
	var original string
	dbtest.Get(t, h.DB.SQL(), &original, dbtest.AuditLog, "summary", dbtest.Eq("community_id", f.ID), dbtest.Eq("seq", seq))
	tamper(`{"role":"owner","under_14":false,"unit_id":"forged"}`)
	code, msg := verify()
	if code != 1 || !strings.Contains(msg, "seq "+strconv.FormatInt(seq, 10)) || !strings.Contains(msg, f.ID) {
		t.Fatalf("verify after tampering: exit %d, %q; want exit 1 naming community %s seq %d", code, msg, f.ID, seq)
	}
	tamper(original)
	if code, msg := verify(); code != 0 {
		t.Fatalf("verify after restoring: %d %s", code, msg)
	}
}
