package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

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
	t        testing.TB
	srv      *Server
	db       *store.DB
	base     string // http://127.0.0.1:port of a real listener
	operator string
	sealer   *secret.Sealer
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
	h := &harness{t: t, db: db, sealer: testSealer(t)}
	h.srv = NewServer(db, h.sealer, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = h.srv.ServeListener(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	h.base = "http://" + ln.Addr().String()
	h.operator = h.staff(uuid.Nil, access.StaffAdmin)
	return h
}

// staff makes a staff member directly in the store and returns their token.
func (h *harness) staff(c uuid.UUID, role access.StaffRole) string {
	h.t.Helper()
	var tok string
	err := h.db.InTx(context.Background(), "test", func(tx *store.Tx) (err error) {
		_, tok, err = tx.CreateStaff(context.Background(), c, "staff "+string(role), role)
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// do sends a request; body is sent as is when it is a string, else as JSON. Every
// error answer must have the {"error": {"code", "message"}} shape.
func (h *harness) do(method, path, token string, body any) (int, map[string]any) {
	h.t.Helper()
	resp := apitest.Do(h.t, method, h.base+path, token, body)
	out := map[string]any{}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || resp.Status >= 400 {
		out = resp.JSON(h.t)
	}
	if resp.Status >= 400 {
		if e, ok := out["error"].(map[string]any); !ok || e["code"] == "" || e["message"] == "" {
			h.t.Fatalf("%s %s: %d without the error shape: %s", method, path, resp.Status, resp.Body)
		}
	}
	return resp.Status, out
}

// must sends a request that has to answer want, and returns the body.
func (h *harness) must(want int, method, path, token string, body any) map[string]any {
	h.t.Helper()
	got, out := h.do(method, path, token, body)
	if got != want {
		h.t.Fatalf("%s %s = %d %v, want %d", method, path, got, out, want)
	}
	return out
}

var seq atomic.Int64

func unique(prefix string) string { return fmt.Sprintf("%s %d", prefix, seq.Add(1)) }

// fixture is a community with one of everything and a token for each role.
type fixture struct {
	id, building, unit, resident, gate string
	admin, guard, auditor              string
}

func (h *harness) community() fixture {
	h.t.Helper()
	var f fixture
	f.id = h.must(http.StatusCreated, "POST", "/admin/v1/communities", h.operator, map[string]any{"name": unique("Community")})["id"].(string)
	cid := uuid.MustParse(f.id)
	f.admin, f.guard, f.auditor = h.staff(cid, access.StaffAdmin), h.staff(cid, access.StaffGuard), h.staff(cid, access.StaffAuditor)
	base := "/admin/v1/communities/" + f.id
	f.building = h.must(http.StatusCreated, "POST", base+"/buildings", f.admin, map[string]any{"name": unique("Building")})["id"].(string)
	f.unit = h.must(http.StatusCreated, "POST", base+"/units", f.admin, map[string]any{"building_id": f.building, "label": unique("U")})["id"].(string)
	f.resident = h.newResident(f)
	f.gate = h.must(http.StatusCreated, "POST", base+"/gates", f.admin, map[string]any{"name": unique("Gate"), "zone": 0, "direction": "in"})["id"].(string)
	return f
}

func (h *harness) newResident(f fixture) string {
	h.t.Helper()
	return h.must(http.StatusCreated, "POST", "/admin/v1/communities/"+f.id+"/residents", f.admin,
		map[string]any{"name": unique("Resident"), "unit_id": f.unit, "role": "owner"})["id"].(string)
}

func mustJSON(v any) []byte {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return raw
}

func base64URL(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
