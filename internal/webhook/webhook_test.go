package webhook_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"gatepass/internal/access"
	"gatepass/internal/webhook"
)

func TestSignAndVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"id":"x","type":"entry.created"}`)
	oldSecret, newSecret := "whsec_old", "whsec_new"
	both := webhook.Header(now, body, newSecret, oldSecret)
	if got := strings.Count(both, ",v1="); got != 2 || !strings.HasPrefix(both, "t=1800000000,v1=") {
		t.Fatalf("header %q: want t= and two v1", both)
	}
	cases := []struct {
		name, header, secret string
		body                 []byte
		at                   time.Time
		want                 error
	}{
		{"new secret during overlap", both, newSecret, body, now, nil},
		{"old secret during overlap", both, oldSecret, body, now, nil},
		{"old secret after overlap", webhook.Header(now, body, newSecret), oldSecret, body, now, webhook.ErrBadSignature},
		{"other secret", both, "whsec_other", body, now, webhook.ErrBadSignature},
		{"body changed", both, newSecret, []byte(`{"id":"y","type":"entry.created"}`), now, webhook.ErrBadSignature},
		{"timestamp changed", strings.Replace(both, "t=1800000000", "t=1800000001", 1), newSecret, body, now, webhook.ErrBadSignature},
		{"too old", both, newSecret, body, now.Add(6 * time.Minute), webhook.ErrTooOld},
		{"from the future", both, newSecret, body, now.Add(-6 * time.Minute), webhook.ErrTooOld},
		{"within tolerance", both, newSecret, body, now.Add(4 * time.Minute), nil},
		{"no v1", "t=1800000000", newSecret, body, now, webhook.ErrNoSignature},
		{"no t", "v1=" + webhook.Sign(newSecret, now, body), newSecret, body, now, webhook.ErrNoSignature},
		{"bad t", "t=abc,v1=00", newSecret, body, now, webhook.ErrBadSignature},
		{"empty", "", newSecret, body, now, webhook.ErrNoSignature},
		{"unknown scheme ignored", "t=1800000000,v0=abc,v1=" + webhook.Sign(newSecret, now, body), newSecret, body, now, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := webhook.Verify(c.header, c.body, c.secret, 0, c.at)
			if !errors.Is(err, c.want) {
				t.Fatalf("Verify = %v, want %v", err, c.want)
			}
		})
	}
	// The v1 value is the HMAC-SHA256 of "<t>.<body>", as docs/webhooks.md says
	// (computed with: printf '1800000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test).
	if got := webhook.Sign("whsec_test", now, []byte(`{"a":1}`)); got != "7de5e6bbc99c65ef0ddccacd4308ba03a5a12eb8859a0db070c5ca731c4fdc19" {
		t.Fatalf("Sign = %q", got)
	}
}

func TestNewSecret(t *testing.T) {
	a, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := webhook.NewSecret()
	if a == b || !strings.HasPrefix(a, webhook.SecretPrefix) || len(a) != len(webhook.SecretPrefix)+43 {
		t.Fatalf("secrets %q %q", a, b)
	}
}

func TestBackoff(t *testing.T) {
	s := webhook.Schedule{Base: 10 * time.Second, Max: time.Hour}.WithDefaults()
	low, high := func() float64 { return 0 }, func() float64 { return 0.999999 }
	cases := []struct {
		n         int
		min, max_ time.Duration
	}{
		{1, 5 * time.Second, 10 * time.Second},
		{2, 10 * time.Second, 20 * time.Second},
		{3, 20 * time.Second, 40 * time.Second},
		{9, 21*time.Minute + 20*time.Second, 42*time.Minute + 40*time.Second},
		{10, 30 * time.Minute, time.Hour},
		{30, 30 * time.Minute, time.Hour},
		{1000, 30 * time.Minute, time.Hour}, // no overflow
	}
	for _, c := range cases {
		if got := s.Backoff(c.n, low); got != c.min {
			t.Errorf("attempt %d, least jitter: %s, want %s", c.n, got, c.min)
		}
		if got := s.Backoff(c.n, high); got < c.max_-10*time.Millisecond || got > c.max_ {
			t.Errorf("attempt %d, most jitter: %s, want about %s", c.n, got, c.max_)
		}
	}
	// Retries stop a day after the event, with one last try at the end of the window.
	created := time.Unix(1_800_000_000, 0)
	if _, ok := s.Next(40, created, created.Add(24*time.Hour), low); ok {
		t.Fatal("a retry after the window")
	}
	next, ok := s.Next(30, created, created.Add(23*time.Hour+50*time.Minute), high)
	if !ok || !next.Equal(created.Add(24*time.Hour)) {
		t.Fatalf("the last retry at %s %v, want the end of the window", next, ok)
	}
	// Over a day, the default schedule makes a few dozen attempts, not thousands.
	n, at := 0, created
	for {
		n++
		next, ok := webhook.DefaultSchedule.Next(n, created, at, high)
		if !ok {
			break
		}
		at = next
	}
	if n < 20 || n > 40 {
		t.Fatalf("%d attempts in a day", n)
	}
}

func TestCheckURL(t *testing.T) {
	cases := []struct {
		url      string
		loopback bool
		ok       bool
	}{
		{"https://hooks.example.com/gatepass", false, true},
		{"https://hooks.example.com:8443/x?y=1", false, true},
		{"http://hooks.example.com/x", false, false},
		{"http://hooks.example.com/x", true, false}, // plain http only to loopback
		{"http://127.0.0.1:9000/x", false, false},
		{"http://127.0.0.1:9000/x", true, true},
		{"http://localhost:9000/x", true, true},
		{"https://localhost:9000/x", false, false},
		{"https://api.localhost./x", false, false},
		{"http://[::1]:9000/x", true, true},
		{"https://127.0.0.1/x", false, false},
		{"https://10.0.0.5/x", true, false},
		{"https://192.168.1.1/x", false, false},
		{"https://169.254.169.254/latest/meta-data", true, false},
		{"https://[fe80::1]/x", false, false},
		{"https://[fd00::1]/x", false, false},
		{"https://100.64.0.1/x", false, false},
		{"https://0.0.0.0/x", false, false},
		{"https://user:pw@hooks.example.com/x", false, false},
		{"https://hooks.example.com/x#frag", false, false},
		{"ftp://hooks.example.com/x", false, false},
		{"hooks.example.com/x", false, false},
		{"https://", false, false},
		{"", false, false},
		{"https://hooks.example.com/" + strings.Repeat("a", webhook.MaxURL), false, false},
	}
	for _, c := range cases {
		_, err := webhook.CheckURL(c.url, c.loopback)
		if (err == nil) != c.ok {
			t.Errorf("CheckURL(%q, loopback %v) = %v, want ok %v", c.url, c.loopback, err, c.ok)
		}
		var fe *access.FieldError
		if err != nil && (!errors.As(err, &fe) || fe.Field != "url") {
			t.Errorf("CheckURL(%q): %v is not a field error on url", c.url, err)
		}
	}
}

func TestRefused(t *testing.T) {
	for addr, refused := range map[string]bool{
		"93.184.216.34": false, "2606:2800:220:1::1": false, "127.0.0.1": true, "::1": true, "10.1.2.3": true,
		"172.16.0.1": true, "192.168.0.1": true, "169.254.169.254": true, "fe80::1": true, "fc00::1": true,
		"100.64.1.1": true, "0.0.0.0": true, "::": true, "224.0.0.1": true, "::ffff:10.0.0.1": true, "::ffff:8.8.8.8": false,
	} {
		if got := webhook.Refused(netip.MustParseAddr(addr), false); got != refused {
			t.Errorf("Refused(%s) = %v, want %v", addr, got, refused)
		}
	}
	if webhook.Refused(netip.MustParseAddr("127.0.0.1"), true) || !webhook.Refused(netip.MustParseAddr("10.0.0.1"), true) {
		t.Error("allowing loopback allows loopback only")
	}
}

func TestCheckTypes(t *testing.T) {
	got, err := webhook.CheckTypes([]string{"gate.online", "entry.created", "gate.offline"})
	if err != nil || strings.Join(got, ",") != "entry.created,gate.offline,gate.online" {
		t.Fatalf("CheckTypes = %v %v", got, err)
	}
	for _, bad := range [][]string{nil, {}, {"entry.deleted"}, {"entry.created", "entry.created"}, {"webhook.ping"},
		{"entry.created", "anomaly.reuse", "gate.offline", "gate.online", "lockdown.changed", "resident.moved_out", "x"}} {
		if _, err := webhook.CheckTypes(bad); err == nil {
			t.Errorf("CheckTypes(%q) accepted", bad)
		}
	}
}

func TestShouldPause(t *testing.T) {
	s := webhook.DefaultSchedule
	t0 := time.Unix(1_800_000_000, 0)
	cases := []struct {
		name               string
		since, created, at time.Time
		givenUp, want      bool
	}{
		{"failing for an hour", t0, t0, t0.Add(time.Hour), false, false},
		{"failing for a day", t0, t0.Add(20 * time.Hour), t0.Add(24 * time.Hour), false, true},
		{"given up, failing since the event", t0.Add(time.Second), t0, t0.Add(24 * time.Hour), true, true},
		{"given up, but it succeeded since the event", t0.Add(12 * time.Hour), t0, t0.Add(24 * time.Hour), true, false},
	}
	for _, c := range cases {
		if got := s.ShouldPause(c.since, c.created, c.at, c.givenUp); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
