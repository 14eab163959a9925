package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"gatepass/internal/access"
	"gatepass/internal/apitest"
	"gatepass/internal/credential"
	"gatepass/internal/dbtest"
	"gatepass/internal/secret"
	"gatepass/internal/store"
	"gatepass/internal/wechat"
	"gatepass/internal/wechat/wechattest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// harness is a real mobile-api on a loopback listener over the package's database.
type harness struct {
	*apitest.Client // Do, Must and MustFail, each answer held to the error shape
	t               testing.TB
	api             *API
	db              *store.DB
	sql             *sqlx.DB // for tests that age rows or count them
	sealer          *secret.Sealer
	base            string // http://localhost:port: the RP origin
	logs            *syncBuffer
	wx              *wechattest.Server // WeChat's code-to-session API, local
}

// syncBuffer collects the server's log lines for tests that look for a warning.
type syncBuffer struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.String()
}

// testLimits are high enough that no functional test trips them.
var testLimits = Limits{Window: time.Minute, Redeem: 1000, RedeemCode: 1000, SignIn: 1000, Mint: 1000}

func newHarness(t testing.TB, limits Limits) *harness {
	t.Helper()
	db := dbtest.New(t)
	// The test master key, so that a server process started beside it (dbtest.MasterKeyFile)
	// opens the communities' keys and the audit chain this harness writes.
	sealer := dbtest.Sealer(t)
	x, err := sqlx.Open("postgres", dbtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// WebAuthn needs a domain as RP id (never an IP address); localhost is a secure
	// context for browsers over plain HTTP.
	base := fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
	logs := &syncBuffer{mu: make(chan struct{}, 1)}
	wx := wechattest.Start(testWeChatAppID, testWeChatSecret)
	t.Cleanup(wx.Close)
	wxc, err := wechat.New(wechat.Config{AppID: testWeChatAppID, Secret: testWeChatSecret, Base: wx.URL})
	if err != nil {
		t.Fatal(err)
	}
	api, err := New(Config{DB: db, Sealer: sealer, Log: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		RPID: "localhost", RPOrigins: []string{base}, Limits: limits, WeChat: wxc})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = api.ServeListener(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return &harness{Client: &apitest.Client{T: t, Base: base}, t: t, api: api, db: db, sql: x, sealer: sealer, base: base, logs: logs, wx: wx}
}

// The harness's mini-program at the fake WeChat: the secret is one no log may show.
const (
	testWeChatAppID  = "wx0123456789abcdef"
	testWeChatSecret = "appsecret-NEVER-LOGGED-7f3a9c"
)

// community is a community with a building, a unit and an extra zone.
type community struct {
	id, unit uuid.UUID
}

func (h *harness) community() community {
	h.t.Helper()
	ctx := context.Background()
	var f community
	err := h.db.InTx(ctx, "test", func(tx *store.Tx) error {
		c, err := tx.CreateCommunity(ctx, apitest.Unique("Community"), h.sealer)
		if err != nil {
			return err
		}
		f.id = c.ID
		if err := tx.PutZone(ctx, access.Zone{Community: c.ID, Zone: 3, Name: "Gym"}); err != nil {
			return err
		}
		// The building's residents open the gym (and may let visitors in there).
		b, err := tx.CreateBuildingZones(ctx, c.ID, apitest.Unique("Building"), access.ZoneMask(0).With(3))
		if err != nil {
			return err
		}
		u, err := tx.CreateUnit(ctx, c.ID, b.ID, apitest.Unique("Unit"))
		if err != nil {
			return err
		}
		f.unit = u.ID
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return f
}

// invite creates a resident the way staff do and returns their id and invite code.
func (h *harness) invite(f community) (uuid.UUID, string) {
	h.t.Helper()
	return h.inviteAs(store.NewResident{Community: f.id, Name: apitest.Unique("Resident"), Unit: f.unit, Role: access.RoleOwner})
}

// inviteAs creates the resident nr the way staff do and returns their id and invite code.
func (h *harness) inviteAs(nr store.NewResident) (uuid.UUID, string) {
	h.t.Helper()
	id, inv := h.inviteFull(nr)
	return id, inv.Code
}

// inviteFull creates the resident nr the way staff do and returns their id and invite.
func (h *harness) inviteFull(nr store.NewResident) (uuid.UUID, store.Invite) {
	h.t.Helper()
	ctx := context.Background()
	var r access.Resident
	var inv store.Invite
	err := h.db.InTx(ctx, "test", func(tx *store.Tx) (err error) {
		r, inv, err = tx.CreateResident(ctx, nr)
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return r.ID, inv
}

// member is a signed-up resident with a bearer session and their authenticator.
type member struct {
	community uuid.UUID
	id        uuid.UUID
	token     string
	auth      *authenticator
	key       *softKey
}

// signUp redeems a fresh invite with a new passkey, asking for a bearer token.
func (h *harness) signUp(f community) member {
	h.t.Helper()
	id, code := h.invite(f)
	return h.redeem(f, id, code, "test phone")
}

// redeem redeems resident id's invite code with a new passkey named passkeyName, asking
// for a bearer token.
func (h *harness) redeem(f community, id uuid.UUID, code, passkeyName string) member {
	h.t.Helper()
	au := &authenticator{origin: h.base, rpID: "localhost", uv: true}
	begin := h.Must(200, "POST", "/api/v1/invites/redeem/begin", "", map[string]any{"invite_code": code})
	cred, key := au.create(h.t, begin)
	out := h.Must(201, "POST", "/api/v1/invites/redeem/finish", "", map[string]any{
		"ceremony": begin["ceremony"], "credential": cred, "name": passkeyName, "session": "bearer"})
	if out["resident_id"] != id.String() {
		h.t.Fatalf("redeemed as %v, want %s", out["resident_id"], id)
	}
	return member{community: f.id, id: id, token: out["session_token"].(string), auth: au, key: key}
}

// signIn makes a new bearer session with a member's passkey.
func (h *harness) signIn(m member) string {
	h.t.Helper()
	begin := h.Must(200, "POST", "/api/v1/signin/begin", "", map[string]any{})
	out := h.Must(200, "POST", "/api/v1/signin/finish", "", map[string]any{
		"ceremony": begin["ceremony"], "credential": m.auth.get(h.t, begin, m.key, 1), "session": "bearer"})
	return out["session_token"].(string)
}

// stepUp re-verifies a member's session with their passkey.
func (h *harness) stepUp(m member, k *softKey) {
	h.t.Helper()
	begin := h.Must(200, "POST", "/api/v1/stepup/begin", m.token, map[string]any{})
	h.Must(200, "POST", "/api/v1/stepup/finish", m.token, map[string]any{"ceremony": begin["ceremony"], "credential": m.auth.get(h.t, begin, k, 1)})
}

// raw sends a request and returns the status, headers and body.
func (h *harness) raw(method, path, token string, body any) (int, http.Header, []byte) {
	h.t.Helper()
	resp := apitest.Do(h.t, method, h.base+path, token, body)
	return resp.Status, resp.Header, resp.Body
}

// verifier checks codes the way a gate of community c does.
func (h *harness) verifier(c uuid.UUID) *credential.Verifier {
	h.t.Helper()
	keys, err := h.db.TrustedKeys(context.Background(), c)
	if err != nil {
		h.t.Fatal(err)
	}
	set, err := credential.NewKeySet(keys...)
	if err != nil {
		h.t.Fatal(err)
	}
	return &credential.Verifier{Community: c, Keys: set}
}

// snapshot counts the rows a failed request must not change.
func (h *harness) snapshot() map[string]int {
	h.t.Helper()
	out := map[string]int{}
	for _, c := range []struct {
		name  string
		table dbtest.Table
		conds []dbtest.Cond
	}{
		{"passkeys", dbtest.Passkeys, nil},
		{"sessions", dbtest.Sessions, nil},
		{"used invites", dbtest.Invites, []dbtest.Cond{dbtest.NotNull("used_at")}},
		{"credentials", dbtest.Credentials, nil},
		{"revoked credentials", dbtest.Credentials, []dbtest.Cond{dbtest.NotNull("revoked_at")}},
		{"visitor_passes", dbtest.VisitorPasses, nil},
		{"revoked visitor_passes", dbtest.VisitorPasses, []dbtest.Cond{dbtest.NotNull("revoked_at")}},
		{"active residents", dbtest.Residents, []dbtest.Cond{dbtest.Eq("status", "active")}},
		{"audit_log", dbtest.AuditLog, nil},
		{"change_log", dbtest.ChangeLog, nil},
		{"revoked sessions", dbtest.Sessions, []dbtest.Cond{dbtest.NotNull("revoked_at")}},
	} {
		out[c.name] = dbtest.Count(h.t, h.sql, c.table, c.conds...)
	}
	return out
}

func (h *harness) unchanged(before map[string]int, what string) {
	h.t.Helper()
	after := h.snapshot()
	for k, v := range before {
		if after[k] != v {
			h.t.Errorf("%s changed %s: %d -> %d", what, k, v, after[k])
		}
	}
}
