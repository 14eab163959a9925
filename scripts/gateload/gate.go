package main

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/credential"
	"gatepass/internal/gateapi"
)

// perAddress is how many gates share one loopback source address: the server allows 20
// enrollments a minute per client address (gatesync.enrollPerMinute), so with one
// address per 20 gates all of them enroll at once through the real endpoint, as 1,000
// gates on 1,000 sites would.
const perAddress = 20

// gate is one simulated gate agent: its own loopback source address and HTTP transport
// (a real gate is its own process with its own connections), its token, and the sync
// state the agent keeps (cursor and the largest key id it knows).
type gate struct {
	i      int
	id     uuid.UUID
	token  string
	base   string
	client *http.Client // uploads and enrollment
	poll   *http.Client // the long poll, with the agent's timeout (wait + 15 s)

	cursor   int64
	kidAfter uint32
	synced   atomic.Bool
}

// newGate makes gate i. gzip: ask for compressed answers, as Go's transport does by
// default and so the agent does (off: to see what compressing held polls costs).
func newGate(i int, base string, wait time.Duration, gzip bool) *gate {
	ip := net.IPv4(127, 0, byte(1+i/perAddress/254), byte(2+(i/perAddress)%254))
	tr := &http.Transport{
		DialContext:         (&net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 2, // http.DefaultTransport's, which the agent uses
		DisableCompression:  !gzip,
		IdleConnTimeout:     90 * time.Second,
	}
	return &gate{i: i, base: base,
		client: &http.Client{Transport: tr, Timeout: 20 * time.Second},
		poll:   &http.Client{Transport: tr, Timeout: wait + 15*time.Second}}
}

// apiError is a non-2xx answer of the gate API.
type apiError struct {
	status     int
	retryAfter time.Duration
	body       string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d: %s", e.status, e.body) }

// do sends one gate API request the way the agent does (bearer token, JSON both ways).
func (g *gate) do(ctx context.Context, c *http.Client, method, path string, in, out any) error {
	return send(ctx, c, method, g.base+path, g.token, in, out)
}

// send is one JSON request with a bearer token (none when empty), for the gates and the
// staff alike; a non-2xx answer is an *apiError, a 2xx one is decoded into out (nil:
// dropped).
func send(ctx context.Context, c *http.Client, method, url, token string, in, out any) error {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return &apiError{status: resp.StatusCode, retryAfter: time.Duration(min(ra, 60)) * time.Second, body: strings.TrimSpace(string(raw))}
	}
	if out == nil {
		_, err := io.Copy(io.Discard, resp.Body)
		return err
	}
	// Keepalive newlines before a held sync are JSON whitespace: the decoder skips them.
	return json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(out)
}

// enroll redeems the gate's enrollment code through POST /gate/v1/enroll.
func (g *gate) enroll(ctx context.Context, code string) error {
	box, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	version := "gateload"
	var out gateapi.EnrollResponse
	in := gateapi.EnrollRequest{Code: &code, BoxPublicKey: box.PublicKey().Bytes(), AgentVersion: &version}
	for {
		err := g.do(ctx, g.client, http.MethodPost, "/gate/v1/enroll", in, &out)
		var ae *apiError
		if errors.As(err, &ae) && ae.status == http.StatusServiceUnavailable && ae.retryAfter > 0 {
			sleep(ctx, ae.retryAfter) // busy: back as the server says, as the agent does
			continue
		}
		if err != nil {
			return fmt.Errorf("enroll gate %d: %w", g.i, err)
		}
		break
	}
	g.id, g.token = out.Gate.ID, out.Token
	return nil
}

// syncAnswer is a sync as the gate reads it: a held answer (keepalive=1) that failed
// after its 200 carries an error instead. The agent's own type is unexported
// (internal/agent/sync.go), hence this copy of its two fields.
type syncAnswer struct {
	gateapi.Sync
	Error *gateapi.SyncError `json:"error"`
}

// syncLoop long-polls until ctx ends, with the query the agent sends
// (internal/agent/sync.go: cursor, wait, kid_after, keepalive), handing each answer to
// seen. Failures are counted and retried after 500 ms: the run reports them.
func (g *gate) syncLoop(ctx context.Context, wait time.Duration, keepalive bool, seen func(*gate, *gateapi.Sync), fails *atomic.Int64) {
	ka := 0
	if keepalive {
		ka = 1
	}
	for ctx.Err() == nil {
		var ans syncAnswer
		path := fmt.Sprintf("/gate/v1/sync?cursor=%d&wait=%s&kid_after=%d&keepalive=%d", g.cursor, wait, g.kidAfter, ka)
		err := g.do(ctx, g.poll, http.MethodGet, path, nil, &ans)
		if err == nil && ans.Error != nil {
			err = &apiError{status: ans.Error.Status, body: ans.Error.Code + ": " + ans.Error.Message,
				retryAfter: time.Duration(ans.Error.RetryAfter) * time.Second}
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			fails.Add(1)
			noteFailure(err)
			var ae *apiError
			if errors.As(err, &ae) && ae.status == http.StatusServiceUnavailable && ae.retryAfter > 0 {
				sleep(ctx, ae.retryAfter/2+mrand.N(ae.retryAfter/2+1)) // busy or the database away: as the agent does
				continue
			}
			sleep(ctx, 500*time.Millisecond)
			continue
		}
		g.cursor = ans.Cursor
		for _, k := range ans.Keys {
			g.kidAfter = max(g.kidAfter, k.KID)
		}
		for _, k := range ans.ForeignKIDs {
			g.kidAfter = max(g.kidAfter, k)
		}
		g.synced.Store(true)
		seen(g, &ans.Sync)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// events makes n entry events as a gate reports a granted card scan (replay key of a
// card code: type byte 1).
func (g *gate) events(n int, cred uuid.UUID) []gateapi.Event {
	out := make([]gateapi.Event, n)
	now := time.Now().UTC()
	for i := range out {
		key := make([]byte, credential.ReplayKeySize)
		_, _ = rand.Read(key)
		key[0] = 1
		c := cred
		out[i] = gateapi.Event{ID: uuid.New(), OccurredAt: now, GateID: g.id, Credential: &c, Subject: "resident",
			Method: "qr", Result: "granted", Reason: "ok", ReplayKey: key}
	}
	return out
}

// upload posts one batch and returns how many events the server acknowledged.
func (g *gate) upload(ctx context.Context, events []gateapi.Event) (int, error) {
	var ack gateapi.EventsAck
	if err := g.do(ctx, g.client, http.MethodPost, "/gate/v1/events", gateapi.Events{Events: events}, &ack); err != nil {
		return 0, err
	}
	return len(ack.Acked), nil
}

// fleet is the running simulated gates.
type fleet struct {
	gates  []*gate
	cancel context.CancelFunc
	wg     sync.WaitGroup
	fails  atomic.Int64
}

// start runs every gate's long poll; it returns once each has had its first answer
// (the snapshot) or after 2 minutes.
func (f *fleet) start(wait time.Duration, keepalive bool, seen func(*gate, *gateapi.Sync)) error {
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	for _, g := range f.gates {
		g.cursor, g.kidAfter = 0, 0 // the agent starts a process with cursor 0
		g.synced.Store(false)
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			g.syncLoop(ctx, wait, keepalive, seen, &f.fails)
		}()
	}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		n := 0
		for _, g := range f.gates {
			if g.synced.Load() {
				n++
			}
		}
		if n == len(f.gates) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("not every gate had its first sync within 2 minutes")
}

// stop ends every long poll and closes the gates' connections.
func (f *fleet) stop() {
	f.cancel()
	f.wg.Wait()
	for _, g := range f.gates {
		g.poll.Transport.(*http.Transport).CloseIdleConnections()
	}
}

// failures counts the gates' sync failures by kind, for the report.
var failures sync.Map // string -> *atomic.Int64

func noteFailure(err error) {
	kind := err.Error()
	var ae *apiError
	if errors.As(err, &ae) {
		kind = fmt.Sprintf("%d %.60s", ae.status, ae.body)
	} else if len(kind) > 60 {
		kind = kind[:60]
	}
	n, _ := failures.LoadOrStore(kind, new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
}

func printFailures() {
	failures.Range(func(k, v any) bool {
		fmt.Printf("  sync failure: %d × %s\n", v.(*atomic.Int64).Load(), k)
		return true
	})
}
