// Package servertest runs the server's two API surfaces, admin and gate, on a real
// listener over the test package's database, with the fixtures their tests share: a
// community with one of everything, staff of each role, gates (enrolled or not), cards
// and gate events. Both surfaces are always mounted, because what one does shows in the
// other (a staff revocation wakes a gate's long poll; a gate's events fill the staff
// entry log). Only the server's tests import it.
package servertest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/apitest"
	"gatepass/internal/dbtest"
	"gatepass/internal/httpx"
	"gatepass/internal/secret"
	"gatepass/internal/store"
	"gatepass/server/internal/admin"
	"gatepass/server/internal/console"
	"gatepass/server/internal/gatesync"
	"gatepass/server/internal/priority"
)

// Harness is a running server on the package's database. Its package must run its tests
// through dbtest.Main.
type Harness struct {
	apitest.Client // on a real listener
	DB             *store.DB
	Sealer         *secret.Sealer
	Operator       string // a staff member of no community: the deployment's operator
	Console        *console.Console
	// StaffFirst counts the staff requests in flight; the gates' batches wait for them.
	StaffFirst *priority.Staff
}

// Where the harness's console and resident app are said to be.
const (
	ConsoleOrigin  = "https://console.example"
	ResidentAppURL = "https://app.example"
)

// NewSealer is a sealer under a fresh random master key.
func NewSealer(t testing.TB) *secret.Sealer {
	key := make([]byte, secret.MasterKeySize)
	_, _ = rand.Read(key)
	s, err := secret.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// New starts the admin and gate APIs as the server program mounts them, stopped when
// the test ends, and makes an operator.
func New(t testing.TB) *Harness {
	t.Helper()
	db := dbtest.New(t)
	h := &Harness{Client: apitest.Client{T: t}, DB: db, Sealer: NewSealer(t), StaffFirst: &priority.Staff{}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	app := httpx.NewApp(httpx.Options{Name: "servertest", Log: log, BodyLimit: gatesync.BodyLimit})
	app.Use("/admin", h.StaffFirst.Handler)
	app.Use("/console", h.StaffFirst.Handler)
	// The console, as the program mounts it, for an https origin (Secure cookies); its
	// tests send that Origin.
	k, err := console.New(console.Config{DB: db, Log: log, RPID: "console.example", Origins: []string{ConsoleOrigin}})
	if err != nil {
		t.Fatal(err)
	}
	h.Console = k
	adm := admin.New(db, h.Sealer, 0).WithConsole(admin.Console{Authenticate: k.Authenticate, StaffInviteURL: k.InviteURL,
		ResidentAppURL: ResidentAppURL})
	adm.WebhookLoopback = true // the tests' receivers listen on 127.0.0.1
	adm.Mount(app)
	k.Mount(app)
	gates := gatesync.New(db, log)
	gates.Staff = h.StaffFirst
	gates.Mount(app)
	app.Use(httpx.NotFound)
	h.Base = "http://" + Serve(t, app, log).Addr().String()
	h.Operator = h.Staff(uuid.Nil, access.StaffAdmin)
	return h
}

// Staff makes a staff member directly in the store and returns their token.
func (h *Harness) Staff(c uuid.UUID, role access.StaffRole) string {
	h.T.Helper()
	return h.Member(c, role).Token
}

// Member is a staff member as the tests use one: ids and the token's secret.
type Member struct {
	ID, Token, TokenID string
}

// Member makes a staff member of community c (uuid.Nil: an operator) directly in the
// store, with a token of the default lifetime.
func (h *Harness) Member(c uuid.UUID, role access.StaffRole) Member {
	h.T.Helper()
	var m Member
	err := h.DB.InTx(context.Background(), "test", func(tx *store.Tx) error {
		member, tok, err := tx.CreateStaff(context.Background(), store.NewStaff{Community: c, Name: "staff " + string(role), Role: role,
			Token: store.TokenSpec{Default: access.DefaultTokenTTL}})
		m = Member{ID: member.ID.String(), Token: tok.Token, TokenID: tok.ID.String()}
		return err
	})
	if err != nil {
		h.T.Fatal(err)
	}
	return m
}

// Fixture is a community with one of everything and a token for each role.
type Fixture struct {
	ID, Building, Unit, Resident, Gate string
	Admin, Guard, Auditor              string // their tokens
	Staff                              map[access.StaffRole]Member
}

// Community makes a Fixture through the admin API.
func (h *Harness) Community() Fixture {
	h.T.Helper()
	var f Fixture
	f.ID = h.Must(http.StatusCreated, "POST", "/admin/v1/communities", h.Operator, map[string]any{"name": apitest.Unique("Community")})["id"].(string)
	cid := uuid.MustParse(f.ID)
	f.Staff = map[access.StaffRole]Member{}
	for _, role := range []access.StaffRole{access.StaffAdmin, access.StaffGuard, access.StaffAuditor} {
		f.Staff[role] = h.Member(cid, role)
	}
	f.Admin, f.Guard, f.Auditor = f.Staff[access.StaffAdmin].Token, f.Staff[access.StaffGuard].Token, f.Staff[access.StaffAuditor].Token
	base := "/admin/v1/communities/" + f.ID
	f.Building = h.Must(http.StatusCreated, "POST", base+"/buildings", f.Admin, map[string]any{"name": apitest.Unique("Building")})["id"].(string)
	f.Unit = h.Must(http.StatusCreated, "POST", base+"/units", f.Admin, map[string]any{"building_id": f.Building, "label": apitest.Unique("U")})["id"].(string)
	f.Resident = h.NewResident(f)
	f.Gate = h.NewGate(f)
	return f
}

// NewResident adds a resident to f's unit through the admin API and returns their id.
func (h *Harness) NewResident(f Fixture) string {
	h.T.Helper()
	return h.Must(http.StatusCreated, "POST", "/admin/v1/communities/"+f.ID+"/residents", f.Admin,
		map[string]any{"name": apitest.Unique("Resident"), "unit_id": f.Unit, "role": "owner"})["id"].(string)
}

// NewGate makes a gate in zone 0 of f through the admin API and returns its id.
func (h *Harness) NewGate(f Fixture) string {
	h.T.Helper()
	id, _ := h.NewGateCode(f)
	return id
}

// NewGateCode makes a gate and returns its id and one-time enrollment code.
func (h *Harness) NewGateCode(f Fixture) (id, code string) {
	h.T.Helper()
	out := h.Must(http.StatusCreated, "POST", "/admin/v1/communities/"+f.ID+"/gates", f.Admin,
		map[string]any{"name": apitest.Unique("Gate"), "zone": 0, "direction": "in"})
	return out["id"].(string), out["enrollment_code"].(string)
}

// BoxKey is a random X25519 public key, base64, as a gate sends when it enrolls.
func BoxKey() string {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}

// EnrolledGate makes and enrolls a gate, returning its id and token.
func (h *Harness) EnrolledGate(f Fixture) (id, token string) {
	h.T.Helper()
	id, code := h.NewGateCode(f)
	out := h.Must(http.StatusCreated, "POST", "/gate/v1/enroll", "", map[string]any{"code": code, "box_public_key": BoxKey(), "agent_version": "test"})
	return id, out["gate_token"].(string)
}

// Card issues a resident a card through the store and returns its id.
func (h *Harness) Card(f Fixture, resident string) string {
	h.T.Helper()
	card, _, err := h.DB.IssueCard(context.Background(), "test", uuid.MustParse(f.ID), uuid.MustParse(resident), 24*time.Hour, h.Sealer)
	if err != nil {
		h.T.Fatal(err)
	}
	return card.ID.String()
}

// GateEvent is an entry event of gate, as its agent reports it.
func GateEvent(gate string, result string) map[string]any {
	return map[string]any{"id": uuid.NewString(), "occurred_at": time.Now().UTC().Format(time.RFC3339Nano), "gate_id": gate,
		"credential_id": uuid.NewString(), "subject": "resident", "method": "qr", "result": result, "reason": "ok", "offline": true}
}

// Serve serves app on a loopback listener of its own until the test ends.
func Serve(t testing.TB, app *fiber.App, log *slog.Logger) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = httpx.ServeListener(ctx, app, ln, log); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln
}
