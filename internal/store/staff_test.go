package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/dbtest"
	"gatepass/internal/store"
)

// staffFix is a community and a way to make its staff.
type staffFix struct {
	t   *testing.T
	db  *store.DB
	c   uuid.UUID
	ctx context.Context
}

func newStaffFix(t *testing.T) *staffFix {
	f := &staffFix{t: t, db: dbtest.New(t), ctx: context.Background()}
	err := f.db.InTx(f.ctx, "cli", func(tx *store.Tx) error {
		info, err := tx.CreateCommunity(f.ctx, "员工 "+uuid.NewString()[:8], dbtest.Sealer(t))
		f.c = info.ID
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// member makes a staff member of community c (uuid.Nil: an operator) with a default token.
func (f *staffFix) member(c uuid.UUID, role access.StaffRole) (access.StaffMember, store.IssuedToken) {
	f.t.Helper()
	var m access.StaffMember
	var tok store.IssuedToken
	err := f.db.InTx(f.ctx, "cli", func(tx *store.Tx) (err error) {
		m, tok, err = tx.CreateStaff(f.ctx, store.NewStaff{Community: c, Name: "staff " + string(role), Role: role,
			Token: store.TokenSpec{Default: access.DefaultTokenTTL}})
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return m, tok
}

func (f *staffFix) tx(fn func(tx *store.Tx) error) error {
	return f.db.InTx(f.ctx, "staff:test", fn)
}

func (f *staffFix) exec(q string, args ...any) {
	f.t.Helper()
	if _, err := f.db.SQL().Exec(q, args...); err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
}

// Each way of taking access away works from the very next request: nothing is cached.
func TestStaffAccessEndsAtOnce(t *testing.T) {
	f := newStaffFix(t)
	f.member(f.c, access.StaffAdmin) // so that the admins below are never the last
	cases := []struct {
		name string
		end  func(m access.StaffMember, tok store.IssuedToken) error
	}{
		{"token revoked", func(m access.StaffMember, tok store.IssuedToken) error {
			return f.tx(func(tx *store.Tx) error { _, err := tx.RevokeStaffToken(f.ctx, m.ID, tok.ID); return err })
		}},
		{"token expired", func(_ access.StaffMember, tok store.IssuedToken) error {
			f.exec(`UPDATE staff_tokens SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 second' WHERE id = $1`, tok.ID)
			return nil
		}},
		{"member disabled", func(m access.StaffMember, _ store.IssuedToken) error {
			return f.tx(func(tx *store.Tx) error { _, err := tx.SetStaffDisabled(f.ctx, m.ID, true); return err })
		}},
		{"token rotated", func(m access.StaffMember, tok store.IssuedToken) error {
			return f.tx(func(tx *store.Tx) error {
				_, err := tx.RotateStaffToken(f.ctx, m.ID, tok.ID, store.TokenSpec{Default: access.DefaultTokenTTL})
				return err
			})
		}},
	}
	for _, role := range []access.StaffRole{access.StaffAdmin, access.StaffGuard} {
		for _, c := range cases {
			t.Run(string(role)+" "+c.name, func(t *testing.T) {
				m, tok := f.member(f.c, role)
				_, other := f.member(f.c, role)
				if s, err := f.db.StaffByToken(f.ctx, tok.Token); err != nil || s.ID != m.ID || s.Token != tok.ID {
					t.Fatalf("fresh token: %+v %v", s, err)
				}
				if err := c.end(m, tok); err != nil {
					t.Fatal(err)
				}
				if _, err := f.db.StaffByToken(f.ctx, tok.Token); !errors.Is(err, access.ErrUnauthorized) {
					t.Fatalf("after %s: %v, want ErrUnauthorized", c.name, err)
				}
				if _, err := f.db.StaffByToken(f.ctx, other.Token); err != nil {
					t.Fatalf("another member's token stopped too: %v", err)
				}
			})
		}
	}
	// An operator, disabled from the CLI, is locked out the same way.
	op, opTok := f.member(uuid.Nil, access.StaffAdmin)
	f.member(uuid.Nil, access.StaffAdmin)
	if err := f.db.InTx(f.ctx, "cli", func(tx *store.Tx) error { _, err := tx.SetStaffDisabled(f.ctx, op.ID, true); return err }); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.StaffByToken(f.ctx, opTok.Token); !errors.Is(err, access.ErrUnauthorized) {
		t.Fatalf("disabled operator: %v", err)
	}
}

// Every token expires: made with the default lifetime, it says so; enabling a member
// brings back their live tokens, not the revoked ones.
func TestStaffTokenLifecycle(t *testing.T) {
	f := newStaffFix(t)
	m, first := f.member(f.c, access.StaffGuard)
	if d := time.Until(first.ExpiresAt); d < 89*24*time.Hour || d > 90*24*time.Hour {
		t.Fatalf("default token expires in %v, want 90 days", d)
	}
	var second store.IssuedToken
	err := f.tx(func(tx *store.Tx) (err error) {
		second, err = tx.IssueStaffToken(f.ctx, m.ID, store.TokenSpec{Kind: access.TokenIntegration, Label: "PMS sync", TTL: 365 * 24 * time.Hour})
		return err
	})
	if err != nil || second.Kind != access.TokenIntegration || second.Label != "PMS sync" {
		t.Fatalf("issue: %+v %v", second, err)
	}
	if err := f.tx(func(tx *store.Tx) error { _, err := tx.RevokeStaffToken(f.ctx, m.ID, first.ID); return err }); err != nil {
		t.Fatal(err)
	}
	for _, disabled := range []bool{true, false} {
		if err := f.tx(func(tx *store.Tx) error { _, err := tx.SetStaffDisabled(f.ctx, m.ID, disabled); return err }); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.db.StaffByToken(f.ctx, second.Token); err != nil {
		t.Fatalf("live token after enable: %v", err)
	}
	if _, err := f.db.StaffByToken(f.ctx, first.Token); !errors.Is(err, access.ErrUnauthorized) {
		t.Fatalf("revoked token after enable: %v", err)
	}
	list, err := f.db.StaffTokens(f.ctx, m.ID)
	if err != nil || len(list) != 2 || list[0].ID != second.ID || list[1].RevokedAt == nil {
		t.Fatalf("tokens: %+v %v", list, err)
	}
	// A rotated token hands over to one of its kind and label; a dead one cannot rotate.
	var third store.IssuedToken
	err = f.tx(func(tx *store.Tx) (err error) {
		third, err = tx.RotateStaffToken(f.ctx, m.ID, second.ID, store.TokenSpec{Default: access.DefaultTokenTTL})
		return err
	})
	if err != nil || third.Kind != access.TokenIntegration || third.Label != "PMS sync" {
		t.Fatalf("rotate: %+v %v", third, err)
	}
	for _, dead := range []uuid.UUID{first.ID, second.ID} {
		err := f.tx(func(tx *store.Tx) error {
			_, err := tx.RotateStaffToken(f.ctx, m.ID, dead, store.TokenSpec{Default: access.DefaultTokenTTL})
			return err
		})
		if !errors.Is(err, store.ErrTokenDead) {
			t.Fatalf("rotating a revoked token: %v", err)
		}
	}
	// Another member's token id under this member is not found.
	other, otherTok := f.member(f.c, access.StaffGuard)
	err = f.tx(func(tx *store.Tx) error { _, err := tx.RevokeStaffToken(f.ctx, m.ID, otherTok.ID); return err })
	if !errors.Is(err, access.ErrNotFound) {
		t.Fatalf("revoking another member's token: %v", err)
	}
	if _, err := f.db.StaffByToken(f.ctx, otherTok.Token); err != nil {
		t.Fatalf("member %s lost their token: %v", other.ID, err)
	}
	// The audit rows name tokens by id, never by secret.
	for _, tok := range []string{first.Token, second.Token, third.Token} {
		if n := count(t, f.db, `SELECT count(*) FROM audit_log WHERE summary::text LIKE '%' || $1 || '%'`, tok[4:20]); n != 0 {
			t.Fatalf("a token is in the audit log")
		}
	}
	for _, action := range []string{"staff.create", "staff.token_issue", "staff.token_revoke", "staff.disable", "staff.enable", "staff.token_rotate"} {
		if n := count(t, f.db, `SELECT count(*) FROM audit_log WHERE community_id = $1 AND action = $2 AND target = $3`, f.c, action, "staff:"+m.ID.String()); n != 1 {
			t.Errorf("%d audit rows for %s", n, action)
		}
	}
}

// No token lives longer than its kind allows, however it is asked for; a refused token
// leaves nothing behind.
func TestStaffTokenLifetimeBounds(t *testing.T) {
	f := newStaffFix(t)
	m, _ := f.member(f.c, access.StaffAdmin)
	day := 24 * time.Hour
	for _, spec := range []store.TokenSpec{
		{Kind: access.TokenConsole, TTL: 181 * day},
		{Kind: access.TokenIntegration, TTL: 366 * day},
		{Kind: access.TokenConsole, TTL: time.Minute},
		{Kind: access.TokenConsole},                          // no lifetime and no default
		{Kind: access.TokenConsole, Default: 10 * 365 * day}, // a default past the bound
	} {
		before := count(t, f.db, `SELECT count(*) FROM staff_tokens`)
		err := f.tx(func(tx *store.Tx) error { _, err := tx.IssueStaffToken(f.ctx, m.ID, spec); return err })
		if !errors.Is(err, access.ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", spec, err)
		}
		if after := count(t, f.db, `SELECT count(*) FROM staff_tokens`); after != before {
			t.Errorf("%+v: tokens %d -> %d", spec, before, after)
		}
	}
}

// Disabling may never leave a community, or the deployment, without an enabled admin.
func TestLastAdminStays(t *testing.T) {
	f := newStaffFix(t)
	disable := func(id uuid.UUID, disabled bool) error {
		return f.tx(func(tx *store.Tx) error { _, err := tx.SetStaffDisabled(f.ctx, id, disabled); return err })
	}
	a, _ := f.member(f.c, access.StaffAdmin)
	g, _ := f.member(f.c, access.StaffGuard)
	if err := disable(a.ID, true); !errors.Is(err, store.ErrLastAdmin) || !errors.Is(err, access.ErrConflict) {
		t.Fatalf("disabling the only admin: %v", err)
	}
	if err := disable(g.ID, true); err != nil {
		t.Fatalf("disabling a guard: %v", err)
	}
	b, _ := f.member(f.c, access.StaffAdmin)
	if err := disable(a.ID, true); err != nil {
		t.Fatalf("disabling one of two admins: %v", err)
	}
	if err := disable(b.ID, true); !errors.Is(err, store.ErrLastAdmin) {
		t.Fatalf("disabling the last enabled admin: %v", err)
	}
	// Setting what is set is a no-op, and the re-enabled admin counts again.
	if err := disable(a.ID, true); err != nil {
		t.Fatalf("disabling a disabled admin: %v", err)
	}
	if err := disable(a.ID, false); err != nil {
		t.Fatal(err)
	}
	if err := disable(b.ID, true); err != nil {
		t.Fatalf("after re-enabling a: %v", err)
	}
	if n := count(t, f.db, `SELECT count(*) FROM audit_log WHERE target = $1 AND action = 'staff.disable'`, "staff:"+a.ID.String()); n != 1 {
		t.Fatalf("%d disable rows for a, want 1 (the no-op writes none)", n)
	}
	// Two admins disabling each other at once: one of them stays.
	c, _ := f.member(f.c, access.StaffAdmin)
	errs := make(chan error, 2)
	for _, id := range []uuid.UUID{a.ID, c.ID} {
		go func() { errs <- disable(id, true) }()
	}
	failed := 0
	for range 2 {
		if err := <-errs; errors.Is(err, store.ErrLastAdmin) {
			failed++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if left := count(t, f.db, `SELECT count(*) FROM staff WHERE community_id = $1 AND role = 'admin' AND disabled_at IS NULL`, f.c); failed != 1 || left != 1 {
		t.Fatalf("concurrent disables: %d refused, %d admins left; want 1 and 1", failed, left)
	}
	if err := disable(uuid.New(), true); !errors.Is(err, access.ErrNotFound) {
		t.Fatalf("unknown member: %v", err)
	}
}

// last_used_at is written on first use and then at most once a minute, not on every
// request.
func TestStaffTokenLastUsed(t *testing.T) {
	f := newStaffFix(t)
	_, tok := f.member(f.c, access.StaffGuard)
	lastUsed := func() *time.Time {
		var at *time.Time
		if err := f.db.SQL().QueryRow(`SELECT last_used_at FROM staff_tokens WHERE id = $1`, tok.ID).Scan(&at); err != nil {
			t.Fatal(err)
		}
		return at
	}
	if lastUsed() != nil {
		t.Fatal("a new token has been used")
	}
	use := func() {
		if _, err := f.db.StaffByToken(f.ctx, tok.Token); err != nil {
			t.Fatal(err)
		}
	}
	use()
	first := lastUsed()
	if first == nil {
		t.Fatal("first use not recorded")
	}
	use()
	use()
	if again := lastUsed(); !again.Equal(*first) {
		t.Fatalf("used again within the minute: last_used_at %v -> %v", first, again)
	}
	f.exec(`UPDATE staff_tokens SET last_used_at = now() - interval '61 seconds' WHERE id = $1`, tok.ID)
	use()
	if later := lastUsed(); time.Since(*later) > 10*time.Second {
		t.Fatalf("after a minute, last_used_at is still %v", later)
	}
	if strings.Contains(tok.Token, tok.ID.String()) {
		t.Fatal("the token's id is part of its secret")
	}
}
