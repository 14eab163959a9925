package main

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

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/apitest"
	"gatepass/internal/dbtest"
	"gatepass/internal/secret"
	"gatepass/internal/store"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// harness drives the real Fiber app on the package's real database.
type harness struct {
	apitest.Client // on a real listener
	srv            *Server
	DB             *store.DB
	Sealer         *secret.Sealer
	Operator       string // a staff member of no community: the deployment's operator
}

func testSealer(t testing.TB) *secret.Sealer {
	key := make([]byte, secret.MasterKeySize)
	_, _ = rand.Read(key)
	s, err := secret.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	db := dbtest.New(t)
	h := &harness{Client: apitest.Client{T: t}, DB: db, Sealer: testSealer(t)}
	h.srv = NewServer(db, h.Sealer, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = h.srv.ServeListener(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	h.Base = "http://" + ln.Addr().String()
	h.Operator = h.Staff(uuid.Nil, access.StaffAdmin)
	return h
}

// Staff makes a staff member directly in the store and returns their token.
func (h *harness) Staff(c uuid.UUID, role access.StaffRole) string {
	h.T.Helper()
	var tok string
	err := h.DB.InTx(context.Background(), "test", func(tx *store.Tx) (err error) {
		_, tok, err = tx.CreateStaff(context.Background(), c, "staff "+string(role), role)
		return err
	})
	if err != nil {
		h.T.Fatal(err)
	}
	return tok
}

// Fixture is a community with one of everything and a token for each role.
type Fixture struct {
	ID, Building, Unit, Resident, Gate string
	Admin, Guard, Auditor              string
}

// Community makes a Fixture through the admin API.
func (h *harness) Community() Fixture {
	h.T.Helper()
	var f Fixture
	f.ID = h.Must(http.StatusCreated, "POST", "/admin/v1/communities", h.Operator, map[string]any{"name": apitest.Unique("Community")})["id"].(string)
	cid := uuid.MustParse(f.ID)
	f.Admin, f.Guard, f.Auditor = h.Staff(cid, access.StaffAdmin), h.Staff(cid, access.StaffGuard), h.Staff(cid, access.StaffAuditor)
	base := "/admin/v1/communities/" + f.ID
	f.Building = h.Must(http.StatusCreated, "POST", base+"/buildings", f.Admin, map[string]any{"name": apitest.Unique("Building")})["id"].(string)
	f.Unit = h.Must(http.StatusCreated, "POST", base+"/units", f.Admin, map[string]any{"building_id": f.Building, "label": apitest.Unique("U")})["id"].(string)
	f.Resident = h.NewResident(f)
	f.Gate = h.NewGate(f)
	return f
}

// NewResident adds a resident to f's unit through the admin API and returns their id.
func (h *harness) NewResident(f Fixture) string {
	h.T.Helper()
	return h.Must(http.StatusCreated, "POST", "/admin/v1/communities/"+f.ID+"/residents", f.Admin,
		map[string]any{"name": apitest.Unique("Resident"), "unit_id": f.Unit, "role": "owner"})["id"].(string)
}

// NewGate makes a gate in zone 0 of f through the admin API and returns its id.
func (h *harness) NewGate(f Fixture) string {
	h.T.Helper()
	id, _ := h.NewGateCode(f)
	return id
}

// NewGateCode makes a gate and returns its id and one-time enrollment code.
func (h *harness) NewGateCode(f Fixture) (id, code string) {
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
func (h *harness) EnrolledGate(f Fixture) (id, token string) {
	h.T.Helper()
	id, code := h.NewGateCode(f)
	out := h.Must(http.StatusCreated, "POST", "/gate/v1/enroll", "", map[string]any{"code": code, "box_public_key": BoxKey(), "agent_version": "test"})
	return id, out["gate_token"].(string)
}

// Card issues a resident a card through the store and returns its id.
func (h *harness) Card(f Fixture, resident string) string {
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
