// Command server is the gatepass source of truth: it serves the admin API for property
// staff (server/internal/admin) and the gate API for gate agents
// (server/internal/gatesync) on one PostgreSQL database, and runs the operator's commands.
//
//	server serve                   run the HTTP server (migrates first unless --no-migrate)
//	server migrate                 apply the schema
//	server staff create ...        make a staff member and print their token once
//	server staff invite ...        a one-time link to register a console passkey
//	server staff disable|enable    take a member's access away, or give it back
//	server staff tokens ...        list, issue and revoke a member's tokens
//	server audit verify            recompute the audit hash chain
//	server keys rotate ...         retire the signing key and make a new one
//	server keys compromise ...     withdraw a leaked key; print the cards to reprint
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
	"strings"
	"syscall"
	"time"
	// The time zone database is embedded: schedules are judged in the community's
	// time zone, and a gate box (or a container) may have no zoneinfo of its own.
	_ "time/tzdata"

	"gatepass/internal/access"
	"gatepass/internal/audit"
	"gatepass/internal/httpx"
	"gatepass/internal/secret"
	"gatepass/internal/store"
	"gatepass/internal/webhook"
	"gatepass/server/internal/dispatch"
)

const usage = `usage: server <command> [flags]

commands:
  serve          run the admin and gate HTTP API (default :8080), and /metrics
                 apart (default 127.0.0.1:9090; METRICS_ADDR=off for none)
  migrate        apply the database schema
  staff create   --name NAME --role admin|guard|auditor [--community ID]
                 [--kind console|integration] [--label TEXT] [--ttl 90d]
                 prints the new staff token alone on the last line
  staff invite   --id ID, or --name NAME --role ROLE [--community ID] to make a
                 member without a token: prints a one-time link (72 h) to register
                 a passkey for the staff console at /console/
  staff disable  --id ID: every token of the member fails at once (operators too);
                 the last enabled admin of a community cannot be disabled
  staff enable   --id ID
  staff tokens   --id ID: the member's tokens (created, last used, expires; no secrets)
  staff issue-token   --id ID [--kind] [--label] [--ttl]: a new token, shown once
  staff revoke-token  --token-id ID
  audit verify   recompute the audit log hash chain; exit 1 at the first bad row
  keys rotate    --community ID: retire the community's signing key and make a new one
  keys compromise --community ID --kid N --reason TEXT: withdraw a leaked key for good
                 (gates drop it, what it signed is revoked); prints the cards to reprint
  demo seed      create a demo community and print its ids and tokens
  grant          [--role gatepass_app]: migrate, then give the programs' database role
                 what they need at run time and no more (run as the database owner)

environment: DATABASE_URL, LISTEN_ADDR, METRICS_ADDR, TRUSTED_PROXIES,
             MASTER_KEY_FILE, EVENT_RETENTION, CHANGE_LOG_RETENTION,
             STAFF_TOKEN_TTL, WEBHOOK_ALLOW_LOOPBACK, WEBHOOK_TIMEOUT,
             WEBHOOK_RETRY_BASE, GATE_OFFLINE_AFTER, CONSOLE_ORIGINS, CONSOLE_RP_ID,
             RESIDENT_APP_URL, LOG_LEVEL (flags override)
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
	retention   time.Duration // entry events older than this are purged
	changes     time.Duration // change-log rows older than this are pruned
	tokenTTL    time.Duration // a new staff token's lifetime unless asked otherwise
	edge        httpx.Edge    // the metrics listener and the trusted proxies
	webhooks    dispatch.Config
	console     string // the console's origins, comma-separated
	consoleRPID string // the console's WebAuthn relying party id
	residentApp string // mobile-api's origin, for invite letters' QR codes
}

// consoleSettings are the console's settings from the flags.
func (c *config) consoleSettings() ConsoleSettings {
	var origins []string
	for _, o := range strings.Split(c.console, ",") {
		if o = strings.TrimSuffix(strings.TrimSpace(o), "/"); o != "" {
			origins = append(origins, o)
		}
	}
	return ConsoleSettings{Origins: origins, RPID: c.consoleRPID, ResidentAppURL: c.residentApp}
}

// defaultMetricsAddr keeps /metrics off the API's port and on loopback; mobile-api's is
// the next port, so both run on one host.
const defaultMetricsAddr = "127.0.0.1:9090"

// ttlValue is a flag of a lifetime written as access.ParseTTL reads it ("90d", "36h").
type ttlValue struct{ d *time.Duration }

func (v ttlValue) String() string {
	if v.d == nil {
		return ""
	}
	return access.FormatTTL(*v.d)
}

func (v ttlValue) Set(s string) error {
	d, err := access.ParseTTL(s)
	if err != nil {
		return err
	}
	*v.d = d
	return nil
}

func (c *config) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.databaseURL, "database-url", os.Getenv("DATABASE_URL"), "PostgreSQL URL (env DATABASE_URL)")
	fs.StringVar(&c.masterKey, "master-key-file", os.Getenv("MASTER_KEY_FILE"), "file with the 32-byte master key, hex or base64 (env MASTER_KEY_FILE)")
	fs.StringVar(&c.listen, "listen", envOr("LISTEN_ADDR", ":8080"), "listen address (env LISTEN_ADDR)")
	fs.BoolVar(&c.noMigrate, "no-migrate", false, "do not apply the schema at start")
	fs.DurationVar(&c.retention, "event-retention", 180*24*time.Hour,
		"keep entry events this long (env EVENT_RETENTION, default 180 days)")
	fs.DurationVar(&c.changes, "change-retention", 30*24*time.Hour,
		"keep gate sync changes this long; a gate offline longer gets a full snapshot (env CHANGE_LOG_RETENTION, default 30 days)")
	c.tokenTTL = access.DefaultTokenTTL
	fs.Var(ttlValue{&c.tokenTTL}, "staff-token-ttl",
		"lifetime of a new staff token unless one is asked for, e.g. 30d (env STAFF_TOKEN_TTL, default 90d, at most 180d)")
	c.edge.Flags(fs, defaultMetricsAddr)
	fs.BoolVar(&c.webhooks.AllowLoopback, "webhook-allow-loopback", os.Getenv("WEBHOOK_ALLOW_LOOPBACK") == "true",
		"development and tests only: let webhook endpoints be on loopback addresses, over plain http too (env WEBHOOK_ALLOW_LOOPBACK=true)")
	fs.DurationVar(&c.webhooks.Timeout, "webhook-timeout", 10*time.Second, "one webhook delivery's timeout (env WEBHOOK_TIMEOUT)")
	fs.DurationVar(&c.webhooks.Schedule.Base, "webhook-retry-base", webhook.DefaultSchedule.Base,
		"first wait before a failed webhook delivery is retried; it doubles up to an hour, for 24 hours (env WEBHOOK_RETRY_BASE)")
	fs.DurationVar(&c.webhooks.OfflineAfter, "gate-offline-after", 5*time.Minute,
		"silence after which a gate is reported offline to webhooks (env GATE_OFFLINE_AFTER)")
	fs.StringVar(&c.console, "console-origins", envOr("CONSOLE_ORIGINS", "http://localhost:8080"),
		"origins the staff console is served from, comma-separated; the first makes staff invite links (env CONSOLE_ORIGINS)")
	fs.StringVar(&c.consoleRPID, "console-rp-id", os.Getenv("CONSOLE_RP_ID"),
		"WebAuthn relying party id of the console (env CONSOLE_RP_ID; default: the first origin's host)")
	fs.StringVar(&c.residentApp, "resident-app-url", os.Getenv("RESIDENT_APP_URL"),
		"the resident app's origin (mobile-api), for the QR code of printed invite letters (env RESIDENT_APP_URL)")
	fs.StringVar(&c.logLevel, "log-level", envOr("LOG_LEVEL", "info"), "debug, info, warn or error (env LOG_LEVEL)")
}

// durationEnv names the environment variable behind each duration flag. They are set
// through the flag set, so a value the flag would refuse is refused from the environment
// too, instead of silently becoming the default.
var durationEnv = []struct{ env, flag string }{
	{"EVENT_RETENTION", "event-retention"},
	{"CHANGE_LOG_RETENTION", "change-retention"},
	{"STAFF_TOKEN_TTL", "staff-token-ttl"},
	{"WEBHOOK_TIMEOUT", "webhook-timeout"},
	{"WEBHOOK_RETRY_BASE", "webhook-retry-base"},
	{"GATE_OFFLINE_AFTER", "gate-offline-after"},
}

// parse reads the environment's durations, then the command line, and checks them.
func (c *config) parse(fs *flag.FlagSet, args []string) error {
	for _, d := range durationEnv {
		if v := os.Getenv(d.env); v != "" {
			if err := fs.Set(d.flag, v); err != nil {
				return fmt.Errorf("%s=%q: %w", d.env, v, err)
			}
		}
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.retention <= 0 || c.changes <= 0 {
		return errors.New("retention periods must be positive (EVENT_RETENTION, CHANGE_LOG_RETENTION)")
	}
	if c.webhooks.Timeout <= 0 || c.webhooks.Schedule.Base <= 0 || c.webhooks.OfflineAfter <= 0 {
		return errors.New("webhook timeout, retry base and gate offline time must be positive (WEBHOOK_TIMEOUT, WEBHOOK_RETRY_BASE, GATE_OFFLINE_AFTER)")
	}
	if err := c.edge.Check(); err != nil {
		return err
	}
	// The default makes console tokens, so it is bounded as they are.
	if _, err := access.TokenTTL(access.TokenConsole, 0, c.tokenTTL); err != nil {
		return fmt.Errorf("staff token lifetime (STAFF_TOKEN_TTL, --staff-token-ttl): %w", err)
	}
	return nil
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
	return secret.NewLogger(w, level)
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

// env is what a command gets: its parsed configuration, the open database, the master
// key's sealer when it asked for one, and where to print.
type env struct {
	cfg            config
	db             *store.DB
	sealer         *secret.Sealer
	stdout, stderr io.Writer
}

// command is one subcommand: its own flags, whether it needs the master key, and what it
// does with an open database.
type command struct {
	flags   func(fs *flag.FlagSet)
	sealed  bool // needs the master key: signing keys are sealed and the audit chain keyed under it
	migrate bool // apply the schema before running (serve skips it with --no-migrate)
	run     func(ctx context.Context, e *env) error
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
	cmd, ok := commands()[name]
	if !ok {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if err := cmd.start(ctx, name, rest, stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 2
		}
		fmt.Fprintf(stderr, "server %s: %v\n", name, err)
		return 1
	}
	return 0
}

// start parses the flags, opens what the command needs, and runs it.
func (cmd command) start(ctx context.Context, name string, args []string, stdout, stderr io.Writer) error {
	e := &env{stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	e.cfg.flags(fs)
	if cmd.flags != nil {
		cmd.flags(fs)
	}
	if err := e.cfg.parse(fs, args); err != nil {
		return err
	}
	if cmd.sealed {
		var err error
		if e.sealer, err = e.cfg.sealer(); err != nil {
			return err
		}
	}
	db, err := e.cfg.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	e.db = db
	if e.sealer != nil {
		db.SetAuditKey(e.sealer.DeriveKey(audit.KeyLabel))
	}
	if cmd.migrate && !e.cfg.noMigrate {
		if err := db.Migrate(ctx); err != nil {
			return err
		}
	}
	return cmd.run(ctx, e)
}
