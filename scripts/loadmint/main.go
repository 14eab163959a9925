// Command loadmint measures how fast mobile-api mints rotating QR codes: it signs up
// many residents (through the store, with a session each), starts a real mobile-api
// process on loopback, has concurrent clients fetch GET /api/v1/pass with their bearer
// sessions for a while, and reports passes/s and latency percentiles, with the rate of
// bare credential.MintIssued measured in the same run for the ratio.
//
//	DATABASE_URL=... go run ./scripts/loadmint -bin bin/mobile-api -residents 2000 -duration 10s
//
// scripts/load-mint wraps it with a throwaway database.
package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/audit"
	"gatepass/internal/credential"
	"gatepass/internal/secret"
	"gatepass/internal/store"
)

func main() {
	bin := flag.String("bin", "bin/mobile-api", "the mobile-api binary to start")
	residents := flag.Int("residents", 2000, "signed-in residents (each session may mint 60 codes a minute)")
	duration := flag.Duration("duration", 10*time.Second, "how long to load")
	workers := flag.Int("concurrency", 16, "concurrent clients (more only queue: 2 cores)")
	flag.Parse()
	// The load generator's own collector pauses would count as server latency.
	debug.SetGCPercent(400)
	if err := run(*bin, *residents, *duration, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "loadmint:", err)
		os.Exit(1)
	}
}

func run(bin string, residents int, duration time.Duration, workers int) error {
	ctx := context.Background()
	dbURL := os.Getenv("DATABASE_URL")
	if dbURL == "" {
		return errors.New("DATABASE_URL is not set")
	}
	dir, err := os.MkdirTemp("", "loadmint-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	key := make([]byte, secret.MasterKeySize)
	_, _ = rand.Read(key)
	keyFile := filepath.Join(dir, "master.key")
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(key)), 0o600); err != nil {
		return err
	}
	sealer, err := secret.NewSealer(key)
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetAuditKey(sealer.DeriveKey(audit.KeyLabel))
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	start := time.Now()
	tokens, err := signUp(ctx, db, sealer, residents)
	if err != nil {
		return err
	}
	fmt.Printf("set up %d signed-in residents in %v\n", len(tokens), time.Since(start).Round(time.Millisecond))

	addr, stop, err := startAPI(bin, dbURL, keyFile)
	if err != nil {
		return err
	}
	defer stop()

	bare := bareMint(2 * time.Second)
	// Warm up (connections, prepared statements, signer cache), then measure.
	if _, err := load(addr, tokens, 2*time.Second, workers); err != nil {
		return err
	}
	res, err := load(addr, tokens, duration, workers)
	if err != nil {
		return err
	}
	fmt.Printf("\nGOMAXPROCS %d, %d residents, %d clients, %v\n", runtime.GOMAXPROCS(0), len(tokens), workers, duration)
	fmt.Printf("GET /api/v1/pass   %8.0f passes/s   p50 %6.2f ms   p99 %6.2f ms   max %6.2f ms   (%d ok, %d errors)\n",
		res.rate, ms(res.p50), ms(res.p99), ms(res.max), res.ok, res.errors)
	fmt.Printf("bare MintIssued    %8.0f mints/s (all cores, same run)\n", bare)
	fmt.Printf("ratio              %8.3f  (HTTP passes/s ÷ bare mints/s)\n", res.rate/bare)
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// signUp makes a community with n residents, each with a passkey row and a session,
// exactly as redemption leaves them (the passkey's key material is never used here).
func signUp(ctx context.Context, db *store.DB, sealer *secret.Sealer, n int) ([]string, error) {
	var c uuid.UUID
	var unit uuid.UUID
	err := db.InTx(ctx, "loadmint", func(tx *store.Tx) error {
		info, err := tx.CreateCommunity(ctx, "loadmint "+uuid.NewString()[:8], sealer)
		if err != nil {
			return err
		}
		c = info.ID
		b, err := tx.CreateBuilding(ctx, c, "A")
		if err != nil {
			return err
		}
		u, err := tx.CreateUnit(ctx, c, b.ID, "101")
		unit = u.ID
		return err
	})
	if err != nil {
		return nil, err
	}
	tokens := make([]string, n)
	var wg sync.WaitGroup
	var firstErr error
	var mu sync.Mutex
	next := atomic.Int64{}
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				tok, err := signUpOne(ctx, db, c, unit, i)
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				tokens[i] = tok
			}
		}()
	}
	wg.Wait()
	return tokens, firstErr
}

func signUpOne(ctx context.Context, db *store.DB, c, unit uuid.UUID, i int) (string, error) {
	var r access.Resident
	var inv store.Invite
	err := db.InTx(ctx, "loadmint", func(tx *store.Tx) (err error) {
		r, inv, err = tx.CreateResident(ctx, store.NewResident{Community: c, Name: fmt.Sprintf("Resident %d", i), Unit: unit, Role: access.RoleOwner})
		return err
	})
	if err != nil {
		return "", err
	}
	_, h, err := secret.Parse(secret.KindInvite, inv.Code)
	if err != nil {
		return "", err
	}
	pending, err := db.InviteByCode(ctx, c, h)
	if err != nil {
		return "", err
	}
	var token string
	err = db.InTx(ctx, "resident:"+r.ID.String(), func(tx *store.Tx) error {
		credID := make([]byte, 32)
		_, _ = rand.Read(credID)
		pk := &store.Passkey{CredentialID: credID, PublicKey: []byte{0}, Name: "loadmint"}
		if err := tx.RedeemInvite(ctx, c, pending.ID, pk); err != nil {
			return err
		}
		token, err = tx.NewSession(ctx, c, r.ID, pk.ID, true)
		return err
	})
	return token, err
}

// startAPI runs mobile-api on a free loopback port and waits until it answers.
func startAPI(bin, dbURL, keyFile string) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "serve", "--no-migrate")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "MASTER_KEY_FILE="+keyFile, "LISTEN_ADDR="+addr, "LOG_LEVEL=warn")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start %s: %w", bin, err)
	}
	stop := func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() }
	for i := 0; i < 100; i++ {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			return addr, stop, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	return "", nil, errors.New("mobile-api did not start")
}

type result struct {
	rate          float64
	ok, errors    int
	p50, p99, max time.Duration
}

// load has workers fetch passes round-robin over the sessions for d.
func load(addr string, tokens []string, d time.Duration, workers int) (result, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: workers, MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}}
	url := "http://" + addr + "/api/v1/pass"
	var next atomic.Int64
	var failures atomic.Int64
	lat := make([][]time.Duration, workers)
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for time.Now().Before(deadline) {
				tok := tokens[int(next.Add(1))%len(tokens)]
				req, _ := http.NewRequest("GET", url, nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					failures.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failures.Add(1)
					continue
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return result{}, fmt.Errorf("no pass was minted (%d errors)", failures.Load())
	}
	slices.Sort(all)
	at := func(q float64) time.Duration { return all[min(len(all)-1, int(q*float64(len(all))))] }
	return result{rate: float64(len(all)) / elapsed.Seconds(), ok: len(all), errors: int(failures.Load()),
		p50: at(0.50), p99: at(0.99), max: all[len(all)-1]}, nil
}

// bareMint is credential.MintIssued alone on every core, in mints per second.
func bareMint(d time.Duration) float64 {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer := credential.Signer{KID: 1, Key: priv}
	var total atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := int64(0)
			for time.Now().Before(deadline) {
				now := time.Now()
				if _, err := credential.MintIssued(signer, credential.Claims{CredentialID: uuid.New(), Subject: credential.SubjectResident,
					Zones: 1, NotBefore: now, ExpiresAt: now.Add(time.Minute)}); err != nil {
					panic(err)
				}
				n++
			}
			total.Add(n)
		}()
	}
	wg.Wait()
	return float64(total.Load()) / d.Seconds()
}
