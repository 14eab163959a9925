package agent

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/gateapi"
)

// Issue 20 item 5: uploads are coalesced without holding the first event back. A quiet
// gate sends its one event at once; a burst of scans goes in a few batches, one about
// every uploadWindow, and no event waits for its batch much longer than that.
func TestUploadsCoalesce(t *testing.T) {
	var mu sync.Mutex
	arrived := map[uuid.UUID]time.Time{}
	var sizes []int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/gate/v1/events" {
			http.NotFound(w, r)
			return
		}
		var in gateapi.Events
		_ = json.NewDecoder(r.Body).Decode(&in)
		ack := gateapi.EventsAck{Acked: []uuid.UUID{}}
		mu.Lock()
		sizes = append(sizes, len(in.Events))
		for _, ev := range in.Events {
			arrived[ev.ID] = time.Now()
			ack.Acked = append(ack.Acked, ev.ID)
		}
		mu.Unlock()
		_ = json.NewEncoder(w).Encode(ack)
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
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.uploadLoop(ctx) }()
	defer func() { cancel(); <-done }()

	scanned := map[uuid.UUID]time.Time{}
	scan := func() {
		// Each from its own reader with its own text: neither a repeated read nor a
		// flood of denials from one source, which the gate would not record one by one.
		n := len(scanned)
		out, err := a.Scan(fmt.Sprintf("reader %d", n), fmt.Sprintf("GA1:not a code %d", n))
		if err != nil || out.EventID == uuid.Nil {
			t.Fatalf("scan: %+v %v", out, err)
		}
		scanned[out.EventID] = time.Now()
	}
	waitAll := func() {
		t.Helper()
		for end := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			mu.Lock()
			n := len(arrived)
			mu.Unlock()
			if n == len(scanned) {
				return
			}
			if time.Now().After(end) {
				t.Fatalf("%d of %d events uploaded after 10 s", n, len(scanned))
			}
		}
	}
	time.Sleep(200 * time.Millisecond) // the loop is waiting: a quiet gate
	scan()
	waitAll()
	for id, at := range scanned {
		if d := arrived[id].Sub(at); d > 150*time.Millisecond {
			t.Errorf("a quiet gate's event reached the server after %v: not sent at once", d)
		}
	}

	// A burst: 60 scans over about 300 ms.
	for range 60 {
		scan()
		time.Sleep(5 * time.Millisecond)
	}
	waitAll()
	mu.Lock()
	defer mu.Unlock()
	var worst time.Duration
	for id, at := range scanned {
		worst = max(worst, arrived[id].Sub(at))
	}
	t.Logf("61 events in %d requests %v; the longest wait from scan to server %v", len(sizes), sizes, worst)
	if len(sizes) > 12 {
		t.Errorf("61 events in %d requests: not coalesced", len(sizes))
	}
	// uploadWindow, plus a request's time on a busy machine.
	if worst > uploadWindow+400*time.Millisecond {
		t.Errorf("an event waited %v for its batch", worst)
	}
}
