package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/dbtest"
	"gatepass/server/internal/servertest"
)

// cli runs a server command against the test database and returns its exit code and
// output.
func cli(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	args = append(args, "--database-url", dbtest.URL(t), "--master-key-file", dbtest.MasterKeyFile(t))
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// lastLine is a command's token: alone on the last line of stdout.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// Issue 13 item 2 from the command line: operators too can be disabled, tokens listed
// (never their secrets), issued with a lifetime and revoked.
func TestStaffCommands(t *testing.T) {
	h := servertest.New(t)
	f := h.Community()
	whoami := func(token string) map[string]any {
		t.Helper()
		return h.Must(http.StatusOK, "GET", "/admin/v1/me", token, nil)
	}

	code, out, errs := cli(t, "staff", "create", "--name", "Night operator", "--role", "admin", "--ttl", "30d")
	if code != 0 {
		t.Fatalf("staff create: %d %s", code, errs)
	}
	op := lastLine(out)
	me := whoami(op)
	id := me["id"].(string)
	if exp, _ := time.Parse(time.RFC3339, me["token_expires_at"].(string)); time.Until(exp) > 30*24*time.Hour || time.Until(exp) < 29*24*time.Hour {
		t.Fatalf("--ttl 30d: expires %v", exp)
	}
	if !strings.Contains(errs, me["token_id"].(string)) {
		t.Fatalf("create does not name the token id: %s", errs)
	}

	// The token list names tokens and dates, never secrets.
	code, out, errs = cli(t, "staff", "issue-token", "--id", id, "--kind", "integration", "--label", "PMS", "--ttl", "365d")
	if code != 0 {
		t.Fatalf("issue-token: %d %s", code, errs)
	}
	second := lastLine(out)
	whoami(second)
	code, out, errs = cli(t, "staff", "tokens", "--id", id)
	if code != 0 || strings.Count(out, "\n") != 3 || strings.Contains(out, "gps_") || !strings.Contains(out, "integration\t\"PMS\"") {
		t.Fatalf("staff tokens: %d %q %s", code, out, errs)
	}

	// Disabled: every token fails at once, from the next request; enabled: back.
	if code, out, errs = cli(t, "staff", "disable", "--id", id); code != 0 || !strings.Contains(out, "disabled") {
		t.Fatalf("disable: %d %s %s", code, out, errs)
	}
	for _, tok := range []string{op, second} {
		h.Must(http.StatusUnauthorized, "GET", "/admin/v1/me", tok, nil)
	}
	if code, _, errs = cli(t, "staff", "enable", "--id", id); code != 0 {
		t.Fatalf("enable: %d %s", code, errs)
	}
	whoami(op)

	// Revoked by token id: that token alone fails.
	if code, _, errs = cli(t, "staff", "revoke-token", "--token-id", me["token_id"].(string)); code != 0 {
		t.Fatalf("revoke-token: %d %s", code, errs)
	}
	h.Must(http.StatusUnauthorized, "GET", "/admin/v1/me", op, nil)
	whoami(second)

	// A community's only admin stays; the refusal says what to do instead.
	admin := whoami(f.Admin)["id"].(string)
	if code, _, errs = cli(t, "staff", "disable", "--id", admin); code != 1 || !strings.Contains(errs, "make another admin first") {
		t.Fatalf("disabling the last admin: %d %s", code, errs)
	}
	whoami(f.Admin)

	if audited := dbtest.Count(t, h.DB.SQL(), dbtest.AuditLog, dbtest.Eq("actor", "cli"), dbtest.Eq("target", "staff:"+id)); audited != 5 {
		t.Fatalf("%d audit rows by the CLI for the operator, want 5 (create, issue, disable, enable, revoke)", audited)
	}
}

// Bad flags stop a command before it changes anything.
func TestStaffCommandsRefuseBadInput(t *testing.T) {
	h := servertest.New(t)
	f := h.Community()
	g := h.Member(uuid.MustParse(f.ID), access.StaffGuard)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"staff", "create", "--name", "x", "--role", "guard", "--ttl", "181d"}, "--ttl: a console token lives from 1 hour to 180 days"},
		{[]string{"staff", "create", "--name", "x", "--role", "guard", "--kind", "integration", "--ttl", "2y"}, "--ttl"},
		{[]string{"staff", "create", "--name", "x", "--role", "guard", "--kind", "robot"}, "--kind must be one of"},
		{[]string{"staff", "create", "--name", "x", "--role", "guard", "--ttl", "0d"}, "--ttl must be positive"},
		{[]string{"staff", "issue-token", "--id", g.ID, "--kind", "integration", "--ttl", "366d"}, "365 days"},
		{[]string{"staff", "disable"}, "--id is required"},
		{[]string{"staff", "disable", "--id", "nope"}, "--id"},
		{[]string{"staff", "enable", "--id", uuid.NewString()}, "not found"},
		{[]string{"staff", "tokens", "--id", uuid.NewString()}, "not found"},
		{[]string{"staff", "revoke-token", "--token-id", g.ID}, "not found"}, // a staff id is not a token id
		{[]string{"staff", "create", "--name", "x", "--role", "guard", "--staff-token-ttl", "365d"}, "STAFF_TOKEN_TTL"},
	}
	written := func() int {
		db := h.DB.SQL()
		return dbtest.Count(t, db, dbtest.Staff) + dbtest.Count(t, db, dbtest.StaffTokens, dbtest.Null("revoked_at")) + dbtest.Count(t, db, dbtest.AuditLog)
	}
	for _, c := range cases {
		before := written()
		code, _, errs := cli(t, c.args...)
		if code == 0 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: %d %q, want a failure naming %q", c.args, code, errs, c.want)
		}
		if written() != before {
			t.Errorf("%v changed the database", c.args)
		}
	}
	h.Must(http.StatusOK, "GET", "/admin/v1/me", g.Token, nil)
}

// server staff invite makes a member without a token (or takes an existing one) and
// prints a one-time console link on the last line; the link's code opens a passkey
// registration once, and a second invite replaces it.
func TestStaffInviteCommand(t *testing.T) {
	h := servertest.New(t)
	f := h.Community()
	code, out, errs := cli(t, "staff", "invite", "--name", "Gate guard", "--role", "guard", "--community", f.ID,
		"--console-origins", "https://console.example")
	if code != 0 {
		t.Fatalf("staff invite: %d %s", code, errs)
	}
	link := lastLine(out)
	first, ok := strings.CutPrefix(link, "https://console.example/console/#invite=")
	if !ok {
		t.Fatalf("link %q", link)
	}
	if n := dbtest.Count(t, h.DB.SQL(), dbtest.StaffTokens, dbtest.Eq("staff_id", strings.Fields(out)[2])); n != 0 {
		t.Fatalf("an invited member got %d tokens", n)
	}
	if _, err := h.DB.StaffInviteByCode(context.Background(), first); err != nil {
		t.Fatalf("the printed code: %v", err)
	}
	code, out, _ = cli(t, "staff", "invite", "--id", strings.Fields(out)[2])
	if code != 0 || !strings.Contains(lastLine(out), "/console/#invite=gpk_") {
		t.Fatalf("invite again: %d %s", code, out)
	}
	if _, err := h.DB.StaffInviteByCode(context.Background(), first); err == nil {
		t.Fatal("the first link still works after a second invite")
	}
	for _, bad := range [][]string{
		{"staff", "invite"},
		{"staff", "invite", "--name", "x", "--role", "boss"},
		{"staff", "invite", "--id", uuid.NewString(), "--name", "x"},
		{"staff", "invite", "--id", uuid.NewString()},
		{"staff", "invite", "--name", "x", "--role", "guard", "--console-origins", "http://192.0.2.1"},
	} {
		if code, _, _ := cli(t, bad...); code == 0 {
			t.Errorf("%v succeeded", bad)
		}
	}
}
