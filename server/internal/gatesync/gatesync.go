// Package gatesync is the gate API, /gate/v1, that gate agents call with their gate
// token: one-time enrollment, the long-polled delta sync that carries keys, revocations,
// settings, manual releases and face templates to the door, and the uploads coming back
// (entry events, heartbeats, command and purge acks, face enrolments). Its wire types are
// in internal/gateapi, which the agent shares, and wire.go converts them to and from the
// domain types the store speaks; the staff side of gates (unlock, settings, entry log) is
// part of the admin API.
package gatesync

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/compress"
	"github.com/gofiber/fiber/v2/middleware/limiter"
	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/gateapi"
	"gatepass/internal/httpx"
	"gatepass/internal/store"
)

// BodyLimit is the request body size a program serving the gate API must accept: a
// batch of gateapi.MaxBatch events. Fiber applies it to the whole app, so other surfaces
// mounted beside this one set their own lower limit.
const BodyLimit = 1 << 20

// API serves the gate API.
type API struct {
	db      *store.DB
	log     *slog.Logger
	hubOnce sync.Once
	hub     *store.ChangeHub
	// poll is how often a long poll re-reads the change log even without a notification,
	// so that a lost notification delays a change by at most this much.
	poll time.Duration
}

// New makes the gate API on a database.
func New(db *store.DB, log *slog.Logger) *API {
	return &API{db: db, log: log, poll: 5 * time.Second}
}

// enrollPerMinute bounds enrollment attempts per client address.
const enrollPerMinute = 20

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
	r.Get("/sync", compress.New(compress.Config{Level: compress.LevelBestSpeed}), g.auth(g.sync))
	r.Post("/events", g.auth(g.events))
	r.Post("/heartbeat", g.auth(g.heartbeat))
	r.Post("/commands/:command/ack", g.auth(g.ackCommand))
	r.Post("/face-purges/:purge/ack", g.auth(g.ackFacePurge))
	r.Post("/face-enrolments", g.auth(g.faceEnrolment))
}

// changes is the process's one LISTEN connection, made on the first long poll.
func (g *API) changes() *store.ChangeHub {
	g.hubOnce.Do(func() { g.hub = g.db.NewChangeHub(g.log) })
	return g.hub
}

func (g *API) auth(h func(c *fiber.Ctx, gate access.GateIdentity) error) fiber.Handler {
	return func(c *fiber.Ctx) error {
		token, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
		if !ok || token == "" {
			return access.ErrUnauthorized
		}
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
	gate, token, err := g.db.EnrollGate(c.UserContext(), code, in.BoxPublicKey, version)
	if err != nil {
		return err
	}
	g.log.Info("gate enrolled", "gate", gate.ID, "community", gate.Community)
	httpx.NoStore(c) // the gate token is in the answer
	return c.Status(http.StatusCreated).JSON(gateapi.EnrollResponse{Token: token, Gate: gateToWire(gate), ServerTime: time.Now().UTC()})
}

// sync answers at once with a snapshot or with changes since the cursor; without
// changes it holds the request until one arrives or wait runs out.
func (g *API) sync(c *fiber.Ctx, gate access.GateIdentity) error {
	cursor := int64(0)
	if q := c.Query("cursor"); q != "" {
		n, err := strconv.ParseInt(q, 10, 64)
		if err != nil || n < 0 {
			return access.Invalid("cursor", "must be a number >= 0")
		}
		cursor = n
	}
	wait := time.Duration(0)
	if q := c.Query("wait"); q != "" {
		d, err := time.ParseDuration(q)
		if err != nil || d < 0 || d > gateapi.MaxWait {
			return access.Invalid("wait", "must be a duration from 0s to %s", gateapi.MaxWait)
		}
		wait = d
	}
	ctx := c.UserContext()
	var wake <-chan struct{}
	if wait > 0 {
		ch, cancel := g.changes().Subscribe(gate.Community)
		defer cancel()
		wake = ch
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		out, changed, err := g.db.GateSync(ctx, gate, cursor)
		if err != nil {
			return err
		}
		if changed || wait == 0 {
			return c.JSON(syncToWire(out))
		}
		// Other gates' rows were passed over: read on from after them.
		cursor = out.Cursor
		select {
		case <-wake:
		case <-time.After(g.poll):
		case <-deadline.C:
			out.ServerTime = time.Now().UTC()
			return c.JSON(syncToWire(out))
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (g *API) events(c *fiber.Ctx, gate access.GateIdentity) error {
	var in gateapi.Events
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	if len(in.Events) > gateapi.MaxBatch {
		return access.Invalid("events", "at most %d events per batch", gateapi.MaxBatch)
	}
	events := make([]access.GateEvent, len(in.Events))
	for i, e := range in.Events {
		events[i] = eventFromWire(e)
		if err := events[i].Check(gate.ID); err != nil {
			return access.Invalid("events["+strconv.Itoa(i)+"]", "%s", err.Error())
		}
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

func (g *API) heartbeat(c *fiber.Ctx, gate access.GateIdentity) error {
	var in gateapi.Heartbeat
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	var k httpx.Checker
	version := k.Text("agent_version", in.AgentVersion, 1, 64)
	queue := k.Int("queue_depth", in.QueueDepth, 0, 1<<30)
	if err := k.Err(); err != nil {
		return err
	}
	if in.ClockOffsetMS == nil {
		return access.Invalid("clock_offset_ms", "is required")
	}
	if err := g.db.GateHeartbeat(c.UserContext(), gate, version, queue, *in.ClockOffsetMS); err != nil {
		return err
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
