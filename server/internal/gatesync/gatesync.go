// Package gatesync is the gate API, /gate/v1, that gate agents call with their gate
// token: one-time enrollment, the long-polled delta sync that carries keys, revocations,
// settings, manual releases and face templates to the door, and the uploads coming back
// (entry events, heartbeats, command and purge acks, face enrolments). Its wire types are
// in internal/gateapi, which the agent shares, and wire.go converts them to and from the
// domain types the store speaks; the staff side of gates (unlock, settings, entry log) is
// part of the admin API.
package gatesync

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/compress"
	"github.com/gofiber/fiber/v2/middleware/limiter"
	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/gateapi"
	"gatepass/internal/httpx"
	"gatepass/internal/store"
	"gatepass/server/internal/priority"
)

// BodyLimit is the request body size a program serving the gate API must accept: a
// batch of gateapi.MaxBatch events. Fiber applies it to the whole app, so other surfaces
// mounted beside this one set their own lower limit.
const BodyLimit = 1 << 20

// API serves the gate API.
type API struct {
	// EventRetention is how long the entry log keeps events (the server's
	// EVENT_RETENTION): older events are refused, since the purge would delete them.
	EventRetention time.Duration

	db      *store.DB
	log     *slog.Logger
	hubOnce sync.Once
	hub     *store.ChangeHub
	beat    beat // the keepalive clock every held poll shares
	// batches admits event batches: at most this many are decoded and stored at once,
	// the rest wait at most batchWait and are refused 503 busy (the agent comes back
	// after Retry-After). Past a few, more at once only slow every other query down.
	batches chan struct{}
	// Staff, when set, counts staff's requests in flight: a batch, and a held poll woken
	// by a change, wait for them (at most staffFirst) before they start, so that staff's
	// pages are not read behind the gates' uploads and fan-outs on a busy machine.
	Staff *priority.Staff
	// woken admits the held polls a change has woken to their work (the read, the answer),
	// wokenAtOnce at a time: a revocation wakes every gate of the community, and with a
	// thousand goroutines made runnable at once a staff request that came in then waited
	// behind all of them.
	woken chan struct{}
	// stop is closed by Close: held long polls answer at once.
	stop     chan struct{}
	stopOnce sync.Once
}

// New makes the gate API on a database.
func New(db *store.DB, log *slog.Logger) *API {
	return &API{db: db, log: log, EventRetention: DefaultEventRetention, stop: make(chan struct{}),
		batches: make(chan struct{}, concurrentBatches), woken: make(chan struct{}, wokenAtOnce)}
}

// DefaultEventRetention is the server's default EVENT_RETENTION.
const DefaultEventRetention = 180 * 24 * time.Hour

// concurrentBatches is how many event batches one server stores at once, and batchWait
// how long another waits for its turn. On the measured 2-core machine the database is
// saturated by a handful: 8 at once stored a third more events a second than 2, and
// doubled the staff's read latency at p50 and p99 and made gates' syncs wait for
// connections (docs/benchmarks.md); a batch refused at once costs less than one that
// queues behind the others. Copies of the server behind a load balancer each admit this
// many.
const (
	concurrentBatches = 4
	batchWait         = 500 * time.Millisecond
)

// wokenAtOnce is how many woken held polls work at once: enough to keep two cores busy
// through a fan-out, few enough that other work is not queued behind a thousand.
const wokenAtOnce = 32

// staffFirst is the longest gate work waits for staff's requests in flight: a staff page
// takes 5 to 50 ms, and a steady stream of them must not stop the gates' uploads, nor
// hold a revocation back for long.
const staffFirst = 200 * time.Millisecond

// enrollPerMinute bounds enrollment attempts per client address.
const enrollPerMinute = 20

// Uploads are rate limited per gate token, so that one gate (broken, or its token
// stolen) cannot flood the database: per uploadWindow, at most batchesPerWindow event
// batches and reportsPerWindow other reports (heartbeats, acks, enrolments). An agent
// draining a backlog sends batches of about 150 events back to back, so the limit still
// lets it move some 900 events a second; a community that stops face entry sends each
// gate a purge per resident, each acknowledged at once, hence the larger budget for
// reports. Past a limit the answer is 429 with Retry-After and the agent backs off.
const (
	batchesPerWindow = 60
	reportsPerWindow = 300
	uploadWindow     = 10 * time.Second
)

// perGate limits requests per gate token to max per uploadWindow. The key is a hash of
// the token, so the limiter holds no token; a request without one shares the client
// address's budget (it is refused by auth anyway).
func perGate(max int) fiber.Handler {
	return limiter.New(limiter.Config{
		Max: max, Expiration: uploadWindow,
		KeyGenerator: func(c *fiber.Ctx) string {
			token, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
			if !ok || token == "" {
				return "ip:" + c.IP()
			}
			h := sha256.Sum256([]byte(token))
			return hex.EncodeToString(h[:])
		},
		LimitReached: func(*fiber.Ctx) error {
			return httpx.Errorf(http.StatusTooManyRequests, "rate_limited", "too many uploads from this gate: retry after the time in Retry-After")
		},
	})
}

// Mount registers the gate API on r under /gate/v1, the prefix agents are configured
// with and docs/openapi-gate.yaml publishes.
func (g *API) Mount(r fiber.Router) {
	r = r.Group("/gate/v1")
	// Codes carry 256 random bits, so guessing is hopeless; the limit keeps a broken or
	// hostile installer script from hammering the database.
	r.Post("/enroll", limiter.New(limiter.Config{
		Max: enrollPerMinute, Expiration: time.Minute,
		LimitReached: func(*fiber.Ctx) error {
			return httpx.Errorf(http.StatusTooManyRequests, "rate_limited", "too many enrollment attempts: try again in a minute")
		},
	}), g.enroll)
	// A 100,000-revocation snapshot is ~10 MB of JSON; gzip roughly halves it.
	r.Get("/sync", compress.New(compress.Config{Level: compress.LevelBestSpeed}), g.auth(store.GateSyncWork, g.sync))
	r.Post("/events", perGate(batchesPerWindow), g.auth(store.GateWriteWork, g.events))
	reports := perGate(reportsPerWindow) // one budget for the small reports, apart from the events
	r.Post("/heartbeat", reports, g.auth(store.GateWriteWork, g.heartbeat))
	r.Post("/commands/:command/ack", reports, g.auth(store.GateWriteWork, g.ackCommand))
	r.Post("/face-purges/:purge/ack", reports, g.auth(store.GateWriteWork, g.ackFacePurge))
	r.Post("/face-enrolments", reports, g.auth(store.GateWriteWork, g.faceEnrolment))
}

// changes is the process's one LISTEN connection, made on the first long poll.
func (g *API) changes() *store.ChangeHub {
	g.hubOnce.Do(func() { g.hub = g.db.NewChangeHub(g.log) })
	return g.hub
}

// auth authenticates the gate's token and marks the request as the gates' work, which
// the store serves from the gates' own connection pools (never the staff's).
func (g *API) auth(work store.Work, h func(c *fiber.Ctx, gate access.GateIdentity) error) fiber.Handler {
	return func(c *fiber.Ctx) error {
		token, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
		if !ok || token == "" {
			return access.ErrUnauthorized
		}
		c.SetUserContext(store.WithWork(c.UserContext(), work))
		gate, err := g.db.GateByToken(c.UserContext(), token)
		if err != nil {
			return err
		}
		return h(c, gate)
	}
}

func (g *API) enroll(c *fiber.Ctx) error {
	var in gateapi.EnrollRequest
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	var k httpx.Checker
	code := k.Text("code", in.Code, 1, 200)
	version := k.Text("agent_version", in.AgentVersion, 1, 64)
	if err := k.Err(); err != nil {
		return err
	}
	if len(in.BoxPublicKey) != 32 {
		return access.Invalid("box_public_key", "must be a 32-byte X25519 public key (base64)")
	}
	// A gate's work: a fleet enrolling at once waits for the gates' connections, not
	// the staff's.
	gate, token, err := g.db.EnrollGate(store.WithWork(c.UserContext(), store.GateWriteWork), code, in.BoxPublicKey, version)
	if err != nil {
		return err
	}
	g.log.Info("gate enrolled", "gate", gate.ID, "community", gate.Community)
	httpx.NoStore(c) // the gate token is in the answer
	return c.Status(http.StatusCreated).JSON(gateapi.EnrollResponse{Token: token, Gate: gateToWire(gate), ServerTime: time.Now().UTC()})
}

// sync answers at once with a snapshot or with changes since the cursor; without
// changes it holds the request until one arrives, wait runs out or the server shuts
// down. With keepalive=1 a held answer is streamed: its 200 goes out at once and a
// newline every gateapi.KeepaliveEvery until the sync follows, so the gate can tell a
// live long poll from a hung server (docs/gate-agent.md, "Online and offline").
func (g *API) sync(c *fiber.Ctx, gate access.GateIdentity) error {
	req := access.SyncRequest{}
	if q := c.Query("cursor"); q != "" {
		n, err := strconv.ParseInt(q, 10, 64)
		if err != nil || n < 0 {
			return access.Invalid("cursor", "must be a number >= 0")
		}
		req.Cursor = n
	}
	if q, ok := c.Queries()["kid_after"]; ok {
		// Digits only: ParseUint alone would take "+5", and a kid is never negative.
		n, err := strconv.ParseUint(q, 10, 32)
		if err != nil || strings.TrimLeft(q, "0123456789") != "" {
			return httpx.FieldErr(http.StatusBadRequest, "invalid_query", "kid_after", "must be a whole number from 0 to %d", uint32(math.MaxUint32))
		}
		kid := uint32(n)
		req.KIDAfter = &kid
	}
	wait := time.Duration(0)
	if q := c.Query("wait"); q != "" {
		d, err := time.ParseDuration(q)
		if err != nil || d < 0 || d > gateapi.MaxWait {
			return access.Invalid("wait", "must be a duration from 0s to %s", gateapi.MaxWait)
		}
		wait = d
	}
	keepalive := false
	switch c.Query("keepalive") {
	case "", "0":
	case "1":
		keepalive = true
	default:
		return access.Invalid("keepalive", "must be 0 or 1")
	}
	ctx := c.UserContext()
	hub := g.changes()
	var wake *store.Waiter
	cancel := func() {}
	if wait > 0 {
		// Subscribed before the first read, so that a change committed between the read
		// and the wait is not missed.
		wake, cancel = hub.Subscribe(gate)
	}
	out, changed, err := hub.Sync(ctx, gate, req)
	if err != nil || changed || wait == 0 {
		cancel()
		if err != nil {
			return err
		}
		return c.JSON(syncToWire(out))
	}
	if keepalive {
		// The stream writer runs after this handler has returned (and c is reused): it
		// gets what it needs as values.
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		// Not compressed: fasthttp wraps a compressed stream in its own gzip writer and
		// goroutine for the whole hold, about 1 MB a held gate (1.2 GB at 1,000 gates,
		// scripts/gateload), and what a hold carries is newlines and a small delta. The
		// compress middleware looks at the request's Accept-Encoding after this returns.
		c.Request().Header.Del(fiber.HeaderAcceptEncoding)
		c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
			defer cancel()
			g.hold(w, gate, req, out, wake, wait)
		})
		return nil
	}
	defer cancel()
	// A gate that closes its connection ends its hold at once (fasthttp never cancels
	// the request's context by itself).
	defer httpx.CancelOnClose(c)()
	out, done, err := g.await(c.UserContext(), gate, req, out, wake, wait, nil)
	defer done()
	if err != nil {
		return err
	}
	if g.closing() {
		c.Context().SetConnectionClose() // the gate reconnects elsewhere, not to a stopping server
	}
	return c.JSON(syncToWire(out))
}

// await holds a long poll whose first read (out) had no changes: it asks the hub again
// when a change that may concern the gate wakes it (the hub wakes every waiter itself
// while notifications cannot be trusted), and returns the answer on a change, when wait
// runs out, or at once when the server shuts down. keepalive, when set, runs on every
// beat (gateapi.KeepaliveEvery); its error (the gate has gone) ends the wait with that
// error. done is to be called once the answer is written: a woken poll keeps its turn
// (woken) until then.
func (g *API) await(ctx context.Context, gate access.GateIdentity, req access.SyncRequest, out access.GateSync, wake *store.Waiter, wait time.Duration,
	keepalive func() error) (_ access.GateSync, done func(), _ error) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	hub := g.changes()
	none := func() {}
	for {
		var tick <-chan struct{}
		if keepalive != nil {
			tick = g.beat.next()
		}
		select {
		case <-tick:
			if err := keepalive(); err != nil {
				return out, none, err
			}
			continue
		case <-wake.C:
		case <-deadline.C:
			out.ServerTime = time.Now().UTC()
			return out, none, nil
		case <-g.stop:
			out.ServerTime = time.Now().UTC()
			return out, none, nil
		case <-ctx.Done():
			return out, none, ctx.Err()
		}
		// A change wakes many gates at once (a revocation, all of them): their reads and
		// answers go after staff's requests in flight, as batches do, and a few at a time.
		if g.Staff != nil {
			g.Staff.Yield(ctx, staffFirst)
		}
		select {
		case g.woken <- struct{}{}:
		case <-ctx.Done():
			return out, none, ctx.Err()
		}
		turn := func() { <-g.woken }
		// Other gates' rows were passed over: read on from after them.
		req.Cursor = out.Cursor
		next, changed, err := hub.Sync(ctx, gate, req)
		if err != nil {
			turn()
			return out, none, err
		}
		if changed {
			return next, turn, nil
		}
		turn()
		out = next
	}
}

// errGone is a held answer's gate gone away: nothing more to write.
var errGone = errors.New("gate closed its long poll")

// hold writes a held sync answer (keepalive=1): a newline now, which sends the 200, one
// every gateapi.KeepaliveEvery, then the sync. A failure after the 200 is written as a
// gateapi.SyncError in place of the sync.
func (g *API) hold(w *bufio.Writer, gate access.GateIdentity, req access.SyncRequest, out access.GateSync, wake *store.Waiter, wait time.Duration) {
	ping := func() error {
		if w.WriteByte('\n') != nil || w.Flush() != nil {
			return errGone
		}
		return nil
	}
	if ping() != nil {
		return
	}
	// The request's own context is done with: the wait ends on its own terms (a write
	// to a gate that has gone fails within a keepalive).
	ctx, cancel := context.WithCancel(store.WithWork(context.Background(), store.GateSyncWork))
	defer cancel()
	out, done, err := g.await(ctx, gate, req, out, wake, wait, ping)
	defer done()
	var body any = syncToWire(out)
	switch {
	case errors.Is(err, errGone):
		return
	case err != nil:
		e := httpx.Describe(err)
		if e.Status >= 500 {
			g.log.Warn("held sync failed", "gate", gate.ID, "err", err)
		}
		body = fiber.Map{"error": gateapi.SyncError{Status: e.Status, Code: e.Code, Message: e.Message, RetryAfter: e.RetryAfter}}
	}
	if err := json.NewEncoder(w).Encode(body); err == nil {
		_ = w.Flush()
	}
}

// Close answers every held long poll at once and every later one without waiting: the
// server is shutting down, and a gate should not wait out its poll on a server that
// will not answer again (it reconnects, to another copy behind the load balancer).
func (g *API) Close() { g.stopOnce.Do(func() { close(g.stop) }) }

func (g *API) closing() bool {
	select {
	case <-g.stop:
		return true
	default:
		return false
	}
}

// events stores a batch of entry events. Every event is checked, one by one, before
// anything is stored: a batch with a bad event is refused whole with 422, naming the
// first bad one in error.field as "events[N]" (the agent sets that event aside and sends
// the rest again at once) and every bad one in "rejected". A bad event is refused by its
// index whatever is wrong with it, even malformed JSON inside the event, so that no event
// can stall a gate's queue behind it.
func (g *API) events(c *fiber.Ctx, gate access.GateIdentity) error {
	// A batch the gate gave up on (its timeout, the gate gone) is not stored: it will
	// send it again.
	defer httpx.CancelOnClose(c)()
	release, err := g.admitBatch(c.UserContext())
	if err != nil {
		return err
	}
	defer release()
	var in struct {
		Events []jsontext.Value `json:"events"`
	}
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	if len(in.Events) > gateapi.MaxBatch {
		return access.Invalid("events", "at most %d events per batch", gateapi.MaxBatch)
	}
	now := time.Now()
	events := make([]access.GateEvent, 0, len(in.Events))
	var refused []rejectedEvent
	for i, raw := range in.Events {
		e, err := g.checkEvent(raw, gate, now)
		if err != nil {
			refused = append(refused, rejection(i, raw, err))
			continue
		}
		events = append(events, e)
	}
	if len(refused) > 0 {
		first := refused[0]
		g.log.Warn("gate event refused", "gate", gate.ID, "community", gate.Community, "refused", len(refused),
			"batch", len(in.Events), "first", first.Field, "err", first.Message)
		var out eventRefusal
		out.Error.Code, out.Error.Field, out.Error.Message = "invalid_field", first.Field, first.Message
		out.Rejected = refused
		return c.Status(http.StatusUnprocessableEntity).JSON(out)
	}
	ids := []uuid.UUID{}
	if len(events) > 0 {
		var err error
		if ids, err = g.db.StoreEvents(c.UserContext(), gate, events); err != nil {
			return err
		}
	}
	return c.JSON(gateapi.EventsAck{Acked: ids})
}

// admitBatch waits for a turn to store a batch, at most batchWait, after the staff
// requests in flight.
func (g *API) admitBatch(ctx context.Context) (func(), error) {
	if g.Staff != nil {
		g.Staff.Yield(ctx, staffFirst)
	}
	select {
	case g.batches <- struct{}{}:
		return func() { <-g.batches }, nil
	default:
	}
	t := time.NewTimer(batchWait)
	defer t.Stop()
	select {
	case g.batches <- struct{}{}:
		return func() { <-g.batches }, nil
	case <-t.C:
		return nil, &store.BusyError{Pool: "event batch", Wait: batchWait}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// checkEvent decodes one event as strictly as a request body and checks it.
func (g *API) checkEvent(raw jsontext.Value, gate access.GateIdentity, now time.Time) (access.GateEvent, error) {
	var w gateapi.Event
	if err := jsonv2.Unmarshal(raw, &w, jsonv2.RejectUnknownMembers(true)); err != nil {
		var sem *jsonv2.SemanticError
		switch {
		case errors.As(err, &sem) && errors.Is(sem.Err, jsonv2.ErrUnknownName):
			return access.GateEvent{}, fmt.Errorf("%s is not a known field", strings.TrimPrefix(string(sem.JSONPointer), "/"))
		case errors.As(err, &sem) && sem.JSONPointer != "":
			return access.GateEvent{}, fmt.Errorf("%s has the wrong type or form", strings.TrimPrefix(string(sem.JSONPointer), "/"))
		}
		return access.GateEvent{}, errors.New("must be an event object")
	}
	e := eventFromWire(w)
	return e, e.Check(gate.ID, now, g.EventRetention)
}

// rejectedEvent names one refused event of a batch (docs/openapi-gate.yaml).
type rejectedEvent struct {
	Index   int        `json:"index"`
	ID      *uuid.UUID `json:"id,omitempty"` // when the event has a readable id
	Field   string     `json:"field"`        // "events[N]"
	Message string     `json:"message"`
}

// eventRefusal is the 422 answer to a batch with bad events: the API's error shape, the
// first bad event in error.field, plus all of them.
type eventRefusal struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
	Rejected []rejectedEvent `json:"rejected"`
}

func rejection(i int, raw jsontext.Value, err error) rejectedEvent {
	field := "events[" + strconv.Itoa(i) + "]"
	r := rejectedEvent{Index: i, Field: field, Message: field + ": " + err.Error()}
	var head struct {
		ID uuid.UUID `json:"id"`
	}
	if jsonv2.Unmarshal(raw, &head) == nil && head.ID != uuid.Nil {
		r.ID = &head.ID
	}
	return r
}

func (g *API) heartbeat(c *fiber.Ctx, gate access.GateIdentity) error {
	var in gateapi.Heartbeat
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	var k httpx.Checker
	version := k.Text("agent_version", in.AgentVersion, 1, 64)
	queue := k.Int("queue_depth", in.QueueDepth, 0, 1<<30)
	storeErr := k.Text("storage_error", in.StorageError, 0, 500)
	if err := k.Err(); err != nil {
		return err
	}
	if in.ClockOffsetMS == nil {
		return access.Invalid("clock_offset_ms", "is required")
	}
	var storeFailures int64
	if in.StoreFailures != nil {
		if storeFailures = *in.StoreFailures; storeFailures < 0 {
			return access.Invalid("store_failures", "must be >= 0")
		}
	}
	was, err := g.db.GateHeartbeat(c.UserContext(), gate, version, queue, *in.ClockOffsetMS, in.ClockAlarm)
	if err != nil {
		return err
	}
	alarm := in.ClockAlarm != nil && *in.ClockAlarm
	// Said when the alarm starts and when it ends, not on every beat of a gate in alarm.
	switch {
	case alarm && !was:
		g.log.Warn("gate clock alarm: its clock is off by more than its limit; fix its time source",
			"gate", gate.ID, "community", gate.Community, "clock_offset_ms", *in.ClockOffsetMS)
	case !alarm && was:
		g.log.Info("gate clock alarm cleared", "gate", gate.ID, "community", gate.Community, "clock_offset_ms", *in.ClockOffsetMS)
	}
	if storeErr != "" {
		// The gate refuses decisions it cannot store (the door stays shut): an operator
		// must see it now. Each refused attempt also arrives as a store_failed event.
		g.log.Warn("gate cannot store its decisions: its door stays shut", "gate", gate.ID, "community", gate.Community,
			"store_failures", storeFailures, "storage_error", storeErr)
	}
	return c.JSON(gateapi.HeartbeatAck{ServerTime: time.Now().UTC()})
}

func (g *API) ackCommand(c *fiber.Ctx, gate access.GateIdentity) error {
	id, err := httpx.PathUUID(c, "command")
	if err != nil {
		return err
	}
	var in gateapi.CommandAck
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	var k httpx.Checker
	result := k.OneOf("result", in.Result, gateapi.CommandResults)
	if err := k.Err(); err != nil {
		return err
	}
	if err := g.db.AckGateCommand(c.UserContext(), gate, id, result); err != nil {
		return err
	}
	// The acknowledged command leaves the gate's pending list: no server's hub may send
	// it again from what it read before. Best effort: the hub re-reads within minutes.
	if err := g.changes().GateStateChanged(c.UserContext(), gate); err != nil {
		g.log.Warn("gate state notification", "gate", gate.ID, "err", err)
	}
	return c.JSON(fiber.Map{"command_id": id, "result": result})
}

func (g *API) ackFacePurge(c *fiber.Ctx, gate access.GateIdentity) error {
	id, err := httpx.PathUUID(c, "purge")
	if err != nil {
		return err
	}
	if err := g.db.AckFacePurge(c.UserContext(), gate, id); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"purge_id": id, "acked": true})
}

func (g *API) faceEnrolment(c *fiber.Ctx, gate access.GateIdentity) error {
	var in gateapi.FaceEnrolment
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	var k httpx.Checker
	resident := k.UUID("resident_id", in.Resident)
	model := k.Text("model", in.Model, 1, 64)
	if err := k.Err(); err != nil {
		return err
	}
	if err := g.db.RecordFaceEnrolment(c.UserContext(), gate, resident, model); err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(fiber.Map{"resident_id": resident, "model": model})
}
