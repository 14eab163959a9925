package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/store"
	"gatepass/schema"
)

// commands is every subcommand by the name run matches; the table keeps each command's
// flags beside what it does.
func commands() map[string]command {
	var staff struct{ name, role, community, id, tokenID string }
	var token tokenFlags
	var rotate struct{ community string }
	var compromise struct {
		community, reason string
		kid               uint
	}
	var grant struct{ role string }
	return map[string]command{
		"serve": {sealed: true, migrate: true, run: func(ctx context.Context, e *env) error {
			srv, err := NewServer(e.db, e.sealer, e.cfg.logger(e.stderr), Settings{TokenTTL: e.cfg.tokenTTL, Edge: e.cfg.edge,
				EventRetention: e.cfg.retention, Webhooks: e.cfg.webhooks, Console: e.cfg.consoleSettings()})
			if err != nil {
				return err
			}
			go srv.maintain(ctx, retention{events: e.cfg.retention, changes: e.cfg.changes})
			go srv.endLockdowns(ctx)
			sent := srv.sendWebhooks(ctx, e.sealer)
			err = srv.Serve(ctx, e.cfg.listen)
			<-sent // the deliveries in flight end within their timeout
			return err
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
				token.flags(fs)
			},
			sealed: true, // the audit row it writes is keyed
			run: func(ctx context.Context, e *env) error {
				return cmdStaffCreate(ctx, e, staff.name, staff.role, staff.community, token)
			},
		},
		"staff invite": {
			flags: func(fs *flag.FlagSet) {
				fs.StringVar(&staff.id, "id", "", "an existing staff member's id")
				fs.StringVar(&staff.name, "name", "", "or: a new member's name (made without a token)")
				fs.StringVar(&staff.role, "role", "", "the new member's role: admin, guard or auditor")
				fs.StringVar(&staff.community, "community", "", "the new member's community id; omit to make an operator")
			},
			sealed: true, // the audit row it writes is keyed
			run: func(ctx context.Context, e *env) error {
				return cmdStaffInvite(ctx, e, staff.id, staff.name, staff.role, staff.community)
			},
		},
		"staff disable": staffSwitch(&staff.id, true),
		"staff enable":  staffSwitch(&staff.id, false),
		"staff tokens": {
			flags: func(fs *flag.FlagSet) { fs.StringVar(&staff.id, "id", "", "staff member id") },
			run: func(ctx context.Context, e *env) error {
				return cmdStaffTokens(ctx, e, staff.id)
			},
		},
		"staff issue-token": {
			flags: func(fs *flag.FlagSet) {
				fs.StringVar(&staff.id, "id", "", "staff member id")
				token.flags(fs)
			},
			sealed: true,
			run: func(ctx context.Context, e *env) error {
				return cmdStaffIssueToken(ctx, e, staff.id, token)
			},
		},
		"staff revoke-token": {
			flags:  func(fs *flag.FlagSet) { fs.StringVar(&staff.tokenID, "token-id", "", "token id (from staff tokens)") },
			sealed: true,
			run: func(ctx context.Context, e *env) error {
				return cmdStaffRevokeToken(ctx, e, staff.tokenID)
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
		"keys compromise": {
			flags: func(fs *flag.FlagSet) {
				fs.StringVar(&compromise.community, "community", "", "community id")
				fs.UintVar(&compromise.kid, "kid", 0, "the compromised key's id (server keys list: GET .../keys)")
				fs.StringVar(&compromise.reason, "reason", "", "why, for the audit log")
			},
			sealed: true, // a new signing key is sealed, and the audit row keyed, under it
			run: func(ctx context.Context, e *env) error {
				return cmdKeysCompromise(ctx, e, compromise.community, compromise.kid, compromise.reason)
			},
		},
		"demo seed": {sealed: true, migrate: true, run: cmdDemoSeed},
		"grant": {
			flags: func(fs *flag.FlagSet) {
				fs.StringVar(&grant.role, "role", "gatepass_app", "the programs' database role")
			},
			migrate: true,
			run: func(ctx context.Context, e *env) error {
				if err := schema.GrantAppRole(ctx, e.db.SQL(), grant.role); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "role %s may run server and mobile-api (with --no-migrate)\n", grant.role)
				return nil
			},
		},
	}
}

// inTx runs fn in one transaction as the CLI, so its audit rows name "cli" as the actor.
func inTx[T any](ctx context.Context, e *env, fn func(tx *store.Tx) (T, error)) (T, error) {
	var out T
	err := e.db.InTx(ctx, "cli", func(tx *store.Tx) (err error) {
		out, err = fn(tx)
		return err
	})
	return out, err
}

// tokenFlags are a new staff token's flags, shared by the commands that make one.
type tokenFlags struct{ kind, label, ttl string }

func (t *tokenFlags) flags(fs *flag.FlagSet) {
	fs.StringVar(&t.kind, "kind", string(access.TokenConsole), "console or integration")
	fs.StringVar(&t.label, "label", "", "what the token is for, shown when tokens are listed")
	fs.StringVar(&t.ttl, "ttl", "", "lifetime, e.g. 30d or 36h (default STAFF_TOKEN_TTL; console at most 180d, integration 365d)")
}

// spec checks the flags into a token spec with the deployment's default lifetime.
func (t tokenFlags) spec(def time.Duration) (store.TokenSpec, error) {
	if !slices.Contains(access.TokenKinds, t.kind) {
		return store.TokenSpec{}, fmt.Errorf("--kind must be one of %v", access.TokenKinds)
	}
	spec := store.TokenSpec{Kind: access.TokenKind(t.kind), Label: t.label, Default: def}
	if t.ttl != "" {
		ttl, err := access.ParseTTL(t.ttl)
		if err != nil {
			return spec, fmt.Errorf("--%w", err)
		}
		if ttl <= 0 {
			return spec, errors.New("--ttl must be positive")
		}
		spec.TTL = ttl
	}
	if _, err := access.TokenTTL(spec.Kind, spec.TTL, def); err != nil {
		return spec, fmt.Errorf("--%w", err)
	}
	return spec, nil
}

// printToken shows a new token: what it is on stderr, the secret alone on stdout's last
// line, for scripts.
func printToken(e *env, what string, tok store.IssuedToken) {
	fmt.Fprintf(e.stderr, "%s; token %s (%s) expires %s; the token below is shown once\n",
		what, tok.ID, tok.Kind, tok.ExpiresAt.UTC().Format(time.RFC3339))
	fmt.Fprintln(e.stdout, tok.Token)
}

func cmdStaffCreate(ctx context.Context, e *env, name, role, community string, token tokenFlags) error {
	if name == "" {
		return errors.New("--name is required")
	}
	if !slices.Contains(access.StaffRoles, role) {
		return fmt.Errorf("--role must be one of %v", access.StaffRoles)
	}
	spec, err := token.spec(e.cfg.tokenTTL)
	if err != nil {
		return err
	}
	cid := uuid.Nil
	if community != "" {
		if cid, err = uuid.Parse(community); err != nil {
			return fmt.Errorf("--community: %w", err)
		}
		if _, err := e.db.Community(ctx, cid); err != nil {
			return err
		}
	}
	var tok store.IssuedToken
	member, err := inTx(ctx, e, func(tx *store.Tx) (m access.StaffMember, err error) {
		m, tok, err = tx.CreateStaff(ctx, store.NewStaff{Community: cid, Name: name, Role: access.StaffRole(role), Token: spec})
		return m, err
	})
	if err != nil {
		return err
	}
	printToken(e, fmt.Sprintf("created %s %s (%s)", role, member.ID, name), tok)
	return nil
}

// idFlag reads a required id flag.
func idFlag(name, value string) (uuid.UUID, error) {
	if value == "" {
		return uuid.Nil, fmt.Errorf("--%s is required", name)
	}
	id, err := uuid.Parse(value)
	if err != nil {
		return uuid.Nil, fmt.Errorf("--%s: %w", name, err)
	}
	return id, nil
}

// staffSwitch is the command that disables (or enables) the member --id names.
func staffSwitch(id *string, disabled bool) command {
	return command{
		flags:  func(fs *flag.FlagSet) { fs.StringVar(id, "id", "", "staff member id") },
		sealed: true, // the audit row it writes is keyed
		run: func(ctx context.Context, e *env) error {
			return cmdStaffSetDisabled(ctx, e, *id, disabled)
		},
	}
}

// cmdStaffSetDisabled disables or enables any member, operators included.
func cmdStaffSetDisabled(ctx context.Context, e *env, id string, disabled bool) error {
	sid, err := idFlag("id", id)
	if err != nil {
		return err
	}
	m, err := inTx(ctx, e, func(tx *store.Tx) (access.StaffMember, error) {
		return tx.SetStaffDisabled(ctx, sid, disabled)
	})
	if err != nil {
		return err
	}
	state := "enabled"
	if m.DisabledAt != nil {
		state = "disabled: every token of theirs fails from now"
	}
	fmt.Fprintf(e.stdout, "staff %s (%s, %s) %s\n", m.ID, m.Name, m.Role, state)
	return nil
}

// cmdStaffTokens lists a member's tokens, one a line, tab-separated: never the secrets.
func cmdStaffTokens(ctx context.Context, e *env, id string) error {
	sid, err := idFlag("id", id)
	if err != nil {
		return err
	}
	if _, err := e.db.StaffMember(ctx, sid); err != nil {
		return err
	}
	list, err := e.db.StaffTokens(ctx, sid)
	if err != nil {
		return err
	}
	when := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	fmt.Fprintln(e.stdout, "TOKEN_ID\tKIND\tLABEL\tCREATED\tLAST_USED\tEXPIRES\tREVOKED")
	for _, t := range list {
		fmt.Fprintf(e.stdout, "%s\t%s\t%q\t%s\t%s\t%s\t%s\n", t.ID, t.Kind, t.Label, when(&t.CreatedAt),
			when(t.LastUsedAt), when(&t.ExpiresAt), when(t.RevokedAt))
	}
	return nil
}

func cmdStaffIssueToken(ctx context.Context, e *env, id string, token tokenFlags) error {
	sid, err := idFlag("id", id)
	if err != nil {
		return err
	}
	spec, err := token.spec(e.cfg.tokenTTL)
	if err != nil {
		return err
	}
	tok, err := inTx(ctx, e, func(tx *store.Tx) (store.IssuedToken, error) {
		return tx.IssueStaffToken(ctx, sid, spec)
	})
	if err != nil {
		return err
	}
	printToken(e, "issued to staff "+sid.String(), tok)
	return nil
}

func cmdStaffRevokeToken(ctx context.Context, e *env, id string) error {
	tid, err := idFlag("token-id", id)
	if err != nil {
		return err
	}
	t, err := inTx(ctx, e, func(tx *store.Tx) (access.StaffToken, error) {
		return tx.RevokeStaffToken(ctx, uuid.Nil, tid)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "token %s of staff %s revoked at %s\n", t.ID, t.Staff, t.RevokedAt.UTC().Format(time.RFC3339))
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
	k, err := inTx(ctx, e, func(tx *store.Tx) (access.KeyInfo, error) {
		return tx.RotateKey(ctx, cid, e.sealer)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "community %s now signs with kid %d\n", cid, k.KID)
	return nil
}

// cmdKeysCompromise withdraws a leaked key (access.KeyCompromise) and prints what it did,
// then the cards to reprint, one a line: card id, resident id, issued at, resident name.
func cmdKeysCompromise(ctx context.Context, e *env, community string, kid uint, reason string) error {
	cid, err := uuid.Parse(community)
	if err != nil {
		return fmt.Errorf("--community: %w", err)
	}
	if kid == 0 || kid > math.MaxUint32 {
		return fmt.Errorf("--kid must be a key id from 1 to %d", uint32(math.MaxUint32))
	}
	if strings.TrimSpace(reason) == "" {
		return errors.New("--reason is required (it goes into the audit log)")
	}
	if _, err := e.db.Community(ctx, cid); err != nil {
		return err
	}
	var out access.KeyCompromise
	err = e.db.InTx(ctx, "cli", func(tx *store.Tx) (err error) {
		out, err = tx.CompromiseKey(ctx, cid, uint32(kid), strings.TrimSpace(reason), e.sealer)
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "community %s: key %d compromised; gates drop it at their next sync; %d credentials revoked (%d devices, which certify again)\n",
		cid, out.KID, out.Revoked, out.DevicesRevoked)
	if out.NewKey != nil {
		fmt.Fprintf(e.stderr, "community %s now signs with kid %d\n", cid, out.NewKey.KID)
	}
	fmt.Fprintf(e.stderr, "%d cards to reprint (card, resident, issued at, name):\n", len(out.CardsToReprint))
	for _, c := range out.CardsToReprint {
		fmt.Fprintf(e.stdout, "%s\t%s\t%s\t%s\n", c.Card, c.Resident, c.IssuedAt.UTC().Format(time.RFC3339), c.ResidentName)
	}
	return nil
}

// cmdStaffInvite prints a one-time link for a member (an existing one, or one made here
// without a token) to register a console passkey. The link alone is on the last line.
func cmdStaffInvite(ctx context.Context, e *env, id, name, role, community string) error {
	k, err := newConsole(e.db, e.cfg.logger(e.stderr), e.cfg.consoleSettings())
	if err != nil {
		return err
	}
	var sid uuid.UUID
	switch {
	case id != "" && (name != "" || role != "" || community != ""):
		return errors.New("give --id, or --name and --role (and --community) for a new member, not both")
	case id != "":
		if sid, err = idFlag("id", id); err != nil {
			return err
		}
	default:
		if name == "" || !slices.Contains(access.StaffRoles, role) {
			return errors.New("--id, or --name and --role admin|guard|auditor, are required")
		}
		c := uuid.Nil
		if community != "" {
			if c, err = idFlag("community", community); err != nil {
				return err
			}
		}
		m, err := inTx(ctx, e, func(tx *store.Tx) (access.StaffMember, error) {
			m, _, err := tx.CreateStaff(ctx, store.NewStaff{Community: c, Name: name, Role: access.StaffRole(role), NoToken: true})
			return m, err
		})
		if err != nil {
			return err
		}
		sid = m.ID
		fmt.Fprintf(e.stdout, "created staff %s (%s, %s)\n", m.ID, m.Name, m.Role)
	}
	inv, err := inTx(ctx, e, func(tx *store.Tx) (store.StaffInvite, error) {
		return tx.CreateStaffInvite(ctx, sid)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "one-time console invite for staff %s, valid until %s; open it in the browser that will hold the passkey:\n%s\n",
		sid, inv.ExpiresAt.UTC().Format(time.RFC3339), k.InviteURL(inv.Code))
	return nil
}
