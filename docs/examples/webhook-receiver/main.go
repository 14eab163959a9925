// Command webhook-receiver is a minimal receiver of gatepass webhooks, with the Go
// standard library only, to copy into your own service: it verifies the
// Gatepass-Signature header, refuses stale timestamps, skips event ids it has already
// processed, and answers 2xx fast. docs/webhooks.md explains each step.
//
//	WEBHOOK_SECRET=whsec_... go run ./docs/examples/webhook-receiver -listen :8443 \
//	    -cert cert.pem -key key.pem
//
// During a secret rotation set WEBHOOK_SECRET to both secrets, comma-separated: a
// delivery signed with either is accepted.
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// tolerance is how far a signature's timestamp may be from now: an older delivery may
// be a replay of one captured earlier.
const tolerance = 5 * time.Minute

var errUnsigned = errors.New("signature does not verify")

// verify checks header (t=<unix>,v1=<hex>[,v1=<hex>]) against body with any of
// secrets: some v1 must equal HMAC-SHA256 under the secret (the whole "whsec_..."
// string is the key) of "<t>.<body>", compared in constant time, and t must be within
// tolerance of now.
func verify(header string, body []byte, secrets []string, now time.Time) error {
	var ts int64 = -1
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return errUnsigned
			}
			ts = n
		case "v1":
			if sig, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, sig)
			}
		}
	}
	if ts < 0 || len(sigs) == 0 {
		return errUnsigned
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return errors.New("timestamp outside the tolerance")
	}
	for _, secret := range secrets {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(strconv.FormatInt(ts, 10) + "."))
		mac.Write(body)
		want := mac.Sum(nil)
		for _, sig := range sigs {
			if hmac.Equal(sig, want) {
				return nil
			}
		}
	}
	return errUnsigned
}

// event is the envelope every delivery carries.
type event struct {
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	CreatedAt   time.Time       `json:"created_at"`
	CommunityID string          `json:"community_id"`
	Data        json.RawMessage `json:"data"`
}

// receiver handles deliveries. seen stands for your database: keep processed event ids
// under a unique key, and insert the id in the same transaction as the work it causes.
type receiver struct {
	secrets []string
	mu      sync.Mutex
	seen    map[string]bool
	handle  func(event) // your work; here, a log line
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	// Verify the raw bytes, before any JSON parsing: a re-encoded body would not match.
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	if err := verify(r.Header.Get("Gatepass-Signature"), body, rc.secrets, time.Now()); err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var ev event
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" || ev.ID != r.Header.Get("Gatepass-Event-Id") {
		http.Error(w, "not an event", http.StatusBadRequest)
		return
	}
	// Deliveries come at least once: a repeat of a processed id is acknowledged, not redone.
	rc.mu.Lock()
	dup := rc.seen[ev.ID]
	rc.seen[ev.ID] = true
	rc.mu.Unlock()
	if !dup {
		rc.handle(ev)
	}
	w.WriteHeader(http.StatusNoContent) // any 2xx; anything else is retried
}

func main() {
	listen := flag.String("listen", ":8443", "listen address")
	cert := flag.String("cert", "", "TLS certificate (PEM); gatepass delivers to https URLs only")
	key := flag.String("key", "", "TLS private key (PEM)")
	flag.Parse()
	secrets := strings.Split(os.Getenv("WEBHOOK_SECRET"), ",")
	if secrets[0] == "" {
		log.Fatal("set WEBHOOK_SECRET to the secret gatepass showed when the endpoint was made")
	}
	rc := &receiver{secrets: secrets, seen: map[string]bool{}, handle: func(ev event) {
		log.Printf("%s %s %s", ev.Type, ev.ID, ev.Data)
	}}
	srv := &http.Server{Addr: *listen, Handler: rc, ReadHeaderTimeout: 10 * time.Second}
	var err error
	if *cert != "" {
		err = srv.ListenAndServeTLS(*cert, *key)
	} else {
		err = srv.ListenAndServe() // behind a TLS-terminating proxy
	}
	log.Fatal(err)
}
