package gatesync_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"gatepass/server/internal/gatesync"
	"gatepass/server/internal/servertest"
)

// A revocation wakes more held polls than take their turn at once (WokenAtOnce): every
// one of them, plain or kept alive, is answered with it, and every turn is given back, so
// that the next change reaches them all too.
func TestFanOutEveryPollTakesItsTurn(t *testing.T) {
	h := servertest.New(t)
	f := h.Community()
	_, tok := h.EnrolledGate(f)
	api, ln := serveGateAPI(t, h)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 200}, Timeout: 20 * time.Second}

	polls := 2*gatesync.WokenAtOnce + 5
	for round := range 2 {
		card := h.Card(f, f.Resident)
		cursor := int64(h.Must(200, "GET", "/gate/v1/sync?cursor=0", tok, nil)["cursor"].(float64))
		answers := make(chan error, polls)
		for i := range polls {
			keepalive := []string{"", "&keepalive=1"}[i%2]
			go func() {
				req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s/gate/v1/sync?cursor=%d&wait=25s%s", ln.Addr(), cursor, keepalive), nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := client.Do(req)
				if err != nil {
					answers <- err
					return
				}
				defer resp.Body.Close()
				var s struct {
					Revocations []struct {
						Credential string `json:"credential_id"`
					} `json:"revocations"`
				}
				if err := json.NewDecoder(resp.Body).Decode(&s); err != nil { // a kept-alive answer's newlines are skipped
					answers <- err
					return
				}
				for _, r := range s.Revocations {
					if r.Credential == card {
						answers <- nil
						return
					}
				}
				answers <- fmt.Errorf("answer without the revocation: %+v", s)
			}()
		}
		for start := time.Now(); api.Waiting() != polls; time.Sleep(5 * time.Millisecond) {
			if time.Since(start) > 10*time.Second {
				t.Fatalf("round %d: %d polls held, want %d", round, api.Waiting(), polls)
			}
		}
		h.Must(200, "POST", "/admin/v1/residents/"+f.Resident+"/cards/"+card+"/revoke", f.Guard, nil)
		var failed []string
		for range polls {
			if err := <-answers; err != nil {
				failed = append(failed, err.Error())
			}
		}
		if len(failed) > 0 {
			t.Fatalf("round %d: %d of %d polls: %s", round, len(failed), polls, strings.Join(failed, "; "))
		}
		// A turn is given back just after its answer is flushed.
		for start := time.Now(); api.WokenTurns() != 0; time.Sleep(5 * time.Millisecond) {
			if time.Since(start) > 2*time.Second {
				t.Fatalf("round %d: %d turns still taken 2 s after every answer", round, api.WokenTurns())
			}
		}
	}
}
