// Command server is the gatepass source of truth: the admin API for property staff and
// the gate API for gate agents, on one PostgreSQL database.
//
//	server serve                   run the HTTP server (migrates first unless --no-migrate)
//	server migrate                 apply the schema
//	server staff create ...        make a staff member and print their token once
//	server audit verify            recompute the audit hash chain
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/secret"
	"gatepass/internal/store"
)

const usage = `usage: server <command> [flags]

commands:
  serve          run the admin and gate HTTP API (default :8080)
  migrate        apply the database schema
  staff create   --name NAME --role admin|guard|auditor [--community ID]
                 prints the new staff token alone on the last line
  audit verify   recompute the audit log hash chain; exit 1 at the first bad row
  keys rotate    --community ID: retire the community's signing key and make a new one
  demo seed      create a demo community and print its ids and tokens

environment: DATABASE_URL, LISTEN_ADDR, MASTER_KEY_FILE, LOG_LEVEL (flags override)
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// config is what every command reads from the environment and flags.
type config struct {
	databaseURL string
	masterKey   string
	listen      string
	noMigrate   bool
	logLevel    string
}

func (c *config) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.databaseURL, "database-url", os.Getenv("DATABASE_URL"), "PostgreSQL URL (env DATABASE_URL)")
	fs.StringVar(&c.masterKey, "master-key-file", os.Getenv("MASTER_KEY_FILE"), "file with the 32-byte master key, hex or base64 (env MASTER_KEY_FILE)")
	fs.StringVar(&c.listen, "listen", envOr("LISTEN_ADDR", ":8080"), "listen address (env LISTEN_ADDR)")
	fs.BoolVar(&c.noMigrate, "no-migrate", false, "do not apply the schema at start")
	fs.StringVar(&c.logLevel, "log-level", envOr("LOG_LEVEL", "info"), "debug, info, warn or error (env LOG_LEVEL)")
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func (c *config) logger(w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

func (c *config) open(ctx context.Context) (*store.DB, error) {
	if c.databaseURL == "" {
		return nil, errors.New("DATABASE_URL is not set (or pass --database-url)")
	}
	return store.Open(ctx, c.databaseURL)
}

// sealer loads the master key that seals the communities' private signing keys.
func (c *config) sealer() (*secret.Sealer, error) {
	if c.masterKey == "" {
		return nil, errors.New("MASTER_KEY_FILE is not set (or pass --master-key-file): signing keys are sealed under it")
	}
	data, err := os.ReadFile(c.masterKey)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	key, err := secret.ParseMasterKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.masterKey, err)
	}
	return secret.NewSealer(key)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	name, rest := args[0], args[1:]
	if len(rest) > 0 && (name == "staff" || name == "audit" || name == "demo" || name == "keys") {
		name, rest = name+" "+rest[0], rest[1:]
	}
	cmds := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"serve":        cmdServe,
		"migrate":      cmdMigrate,
		"staff create": cmdStaffCreate,
		"audit verify": cmdAuditVerify,
		"demo seed":    cmdDemoSeed,
		"keys rotate":  cmdKeysRotate,
	}
	cmd, ok := cmds[name]
	if !ok {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if err := cmd(ctx, rest, stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 2
		}
		fmt.Fprintf(stderr, "server %s: %v\n", name, err)
		return 1
	}
	return 0
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.flags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := cfg.logger(stderr)
	sealer, err := cfg.sealer()
	if err != nil {
		return err
	}
	db, err := cfg.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if !cfg.noMigrate {
		if err := db.Migrate(ctx); err != nil {
			return err
		}
	}
	srv := NewServer(db, sealer, log)
	go srv.maintain(ctx)
	return srv.Serve(ctx, cfg.listen)
}

func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg config
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.flags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	db, err := cfg.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "schema up to date")
	return nil
}

func cmdStaffCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg config
	var name, role, community string
	fs := flag.NewFlagSet("staff create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.flags(fs)
	fs.StringVar(&name, "name", "", "the staff member's name")
	fs.StringVar(&role, "role", "", "admin, guard or auditor")
	fs.StringVar(&community, "community", "", "community id; omit to make an operator")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if name == "" {
		return errors.New("--name is required")
	}
	if !validRole(role) {
		return fmt.Errorf("--role must be one of %v", access.StaffRoles)
	}
	cid := uuid.Nil
	if community != "" {
		var err error
		if cid, err = uuid.Parse(community); err != nil {
			return fmt.Errorf("--community: %w", err)
		}
	}
	db, err := cfg.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if cid != uuid.Nil {
		if _, err := db.Community(ctx, cid); err != nil {
			return err
		}
	}
	var token string
	var member access.StaffMember
	err = db.InTx(ctx, "cli", func(tx *store.Tx) error {
		member, token, err = tx.CreateStaff(ctx, cid, name, access.StaffRole(role))
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "created %s %s (%s); the token below is shown once\n", role, member.ID, name)
	fmt.Fprintln(stdout, token)
	return nil
}

func validRole(r string) bool {
	for _, v := range access.StaffRoles {
		if v == r {
			return true
		}
	}
	return false
}

func cmdKeysRotate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg config
	var community string
	fs := flag.NewFlagSet("keys rotate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.flags(fs)
	fs.StringVar(&community, "community", "", "community id")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cid, err := uuid.Parse(community)
	if err != nil {
		return fmt.Errorf("--community: %w", err)
	}
	sealer, err := cfg.sealer()
	if err != nil {
		return err
	}
	db, err := cfg.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Community(ctx, cid); err != nil {
		return err
	}
	var k store.KeyInfo
	err = db.InTx(ctx, "cli", func(tx *store.Tx) (err error) {
		k, err = tx.RotateKey(ctx, cid, sealer)
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "community %s now signs with kid %d\n", cid, k.KID)
	return nil
}

func cmdAuditVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg config
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.flags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	db, err := cfg.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := db.VerifyAudit(ctx)
	if err != nil {
		return fmt.Errorf("after %d good rows: %w", n, err)
	}
	fmt.Fprintf(stdout, "audit chain intact: %d rows\n", n)
	return nil
}
