// Package e2e runs the whole story with real processes: server, mobile-api and
// gate-agent binaries, a real PostgreSQL, headless Chromium with a virtual passkey
// authenticator, and zbar reading the QR code off the phone's screen. `make test` runs it
// with the rest (`go test ./...`).
package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"gatepass/internal/apitest"
	"gatepass/internal/browsertest"
	"gatepass/internal/credential"
	"gatepass/internal/dbtest"
	"gatepass/internal/wechat/wechattest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// system is the three programs running against one database.
type system struct {
	t        *testing.T
	bin      string
	env      []string
	server   string // http://127.0.0.1:port
	console  string // the same server as http://localhost:port, for the staff console's passkeys
	mobile   string // http://localhost:port (WebAuthn refuses IP addresses)
	operator string
	logs     map[string]*logBuffer // every program's output, by name
	wx       *wechattest.Server    // WeChat's code-to-session API, local
}

// The mini-program's identity at the fake WeChat; no log may show the secret.
const (
	testWeChatAppID  = "wxe2e0123456789ab"
	testWeChatSecret = "e2e-appsecret-never-in-a-log-42"
)

// TestResidentQRGateEntryLog is issue 7's story: staff create a resident and a gate; the
// gate enrolls; the resident registers a passkey in a browser and opens the pass screen;
// the QR code read off the screen is scanned at the gate and the door opens; the entry
// reaches the staff entry log and the resident's history; a visitor's link opens it; a
// resident of the WeChat mini-program binds, signs in and enters (issue 18); after
// move-out the same code is refused; a manual release opens the door and is audited.
func TestResidentQRGateEntryLog(t *testing.T) {
	s := start(t)

	// Staff set up the community.
	c := s.admin("POST", "/admin/v1/communities", s.operator, map[string]any{"name": "E2E Gardens"}, 201)["id"].(string)
	base := "/admin/v1/communities/" + c
	b := s.admin("POST", base+"/buildings", s.operator, map[string]any{"name": "B1"}, 201)["id"].(string)
	u := s.admin("POST", base+"/units", s.operator, map[string]any{"building_id": b, "label": "101"}, 201)["id"].(string)
	res := s.admin("POST", base+"/residents", s.operator, map[string]any{"name": "Wang Fang", "unit_id": u, "role": "tenant"}, 201)
	resident, invite := res["id"].(string), res["invite_code"].(string)
	gateRes := s.admin("POST", base+"/gates", s.operator, map[string]any{"name": "North gate", "zone": 0, "direction": "in"}, 201)
	gate, enrollment := gateRes["id"].(string), gateRes["enrollment_code"].(string)
	guard := s.admin("POST", base+"/staff", s.operator, map[string]any{"name": "Night guard", "role": "guard"}, 201)["token"].(string)

	// The gate enrolls and runs with a TCP scanner and the log door driver.
	agent := s.startAgent(enrollment)

	// The resident registers a passkey and opens the pass screen in a real browser.
	ctx := browsertest.New(t, 2*time.Minute)
	err := chromedp.Run(ctx, browsertest.Phone(), browsertest.VirtualAuthenticator(),
		chromedp.Navigate(s.mobile+"/"),
		chromedp.WaitVisible("#invite-code", chromedp.ByID),
		chromedp.SendKeys("#invite-code", invite, chromedp.ByID),
		chromedp.Click("#redeem-btn", chromedp.ByID),
		browsertest.WaitPass(),
	)
	if err != nil {
		t.Fatalf("redeem the invite and register a passkey: %v", err)
	}
	code := browsertest.ScreenshotQR(t, ctx, "e2e-pass")
	if !strings.HasPrefix(code, credential.Prefix) {
		t.Fatalf("the screen shows %q", code)
	}

	// Scanned at the gate: the door opens.
	agent.scan(code)
	agent.waitLog(`"msg":"DOOR OPEN"`, 1, 5*time.Second)
	granted := s.waitEvent(c, guard, "granted", "ok", 15*time.Second)
	if granted["method"] != "qr" || granted["gate_id"] != gate {
		t.Fatalf("entry log: %v", granted)
	}

	// The resident sees the entry in their own history.
	var history string
	err = chromedp.Run(ctx, chromedp.Evaluate(`fetch('/api/v1/entries').then(r => r.text())`, &history,
		func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	if err != nil || !strings.Contains(history, granted["id"].(string)) {
		t.Fatalf("resident history %s does not list entry %s: %v", history, granted["id"], err)
	}

	// The resident makes a visitor pass; the visitor opens the link (no account) and the
	// code from it opens the gate.
	var created string
	err = chromedp.Run(ctx, chromedp.Evaluate(`fetch('/api/v1/visitors', {method: 'POST', headers: {'Content-Type': 'application/json'},
		body: JSON.stringify({label: 'Grandma Wang visiting', max_entries: 2, valid_until: new Date(Date.now() + 3600e3).toISOString()})}).then(r => r.text())`, &created,
		func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	if err != nil {
		t.Fatalf("create a visitor pass: %v", err)
	}
	var visitor struct{ Link string }
	if err := json.Unmarshal([]byte(created), &visitor); err != nil || !strings.Contains(visitor.Link, "/v/") {
		t.Fatalf("visitor pass answer %s: %v", created, err)
	}
	token := visitor.Link[strings.LastIndex(visitor.Link, "/v/")+3:]
	for _, path := range []string{"/v/" + token, "/api/v1/visit/" + token} {
		if resp, err := http.Get(s.mobile + path); err != nil || resp.StatusCode != 200 {
			t.Fatalf("visitor opens %s: %v %v", path, resp, err)
		}
	}
	visitorCode, _ := apitest.Do(t, "GET", s.mobile+"/api/v1/visit/"+token+"/pass", "", nil).JSON(t)["payload"].(string)
	if !strings.HasPrefix(visitorCode, credential.Prefix) {
		t.Fatalf("visitor code %q", visitorCode)
	}
	agent.scan(visitorCode)
	agent.waitLog(`"msg":"DOOR OPEN"`, 2, 5*time.Second)

	// Another resident lives here through the WeChat mini-program (issue 18): they scan
	// their invite QR in it (the invite link) and WeChat's login binds them; later a login
	// code alone signs them in. Their pass, fetched as the mini-program does, opens the
	// gate, and the entry is in their history; what needs a passkey is refused.
	li := s.admin("POST", base+"/residents", s.operator, map[string]any{"name": "Li Wei", "unit_id": u, "role": "owner"}, 201)
	openid := "oE2E-wechat-user-0123456789"
	bound := apitest.Do(t, "POST", s.mobile+"/api/v1/wechat/bind", "", map[string]any{
		"code": s.wx.Login(openid), "invite_code": s.mobile + "/i/" + li["invite_code"].(string)})
	if bound.Status != 201 {
		t.Fatalf("bind WeChat: %d %s", bound.Status, bound.Body)
	}
	signedIn := apitest.Do(t, "POST", s.mobile+"/api/v1/wechat/session", "", map[string]any{
		"code": s.wx.Login(openid), "community_id": bound.JSON(t)["community_id"]})
	if signedIn.Status != 200 || signedIn.JSON(t)["resident_id"] != li["id"] {
		t.Fatalf("WeChat sign-in: %d %s", signedIn.Status, signedIn.Body)
	}
	weChat := signedIn.JSON(t)["session_token"].(string)
	weChatPass := apitest.Do(t, "GET", s.mobile+"/api/v1/pass", weChat, nil)
	weChatCode, _ := weChatPass.JSON(t)["payload"].(string)
	if weChatPass.Status != 200 || !strings.HasPrefix(weChatCode, credential.Prefix) {
		t.Fatalf("the mini-program's pass: %d %s", weChatPass.Status, weChatPass.Body)
	}
	agent.scan(weChatCode)
	agent.waitLog(`"msg":"DOOR OPEN"`, 3, 5*time.Second)
	var weChatEntry map[string]any
	for deadline := time.Now().Add(15 * time.Second); weChatEntry == nil; {
		for _, e := range apitest.Do(t, "GET", s.mobile+"/api/v1/entries", weChat, nil).JSON(t)["entries"].([]any) {
			if e.(map[string]any)["result"] == "granted" && e.(map[string]any)["gate_id"] == gate {
				weChatEntry = e.(map[string]any)
			}
		}
		if weChatEntry == nil && time.Now().After(deadline) {
			t.Fatal("the WeChat resident's entry is not in their history")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if r := apitest.Do(t, "GET", s.mobile+"/api/v1/me/export", weChat, nil); r.Status != 403 || !bytes.Contains(r.Body, []byte("passkey_required")) {
		t.Fatalf("a WeChat session exported data: %d %s", r.Status, r.Body)
	}

	// Staff move the resident out; within seconds the gate refuses the same code.
	s.admin("POST", base+"/residents/"+resident+"/move-out", s.operator, nil, 200)
	deadline := time.Now().Add(10 * time.Second)
	for {
		time.Sleep(500 * time.Millisecond)
		agent.scan(code)
		if ev := s.findEvent(c, guard, "denied", "revoked"); ev != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the moved-out resident's code was not refused as revoked:\n%s", agent.logs())
		}
	}
	if n := agent.count(`"msg":"DOOR OPEN"`); n != 3 {
		t.Fatalf("door opened %d times; only the resident's, the visitor's and the WeChat resident's first scans may open it", n)
	}

	// The guard releases the door by hand: it opens once and the release is audited.
	s.admin("POST", "/admin/v1/gates/"+gate+"/unlock", guard, map[string]any{"reason": "resident locked out, identity checked"}, 201)
	agent.waitLog(`"msg":"DOOR OPEN"`, 4, 5*time.Second)
	manual := s.waitEvent(c, guard, "granted", "manual_release", 15*time.Second)
	if manual["method"] != "manual" || manual["staff_id"] == nil {
		t.Fatalf("manual release event: %v", manual)
	}
	audit := s.admin("GET", "/admin/v1/audit?community_id="+c, s.operator, nil, 200)["entries"].([]any)
	found := false
	for _, e := range audit {
		if strings.Contains(e.(map[string]any)["action"].(string), "unlock") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no audit row for the manual release: %v", audit)
	}
	if os.Getenv("E2E_SHOW_LOGS") != "" {
		t.Logf("gate-agent:\n%s", agent.logs())
	}
	s.noSecretsInLogs(invite, enrollment, guard, s.operator, code, token, visitorCode, weChat, weChatCode, testWeChatSecret, openid)
}

// secretShaped is any gatepass bearer secret or QR code text.
var secretShaped = regexp.MustCompile(`gp[a-z]_[A-Za-z0-9_-]{16,}|GA1:[0-9A-Z $%*+./:-]{16,}`)

// noSecretsInLogs reads every program's output for the secrets the story handled and for
// anything shaped like one: whoever reads a log must not be able to open a door with it.
func (s *system) noSecretsInLogs(secrets ...string) {
	s.t.Helper()
	if len(s.logs) < 3 {
		s.t.Fatalf("only %d program logs collected", len(s.logs))
	}
	for name, l := range s.logs {
		text := l.String()
		if len(text) == 0 {
			s.t.Errorf("%s wrote no log at all", name)
		}
		for _, sec := range secrets {
			if strings.Contains(text, sec) || strings.Contains(text, sec[:24]) {
				s.t.Errorf("%s's log holds a secret of the story (%.8s...)", name, sec)
			}
		}
		if m := secretShaped.FindString(text); m != "" {
			s.t.Errorf("%s's log holds something shaped like a secret: %.12s...", name, m)
		}
	}
}

// start builds the three programs and runs server and mobile-api on free ports.
func start(t *testing.T) *system {
	t.Helper()
	dir := t.TempDir()
	s := &system{t: t, bin: dir}
	build := exec.Command("go", "build", "-o", dir+"/", "gatepass/server", "gatepass/mobile-api", "gatepass/gate-agent")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	key := filepath.Join(dir, "master.key")
	if err := os.WriteFile(key, []byte(strings.Repeat("e2", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	// The database owner migrates and grants; the programs run as the role that cannot
	// rewrite the audit log (docs/operations.md, "Database roles").
	s.env = append(os.Environ(), "DATABASE_URL="+dbtest.URL(t), "MASTER_KEY_FILE="+key)
	if out, err := s.command("server", "grant", "--role", "gatepass_app").CombinedOutput(); err != nil {
		t.Fatalf("grant: %v\n%s", err, out)
	}
	appURL, err := url.Parse(dbtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	appURL.User = url.User("gatepass_app")
	s.env = append(os.Environ(), "DATABASE_URL="+appURL.String(), "MASTER_KEY_FILE="+key)

	serverAddr, mobileAddr := apitest.FreeAddr(t), apitest.FreeAddr(t)
	s.server = "http://" + serverAddr
	s.mobile = "http://localhost:" + portOf(mobileAddr)
	s.console = "http://localhost:" + portOf(serverAddr)
	s.run("server", []string{"CONSOLE_ORIGINS=" + s.console, "RESIDENT_APP_URL=" + s.mobile, "WEBHOOK_ALLOW_LOOPBACK=true"}, "server", "serve", "--no-migrate", "--listen", serverAddr)
	s.wx = wechattest.Start(testWeChatAppID, testWeChatSecret)
	t.Cleanup(s.wx.Close)
	s.run("mobile-api", []string{"RP_ID=localhost", "RP_ORIGINS=" + s.mobile,
		"WECHAT_APPID=" + testWeChatAppID, "WECHAT_SECRET=" + testWeChatSecret, "WECHAT_API_BASE=" + s.wx.URL},
		"mobile-api", "serve", "--no-migrate", "--listen", mobileAddr)
	waitHTTP(t, s.server+"/readyz")
	waitHTTP(t, s.mobile+"/healthz")

	out, err := s.command("server", "staff", "create", "--name", "Operator", "--role", "admin").Output()
	if err != nil {
		t.Fatalf("staff create: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	s.operator = lines[len(lines)-1]
	return s
}

func (s *system) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Env = s.env
	return cmd
}

// run starts a long-running program, keeps its output for failure messages, and stops
// it with SIGTERM when the test ends.
func (s *system) run(name string, env []string, prog string, args ...string) *logBuffer {
	cmd := s.command(prog, args...)
	cmd.Env = append(cmd.Env, env...)
	logs := &logBuffer{}
	if s.logs == nil {
		s.logs = map[string]*logBuffer{}
	}
	s.logs[name] = logs
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start %s: %v", name, err)
	}
	s.t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
		if s.t.Failed() {
			s.t.Logf("--- %s output ---\n%s", name, logs.String())
		}
	})
	return logs
}

// admin calls the server's admin API and checks the status.
func (s *system) admin(method, path, token string, body any, want int) map[string]any {
	s.t.Helper()
	resp := apitest.Do(s.t, method, s.server+path, token, body)
	if resp.Status != want {
		s.t.Fatalf("%s %s = %d %s, want %d", method, path, resp.Status, resp.Body, want)
	}
	return resp.JSON(s.t)
}

// findEvent looks in the staff entry log for an event with this result and reason.
func (s *system) findEvent(community, token, result, reason string) map[string]any {
	s.t.Helper()
	out := s.admin("GET", "/admin/v1/communities/"+community+"/events?result="+result, token, nil, 200)
	for _, e := range out["events"].([]any) {
		if ev := e.(map[string]any); ev["reason"] == reason {
			return ev
		}
	}
	return nil
}

func (s *system) waitEvent(community, token, result, reason string, within time.Duration) map[string]any {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for {
		if ev := s.findEvent(community, token, result, reason); ev != nil {
			return ev
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no %s/%s event in the entry log after %v", result, reason, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// gateAgent is a running gate-agent with a TCP scanner input.
type gateAgent struct {
	t       *testing.T
	scanner string
	out     *logBuffer
}

func (s *system) startAgent(enrollment string) *gateAgent {
	s.t.Helper()
	state := filepath.Join(s.bin, "gate-state")
	if out, err := s.command("gate-agent", "enroll", "--server", s.server, "--code", enrollment, "--state", state).CombinedOutput(); err != nil {
		s.t.Fatalf("gate-agent enroll: %v\n%s", err, out)
	}
	a := &gateAgent{t: s.t, scanner: apitest.FreeAddr(s.t)}
	a.out = s.run("gate-agent", nil, "gate-agent", "run", "--state", state, "--input", "tcp:"+a.scanner, "--door", "log", "--http", "", "--wait", "5s")
	deadline := time.Now().Add(15 * time.Second)
	for {
		if conn, err := net.Dial("tcp", a.scanner); err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("gate-agent scanner port never opened:\n%s", a.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return a
}

// scan sends one line to the scanner port, as a keyboard-wedge reader would.
func (a *gateAgent) scan(payload string) {
	a.t.Helper()
	conn, err := net.Dial("tcp", a.scanner)
	if err != nil {
		a.t.Fatalf("scanner port: %v", err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "%s\n", payload); err != nil {
		a.t.Fatalf("scan: %v", err)
	}
}

func (a *gateAgent) logs() string { return a.out.String() }

func (a *gateAgent) count(needle string) int { return strings.Count(a.out.String(), needle) }

func (a *gateAgent) waitLog(needle string, n int, within time.Duration) {
	a.t.Helper()
	deadline := time.Now().Add(within)
	for a.count(needle) < n {
		if time.Now().After(deadline) {
			a.t.Fatalf("gate-agent logged %q %d times, want %d, within %v:\n%s", needle, a.count(needle), n, within, a.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logBuffer collects a process's output safely while it runs.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer 200 within 20 s: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
