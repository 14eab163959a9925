package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gatepass/internal/secret"
)

// server is the real server binary, started on loopback ports of its own.
type server struct {
	cmd     *exec.Cmd
	base    string // http://127.0.0.1:PORT
	metrics string // http://127.0.0.1:PORT/metrics
	logPath string
	env     []string
}

// freePort asks the kernel for a free loopback port. Another process could take it
// before the server binds it; the server then fails to start and the run says so.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startServer migrates the database, makes an operator (the staff token that creates the
// community) and starts `server serve`. It returns the operator's token.
func startServer(bin, dbURL, dir string) (*server, string, error) {
	key := make([]byte, secret.MasterKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, "", fmt.Errorf("master key: %w", err)
	}
	keyFile := filepath.Join(dir, "master.key")
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(key)), 0o600); err != nil {
		return nil, "", fmt.Errorf("master key: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	mport, err := freePort()
	if err != nil {
		return nil, "", err
	}
	s := &server{
		base:    "http://127.0.0.1:" + strconv.Itoa(port),
		metrics: "http://127.0.0.1:" + strconv.Itoa(mport) + "/metrics",
		logPath: filepath.Join(dir, "server.log"),
		env: append(os.Environ(), "DATABASE_URL="+dbURL, "MASTER_KEY_FILE="+keyFile,
			"LISTEN_ADDR=127.0.0.1:"+strconv.Itoa(port), "METRICS_ADDR=127.0.0.1:"+strconv.Itoa(mport),
			// One line per enrolled gate would be 1,000 lines of noise; warnings still show.
			"LOG_LEVEL=warn"),
	}
	if out, err := s.command(bin, "migrate").CombinedOutput(); err != nil {
		return nil, "", fmt.Errorf("server migrate: %w: %s", err, out)
	}
	var stdout, stderr bytes.Buffer
	mk := s.command(bin, "staff", "create", "--name", "gateload operator", "--role", "admin", "--ttl", "1d")
	mk.Stdout, mk.Stderr = &stdout, &stderr
	if err := mk.Run(); err != nil {
		return nil, "", fmt.Errorf("server staff create: %w: %s", err, stderr.String())
	}
	// The token is alone on stdout's last line (server/cli.go, printToken).
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	token := strings.TrimSpace(lines[len(lines)-1])
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return nil, "", fmt.Errorf("server log: %w", err)
	}
	s.cmd = s.command(bin, "serve", "--no-migrate")
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		logFile.Close()
		return nil, "", fmt.Errorf("start server: %w", err)
	}
	logFile.Close() // the child has its own descriptor
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(s.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, token, nil
			}
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, "", fmt.Errorf("server did not answer /healthz within 20 s; log: %s", s.tail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *server) command(bin string, args ...string) *exec.Cmd {
	c := atCallersPriority(context.Background(), bin, args...)
	c.Env = s.env
	return c
}

// stop asks the server to shut down as an operator would (SIGTERM answers the held polls
// at once), and kills it if it has not gone within 15 s.
func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// tail is the end of the server's log, for error messages.
func (s *server) tail() string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// usage is one reading of the server process: memory from /proc/PID/status, CPU time
// from /proc/PID/stat, goroutines from its /metrics.
type usage struct {
	rssKB, hwmKB int64
	cpu          time.Duration
	goroutines   int64
}

// clockTick is USER_HZ, 100 on every Linux this runs on (sysconf is not reachable
// without cgo).
const clockTick = 100

func (s *server) usage() (usage, error) {
	var u usage
	pid := strconv.Itoa(s.cmd.Process.Pid)
	st, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return u, fmt.Errorf("server status: %w", err)
	}
	for _, line := range strings.Split(string(st), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "VmRSS:" {
			u.rssKB, _ = strconv.ParseInt(f[1], 10, 64)
		}
		if len(f) >= 2 && f[0] == "VmHWM:" {
			u.hwmKB, _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return u, fmt.Errorf("server stat: %w", err)
	}
	// The command name may hold spaces: fields count from after its closing parenthesis,
	// where utime and stime are the 12th and 13th (proc(5) fields 14 and 15).
	rest := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(rest) < 13 {
		return u, errors.New("server stat: too few fields")
	}
	ut, _ := strconv.ParseInt(rest[11], 10, 64)
	sy, _ := strconv.ParseInt(rest[12], 10, 64)
	u.cpu = time.Duration(ut+sy) * time.Second / clockTick
	g, err := s.goroutines()
	u.goroutines = g
	return u, err
}

func (s *server) goroutines() (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.metrics, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 4<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, errors.New("metrics: no go_goroutines")
}

// admin is a staff client of the admin API.
type admin struct {
	base, token string
	client      *http.Client
}

// call sends in as JSON (nil: no body) and decodes a 2xx answer into out (nil: drop it).
func (a *admin) call(ctx context.Context, method, path string, in, out any) error {
	if err := send(ctx, a.client, method, a.base+"/admin/v1"+path, a.token, in, out); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

// issueCard prints a card (the answer is a PNG; the id comes in a header).
func (a *admin) issueCard(ctx context.Context, resident string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/admin/v1/residents/"+resident+"/cards", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := a.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("issue card: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("issue card: %d", resp.StatusCode)
	}
	return resp.Header.Get("X-Credential-Id"), nil
}
