package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatepass/internal/dbtest"
)

func TestCommandLine(t *testing.T) {
	var stderr bytes.Buffer
	if code := run(context.Background(), nil, &stderr); code != 2 || !strings.Contains(stderr.String(), "usage") {
		t.Fatalf("no command: %d %q", code, stderr.String())
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"serve", "--database-url", "", "--master-key-file", ""}, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "DATABASE_URL") {
		t.Fatalf("serve without a database: %d %q", code, stderr.String())
	}
}

// TestServe runs `mobile-api serve` as the command does: migrate, listen, answer, stop.
func TestServe(t *testing.T) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	keyFile := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(key)), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var stderr bytes.Buffer
	go func() {
		done <- run(ctx, []string{"serve", "--database-url", dbtest.URL(t), "--master-key-file", keyFile, "--listen", addr,
			"--rp-origins", fmt.Sprintf("http://%s/", addr)}, &stderr)
	}()
	var resp *http.Response
	for i := 0; i < 100; i++ {
		if resp, err = http.Get("http://" + addr + "/"); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		cancel()
		t.Fatalf("serve did not answer: %v\n%s", err, stderr.String())
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exited %d: %s", code, stderr.String())
	}
}

// WeChat sign-in is configured from the environment: off with neither variable, an
// error with only one (a half-set deployment must not start and fail at each login).
func TestWeChatFromEnv(t *testing.T) {
	for _, tc := range []struct {
		appID, secret, base string
		on, fails           bool
	}{
		{"", "", "", false, false},
		{"wx0123", "s3cret", "", true, false},
		{"wx0123", "", "", false, true},
		{"", "s3cret", "", false, true},
		{"wx0123", "s3cret", "not a url", false, true},
	} {
		t.Setenv("WECHAT_APPID", tc.appID)
		t.Setenv("WECHAT_SECRET", tc.secret)
		t.Setenv("WECHAT_API_BASE", tc.base)
		c, err := weChatFromEnv()
		if (err != nil) != tc.fails || (c != nil) != tc.on {
			t.Errorf("%+v: client %v, err %v", tc, c != nil, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error names the secret: %v", err)
		}
	}
}
