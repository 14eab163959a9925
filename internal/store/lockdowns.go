package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/webhook"
)

// Lockdowns (issue 16, item 3): staff shut a gate, a zone or the whole community; gates
// learn it through sync (GateSync.Access, so an offline gate applies it as it reconnects)
// and refuse every code, card and face while it holds. It ends when staff lift it or at
// its automatic end (EndExpiredLockdowns records that one).

const lockdownColumns = `community_id, id, scope, zone, gate_id, reason, started_by, started_at, ends_at, ended_at, lifted_by`

type lockdownRow struct {
	Community uuid.UUID  `db:"community_id"`
	ID        uuid.UUID  `db:"id"`
	Scope     string     `db:"scope"`
	Zone      *int       `db:"zone"`
	Gate      *uuid.UUID `db:"gate_id"`
	Reason    string     `db:"reason"`
	StartedBy *uuid.UUID `db:"started_by"`
	StartedAt time.Time  `db:"started_at"`
	EndsAt    *time.Time `db:"ends_at"`
	EndedAt   *time.Time `db:"ended_at"`
	LiftedBy  *uuid.UUID `db:"lifted_by"`
}

func (r lockdownRow) lockdown() access.Lockdown { return access.Lockdown(r) }

// StartLockdown starts a lockdown by staff member staff, with an automatic end after
// duration when it is not nil (the admin API bounds it with access.CheckLockdown; tests
// may end one sooner). The zone or gate it names must be the community's.
func (tx *Tx) StartLockdown(ctx context.Context, l access.Lockdown, staff uuid.UUID, duration *time.Duration) (access.Lockdown, error) {
	if err := access.CheckLockdown(l, nil); err != nil {
		return l, err
	}
	if duration != nil && *duration <= 0 {
		return l, access.Invalid("duration_minutes", "an automatic end is in the future")
	}
	switch {
	case l.Zone != nil:
		if err := tx.exists(ctx, `SELECT 1 FROM zones WHERE community_id = $1 AND zone = $2`, l.Community, *l.Zone); err != nil {
			return l, access.Invalid("zone", "zone %d does not exist in this community", *l.Zone)
		}
	case l.Gate != nil:
		if err := tx.exists(ctx, `SELECT 1 FROM gates WHERE community_id = $1 AND id = $2`, l.Community, *l.Gate); err != nil {
			return l, access.Invalid("gate_id", "no such gate in this community")
		}
	}
	var ends any
	if duration != nil {
		ends = duration.Seconds()
	}
	var row lockdownRow
	err := tx.x.GetContext(ctx, &row, `INSERT INTO lockdowns (community_id, id, scope, zone, gate_id, reason, started_by, ends_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, now() + $8::float8 * interval '1 second') RETURNING `+lockdownColumns,
		l.Community, newID(), l.Scope, l.Zone, l.Gate, l.Reason, staff, ends)
	if err != nil {
		return l, fmt.Errorf("start lockdown: %w", err)
	}
	out := row.lockdown()
	return out, tx.lockdownChanged(ctx, out, "lockdown.start")
}

// LiftLockdown ends a lockdown in force, by staff member staff: one action, whatever its
// scope. A lockdown that has ended already is a conflict.
func (tx *Tx) LiftLockdown(ctx context.Context, c, id, staff uuid.UUID) (access.Lockdown, error) {
	var row lockdownRow
	err := tx.x.GetContext(ctx, &row, `UPDATE lockdowns SET ended_at = now(), lifted_by = $3
		WHERE community_id = $1 AND id = $2 AND ended_at IS NULL AND (ends_at IS NULL OR ends_at > now())
		RETURNING `+lockdownColumns, c, id, staff)
	if errors.Is(err, sql.ErrNoRows) {
		if err := tx.exists(ctx, `SELECT 1 FROM lockdowns WHERE community_id = $1 AND id = $2`, c, id); err != nil {
			return access.Lockdown{}, fmt.Errorf("lockdown %s: %w", id, access.ErrNotFound)
		}
		return access.Lockdown{}, fmt.Errorf("the lockdown has ended already: %w", access.ErrConflict)
	}
	if err != nil {
		return access.Lockdown{}, fmt.Errorf("lift lockdown: %w", err)
	}
	out := row.lockdown()
	return out, tx.lockdownChanged(ctx, out, "lockdown.lift")
}

// EndExpiredLockdowns records the automatic end of every lockdown whose end has passed
// (gates have ended it by themselves at that time): each is audited and announced like a
// lift. It returns how many ended. The server runs it every few seconds.
func (db *DB) EndExpiredLockdowns(ctx context.Context) (int, error) {
	var due []struct {
		Community uuid.UUID `db:"community_id"`
		ID        uuid.UUID `db:"id"`
	}
	if err := db.x.SelectContext(ctx, &due, `SELECT community_id, id FROM lockdowns
		WHERE ended_at IS NULL AND ends_at <= now() ORDER BY ends_at LIMIT 500`); err != nil {
		return 0, fmt.Errorf("expired lockdowns: %w", err)
	}
	n := 0
	for _, d := range due {
		err := db.InTx(ctx, "system", func(tx *Tx) error {
			var row lockdownRow
			err := tx.x.GetContext(ctx, &row, `UPDATE lockdowns SET ended_at = ends_at
				WHERE community_id = $1 AND id = $2 AND ended_at IS NULL AND ends_at <= now() RETURNING `+lockdownColumns, d.Community, d.ID)
			if errors.Is(err, sql.ErrNoRows) {
				return nil // lifted meanwhile
			}
			if err != nil {
				return fmt.Errorf("end lockdown: %w", err)
			}
			n++
			return tx.lockdownChanged(ctx, row.lockdown(), "lockdown.end")
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// lockdownChanged is the one place a lockdown's start, lift or automatic end is told:
// the audit row (action), the gates (through the change log: a change of
// GateSync.Access wakes their long polls) and the lockdown.changed webhook, all in the
// change's transaction.
func (tx *Tx) lockdownChanged(ctx context.Context, l access.Lockdown, action string) error {
	if err := tx.accessChanged(ctx, l.Community); err != nil {
		return err
	}
	if err := tx.EnqueueWebhook(ctx, l.Community, webhook.LockdownChanged, lockdownWebhook(l, action)); err != nil {
		return err
	}
	return tx.Audit(ctx, l.Community, action, "lockdown:"+l.ID.String(), map[string]any{
		"scope": l.Scope, "zone": l.Zone, "gate_id": l.Gate, "reason": l.Reason, "ends_at": l.EndsAt, "ended_at": l.EndedAt,
	})
}

// Lockdowns lists community c's lockdowns, newest first: those in force only when
// inForce, else also the ended ones (at most limit).
func (db *DB) Lockdowns(ctx context.Context, c uuid.UUID, inForce bool, limit int) ([]access.Lockdown, error) {
	if inForce {
		return lockdownsInForce(ctx, db.x, c)
	}
	var rows []lockdownRow
	if err := db.x.SelectContext(ctx, &rows, `SELECT `+lockdownColumns+` FROM lockdowns WHERE community_id = $1
		ORDER BY started_at DESC, id LIMIT $2`, c, limit); err != nil {
		return nil, fmt.Errorf("lockdowns: %w", err)
	}
	out := make([]access.Lockdown, len(rows))
	for i, r := range rows {
		out[i] = r.lockdown()
	}
	return out, nil
}

// lockdownsInForce lists the lockdowns of c that hold now.
func lockdownsInForce(ctx context.Context, q selecter, c uuid.UUID) ([]access.Lockdown, error) {
	var rows []lockdownRow
	if err := q.SelectContext(ctx, &rows, `SELECT `+lockdownColumns+` FROM lockdowns
		WHERE community_id = $1 AND ended_at IS NULL AND (ends_at IS NULL OR ends_at > now()) ORDER BY started_at, id`, c); err != nil {
		return nil, fmt.Errorf("lockdowns in force: %w", err)
	}
	out := make([]access.Lockdown, len(rows))
	for i, r := range rows {
		out[i] = r.lockdown()
	}
	return out, nil
}

// lockdownWebhook is what a lockdown.changed delivery says of l after action.
func lockdownWebhook(l access.Lockdown, action string) webhook.Lockdown {
	w := webhook.Lockdown{ID: l.ID, Active: action == "lockdown.start", Scope: l.Scope, Gate: l.Gate, Zone: l.Zone,
		Reason: l.Reason, EndsAt: l.EndsAt, By: "system"}
	switch by := l.StartedBy; {
	case action == "lockdown.lift" && l.LiftedBy != nil:
		w.By = "staff:" + l.LiftedBy.String()
	case action == "lockdown.start" && by != nil:
		w.By = "staff:" + by.String()
	}
	return w
}
