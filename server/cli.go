package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/store"
)

// commands is every subcommand by the name run matches; the table keeps each command's
// flags beside what it does.
func commands() map[string]command {
	var staff struct{ name, role, community string }
	var rotate struct{ community string }
	return map[string]command{
		"serve": {sealed: true, migrate: true, run: func(ctx context.Context, e *env) error {
			srv := NewServer(e.db, e.sealer, e.cfg.logger(e.stderr))
			go srv.maintain(ctx, retention{events: e.cfg.retention, changes: e.cfg.changes})
			return srv.Serve(ctx, e.cfg.listen)
		}},
		"migrate": {migrate: true, run: func(ctx context.Context, e *env) error {
			fmt.Fprintln(e.stdout, "schema up to date")
			return nil
		}},
		"staff create": {
			flags: func(fs *flag.FlagSet) {
				fs.StringVar(&staff.name, "name", "", "the staff member's name")
				fs.StringVar(&staff.role, "role", "", "admin, guard or auditor")
				fs.StringVar(&staff.community, "community", "", "community id; omit to make an operator")
			},
			sealed: true, // the audit row it writes is keyed
			run: func(ctx context.Context, e *env) error {
				return cmdStaffCreate(ctx, e, staff.name, staff.role, staff.community)
			},
		},
		"audit verify": {sealed: true, run: func(ctx context.Context, e *env) error {
			n, err := e.db.VerifyAudit(ctx)
			if err != nil {
				return fmt.Errorf("after %d good rows: %w", n, err)
			}
			fmt.Fprintf(e.stdout, "audit chain intact: %d rows\n", n)
			return nil
		}},
		"keys rotate": {
			flags:  func(fs *flag.FlagSet) { fs.StringVar(&rotate.community, "community", "", "community id") },
			sealed: true,
			run: func(ctx context.Context, e *env) error {
				return cmdKeysRotate(ctx, e, rotate.community)
			},
		},
		"demo seed": {sealed: true, migrate: true, run: cmdDemoSeed},
	}
}

func cmdStaffCreate(ctx context.Context, e *env, name, role, community string) error {
	if name == "" {
		return errors.New("--name is required")
	}
	if !slices.Contains(access.StaffRoles, role) {
		return fmt.Errorf("--role must be one of %v", access.StaffRoles)
	}
	cid := uuid.Nil
	if community != "" {
		var err error
		if cid, err = uuid.Parse(community); err != nil {
			return fmt.Errorf("--community: %w", err)
		}
		if _, err := e.db.Community(ctx, cid); err != nil {
			return err
		}
	}
	var token string
	var member access.StaffMember
	err := e.db.InTx(ctx, "cli", func(tx *store.Tx) (err error) {
		member, token, err = tx.CreateStaff(ctx, cid, name, access.StaffRole(role))
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "created %s %s (%s); the token below is shown once\n", role, member.ID, name)
	fmt.Fprintln(e.stdout, token)
	return nil
}

func cmdKeysRotate(ctx context.Context, e *env, community string) error {
	cid, err := uuid.Parse(community)
	if err != nil {
		return fmt.Errorf("--community: %w", err)
	}
	if _, err := e.db.Community(ctx, cid); err != nil {
		return err
	}
	var k access.KeyInfo
	err = e.db.InTx(ctx, "cli", func(tx *store.Tx) (err error) {
		k, err = tx.RotateKey(ctx, cid, e.sealer)
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "community %s now signs with kid %d\n", cid, k.KID)
	return nil
}
