package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/secret"
)

// NewGate is what staff give to create a gate.
type NewGate struct {
	Community uuid.UUID
	Name      string
	Zone      int
	Direction string
}

const gateSelect = `SELECT community_id, id, name, zone, direction, created_at, enrolled_at, disabled_at,
	last_seen_at, agent_version, queue_depth, clock_offset_ms, clock_alarm FROM gates`

// CreateGate adds a gate in a zone and makes its enrollment code. Whether the zone
// exists is checked here, in the transaction, because only the database knows.
func (tx *Tx) CreateGate(ctx context.Context, g NewGate) (access.Gate, access.Enrollment, error) {
	if err := tx.exists(ctx, `SELECT 1 FROM zones WHERE community_id = $1 AND zone = $2`, g.Community, g.Zone); err != nil {
		return access.Gate{}, access.Enrollment{}, access.Invalid("zone", "zone %d does not exist in this community", g.Zone)
	}
	tok, err := secret.New(secret.KindEnrollment, g.Community)
	if err != nil {
		return access.Gate{}, access.Enrollment{}, err
	}
	en := access.Enrollment{Code: tok.Plain, ExpiresAt: time.Now().Add(access.EnrollmentTTL).Truncate(time.Second)}
	var out access.Gate
	err = tx.x.GetContext(ctx, &out, `INSERT INTO gates (community_id, id, name, zone, direction, enrollment_code_hash, enrollment_expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		RETURNING community_id, id, name, zone, direction, created_at, enrolled_at, disabled_at, last_seen_at, agent_version, queue_depth, clock_offset_ms, clock_alarm`,
		g.Community, newID(), g.Name, g.Zone, g.Direction, tok.Hash[:], en.ExpiresAt)
	if isUnique(err) {
		return out, en, access.Invalid("name", "a gate named %q exists already", g.Name)
	}
	if err != nil {
		return out, en, fmt.Errorf("create gate: %w", err)
	}
	return out, en, tx.Audit(ctx, g.Community, "gate.create", "gate:"+out.ID.String(),
		map[string]any{"name": g.Name, "zone": g.Zone, "direction": g.Direction})
}

// Gates lists a community's gates with when each was last heard from.
func (db *DB) Gates(ctx context.Context, c uuid.UUID) ([]access.Gate, error) {
	out := []access.Gate{}
	if err := db.x.SelectContext(ctx, &out, gateSelect+` WHERE community_id = $1 ORDER BY name`, c); err != nil {
		return nil, fmt.Errorf("list gates: %w", err)
	}
	return out, nil
}

// Gate is one gate of community c as staff see it.
func (db *DB) Gate(ctx context.Context, c, gate uuid.UUID) (access.Gate, error) {
	var out access.Gate
	err := db.x.GetContext(ctx, &out, gateSelect+` WHERE community_id = $1 AND id = $2`, c, gate)
	if errors.Is(err, sql.ErrNoRows) {
		return out, fmt.Errorf("gate %s: %w", gate, access.ErrNotFound)
	}
	if err != nil {
		return out, fmt.Errorf("gate: %w", err)
	}
	return out, nil
}

// GatesInClockAlarm counts the enabled gates, of every community, whose last heartbeat
// reported a clock alarm (for the server's metrics).
func (db *DB) GatesInClockAlarm(ctx context.Context) (int, error) {
	var n int
	if err := db.x.GetContext(ctx, &n, `SELECT count(*) FROM gates WHERE clock_alarm AND disabled_at IS NULL`); err != nil {
		return 0, fmt.Errorf("gates in clock alarm: %w", err)
	}
	return n, nil
}

// GatesPastOfflineLimit counts the enabled, enrolled gates, of every community, not
// heard from for longer than their community's offline limit (for the server's metrics).
func (db *DB) GatesPastOfflineLimit(ctx context.Context) (int, error) {
	var n int
	if err := db.x.GetContext(ctx, &n, `SELECT count(*) FROM gates g JOIN communities c ON c.id = g.community_id
		WHERE g.disabled_at IS NULL AND g.enrolled_at IS NOT NULL
		  AND coalesce(g.last_seen_at, g.enrolled_at) < now() - c.offline_limit_seconds * interval '1 second'`); err != nil {
		return 0, fmt.Errorf("gates past offline limit: %w", err)
	}
	return n, nil
}

// GateCommunity finds the community of a gate, for admin paths that name only the gate.
func (db *DB) GateCommunity(ctx context.Context, gate uuid.UUID) (uuid.UUID, error) {
	return db.communityOf(ctx, "gates", "gate", gate)
}

// liveGate checks that gate is a gate of c that is not disabled, and locks its row so
// that it stays so until the caller commits: the check belongs to the transaction.
func (tx *Tx) liveGate(ctx context.Context, c, gate uuid.UUID) error {
	var disabled bool
	err := tx.x.GetContext(ctx, &disabled, `SELECT disabled_at IS NOT NULL FROM gates WHERE community_id = $1 AND id = $2 FOR UPDATE`, c, gate)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("gate %s: %w", gate, access.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("gate: %w", err)
	}
	if disabled {
		return fmt.Errorf("gate %s is disabled: %w", gate, access.ErrConflict)
	}
	return nil
}

// DisableGate disables a gate: its token fails from this commit on.
func (tx *Tx) DisableGate(ctx context.Context, c, gate uuid.UUID) error {
	if err := tx.liveGate(ctx, c, gate); err != nil {
		return err
	}
	if _, err := tx.x.ExecContext(ctx, `UPDATE gates SET disabled_at = now() WHERE community_id = $1 AND id = $2`, c, gate); err != nil {
		return fmt.Errorf("disable gate: %w", err)
	}
	// Wake its long poll so that the next request meets the closed door.
	if err := tx.Change(ctx, c, "gate", gate, gate, map[string]any{"disabled": true}); err != nil {
		return err
	}
	tx.afterCommit(func() { tx.db.tokens.forget(gate) })
	return tx.Audit(ctx, c, "gate.disable", "gate:"+gate.String(), map[string]any{})
}

// SetGateSettings replaces a gate's agent settings; the gate gets them on its next sync.
func (tx *Tx) SetGateSettings(ctx context.Context, c, gate uuid.UUID, s access.GateSettings) error {
	if err := tx.liveGate(ctx, c, gate); err != nil {
		return err
	}
	text, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("gate settings: %w", err)
	}
	if _, err := tx.x.ExecContext(ctx, `UPDATE gates SET settings = $3 WHERE community_id = $1 AND id = $2`, c, gate, string(text)); err != nil {
		return fmt.Errorf("gate settings: %w", err)
	}
	if err := tx.Change(ctx, c, "gate", gate, gate, s); err != nil {
		return err
	}
	tx.afterCommit(func() { tx.db.tokens.forget(gate) })
	return tx.Audit(ctx, c, "gate.settings", "gate:"+gate.String(), s)
}

// gateRow is a gate's identity row; settings are stored as JSON.
type gateRow struct {
	Community uuid.UUID `db:"community_id"`
	ID        uuid.UUID `db:"id"`
	Name      string    `db:"name"`
	Zone      int       `db:"zone"`
	Direction string    `db:"direction"`
	Settings  []byte    `db:"settings"`
}

func (g gateRow) identity() (access.GateIdentity, error) {
	out := access.GateIdentity{ID: g.ID, Community: g.Community, Name: g.Name, Zone: g.Zone, Direction: g.Direction}
	if err := json.Unmarshal(g.Settings, &out.Settings); err != nil {
		return out, fmt.Errorf("gate %s settings: %w", g.ID, err)
	}
	out.Settings = out.Settings.WithDefaults()
	return out, nil
}

// EnrollGate redeems a one-time enrollment code: the gate gets its token (returned in
// clear this once, stored hashed) and its box key is recorded. A used, expired or unknown
// code, or a disabled gate, is ErrUnauthorized.
func (db *DB) EnrollGate(ctx context.Context, code string, boxKey []byte, version string) (gate access.GateIdentity, token string, err error) {
	community, h, err := secret.Parse(secret.KindEnrollment, code)
	if err != nil {
		return gate, "", access.ErrUnauthorized
	}
	tok, err := secret.New(secret.KindGate, community)
	if err != nil {
		return gate, "", err
	}
	err = db.InTx(ctx, "gate-enrollment", func(tx *Tx) error {
		var g gateRow
		err := tx.x.GetContext(ctx, &g, `UPDATE gates SET token_hash = $3, box_public_key = $4, agent_version = $5,
				enrolled_at = now(), enrollment_code_hash = NULL, enrollment_expires_at = NULL
			WHERE community_id = $1 AND enrollment_code_hash = $2 AND enrollment_expires_at > now() AND disabled_at IS NULL
			RETURNING community_id, id, name, zone, direction, settings`,
			community, h[:], tok.Hash[:], boxKey, version)
		if errors.Is(err, sql.ErrNoRows) {
			return access.ErrUnauthorized
		}
		if err != nil {
			return fmt.Errorf("enroll gate: %w", err)
		}
		if gate, err = g.identity(); err != nil {
			return err
		}
		tx.afterCommit(func() { tx.db.tokens.forget(g.ID) })
		tx.actor = "gate:" + g.ID.String()
		return tx.Audit(ctx, community, "gate.enroll", "gate:"+g.ID.String(), map[string]any{"agent_version": version})
	})
	return gate, tok.Plain, err
}

// GateByToken authenticates a gate's bearer token. The answer is kept for GateTokenTTL
// (gate_tokens.go): a disabled gate's token fails within that long on every server, at
// once on the one that disabled it. The lookup runs on the pool of ctx's work.
func (db *DB) GateByToken(ctx context.Context, plain string) (access.GateIdentity, error) {
	community, h, err := secret.Parse(secret.KindGate, plain)
	if err != nil {
		return access.GateIdentity{}, access.ErrUnauthorized
	}
	now := time.Now()
	if g, ok := db.tokens.get(h, now); ok {
		return g, nil
	}
	var g gateRow
	err = db.poolFor(ctx).get(ctx, &g, gateIdentitySelect+` WHERE community_id = $1 AND token_hash = $2 AND disabled_at IS NULL`, community, h[:])
	if errors.Is(err, sql.ErrNoRows) {
		return access.GateIdentity{}, access.ErrUnauthorized
	}
	if err != nil {
		return access.GateIdentity{}, fmt.Errorf("authenticate gate: %w", err)
	}
	gate, err := g.identity()
	if err != nil {
		return gate, err
	}
	db.tokens.put(h, gate, now.Add(GateTokenTTL), time.Now())
	return gate, nil
}

// GateHeartbeat records that a gate is alive, with what staff see in the gate list (a nil
// alarm, from an agent that does not say, is stored as unknown), and returns whether its
// previous heartbeat reported a clock alarm (so that the caller reports a change, not
// every beat).
func (db *DB) GateHeartbeat(ctx context.Context, g access.GateIdentity, version string, queue int, offsetMS int64, alarm *bool) (wasAlarm bool, err error) {
	err = db.writes.get(ctx, &wasAlarm, `UPDATE gates n SET last_seen_at = now(), agent_version = $3, queue_depth = $4,
			clock_offset_ms = $5, clock_alarm = $6
		FROM (SELECT coalesce(clock_alarm, false) AS alarm FROM gates WHERE community_id = $1 AND id = $2 FOR UPDATE) o
		WHERE n.community_id = $1 AND n.id = $2 RETURNING o.alarm`, g.Community, g.ID, version, queue, offsetMS, alarm)
	if err != nil {
		return false, fmt.Errorf("heartbeat: %w", err)
	}
	return wasAlarm, nil
}

const gateIdentitySelect = `SELECT community_id, id, name, zone, direction, settings FROM gates`
