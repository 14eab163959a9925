package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"gatepass/internal/access"
	"gatepass/internal/secret"
	"gatepass/internal/webhook"
)

// Webhooks: endpoints staff register, the outbox of deliveries (written in the
// transaction of what each reports), the delivery log, and the gates' liveness that
// gate.offline and gate.online report. Sending is server/internal/dispatch's.

// NewWebhookEndpoint is what staff give to register an endpoint; the URL and event
// types are checked already (webhook.CheckURL, webhook.CheckTypes).
type NewWebhookEndpoint struct {
	Community   uuid.UUID
	URL         string
	Description string
	Events      []string
}

// WebhookEndpointPatch changes what is not nil.
type WebhookEndpointPatch struct {
	URL         *string
	Description *string
	Events      []string
}

// webhookSecretAD binds a sealed secret to its endpoint: moved to another row it does
// not open.
func webhookSecretAD(c, id uuid.UUID) []byte {
	return []byte("gatepass/webhook-secret/v1/" + c.String() + "/" + id.String())
}

// endpointRow is an endpoint row with its event types as PostgreSQL gives them.
type endpointRow struct {
	webhook.Endpoint
	Types pq.StringArray `db:"events"`
}

func (r endpointRow) endpoint() webhook.Endpoint {
	e := r.Endpoint
	e.Events = []string(r.Types)
	return e
}

const endpointColumns = `community_id, id, url, description, events, state, paused_at, paused_reason, failing_since,
	secret_rotated_at, previous_secret_expires_at, created_at, updated_at`

// CreateWebhookEndpoint registers an endpoint with a new signing secret, sealed under
// the master key, and returns the secret: the only time anyone sees it.
func (tx *Tx) CreateWebhookEndpoint(ctx context.Context, in NewWebhookEndpoint, sealer *secret.Sealer) (webhook.Endpoint, string, error) {
	// The count and the insert are one decision: the community's lock keeps two
	// registrations from both passing the check.
	if err := tx.lockCommunity(ctx, in.Community); err != nil {
		return webhook.Endpoint{}, "", err
	}
	var n int
	if err := tx.x.GetContext(ctx, &n, `SELECT count(*) FROM webhook_endpoints WHERE community_id = $1`, in.Community); err != nil {
		return webhook.Endpoint{}, "", fmt.Errorf("count webhook endpoints: %w", err)
	}
	if n >= webhook.MaxEndpoints {
		return webhook.Endpoint{}, "", fmt.Errorf("a community has at most %d webhook endpoints: %w", webhook.MaxEndpoints, access.ErrConflict)
	}
	plain, err := webhook.NewSecret()
	if err != nil {
		return webhook.Endpoint{}, "", err
	}
	id := newID()
	sealed, err := sealer.Seal([]byte(plain), webhookSecretAD(in.Community, id))
	if err != nil {
		return webhook.Endpoint{}, "", fmt.Errorf("seal webhook secret: %w", err)
	}
	var row endpointRow
	err = tx.x.GetContext(ctx, &row, `INSERT INTO webhook_endpoints (community_id, id, url, description, events, secret_sealed)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+endpointColumns,
		in.Community, id, in.URL, in.Description, pq.Array(in.Events), sealed)
	if err != nil {
		return webhook.Endpoint{}, "", fmt.Errorf("create webhook endpoint: %w", err)
	}
	e := row.endpoint()
	return e, plain, tx.Audit(ctx, in.Community, "webhook.create", "webhook:"+id.String(),
		map[string]any{"url": auditURL(e.URL), "events": e.Events})
}

// auditURL is an endpoint URL as the append-only audit log keeps it: without its query,
// where integrators sometimes put a token of their own.
func auditURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.RawQuery = ""
	return u.String()
}

// WebhookEndpoints lists community c's endpoints, oldest first.
func (db *DB) WebhookEndpoints(ctx context.Context, c uuid.UUID) ([]webhook.Endpoint, error) {
	var rows []endpointRow
	if err := db.x.SelectContext(ctx, &rows, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE community_id = $1 ORDER BY created_at, id`, c); err != nil {
		return nil, fmt.Errorf("list webhook endpoints: %w", err)
	}
	out := make([]webhook.Endpoint, len(rows))
	for i, r := range rows {
		out[i] = r.endpoint()
	}
	return out, nil
}

// WebhookEndpoint is one endpoint of community c.
func (db *DB) WebhookEndpoint(ctx context.Context, c, id uuid.UUID) (webhook.Endpoint, error) {
	return webhookEndpoint(ctx, db.x, c, id, "")
}

func webhookEndpoint(ctx context.Context, q getter, c, id uuid.UUID, lock string) (webhook.Endpoint, error) {
	var row endpointRow
	err := q.GetContext(ctx, &row, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE community_id = $1 AND id = $2`+lock, c, id)
	if errors.Is(err, sql.ErrNoRows) {
		return webhook.Endpoint{}, fmt.Errorf("webhook endpoint %s: %w", id, access.ErrNotFound)
	}
	if err != nil {
		return webhook.Endpoint{}, fmt.Errorf("webhook endpoint: %w", err)
	}
	return row.endpoint(), nil
}

// UpdateWebhookEndpoint changes an endpoint's URL, description or event types.
func (tx *Tx) UpdateWebhookEndpoint(ctx context.Context, c, id uuid.UUID, p WebhookEndpointPatch) (webhook.Endpoint, error) {
	var types any
	if p.Events != nil {
		types = pq.Array(p.Events)
	}
	var row endpointRow
	err := tx.x.GetContext(ctx, &row, `UPDATE webhook_endpoints SET url = coalesce($3, url), description = coalesce($4, description),
			events = coalesce($5::text[], events), updated_at = $6
		WHERE community_id = $1 AND id = $2 RETURNING `+endpointColumns, c, id, p.URL, p.Description, types, time.Now())
	if errors.Is(err, sql.ErrNoRows) {
		return webhook.Endpoint{}, fmt.Errorf("webhook endpoint %s: %w", id, access.ErrNotFound)
	}
	if err != nil {
		return webhook.Endpoint{}, fmt.Errorf("update webhook endpoint: %w", err)
	}
	e := row.endpoint()
	return e, tx.Audit(ctx, c, "webhook.update", "webhook:"+id.String(), map[string]any{"url": auditURL(e.URL), "events": e.Events})
}

// DeleteWebhookEndpoint removes an endpoint with its outbox rows and log.
func (tx *Tx) DeleteWebhookEndpoint(ctx context.Context, c, id uuid.UUID) error {
	e, err := webhookEndpoint(ctx, tx.x, c, id, " FOR UPDATE")
	if err != nil {
		return err
	}
	if _, err := tx.x.ExecContext(ctx, `DELETE FROM webhook_endpoints WHERE community_id = $1 AND id = $2`, c, id); err != nil {
		return fmt.Errorf("delete webhook endpoint: %w", err)
	}
	return tx.Audit(ctx, c, "webhook.delete", "webhook:"+id.String(), map[string]any{"url": auditURL(e.URL)})
}

// MaxSecretOverlap bounds how long a rotated-out secret keeps signing.
const MaxSecretOverlap = 7 * 24 * time.Hour

// RotateWebhookSecret gives an endpoint a new secret and returns it (shown once). For
// overlap after now the old secret signs beside it, so that the receiver can switch
// without losing a delivery; zero ends the old secret at once.
func (tx *Tx) RotateWebhookSecret(ctx context.Context, c, id uuid.UUID, overlap time.Duration, now time.Time, sealer *secret.Sealer) (webhook.Endpoint, string, error) {
	if overlap < 0 || overlap > MaxSecretOverlap {
		return webhook.Endpoint{}, "", access.Invalid("overlap", "must be from 0 to %s", access.FormatTTL(MaxSecretOverlap))
	}
	if _, err := webhookEndpoint(ctx, tx.x, c, id, " FOR UPDATE"); err != nil {
		return webhook.Endpoint{}, "", err
	}
	plain, err := webhook.NewSecret()
	if err != nil {
		return webhook.Endpoint{}, "", err
	}
	sealed, err := sealer.Seal([]byte(plain), webhookSecretAD(c, id))
	if err != nil {
		return webhook.Endpoint{}, "", fmt.Errorf("seal webhook secret: %w", err)
	}
	var until any
	if overlap > 0 {
		until = now.Add(overlap)
	}
	// The old secret is kept only with an overlap; CASE over parameters, not now(), so
	// Citus can route it.
	var row endpointRow
	err = tx.x.GetContext(ctx, &row, `UPDATE webhook_endpoints SET
			previous_secret_sealed = CASE WHEN $4::timestamptz IS NULL THEN NULL ELSE secret_sealed END,
			previous_secret_expires_at = $4, secret_sealed = $3, secret_rotated_at = $5, updated_at = $5
		WHERE community_id = $1 AND id = $2 RETURNING `+endpointColumns, c, id, sealed, until, now)
	if err != nil {
		return webhook.Endpoint{}, "", fmt.Errorf("rotate webhook secret: %w", err)
	}
	return row.endpoint(), plain, tx.Audit(ctx, c, "webhook.rotate_secret", "webhook:"+id.String(),
		map[string]any{"overlap_seconds": int64(overlap / time.Second)})
}

// ResumeWebhookEndpoint takes a paused endpoint back: its failure run starts over and
// what waits in its outbox is tried now.
func (tx *Tx) ResumeWebhookEndpoint(ctx context.Context, c, id uuid.UUID, now time.Time) (webhook.Endpoint, error) {
	e, err := webhookEndpoint(ctx, tx.x, c, id, " FOR UPDATE")
	if err != nil {
		return e, err
	}
	if e.State != webhook.Paused {
		return e, fmt.Errorf("webhook endpoint is not paused: %w", access.ErrConflict)
	}
	var row endpointRow
	err = tx.x.GetContext(ctx, &row, `UPDATE webhook_endpoints SET state = 'active', paused_at = NULL, paused_reason = NULL,
			failing_since = NULL, updated_at = $3
		WHERE community_id = $1 AND id = $2 RETURNING `+endpointColumns, c, id, now)
	if err != nil {
		return e, fmt.Errorf("resume webhook endpoint: %w", err)
	}
	if _, err := tx.x.ExecContext(ctx, `UPDATE webhook_deliveries SET next_attempt_at = $3
		WHERE community_id = $1 AND endpoint_id = $2 AND state = 'pending'`, c, id, now); err != nil {
		return e, fmt.Errorf("resume webhook deliveries: %w", err)
	}
	return row.endpoint(), tx.Audit(ctx, c, "webhook.resume", "webhook:"+id.String(), map[string]any{})
}

// WebhookAttempts is endpoint id's delivery log, newest first: attempts before before
// (zero: from the newest), at most limit.
func (db *DB) WebhookAttempts(ctx context.Context, c, id uuid.UUID, before time.Time, limit int) ([]webhook.Attempt, error) {
	var b any
	if !before.IsZero() {
		b = before
	}
	out := []webhook.Attempt{}
	err := db.x.SelectContext(ctx, &out, `SELECT a.event_id, a.event_type, a.attempt, a.at, a.status_code, a.latency_ms, a.error,
			coalesce(d.state, 'pruned') AS delivery_state
		FROM webhook_attempts a LEFT JOIN webhook_deliveries d
			ON d.community_id = a.community_id AND d.endpoint_id = a.endpoint_id AND d.event_id = a.event_id
		WHERE a.community_id = $1 AND a.endpoint_id = $2 AND ($3::timestamptz IS NULL OR a.at < $3)
		ORDER BY a.at DESC, a.event_id, a.attempt DESC LIMIT $4`, c, id, b, limit)
	if err != nil {
		return nil, fmt.Errorf("webhook attempts: %w", err)
	}
	return out, nil
}

// EnqueueWebhook puts an event into the outbox of every active endpoint of community c
// that subscribes to its type, in the caller's transaction: it is sent if and only if
// the transaction commits. Lockdown and move-out call it; so may any later event source.
func (tx *Tx) EnqueueWebhook(ctx context.Context, c uuid.UUID, typ webhook.EventType, data any) error {
	body, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", typ, err)
	}
	_, err = tx.x.ExecContext(ctx, `INSERT INTO webhook_deliveries (community_id, endpoint_id, event_id, event_type, data)
		SELECT community_id, id, $2, $3, $4 FROM webhook_endpoints
		WHERE community_id = $1 AND state = 'active' AND $3 = ANY(events)
		ON CONFLICT DO NOTHING`, c, newID(), string(typ), body)
	if err != nil {
		return fmt.Errorf("enqueue webhook %s: %w", typ, err)
	}
	return nil
}

// PingWebhook puts a webhook.ping event into one endpoint's outbox, whatever it
// subscribes to, so that staff can check it receives and verifies. A paused endpoint's
// ping waits for its resumption.
func (tx *Tx) PingWebhook(ctx context.Context, c, id uuid.UUID) (uuid.UUID, error) {
	event := newID()
	r, err := tx.x.ExecContext(ctx, `INSERT INTO webhook_deliveries (community_id, endpoint_id, event_id, event_type, data, next_attempt_at)
		SELECT community_id, id, $3, $4, '{}', CASE WHEN state = 'paused' THEN 'infinity' ELSE $5::timestamptz END
		FROM webhook_endpoints WHERE community_id = $1 AND id = $2`,
		c, id, event, string(webhook.Ping), time.Now())
	if err != nil {
		return uuid.Nil, fmt.Errorf("ping webhook: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return uuid.Nil, fmt.Errorf("webhook endpoint %s: %w", id, access.ErrNotFound)
	}
	return event, nil
}

// enqueueEntryWebhooks puts entry.created for each entry event the batch stored, and
// anomaly.reuse for each granted code another gate granted within the hour, into the
// outbox of the endpoints that subscribe: one statement, and nothing to do (an empty
// join) when none does. The entry's own id is the event id (a deterministic one for the
// anomaly), so a re-sent batch adds nothing. The data is built here, in SQL, from the
// stored rows as the batch's INSERT returned them; the shapes are webhook.Entry and
// webhook.Anomaly (a test holds them alike). Card keys (type byte 3) are static and open
// several gates by design, as in Anomalies.
//
// The entries are not read back from entry_events: a read by id probes the primary key
// of every monthly partition (the id says nothing of the month), and planning that
// statement over every partition took longer than running it; with it, a batch cost three
// to five times as much with an endpoint as without (docs/benchmarks.md, "Entry webhooks
// at ingest"). What touches entry_events is the anomaly's probe of the granted-replay
// index, one per granted entry, bounded to the hour around it, in a statement prepared
// once per connection: its generic plan is made once and prunes the other months'
// partitions when it runs.
func (tx *Tx) enqueueEntryWebhooks(ctx context.Context, g access.GateIdentity, stored []storedEvent) error {
	n := len(stored)
	if n == 0 {
		return nil
	}
	ids, ats := make([]string, n), make([]time.Time, n)
	creds, subjects, methods, results, reasons := make([]*uuid.UUID, n), make([]*string, n), make([]string, n), make([]string, n), make([]string, n)
	offline, stale, staffs, residents, keys := make([]bool, n), make([]bool, n), make([]*uuid.UUID, n), make([]*uuid.UUID, n), make([]*string, n)
	// The hour around the batch's entries bounds the anomaly's probe as constants too, so
	// that a plan made for these values (Citus sends the statement to the worker with its
	// values in it) prunes the other months' partitions before planning them.
	from, to := stored[0].OccurredAt.UTC(), stored[0].OccurredAt.UTC()
	for i, e := range stored {
		if e.OccurredAt.Before(from) {
			from = e.OccurredAt.UTC()
		}
		if e.OccurredAt.After(to) {
			to = e.OccurredAt.UTC()
		}
		// In UTC, as StoreEvents sends it (lib/pq sends a time with its own offset).
		ids[i], ats[i], creds[i], subjects[i] = e.ID.String(), e.OccurredAt.UTC(), e.Credential, e.Subject
		methods[i], results[i], reasons[i], offline[i], stale[i] = e.Method, e.Result, e.Reason, e.Offline, e.Stale
		staffs[i], residents[i] = e.Staff, e.Resident
		if e.ReplayKey != nil {
			k := fmt.Sprintf(`\x%x`, e.ReplayKey) // lib/pq has no bytea array encoder
			keys[i] = &k
		}
	}
	// received_at is now(): the column's default, in the batch's transaction. The
	// target's community_id is the endpoint row's and every table is filtered on the
	// community, so that Citus runs the whole statement on the community's shards. The
	// UNION sits in a subquery: Citus 13 miscounts the target columns of an INSERT whose
	// SELECT is a bare UNION ("more target columns than expressions").
	_, err := tx.prepared().ExecContext(ctx, `INSERT INTO webhook_deliveries (community_id, endpoint_id, event_id, event_type, data)
		SELECT * FROM (SELECT w.community_id, w.id, u.id, 'entry.created', jsonb_build_object('id', u.id, 'occurred_at', u.at,
				'received_at', now(), 'gate_id', $2::uuid, 'credential_id', u.cred, 'subject', u.subject,
				'method', u.method, 'result', u.result, 'reason', u.reason, 'offline', u.offline, 'stale', u.stale,
				'staff_id', u.staff, 'resident_id', u.resident)
		FROM webhook_endpoints w, unnest($3::uuid[], $4::timestamptz[], $5::uuid[], $6::text[], $7::text[], $8::text[],
				$9::text[], $10::bool[], $11::bool[], $12::uuid[], $13::uuid[])
			AS u(id, at, cred, subject, method, result, reason, offline, stale, staff, resident)
		WHERE w.community_id = $1 AND w.state = 'active' AND 'entry.created' = ANY(w.events)
		UNION ALL
		SELECT w.community_id, w.id, md5('anomaly.reuse/' || u.id::text)::uuid, 'anomaly.reuse', jsonb_build_object('entry_id', u.id,
				'credential_id', u.cred, 'gate_id', $2::uuid, 'occurred_at', u.at, 'other_gate_ids', o.gates)
		FROM webhook_endpoints w,
			(SELECT a.id, a.at, a.cred, a.result, a.key::bytea AS key
				FROM unnest($3::uuid[], $4::timestamptz[], $5::uuid[], $8::text[], $14::text[]) AS a(id, at, cred, result, key)) u,
			LATERAL (SELECT jsonb_agg(DISTINCT o.gate_id) AS gates FROM entry_events o WHERE o.community_id = $1
				AND o.replay_key = u.key AND o.gate_id <> $2 AND o.result = 'granted'
				AND o.occurred_at BETWEEN u.at - interval '1 hour' AND u.at + interval '1 hour'
				AND o.occurred_at BETWEEN $15 AND $16) o
		WHERE w.community_id = $1 AND w.state = 'active' AND 'anomaly.reuse' = ANY(w.events)
			AND u.result = 'granted' AND length(u.key) > 0 AND substring(u.key from 1 for 1) <> '\x03'::bytea
			AND o.gates IS NOT NULL) AS n
		ON CONFLICT DO NOTHING`, g.Community, g.ID, pq.Array(ids), pq.Array(ats), pq.Array(nullUUIDStrings(creds)),
		pq.Array(subjects), pq.Array(methods), pq.Array(results), pq.Array(reasons), pq.Array(offline), pq.Array(stale),
		pq.Array(nullUUIDStrings(staffs)), pq.Array(nullUUIDStrings(residents)), pq.Array(keys), from.Add(-time.Hour), to.Add(time.Hour))
	if err != nil {
		return fmt.Errorf("enqueue entry webhooks: %w", err)
	}
	return nil
}

// nullUUIDStrings is ids as a text[] parameter (lib/pq has no uuid array encoder).
func nullUUIDStrings(ids []*uuid.UUID) []*string {
	out := make([]*string, len(ids))
	for i, id := range ids {
		if id != nil {
			s := id.String()
			out[i] = &s
		}
	}
	return out
}

// DueWebhookCommunities lists communities with a delivery due at now and not held by a
// sender. It reads every shard (the sender's sweep); the claim that follows is routed
// to one community's.
func (db *DB) DueWebhookCommunities(ctx context.Context, now time.Time, limit int) ([]uuid.UUID, error) {
	var out []uuid.UUID
	// The longest-waiting first, so that a busy community cannot starve the others.
	err := db.x.SelectContext(ctx, &out, `SELECT community_id FROM webhook_deliveries
		WHERE state = 'pending' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
		GROUP BY community_id ORDER BY min(next_attempt_at) LIMIT $2`, now, limit)
	if err != nil {
		return nil, fmt.Errorf("due webhooks: %w", err)
	}
	return out, nil
}

// WebhookDelivery is a claimed outbox row with what sending it needs: the endpoint's
// URL and its secrets, still sealed.
type WebhookDelivery struct {
	webhook.Envelope
	Endpoint uuid.UUID `db:"endpoint_id"`
	// Attempt is this attempt's number: counted when claimed, so that an attempt cut off
	// by a crash still counts (the receiver may have seen it).
	Attempt        int        `db:"attempts"`
	URL            string     `db:"url"`
	Secret         []byte     `db:"secret_sealed"`
	Previous       []byte     `db:"previous_secret_sealed"`
	PreviousExpiry *time.Time `db:"previous_secret_expires_at"`
}

// Secrets opens the secrets that sign the delivery at now: the current one, and the
// previous one while its overlap lasts.
func (d WebhookDelivery) Secrets(sealer *secret.Sealer, now time.Time) ([]string, error) {
	cur, err := sealer.Open(d.Secret, webhookSecretAD(d.Community, d.Endpoint))
	if err != nil {
		return nil, fmt.Errorf("webhook secret of %s: %w", d.Endpoint, err)
	}
	out := []string{string(cur)}
	if d.Previous != nil && d.PreviousExpiry != nil && now.Before(*d.PreviousExpiry) {
		prev, err := sealer.Open(d.Previous, webhookSecretAD(d.Community, d.Endpoint))
		if err != nil {
			return nil, fmt.Errorf("previous webhook secret of %s: %w", d.Endpoint, err)
		}
		out = append(out, string(prev))
	}
	return out, nil
}

// ClaimWebhookDeliveries takes up to limit of community c's due deliveries to active
// endpoints and holds them until leaseUntil: a sender that dies lets them go by
// themselves. SKIP LOCKED lets several server copies claim side by side.
func (db *DB) ClaimWebhookDeliveries(ctx context.Context, c uuid.UUID, now, leaseUntil time.Time, limit int) ([]WebhookDelivery, error) {
	var out []WebhookDelivery
	err := db.x.SelectContext(ctx, &out, `UPDATE webhook_deliveries d SET lease_until = $3, attempts = d.attempts + 1
		FROM webhook_endpoints w
		WHERE d.community_id = $1 AND w.community_id = $1 AND w.id = d.endpoint_id AND w.state = 'active'
		  AND (d.endpoint_id, d.event_id) IN (SELECT endpoint_id, event_id FROM webhook_deliveries
			WHERE community_id = $1 AND state = 'pending' AND next_attempt_at <= $2 AND (lease_until IS NULL OR lease_until <= $2)
			ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED)
		RETURNING d.community_id, d.endpoint_id, d.event_id, d.event_type, d.data, d.created_at, d.attempts,
			w.url, w.secret_sealed, w.previous_secret_sealed, w.previous_secret_expires_at`, c, now, leaseUntil, limit)
	if err != nil {
		return nil, fmt.Errorf("claim webhooks: %w", err)
	}
	for i := range out {
		out[i].CreatedAt = out[i].CreatedAt.UTC() // as the body states it
	}
	return out, nil
}

// WebhookOutcome is how one attempt went.
type WebhookOutcome struct {
	At      time.Time
	Status  int // 0: no response
	Latency time.Duration
	Err     string // empty on success
	OK      bool
	// Next is when to try again after a failure; zero gives the delivery up.
	Next time.Time
}

// maxAttemptError bounds the error text kept in the log.
const maxAttemptError = 500

// cleanText makes an error text (which quotes the receiver's answer, any bytes at all)
// storable: valid UTF-8, no NUL (PostgreSQL text refuses both), at most maxAttemptError
// bytes.
func cleanText(s string) string {
	s = strings.ReplaceAll(s, "\x00", "")
	if len(s) > maxAttemptError {
		s = s[:maxAttemptError]
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// RecordWebhookAttempt writes attempt d's outcome: the log row, the delivery delivered,
// rescheduled or given up, and the endpoint's failure run. An endpoint whose attempts
// have failed for a day (sched.ShouldPause) is paused (audited, with its reason in the API) and its
// outbox waits until staff resume it; RecordWebhookAttempt reports whether it paused it.
func (db *DB) RecordWebhookAttempt(ctx context.Context, d WebhookDelivery, o WebhookOutcome, sched webhook.Schedule) (paused bool, err error) {
	o.Err = cleanText(o.Err)
	var status, errText any
	if o.Status != 0 {
		status = o.Status
	}
	if !o.OK {
		errText = o.Err
	}
	state, next := "delivered", o.At
	switch {
	case o.OK:
	case o.Next.IsZero():
		state = "failed"
	default:
		state, next = "pending", o.Next
	}
	err = db.InTx(ctx, "system:webhooks", func(tx *Tx) error {
		r, err := tx.x.ExecContext(ctx, `UPDATE webhook_deliveries SET state = $4, next_attempt_at = $5,
				lease_until = NULL, last_status = $6, last_error = $7, delivered_at = CASE WHEN $4 = 'delivered' THEN $8::timestamptz END
			WHERE community_id = $1 AND endpoint_id = $2 AND event_id = $3 AND state = 'pending'`,
			d.Community, d.Endpoint, d.ID, state, next, status, errText, o.At)
		if err != nil {
			return fmt.Errorf("record webhook attempt: %w", err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return nil // the endpoint was deleted meanwhile
		}
		if _, err := tx.x.ExecContext(ctx, `INSERT INTO webhook_attempts (community_id, endpoint_id, event_id, attempt, event_type, at,
				status_code, latency_ms, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
			d.Community, d.Endpoint, d.ID, d.Attempt, d.Type, o.At, status, o.Latency.Milliseconds(), errText); err != nil {
			return fmt.Errorf("log webhook attempt: %w", err)
		}
		if o.OK {
			_, err := tx.x.ExecContext(ctx, `UPDATE webhook_endpoints SET failing_since = NULL
				WHERE community_id = $1 AND id = $2 AND failing_since IS NOT NULL`, d.Community, d.Endpoint)
			if err != nil {
				return fmt.Errorf("webhook endpoint recovered: %w", err)
			}
			return nil
		}
		paused, err = tx.noteWebhookFailure(ctx, d, o, sched)
		return err
	})
	return paused, err
}

// noteWebhookFailure extends the endpoint's failure run and pauses it once the run is
// a day long.
func (tx *Tx) noteWebhookFailure(ctx context.Context, d WebhookDelivery, o WebhookOutcome, sched webhook.Schedule) (bool, error) {
	var ep struct {
		State string    `db:"state"`
		Since time.Time `db:"failing_since"`
	}
	err := tx.x.GetContext(ctx, &ep, `UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, $3::timestamptz)
		WHERE community_id = $1 AND id = $2 RETURNING state, failing_since`, d.Community, d.Endpoint, o.At)
	if err != nil {
		return false, fmt.Errorf("webhook endpoint failing: %w", err)
	}
	if ep.State != webhook.Active || !sched.ShouldPause(ep.Since, d.CreatedAt, o.At, o.Next.IsZero()) {
		return false, nil
	}
	reason := cleanText(fmt.Sprintf("every delivery failed since %s (last: %s)", ep.Since.UTC().Format(time.RFC3339), o.Err))
	if _, err := tx.x.ExecContext(ctx, `UPDATE webhook_endpoints SET state = 'paused', paused_at = $3, paused_reason = $4, updated_at = $3
		WHERE community_id = $1 AND id = $2`, d.Community, d.Endpoint, o.At, reason); err != nil {
		return false, fmt.Errorf("pause webhook endpoint: %w", err)
	}
	// What waits for it is not due until staff resume it (ResumeWebhookEndpoint makes it
	// due at once), so the sender's sweep does not keep finding it.
	if _, err := tx.x.ExecContext(ctx, `UPDATE webhook_deliveries SET next_attempt_at = 'infinity'
		WHERE community_id = $1 AND endpoint_id = $2 AND state = 'pending'`, d.Community, d.Endpoint); err != nil {
		return false, fmt.Errorf("pause webhook deliveries: %w", err)
	}
	return true, tx.Audit(ctx, d.Community, "webhook.pause", "webhook:"+d.Endpoint.String(),
		map[string]any{"reason": reason, "failing_since": ep.Since.UTC()})
}

// ReleaseWebhookDelivery lets a claimed delivery go uncounted (the sender is shutting
// down), so another sender takes it at once.
func (db *DB) ReleaseWebhookDelivery(ctx context.Context, d WebhookDelivery) error {
	if _, err := db.x.ExecContext(ctx, `UPDATE webhook_deliveries SET lease_until = NULL, attempts = attempts - 1
		WHERE community_id = $1 AND endpoint_id = $2 AND event_id = $3 AND state = 'pending'`, d.Community, d.Endpoint, d.ID); err != nil {
		return fmt.Errorf("release webhook delivery: %w", err)
	}
	return nil
}

// PruneWebhooks deletes the log and the finished deliveries older than before.
func (db *DB) PruneWebhooks(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for _, q := range []string{
		`DELETE FROM webhook_deliveries WHERE state <> 'pending' AND created_at < $1`,
		`DELETE FROM webhook_attempts WHERE at < $1`,
	} {
		r, err := db.x.ExecContext(ctx, q, before)
		if err != nil {
			return total, fmt.Errorf("prune webhooks: %w", err)
		}
		n, _ := r.RowsAffected()
		total += n
	}
	return total, nil
}

// GateLiveness is a gate whose liveness changed: Offline says which way.
type GateLiveness struct {
	Community uuid.UUID `db:"community_id"`
	Gate      uuid.UUID `db:"id"`
	Name      string    `db:"name"`
	LastSeen  time.Time `db:"last_seen_at"`
	Offline   bool      `db:"offline"`
}

// GateLivenessChanges lists the enabled gates whose liveness differs from what was last
// reported: silent since before silentSince but reported online (or never reported), or
// heard from since but reported offline. It reads every shard (the sender's sweep).
func (db *DB) GateLivenessChanges(ctx context.Context, silentSince time.Time) ([]GateLiveness, error) {
	var out []GateLiveness
	err := db.x.SelectContext(ctx, &out, `SELECT g.community_id, g.id, g.name, g.last_seen_at, g.last_seen_at < $1 AS offline
		FROM gates g LEFT JOIN gate_liveness l ON l.community_id = g.community_id AND l.gate_id = g.id
		WHERE g.disabled_at IS NULL AND g.last_seen_at IS NOT NULL AND (g.last_seen_at < $1) <> coalesce(l.offline, false)`, silentSince)
	if err != nil {
		return nil, fmt.Errorf("gate liveness: %w", err)
	}
	return out, nil
}

// MarkGateLiveness records a gate's change of liveness and enqueues gate.offline or
// gate.online in the same transaction. The upsert changes the row only when the state
// differs, so of two server copies that notice the same change one reports it.
func (db *DB) MarkGateLiveness(ctx context.Context, g GateLiveness, at time.Time, offlineAfter time.Duration) (bool, error) {
	reported := false
	err := db.InTx(ctx, "system:webhooks", func(tx *Tx) error {
		var id uuid.UUID
		err := tx.x.GetContext(ctx, &id, `INSERT INTO gate_liveness (community_id, gate_id, offline, changed_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (community_id, gate_id) DO UPDATE SET offline = excluded.offline, changed_at = excluded.changed_at
			WHERE gate_liveness.offline <> excluded.offline RETURNING gate_id`, g.Community, g.Gate, g.Offline, at)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("gate liveness: %w", err)
		}
		// A gate's first state is only news when it is offline: a gate first seen
		// online was never reported offline.
		typ := webhook.GateOnline
		if g.Offline {
			typ = webhook.GateOffline
		}
		reported = true
		return tx.EnqueueWebhook(ctx, g.Community, typ, webhook.GateStatus{Gate: g.Gate, Name: g.Name, LastSeenAt: g.LastSeen.UTC(),
			OfflineAfter: int64(offlineAfter / time.Second)})
	})
	return reported, err
}
