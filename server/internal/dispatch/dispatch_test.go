package dispatch

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/dbtest"
	"gatepass/internal/store"
	"gatepass/internal/webhook"
	"gatepass/server/internal/servertest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// clock is the dispatcher's injected time: the real time moved on by what tests add
// (rows the database stamps with now() stay in step with it).
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return time.Now().Add(c.offset) }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.offset += d; c.mu.Unlock() }

// delivery is what the receiver saw of one request.
type delivery struct {
	ID, Type, Attempt, Signature string
	Body                         []byte
	Envelope                     webhook.Envelope
}

// receiver is a local HTTPS endpoint that verifies every signature with the secrets it
// was given (a bad one fails the test) and answers what status says.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	clock  *clock
	mu     sync.Mutex
	secret string
	got    []delivery
	status func(n int) int // the answer to the n-th request (from 1); nil: 204
	answer string          // the body of every answer
	// intercept, when set, sees each request first and may answer it itself.
	intercept func(w http.ResponseWriter, req *http.Request) bool
}

func newReceiver(t *testing.T, c *clock) *receiver {
	r := &receiver{t: t, clock: c}
	r.srv = httptest.NewTLSServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	intercept := r.intercept
	r.mu.Unlock()
	if intercept != nil && intercept(w, req) {
		return
	}
	if req.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed) // a probe, not a delivery
		return
	}
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	d := delivery{ID: req.Header.Get(webhook.EventIDHeader), Type: req.Header.Get(webhook.EventTypeHeader),
		Attempt: req.Header.Get("Gatepass-Delivery-Attempt"), Signature: req.Header.Get(webhook.SignatureHeader), Body: body}
	if _, err := webhook.Verify(d.Signature, body, r.secret, 0, r.clock.Now()); err != nil {
		r.t.Errorf("delivery %s: signature %q does not verify: %v", d.ID, d.Signature, err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d.Envelope); err != nil || d.Envelope.ID.String() != d.ID || string(d.Envelope.Type) != d.Type {
		r.t.Errorf("delivery %s: envelope %s: %v", d.ID, body, err)
	}
	r.got = append(r.got, d)
	status := http.StatusNoContent
	if r.status != nil {
		status = r.status(len(r.got))
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, r.answer)
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

func (r *receiver) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(r.srv.Certificate())
	return p
}

// fixture is a harness, a community, a receiver and a dispatcher that trusts it.
type fixture struct {
	*servertest.Harness
	f     servertest.Fixture
	rcv   *receiver
	clock *clock
	d     *Dispatcher
}

func newFixture(t *testing.T, cfg Config) *fixture {
	h := servertest.New(t)
	fx := &fixture{Harness: h, f: h.Community(), clock: &clock{}}
	fx.rcv = newReceiver(t, fx.clock)
	cfg.AllowLoopback, cfg.RootCAs, cfg.Now = true, fx.rcv.pool(), fx.clock.Now
	cfg.Jitter = func() float64 { return 0 }
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	fx.d = New(h.DB, h.Sealer, slog.New(slog.NewTextHandler(io.Discard, nil)), cfg)
	return fx
}

// endpoint registers the receiver for types through the admin API and gives it the secret.
func (fx *fixture) endpoint(types ...string) string {
	out := fx.Must(http.StatusCreated, "POST", "/admin/v1/communities/"+fx.f.ID+"/webhooks", fx.f.Admin,
		map[string]any{"url": fx.rcv.srv.URL + "/hooks", "events": types})
	fx.rcv.mu.Lock()
	fx.rcv.secret = out["secret"].(string)
	fx.rcv.mu.Unlock()
	fx.dropAtEnd(out["id"].(string))
	return out["id"].(string)
}

// dropAtEnd deletes the endpoint, with its outbox, when the test ends: the package's
// tests share a database, and a sender sweeps every community.
func (fx *fixture) dropAtEnd(endpoint string) {
	fx.T.Cleanup(func() {
		_ = fx.DB.InTx(context.Background(), "test", func(tx *store.Tx) error {
			return tx.DeleteWebhookEndpoint(context.Background(), uuid.MustParse(fx.f.ID), uuid.MustParse(endpoint))
		})
	})
}

// send runs one sweep of the sender and waits for its deliveries.
func (fx *fixture) send() int {
	n := fx.d.sweep(context.Background())
	fx.d.wg.Wait()
	return n
}

func (fx *fixture) attempts(endpoint string) []webhook.Attempt {
	out, err := fx.DB.WebhookAttempts(context.Background(), uuid.MustParse(fx.f.ID), uuid.MustParse(endpoint), time.Time{}, 500)
	if err != nil {
		fx.T.Fatal(err)
	}
	return out
}

// Entry events a gate uploads reach a subscribed endpoint once each, signed, with the
// stored row's fields; a re-sent batch and an unsubscribed community add nothing; a
// move-out and a code granted at two gates are reported too.
func TestEventsReachTheEndpointSigned(t *testing.T) {
	fx := newFixture(t, Config{})
	ep := fx.endpoint("entry.created", "anomaly.reuse", "resident.moved_out")
	other := fx.Community() // no endpoint
	g1, t1 := fx.EnrolledGate(fx.f)
	g2, t2 := fx.EnrolledGate(fx.f)
	og, ot := fx.EnrolledGate(other)

	replay := base64.StdEncoding.EncodeToString(append([]byte{1}, make([]byte, 24)...))
	cred := uuid.NewString()
	first := servertest.GateEvent(g1, "granted")
	first["credential_id"], first["replay_key"] = cred, replay
	batch := []any{first, servertest.GateEvent(g1, "denied"), servertest.GateEvent(g1, "granted")}
	fx.Must(http.StatusOK, "POST", "/gate/v1/events", t1, map[string]any{"events": batch})
	fx.Must(http.StatusOK, "POST", "/gate/v1/events", t1, map[string]any{"events": batch}) // re-sent
	reused := servertest.GateEvent(g2, "granted")
	reused["credential_id"], reused["replay_key"] = cred, replay
	fx.Must(http.StatusOK, "POST", "/gate/v1/events", t2, map[string]any{"events": []any{reused}})
	fx.Must(http.StatusOK, "POST", "/gate/v1/events", ot, map[string]any{"events": []any{servertest.GateEvent(og, "granted")}})
	fx.Must(http.StatusOK, "POST", "/admin/v1/communities/"+fx.f.ID+"/residents/"+fx.f.Resident+"/move-out", fx.f.Admin, nil)
	if n := dbtest.Count(t, fx.DB.SQL(), dbtest.WebhookDeliveries, dbtest.Eq("community_id", other.ID)); n != 0 {
		t.Fatalf("a community without endpoints has %d outbox rows", n)
	}

	if n := fx.send(); n != 6 {
		t.Fatalf("sent %d deliveries, want 6 (4 entries, 1 anomaly, 1 move-out)", n)
	}
	if n := fx.send(); n != 0 {
		t.Fatalf("sent %d more after every delivery succeeded", n)
	}
	byType := map[string][]delivery{}
	ids := map[string]bool{}
	for _, d := range fx.rcv.deliveries() {
		byType[d.Type] = append(byType[d.Type], d)
		if ids[d.ID] {
			t.Fatalf("event %s delivered twice", d.ID)
		}
		ids[d.ID] = true
		if d.Envelope.Community.String() != fx.f.ID || d.Attempt != "1" {
			t.Fatalf("delivery %+v", d)
		}
	}
	if len(byType["entry.created"]) != 4 || len(byType["anomaly.reuse"]) != 1 || len(byType["resident.moved_out"]) != 1 {
		t.Fatalf("deliveries by type: %v", byType)
	}
	// The entry's data is webhook.Entry exactly (the store builds it in SQL), and says
	// what the gate reported.
	for _, d := range byType["entry.created"] {
		var e webhook.Entry
		dec := json.NewDecoder(bytes.NewReader(d.Envelope.Data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("entry data %s: %v", d.Envelope.Data, err)
		}
		var again map[string]any
		_ = json.Unmarshal(d.Envelope.Data, &again)
		want, _ := json.Marshal(e)
		var wantMap map[string]any
		_ = json.Unmarshal(want, &wantMap)
		if len(again) != len(wantMap) {
			t.Fatalf("entry data has fields %v, webhook.Entry has %v", again, wantMap)
		}
		if e.ID.String() != d.ID || e.Method != "qr" || (e.Gate.String() != g1 && e.Gate.String() != g2) {
			t.Fatalf("entry %+v", e)
		}
		if e.ID.String() == first["id"] && (e.Result != "granted" || e.Credential == nil || e.Credential.String() != cred) {
			t.Fatalf("entry %+v, want the granted one of %s", e, cred)
		}
	}
	var an webhook.Anomaly
	if err := json.Unmarshal(byType["anomaly.reuse"][0].Envelope.Data, &an); err != nil || an.Gate.String() != g2 ||
		len(an.OtherGates) != 1 || an.OtherGates[0].String() != g1 || an.Entry.String() != reused["id"] {
		t.Fatalf("anomaly %s: %v", byType["anomaly.reuse"][0].Envelope.Data, err)
	}
	var mo webhook.MovedOut
	if err := json.Unmarshal(byType["resident.moved_out"][0].Envelope.Data, &mo); err != nil || mo.Resident.String() != fx.f.Resident {
		t.Fatalf("move-out %s: %v", byType["resident.moved_out"][0].Envelope.Data, err)
	}
	// The delivery log has each attempt with its status.
	log := fx.attempts(ep)
	if len(log) != 6 {
		t.Fatalf("delivery log has %d rows", len(log))
	}
	for _, a := range log {
		if a.Status == nil || *a.Status != http.StatusNoContent || a.Error != nil || a.Delivery != "delivered" || a.Attempt != 1 {
			t.Fatalf("log row %+v", a)
		}
	}
}

// A failing endpoint is retried with growing waits and nothing is sent before its
// time; the log keeps every attempt.
func TestRetriesWithBackoff(t *testing.T) {
	fx := newFixture(t, Config{Schedule: webhook.Schedule{Base: time.Hour, Max: 4 * time.Hour}})
	ep := fx.endpoint("resident.moved_out")
	fx.rcv.status = func(n int) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}
	// The receiver's answer is quoted in the log: bytes PostgreSQL text would refuse
	// are cleaned, not a reason to lose the attempt.
	fx.rcv.answer = "\xff\x00 boom"
	fx.Must(http.StatusOK, "POST", "/admin/v1/communities/"+fx.f.ID+"/residents/"+fx.f.Resident+"/move-out", fx.f.Admin, nil)
	steps := []struct {
		advance time.Duration
		sent    int
	}{
		{0, 1},                // attempt 1: 500; next in 30 min (half of the base: no jitter)
		{29 * time.Minute, 0}, // not yet
		{time.Minute, 1},      // attempt 2: 500; next in 1 h
		{59 * time.Minute, 0}, // not yet
		{time.Minute, 1},      // attempt 3: 200
		{24 * time.Hour, 0},   // done for good
	}
	for i, s := range steps {
		fx.clock.Add(s.advance)
		if n := fx.send(); n != s.sent {
			t.Fatalf("step %d: sent %d, want %d", i, n, s.sent)
		}
	}
	got := fx.rcv.deliveries()
	if len(got) != 3 || got[0].ID != got[2].ID || got[0].Attempt != "1" || got[2].Attempt != "3" {
		t.Fatalf("deliveries %+v", got)
	}
	log := fx.attempts(ep)
	if len(log) != 3 || *log[0].Status != 200 || *log[1].Status != 500 || log[1].Error == nil || !strings.HasSuffix(*log[1].Error, " boom") ||
		log[0].Delivery != "delivered" {
		t.Fatalf("log %+v", log)
	}
}

// An endpoint that fails for a day is paused: an audit row, its state and reason in the
// API; its deliveries are given up at the end of the window; nothing new is queued for
// it until staff resume it.
func TestPausedAfterFailingForADay(t *testing.T) {
	fx := newFixture(t, Config{Schedule: webhook.Schedule{Base: time.Minute}})
	ep := fx.endpoint("resident.moved_out")
	fx.rcv.status = func(int) int { return http.StatusServiceUnavailable }
	fx.Must(http.StatusOK, "POST", "/admin/v1/communities/"+fx.f.ID+"/residents/"+fx.f.Resident+"/move-out", fx.f.Admin, nil)
	base := "/admin/v1/communities/" + fx.f.ID + "/webhooks/" + ep
	start := fx.clock.Now()
	for i := 0; ; i++ {
		if i > 100 {
			t.Fatal("never paused")
		}
		fx.send()
		if fx.Must(http.StatusOK, "GET", base, fx.f.Auditor, nil)["state"] == "paused" {
			break
		}
		var next time.Time
		dbtest.Get(t, fx.DB.SQL(), &next, dbtest.WebhookDeliveries, "next_attempt_at", dbtest.Eq("community_id", fx.f.ID))
		if next.After(fx.clock.Now()) {
			fx.clock.Add(next.Sub(fx.clock.Now()))
		}
	}
	if fx.clock.Now().Sub(start) < 24*time.Hour-time.Minute {
		t.Fatalf("paused after %s", fx.clock.Now().Sub(start))
	}
	got := fx.Must(http.StatusOK, "GET", base, fx.f.Auditor, nil)
	if reason, _ := got["paused_reason"].(string); reason == "" || got["failing_since"] == nil {
		t.Fatalf("paused endpoint %v: no reason", got)
	}
	if dbtest.Count(t, fx.DB.SQL(), dbtest.AuditLog, dbtest.Eq("community_id", fx.f.ID), dbtest.Eq("action", "webhook.pause")) != 1 {
		t.Fatal("no audit row for the pause")
	}
	if dbtest.Count(t, fx.DB.SQL(), dbtest.WebhookDeliveries, dbtest.Eq("community_id", fx.f.ID), dbtest.Eq("state", "failed")) != 1 {
		t.Fatal("the day-old delivery was not given up")
	}
	// Paused: a new event is not queued for it; a ping waits; nothing is sent, and the
	// sender's sweep does not even find the community due.
	fx.Must(http.StatusOK, "POST", "/admin/v1/communities/"+fx.f.ID+"/residents/"+fx.NewResident(fx.f)+"/move-out", fx.f.Admin, nil)
	fx.Must(http.StatusAccepted, "POST", base+"/ping", fx.f.Admin, nil)
	fx.clock.Add(time.Hour)
	if n := fx.send(); n != 0 {
		t.Fatalf("a paused endpoint was sent %d deliveries", n)
	}
	due, err := fx.DB.DueWebhookCommunities(context.Background(), fx.clock.Now(), 1000)
	if err != nil || slices.Contains(due, uuid.MustParse(fx.f.ID)) {
		t.Fatalf("a paused endpoint's community is due: %v %v", due, err)
	}
	// Resumed, it works again: the ping that waited, then new events.
	fx.rcv.status = nil
	fx.Must(http.StatusOK, "POST", base+"/resume", fx.f.Admin, nil)
	if n := fx.send(); n != 1 || fx.rcv.deliveries()[len(fx.rcv.deliveries())-1].Type != "webhook.ping" {
		t.Fatalf("after resume sent %d, want the ping that waited", n)
	}
	fx.Must(http.StatusOK, "POST", "/admin/v1/communities/"+fx.f.ID+"/residents/"+fx.NewResident(fx.f)+"/move-out", fx.f.Admin, nil)
	if n := fx.send(); n != 1 {
		t.Fatalf("after resume sent %d, want the new event", n)
	}
	if got := fx.Must(http.StatusOK, "GET", base, fx.f.Admin, nil); got["state"] != "active" || got["failing_since"] != nil {
		t.Fatalf("resumed endpoint %v", got)
	}
}

// During a rotation's overlap each delivery carries both signatures, so a receiver
// with either secret accepts it; after the overlap the old secret verifies nothing.
func TestSecretRotationOverlap(t *testing.T) {
	fx := newFixture(t, Config{})
	ep := fx.endpoint("resident.moved_out")
	old := fx.rcv.secret
	c := uuid.MustParse(fx.f.ID)
	var fresh string
	err := fx.DB.InTx(context.Background(), "test", func(tx *store.Tx) (err error) {
		_, fresh, err = tx.RotateWebhookSecret(context.Background(), c, uuid.MustParse(ep), time.Hour, fx.clock.Now(), fx.Sealer)
		return err
	})
	if err != nil || fresh == old {
		t.Fatalf("rotate: %v", err)
	}
	ping := func() delivery {
		t.Helper()
		fx.Must(http.StatusAccepted, "POST", "/admin/v1/communities/"+fx.f.ID+"/webhooks/"+ep+"/ping", fx.f.Admin, nil)
		fx.rcv.mu.Lock()
		fx.rcv.secret = fresh
		fx.rcv.mu.Unlock()
		if n := fx.send(); n != 1 {
			t.Fatalf("sent %d", n)
		}
		got := fx.rcv.deliveries()
		return got[len(got)-1]
	}
	during := ping()
	for _, s := range []string{old, fresh} {
		if _, err := webhook.Verify(during.Signature, during.Body, s, 0, fx.clock.Now()); err != nil {
			t.Fatalf("during the overlap, a receiver with one of the secrets refuses: %v", err)
		}
	}
	fx.clock.Add(time.Hour + time.Second)
	after := ping()
	if _, err := webhook.Verify(after.Signature, after.Body, old, 0, fx.clock.Now()); err == nil {
		t.Fatal("after the overlap the old secret still verifies")
	}
	if _, err := webhook.Verify(after.Signature, after.Body, fresh, 0, fx.clock.Now()); err != nil {
		t.Fatal(err)
	}
}

// A gate silent for longer than the limit is reported offline once, and online once
// when it is heard from again.
func TestGateOfflineAndOnline(t *testing.T) {
	fx := newFixture(t, Config{OfflineAfter: time.Minute})
	fx.endpoint("gate.offline", "gate.online")
	gate, token := fx.EnrolledGate(fx.f)
	fx.Must(http.StatusOK, "POST", "/gate/v1/heartbeat", token, map[string]any{"agent_version": "test", "queue_depth": 0, "clock_offset_ms": 0})
	fx.d.liveness(context.Background())
	if n := fx.send(); n != 0 {
		t.Fatalf("a live gate made %d events", n)
	}
	dbtest.Age(t, fx.DB.SQL(), dbtest.Gates, "last_seen_at", 2*time.Minute, dbtest.Eq("id", gate))
	fx.d.liveness(context.Background())
	fx.d.liveness(context.Background())
	fx.Must(http.StatusOK, "POST", "/gate/v1/heartbeat", token, map[string]any{"agent_version": "test", "queue_depth": 0, "clock_offset_ms": 0})
	fx.d.liveness(context.Background())
	fx.d.liveness(context.Background())
	if n := fx.send(); n != 2 {
		t.Fatalf("sent %d, want offline then online", n)
	}
	got := fx.rcv.deliveries()
	types := map[string]bool{got[0].Type: true, got[1].Type: true}
	if !types["gate.offline"] || !types["gate.online"] {
		t.Fatalf("types %v", types)
	}
	var st webhook.GateStatus
	if err := json.Unmarshal(got[0].Envelope.Data, &st); err != nil || st.Gate.String() != gate || st.OfflineAfter != 60 {
		t.Fatalf("gate status %s: %v", got[0].Envelope.Data, err)
	}
}

// A host that resolves to a loopback or private address is not dialled unless the
// development setting allows loopback: the attempt fails and is logged.
func TestInternalAddressesRefused(t *testing.T) {
	fx := newFixture(t, Config{})
	fx.d = New(fx.DB, fx.Sealer, slog.New(slog.NewTextHandler(io.Discard, nil)), Config{RootCAs: fx.rcv.pool(), Now: fx.clock.Now})
	c := uuid.MustParse(fx.f.ID)
	_, port, _ := stringsCut(fx.rcv.srv.URL)
	var ep webhook.Endpoint
	err := fx.DB.InTx(context.Background(), "test", func(tx *store.Tx) (err error) {
		ep, _, err = tx.CreateWebhookEndpoint(context.Background(), store.NewWebhookEndpoint{Community: c,
			URL: "https://localhost:" + port + "/hooks", Events: []string{"resident.moved_out"}}, fx.Sealer)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	fx.dropAtEnd(ep.ID.String())
	fx.Must(http.StatusOK, "POST", "/admin/v1/communities/"+fx.f.ID+"/residents/"+fx.f.Resident+"/move-out", fx.f.Admin, nil)
	if n := fx.send(); n != 1 {
		t.Fatalf("sent %d", n)
	}
	if len(fx.rcv.deliveries()) != 0 {
		t.Fatal("the receiver on loopback was reached")
	}
	log := fx.attempts(ep.ID.String())
	if len(log) != 1 || log[0].Error == nil || !strings.Contains(*log[0].Error, "loopback") || log[0].Delivery != "pending" {
		t.Fatalf("log %+v", log)
	}
	// The client itself checks the address it dials, whatever the name resolved to (a
	// name that re-resolves to an internal address after registration).
	for _, allow := range []bool{false, true} {
		resp, err := NewClient(5*time.Second, allow, fx.rcv.pool()).Get(fx.rcv.srv.URL)
		if resp != nil {
			resp.Body.Close()
		}
		if refused := errors.Is(err, ErrRefusedAddress); refused == allow || (allow && err != nil) {
			t.Fatalf("loopback allowed %v: %v", allow, err)
		}
	}
}

// stringsCut splits an https://host:port URL into host and port.
func stringsCut(u string) (string, string, bool) {
	hp := u[len("https://"):]
	for i := len(hp) - 1; i >= 0; i-- {
		if hp[i] == ':' {
			if _, err := strconv.Atoi(hp[i+1:]); err == nil {
				return hp[:i], hp[i+1:], true
			}
		}
	}
	return hp, "", false
}

var _ = access.ErrNotFound

// A resident who deletes their account before a delivery is sent leaves no id of theirs
// in it: the outbox is erased like the entry log.
func TestErasureReachesTheOutbox(t *testing.T) {
	fx := newFixture(t, Config{})
	fx.endpoint("entry.created")
	gate, token := fx.EnrolledGate(fx.f)
	card := fx.Card(fx.f, fx.f.Resident)
	ev := servertest.GateEvent(gate, "granted")
	ev["credential_id"], ev["resident_id"], ev["method"], ev["score"] = card, fx.f.Resident, "face", 0.9
	ev2 := servertest.GateEvent(gate, "granted")
	ev2["credential_id"] = card
	fx.Must(http.StatusOK, "POST", "/gate/v1/events", token, map[string]any{"events": []any{ev, ev2}})
	err := fx.DB.InTx(context.Background(), "test", func(tx *store.Tx) error {
		_, err := tx.DeleteResident(context.Background(), uuid.MustParse(fx.f.ID), uuid.MustParse(fx.f.Resident))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := fx.send(); n != 2 {
		t.Fatalf("sent %d", n)
	}
	for _, d := range fx.rcv.deliveries() {
		if bytes.Contains(d.Body, []byte(fx.f.Resident)) || bytes.Contains(d.Body, []byte(card)) {
			t.Fatalf("a delivery after the erasure names the resident or their card: %s", d.Body)
		}
	}
}

// lockdown.changed goes out from the lockdown's own transaction: a guard's start and lift
// through the admin API are each delivered, with who did it; a start that rolls back
// never is.
func TestLockdownEventsFollowTheTransaction(t *testing.T) {
	fx := newFixture(t, Config{})
	fx.endpoint("lockdown.changed")
	c := uuid.MustParse(fx.f.ID)
	base := "/admin/v1/communities/" + fx.f.ID + "/lockdowns"
	id := fx.Must(http.StatusCreated, "POST", base, fx.f.Guard, map[string]any{"scope": "zone", "zone": 0, "reason": "fire drill"})["id"].(string)
	errRollback := errors.New("rolled back")
	err := fx.DB.InTx(context.Background(), "test", func(tx *store.Tx) error {
		if _, err := tx.StartLockdown(context.Background(), access.Lockdown{Community: c, Scope: "community", Reason: "never happened"},
			uuid.MustParse(fx.f.Staff[access.StaffGuard].ID), nil); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	fx.Must(http.StatusOK, "POST", base+"/"+id+"/lift", fx.f.Guard, nil)
	if n := fx.send(); n != 2 {
		t.Fatalf("sent %d, want the committed start and lift", n)
	}
	guard := "staff:" + fx.f.Staff[access.StaffGuard].ID
	var got []webhook.Lockdown
	for _, d := range fx.rcv.deliveries() {
		var l webhook.Lockdown
		if err := json.Unmarshal(d.Envelope.Data, &l); err != nil || d.Type != "lockdown.changed" {
			t.Fatalf("delivery %s %s: %v", d.Type, d.Envelope.Data, err)
		}
		got = append(got, l)
	}
	slices.SortFunc(got, func(a, b webhook.Lockdown) int { return map[bool]int{true: -1, false: 1}[a.Active] })
	if !got[0].Active || got[0].Reason != "fire drill" || got[0].Zone == nil || *got[0].Zone != 0 || got[0].By != guard ||
		got[0].ID.String() != id || got[1].Active || got[1].By != guard || got[1].ID.String() != id {
		t.Fatalf("deliveries: %+v", got)
	}
}

// A graceful stop cuts the deliveries in flight short and hands them back at once: the
// next sender sends them without waiting for the lease, and the cut attempt is not
// counted against the endpoint.
func TestShutdownHandsDeliveriesBack(t *testing.T) {
	fx := newFixture(t, Config{Poll: 50 * time.Millisecond})
	ep := fx.endpoint("resident.moved_out")
	held := make(chan struct{})
	fx.rcv.mu.Lock()
	fx.rcv.intercept = func(w http.ResponseWriter, req *http.Request) bool {
		select {
		case <-held:
			return false
		default:
			close(held)
			_, _ = io.Copy(io.Discard, req.Body) // then the server notices the client leave
			<-req.Context().Done()               // the sender gives up first
			return true
		}
	}
	fx.rcv.mu.Unlock()
	fx.Must(http.StatusOK, "POST", "/admin/v1/communities/"+fx.f.ID+"/residents/"+fx.f.Resident+"/move-out", fx.f.Admin, nil)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { fx.d.Run(ctx); close(stopped) }()
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		t.Fatal("no delivery started")
	}
	cancel()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if n := fx.send(); n != 1 { // the lease would hold it for 15 s more
		t.Fatalf("after the stop the next sweep sent %d, want the handed-back delivery", n)
	}
	got, log := fx.rcv.deliveries(), fx.attempts(ep)
	if len(got) != 1 || got[0].Attempt != "1" || len(log) != 1 || log[0].Delivery != "delivered" {
		t.Fatalf("deliveries %+v, log %+v", got, log)
	}
}

// While there is work, a finished delivery starts the next at once: with two slots and
// an hour between polls, a backlog still drains in moments.
func TestBacklogDrainsWithoutWaitingForThePoll(t *testing.T) {
	fx := newFixture(t, Config{Poll: time.Hour, Concurrency: 2})
	fx.endpoint("lockdown.changed")
	c := uuid.MustParse(fx.f.ID)
	for i := 0; i < 12; i++ {
		if err := fx.DB.InTx(context.Background(), "test", func(tx *store.Tx) error {
			return tx.EnqueueWebhook(context.Background(), c, webhook.LockdownChanged, webhook.Lockdown{ID: uuid.New(), Scope: "community"})
		}); err != nil {
			t.Fatal(err)
		}
	}
	fx.clock.Add(time.Second) // the rows' now() is behind no sender's clock
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { fx.d.Run(ctx); close(stopped) }()
	defer func() { cancel(); <-stopped }()
	deadline := time.Now().Add(30 * time.Second)
	for len(fx.rcv.deliveries()) < 12 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 12 delivered in 30 s", len(fx.rcv.deliveries()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
