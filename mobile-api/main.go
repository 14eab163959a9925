// Command mobile-api serves residents' phones: passkeys, rotating QR codes, device
// credentials, visitor passes, own history, export and deletion, and the resident web
// app itself.
//
//	mobile-api serve    run the resident API and web app (migrates first unless --no-migrate)
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
	"runtime/debug"
	"strings"
	"syscall"

	"gatepass/internal/audit"
	"gatepass/internal/httpx"
	"gatepass/internal/secret"
	"gatepass/internal/store"
	"gatepass/internal/wechat"
)

const usage = `usage: mobile-api serve [flags]

environment (flags override):
  LISTEN_ADDR      listen address (default :8081)
  DATABASE_URL     PostgreSQL URL (shared with server)
  MASTER_KEY_FILE  the 32-byte master key that seals the communities' signing keys
  RP_ID            WebAuthn relying party id: the site's domain (default localhost)
  RP_ORIGINS       comma-separated origins the app is served from
                   (default http://localhost:8081,http://127.0.0.1:8081)
  METRICS_ADDR     /metrics, apart from the API (default 127.0.0.1:9091; "off" for none)
  TRUSTED_PROXIES  comma-separated IPs or CIDRs whose X-Forwarded-Proto is believed
  LOG_LEVEL        debug, info, warn or error
  WECHAT_APPID     the WeChat mini-program's AppID (with WECHAT_SECRET: WeChat sign-in)
  WECHAT_SECRET    its AppSecret; never logged, never sent to a client
  WECHAT_API_BASE  WeChat's API origin (default https://api.weixin.qq.com)
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func run(ctx context.Context, args []string, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "serve" {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if err := cmdServe(ctx, args[1:], stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 2
		}
		fmt.Fprintf(stderr, "mobile-api serve: %v\n", err)
		return 1
	}
	return 0
}

func cmdServe(ctx context.Context, args []string, stderr io.Writer) error {
	var databaseURL, masterKey, listen, rpID, origins, logLevel string
	var noMigrate bool
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&databaseURL, "database-url", os.Getenv("DATABASE_URL"), "PostgreSQL URL (env DATABASE_URL)")
	fs.StringVar(&masterKey, "master-key-file", os.Getenv("MASTER_KEY_FILE"), "master key file (env MASTER_KEY_FILE)")
	fs.StringVar(&listen, "listen", envOr("LISTEN_ADDR", ":8081"), "listen address (env LISTEN_ADDR)")
	fs.StringVar(&rpID, "rp-id", envOr("RP_ID", "localhost"), "WebAuthn relying party id (env RP_ID)")
	fs.StringVar(&origins, "rp-origins", envOr("RP_ORIGINS", "http://localhost:8081,http://127.0.0.1:8081"), "allowed origins (env RP_ORIGINS)")
	fs.StringVar(&logLevel, "log-level", envOr("LOG_LEVEL", "info"), "log level (env LOG_LEVEL)")
	fs.BoolVar(&noMigrate, "no-migrate", false, "do not apply the schema at start")
	var edge httpx.Edge
	edge.Flags(fs, "127.0.0.1:9091") // the server's default is 9090, for one host running both
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := edge.Check(); err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" {
		// The live heap is small (tens of MB) and every pass request allocates a little:
		// at the default 100 the collector ran so often it cost a fifth of the
		// throughput in scripts/load-mint. 400 trades some memory for it.
		debug.SetGCPercent(400)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		level = slog.LevelInfo
	}
	log := secret.NewLogger(stderr, level)
	if databaseURL == "" {
		return errors.New("DATABASE_URL is not set (or pass --database-url)")
	}
	if masterKey == "" {
		return errors.New("MASTER_KEY_FILE is not set (or pass --master-key-file): signing keys are sealed under it")
	}
	data, err := os.ReadFile(masterKey)
	if err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	key, err := secret.ParseMasterKey(data)
	if err != nil {
		return fmt.Errorf("%s: %w", masterKey, err)
	}
	sealer, err := secret.NewSealer(key)
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, databaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetAuditKey(sealer.DeriveKey(audit.KeyLabel))
	if !noMigrate {
		// schema.Migrate holds a session lock: safe beside a starting server.
		if err := db.Migrate(ctx); err != nil {
			return err
		}
	}
	wx, err := weChatFromEnv()
	if err != nil {
		return err
	}
	api, err := New(Config{DB: db, Sealer: sealer, Log: log, RPID: rpID, RPOrigins: splitOrigins(origins), Edge: edge, WeChat: wx})
	if err != nil {
		return err
	}
	go api.maintain(ctx)
	return api.Serve(ctx, listen)
}

// weChatFromEnv sets up WeChat sign-in from WECHAT_APPID, WECHAT_SECRET and
// WECHAT_API_BASE: off when neither the AppID nor the secret is set, an error when only
// one is. The secret stays in the client; no error or log line names it.
func weChatFromEnv() (*wechat.Client, error) {
	appID, secret := os.Getenv("WECHAT_APPID"), os.Getenv("WECHAT_SECRET")
	if appID == "" && secret == "" {
		return nil, nil
	}
	return wechat.New(wechat.Config{AppID: appID, Secret: secret, Base: os.Getenv("WECHAT_API_BASE")})
}

func splitOrigins(s string) []string {
	var out []string
	for _, o := range strings.Split(s, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, strings.TrimSuffix(o, "/"))
		}
	}
	return out
}
