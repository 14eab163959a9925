package agent

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/gateapi"
)

// Issue 12 item 5: a decision whose event the disk refuses is answered store_failed with
// the attempt's own id (it was the zero id), the local status and the heartbeat say the
// gate cannot store (they said nothing), and the server hears of each refused attempt as
// a denied store_failed event, sent from memory (it heard nothing).
func TestStorageFailureIsReported(t *testing.T) {
	var mu sync.Mutex
	var beats []gateapi.Heartbeat
	var reported []gateapi.Event
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path {
		case "/gate/v1/heartbeat":
			var hb gateapi.Heartbeat
			_ = json.NewDecoder(r.Body).Decode(&hb)
			beats = append(beats, hb)
			_ = json.NewEncoder(w).Encode(gateapi.HeartbeatAck{ServerTime: time.Now().UTC()})
		case "/gate/v1/events":
			var in gateapi.Events
			_ = json.NewDecoder(r.Body).Decode(&in)
			ack := gateapi.EventsAck{Acked: []uuid.UUID{}}
			for _, ev := range in.Events {
				reported = append(reported, ev)
				ack.Acked = append(ack.Acked, ev.ID)
			}
			_ = json.NewEncoder(w).Encode(ack)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	key, _ := ecdh.X25519().GenerateKey(rand.Reader)
	reg := Registration{Server: srv.URL, Token: "gpg_x", Gate: gateapi.Gate{ID: uuid.New(), Community: uuid.New()}, BoxPrivateKey: key.Bytes()}
	if err := writePrivate(filepath.Join(dir, registrationFile), reg); err != nil {
		t.Fatal(err)
	}
	a := openTest(t, Config{StateDir: dir, Door: &countingDoor{}})
	defer a.Close()
	ctx := context.Background()
	status := func() map[string]any {
		t.Helper()
		rec := httptest.NewRecorder()
		a.HTTPHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/status", nil))
		out := map[string]any{}
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	// report sends a heartbeat and one upload batch, which must carry one event; it
	// returns the heartbeat the server got.
	report := func(step string) gateapi.Heartbeat {
		t.Helper()
		if err := a.HeartbeatOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if n, err := a.UploadOnce(ctx); n != 1 || err != nil {
			t.Fatalf("%s: upload %d %v, want 1 event", step, n, err)
		}
		mu.Lock()
		defer mu.Unlock()
		return beats[len(beats)-1]
	}

	// The disk goes away under the agent.
	a.local.Close()
	out, err := a.Scan("test", "GA1:garbage")
	if err == nil || out.Reason != reasonStoreFailed || out.EventID == uuid.Nil {
		t.Fatalf("scan with a broken disk: %+v %v, want store_failed with the attempt's id", out, err)
	}
	if st := status(); st["store_failures"] != 1.0 || !strings.Contains(st["storage_error"].(string), "not open") {
		t.Fatalf("local status with a broken disk: %v", st)
	}
	if s := a.statusNow(); s.StoreFailures != 1 || s.StorageError == "" {
		t.Fatalf("status file with a broken disk: %+v", s)
	}
	if hb := report("broken disk"); hb.StoreFailures == nil || *hb.StoreFailures != 1 || hb.StorageError == nil {
		t.Fatalf("heartbeat with a broken disk: %+v", hb)
	}
	mu.Lock()
	if len(reported) != 1 || reported[0].ID != out.EventID || reported[0].Result != "denied" || reported[0].Reason != reasonStoreFailed {
		t.Fatalf("reported %+v, want the attempt %s denied store_failed", reported, out.EventID)
	}
	mu.Unlock()

	// The disk is back: the error clears, the count stays, the attempt is not sent again.
	local, err := OpenLocalDB(filepath.Join(dir, localDBFile), false)
	if err != nil {
		t.Fatal(err)
	}
	a.local = local
	if out, err := a.Scan("test", "GA1:more garbage"); err != nil || out.EventID == uuid.Nil {
		t.Fatalf("scan with the disk back: %+v %v", out, err)
	}
	if st := status(); st["store_failures"] != 1.0 || st["storage_error"] != nil {
		t.Fatalf("local status with the disk back: %v", st)
	}
	if hb := report("disk back"); hb.StoreFailures == nil || *hb.StoreFailures != 1 || hb.StorageError != nil {
		t.Fatalf("heartbeat with the disk back: %+v", hb)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reported) != 2 || reported[1].Reason != "malformed" {
		t.Fatalf("reported %+v", reported)
	}
}
