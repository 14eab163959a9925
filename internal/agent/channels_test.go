package agent

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/credential"
	"gatepass/internal/gate"
)

// keyedAgent is an offline agent that trusts one signing key of its community, as if it
// had synced; mint makes a fresh issued code for zone 0 (the gate's zone) with that key.
func keyedAgent(t *testing.T, cfg Config) (a *Agent, mint func() string) {
	t.Helper()
	a = openTest(t, cfg)
	t.Cleanup(func() { a.Close() })
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	community := a.reg.Gate.Community
	keys, err := credential.NewKeySet(credential.Key{KID: 77, Community: community, Public: priv.Public().(ed25519.PublicKey)})
	if err != nil {
		t.Fatal(err)
	}
	a.decider.SetState(&gate.State{Keys: keys, Revoked: map[uuid.UUID]int64{}, SyncedAt: time.Now(),
		Policy: gate.Policy{Community: community, Skew: 30 * time.Second, CardMinInterval: 5 * time.Second, StaleAfter: time.Hour}})
	signer := credential.Signer{KID: 77, Key: priv}
	return a, func() string {
		now := time.Now()
		text, err := credential.MintIssued(signer, credential.Claims{CredentialID: uuid.New(), Subject: credential.SubjectResident,
			Zones: 1, NotBefore: now, ExpiresAt: now.Add(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		return text
	}
}

// lastEvent is the newest queued event's reason, and how many are queued.
func lastEvent(t *testing.T, a *Agent) (string, int) {
	t.Helper()
	evs := queued(t, a)
	if len(evs) == 0 {
		return "", 0
	}
	return evs[len(evs)-1].Reason, len(evs)
}

// Issue 11, item 5: one text, one decision, on every channel. The same bytes go through
// stdin, TCP, local HTTP and check; each must give the same decision (or none, for a
// blank input) and the same event. Before the fix HTTP trimmed spaces and ignored what
// followed 4097 bytes, so a padded code followed by junk opened the door there only.
func TestOneTextOneDecisionOnEveryChannel(t *testing.T) {
	door := &countingDoor{}
	a, mint := keyedAgent(t, Config{StateDir: t.TempDir(), Door: door})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = a.ServeTCP(ctx, ln) }()
	srv := httptest.NewServer(a.HTTPHandler())
	defer srv.Close()

	junk := bytes.Repeat([]byte{0, 0xff}, 425*1024) // 850 KB of NUL and 0xFF
	const none = ""                                 // no decision, no event
	cases := []struct {
		name  string
		input func(code string) []byte
		want  gate.Reason
		over  bool // refused as longer than the gate reads (413 on HTTP)
	}{
		{"bare code", func(c string) []byte { return []byte(c) }, gate.Granted, false},
		{"LF", func(c string) []byte { return []byte(c + "\n") }, gate.Granted, false},
		{"CR LF", func(c string) []byte { return []byte(c + "\r\n") }, gate.Granted, false},
		{"CR only", func(c string) []byte { return []byte(c + "\r") }, gate.Granted, false},
		{"two CRs", func(c string) []byte { return []byte(c + "\r\r\n") }, gate.Malformed, false},
		{"trailing space", func(c string) []byte { return []byte(c + " \n") }, gate.Malformed, false},
		{"leading space", func(c string) []byte { return []byte(" " + c + "\n") }, gate.Malformed, false},
		{"NUL after", func(c string) []byte { return []byte(c + "\x00\n") }, gate.Malformed, false},
		{"padded code then 850 KB of junk", func(c string) []byte {
			return append([]byte(c+strings.Repeat(" ", gate.MaxInput+1-len(c))), junk...)
		}, gate.Malformed, true},
		{"4096 bytes", func(string) []byte { return bytes.Repeat([]byte("x"), gate.MaxInput) }, gate.Malformed, false},
		{"4097 bytes", func(string) []byte { return bytes.Repeat([]byte("x"), gate.MaxInput+1) }, gate.Malformed, true},
		{"garbage", func(string) []byte { return []byte("\x00\xff\xfe\n") }, gate.Malformed, false},
		{"blank line", func(string) []byte { return []byte("\n") }, none, false},
	}
	channels := []struct {
		name string
		send func(t *testing.T, raw []byte) (reason string, over int)
	}{
		{"stdin", func(t *testing.T, raw []byte) (string, int) {
			_, before := lastEvent(t, a)
			if err := a.ReadLines(ctx, "stdin", bytes.NewReader(raw)); err != nil {
				t.Fatal(err)
			}
			return reasonSince(t, a, before)
		}},
		{"tcp", func(t *testing.T, raw []byte) (string, int) {
			_, before := lastEvent(t, a)
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			_, _ = conn.Write(raw)
			conn.(*net.TCPConn).CloseWrite()
			_, _ = conn.Read(make([]byte, 1)) // the agent closes after the last line
			conn.Close()
			return reasonSince(t, a, before)
		}},
		{"http", func(t *testing.T, raw []byte) (string, int) {
			resp, err := http.Post(srv.URL+"/scan", "text/plain", bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out Outcome
			_ = json.NewDecoder(resp.Body).Decode(&out)
			if resp.StatusCode == http.StatusBadRequest && out.Result == "" {
				return none, no
			}
			return out.Reason, yesNo(resp.StatusCode == http.StatusRequestEntityTooLarge)
		}},
		{"check", func(t *testing.T, raw []byte) (string, int) {
			r, over := checkChannel(a, string(raw))
			return r, yesNo(over)
		}},
	}
	for _, c := range cases {
		for _, ch := range channels {
			opened := door.opens(a)
			reason, over := ch.send(t, c.input(mint()))
			if reason != string(c.want) || (over != unknown && over != yesNo(c.over)) {
				t.Errorf("%s over %s: reason %q oversize %v, want %q %v", c.name, ch.name, reason, over, c.want, c.over)
			}
			if want := c.want == gate.Granted && ch.name != "check"; (door.opens(a) > opened) != want {
				t.Errorf("%s over %s: door opened %v", c.name, ch.name, door.opens(a) > opened)
			}
		}
	}
}

// reasonSince is the reason of the event a line input made after before events were
// queued (the input has returned: its events are committed), or none. A line input
// answers no one, so whether it saw an oversize line is not told (unknown).
func reasonSince(t *testing.T, a *Agent, before int) (string, int) {
	t.Helper()
	if r, n := lastEvent(t, a); n > before {
		return r, unknown
	}
	return "", unknown
}

// Whether a channel refused an input as oversize: it says so (413, the check's detail)
// or it cannot.
const (
	no      = 0
	yes     = 1
	unknown = -1
)

func yesNo(b bool) int {
	if b {
		return yes
	}
	return no
}

// checkChannel is `gate-agent check`'s decision on raw: its reason (none for a blank
// input) and whether it refused raw as oversize.
func checkChannel(a *Agent, raw string) (string, bool) {
	dec, err := a.Check(raw)
	if errors.Is(err, gate.ErrEmpty) {
		return "", false
	}
	rep := CheckReport(dec)
	return rep.Reason, errors.Is(err, gate.ErrOversize) && rep.Detail == gate.ErrOversize.Error()
}
