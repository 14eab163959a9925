package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"gatepass/internal/access"
)

// StoreEvents stores a gate's batch idempotently: an event whose id (and time) is stored
// already is skipped, so a re-sent batch changes nothing. The caller has validated the
// batch (access.GateEvent.Check). It returns every id of the batch, which is now stored:
// the gate may delete them all.
//
// One transaction, on the gates' writes pool when ctx is a gate's upload: a small batch
// is one prepared multi-row INSERT (insertEvents), a large one a COPY (copyEvents),
// committed synchronously. What follows from the rows it stored (and only those: a
// re-sent event is not among them) is done in the same transaction, after "stored" below.
func (db *DB) StoreEvents(ctx context.Context, g access.GateIdentity, events []access.GateEvent) ([]uuid.UUID, error) {
	residents := make([]*uuid.UUID, len(events))
	for i, e := range events {
		residents[i] = e.Resident
	}
	store := func(copyRows bool) func(tx *Tx) error {
		return func(tx *Tx) error {
			// A gate that was offline when a resident deleted their account uploads
			// their face entries later: stored unlinked, like the ones erased at deletion.
			if err := tx.unlinkDeleted(ctx, g.Community, residents); err != nil {
				return err
			}
			// The gate deletes what we acknowledge: the commit must be durable whatever
			// the cluster's default (synchronous_commit=off loses the last ~600 ms of
			// commits in a crash). The gates' writes pool commits synchronously (durable,
			// store.go); elsewhere (a batch stored by a tool or a test) this transaction
			// asks for it. Only off is raised, so a stronger setting (remote_apply) stays.
			if tx.p != tx.db.writes {
				if _, err := tx.x.ExecContext(ctx, `SELECT set_config('synchronous_commit', 'on', true) WHERE current_setting('synchronous_commit') = 'off'`); err != nil {
					return fmt.Errorf("durable commit: %w", err)
				}
			}
			insert := tx.insertEvents
			if copyRows {
				insert = tx.copyEvents
			}
			stored, err := insert(ctx, g, events, residents)
			if err != nil {
				return err
			}
			// stored: the rows this batch added. What the entry log reports beyond
			// itself (visitor entries counted, webhook deliveries) is made from these,
			// here, in this transaction.
			return tx.eventsStored(ctx, g, events, stored)
		}
	}
	actor := "gate:" + g.ID.String()
	copyRows := len(events) > copyFrom
	err := db.InTx(ctx, actor, store(copyRows))
	if failed := (*copyFailed)(nil); errors.As(err, &failed) && ctx.Err() == nil {
		// Most likely an upload of some of the same events (the gate gave up on one and
		// sent it again) committed between copyEvents' look and its COPY: INSERT ... ON
		// CONFLICT DO NOTHING skips what it stored. Citus reports that conflict as an
		// internal error (XX000), not a unique violation, so any failed COPY is tried
		// once more this way, which reports its own error if there is one.
		err = db.InTx(ctx, actor, store(false))
	}
	if err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	return ids, nil
}

// copyFrom is the largest batch stored by INSERT; a larger one is copied. A small batch
// costs its round trips, and one prepared INSERT is one. A large one costs its rows'
// parsing, and on Citus an INSERT's is the dearer by far: the coordinator writes every
// value of a multi-row INSERT into the text it sends the shard, where it forwards COPY's
// rows as they are. Measured with scripts/load-gates (docs/benchmarks.md), batches of
// 100: on Citus COPY stored 0.79 of a bare COPY's rows a second and INSERT 0.35; on one
// PostgreSQL 0.63 and 0.71. Batches of 10 and 1: INSERT the faster on both.
const copyFrom = 32

// insertEvents inserts the batch's rows, residents (unlinkDeleted's) in place of the
// events' own, and returns the rows it added: RETURNING leaves out a re-sent event, so
// none is counted twice.
//
// The rows go as a multi-row INSERT ... VALUES, whose community is a parameter of every
// row: Citus routes it to the community's shard as it stands, where an INSERT ... SELECT
// (of unnest, say) is pulled through the coordinator (3 to 4 times the cost of a batch of
// 10 there). So that a pool keeps a handful of these statements prepared, not one per
// batch size, the batch is padded to the next size of eventRows by repeating its last
// row, which ON CONFLICT DO NOTHING skips as the copy of a row the statement has just
// inserted; a batch larger than the largest goes in parts.
func (tx *Tx) insertEvents(ctx context.Context, g access.GateIdentity, events []access.GateEvent, residents []*uuid.UUID) ([]storedEvent, error) {
	var stored []storedEvent
	for len(events) > 0 {
		n := min(len(events), eventRows[len(eventRows)-1])
		rows := eventRows[sort.SearchInts(eventRows, n)]
		args := make([]any, 0, 2+rows*len(eventColumns))
		args = append(args, g.Community, g.ID)
		for i := range rows {
			args = append(args, eventValues(events[min(i, n-1)], residents[min(i, n-1)])...)
		}
		var added []storedEvent
		if err := tx.prepared().SelectContext(ctx, &added, insertEventsSQL(rows), args...); err != nil {
			return nil, fmt.Errorf("store events: %w", err)
		}
		stored = append(stored, added...)
		events, residents = events[n:], residents[n:]
	}
	return stored, nil
}

// copyEvents copies the batch's rows that are not stored yet (an event whose id is
// stored within the batch's span of time) and returns them. COPY has no ON CONFLICT:
// should an upload of the same events commit between the look and the COPY, the COPY
// fails on the primary key, and StoreEvents stores the batch again by insertEvents.
func (tx *Tx) copyEvents(ctx context.Context, g access.GateIdentity, events []access.GateEvent, residents []*uuid.UUID) ([]storedEvent, error) {
	first, last := events[0].OccurredAt, events[0].OccurredAt
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID.String()
		if e.OccurredAt.Before(first) {
			first = e.OccurredAt
		}
		if e.OccurredAt.After(last) {
			last = e.OccurredAt
		}
	}
	// The span, widened by PostgreSQL's rounding to microseconds, prunes the partitions.
	var have []uuid.UUID
	if err := tx.prepared().SelectContext(ctx, &have, `SELECT id FROM entry_events WHERE community_id = $1 AND id = ANY($2::uuid[])
		AND occurred_at BETWEEN $3 AND $4`, g.Community, pq.Array(ids),
		first.UTC().Add(-time.Microsecond), last.UTC().Add(time.Microsecond)); err != nil {
		return nil, fmt.Errorf("store events: stored already: %w", err)
	}
	skip := make(map[uuid.UUID]bool, len(have)+len(events))
	for _, id := range have {
		skip[id] = true
	}
	cp, err := tx.x.PrepareContext(ctx, pq.CopyIn("entry_events", append([]string{"community_id", "gate_id"}, eventColumns...)...))
	if err != nil {
		return nil, fmt.Errorf("store events: copy: %w", err)
	}
	defer cp.Close()
	var stored []storedEvent
	for i, e := range events {
		if skip[e.ID] {
			continue
		}
		skip[e.ID] = true // an event twice in the batch is stored once
		if _, err := cp.ExecContext(ctx, append([]any{g.Community, g.ID}, eventValues(e, residents[i])...)...); err != nil {
			return nil, &copyFailed{err}
		}
		stored = append(stored, storedEvent{ID: e.ID, OccurredAt: e.OccurredAt, Credential: e.Credential, Subject: subjectOf(e),
			Method: e.Method, Result: e.Result, Reason: e.Reason, Offline: e.Offline, Stale: e.Stale, Staff: e.Staff,
			Resident: residents[i], ReplayKey: e.ReplayKey})
	}
	if _, err := cp.ExecContext(ctx); err != nil {
		return nil, &copyFailed{err}
	}
	return stored, nil
}

// copyFailed is copyEvents' COPY refused, a key conflict most likely.
type copyFailed struct{ err error }

func (e *copyFailed) Error() string { return "store events: copy: " + e.err.Error() }
func (e *copyFailed) Unwrap() error { return e.err }

// eventColumns are the columns of an event's row after community_id and gate_id, in the
// order of eventValues.
var eventColumns = []string{"id", "occurred_at", "credential_id", "subject", "method", "result", "reason",
	"offline", "stale", "staff_id", "replay_key", "resident_id", "score", "dropped", "offline_limit"}

// eventValues are an event's values for eventColumns, with resident in place of its own.
func eventValues(e access.GateEvent, resident *uuid.UUID) []any {
	var dropped *int64
	if e.Dropped != nil {
		d := int64(*e.Dropped)
		dropped = &d
	}
	// lib/pq sends a nil []byte as an empty bytea, not NULL.
	var replayKey any
	if e.ReplayKey != nil {
		replayKey = e.ReplayKey
	}
	// In UTC: lib/pq sends a time with its own offset, and PostgreSQL refuses offsets it
	// cannot represent (+23:59 is valid RFC 3339).
	return []any{e.ID, e.OccurredAt.UTC(), e.Credential, subjectOf(e), e.Method, e.Result, e.Reason,
		e.Offline, e.Stale, e.Staff, replayKey, resident, e.Score, dropped, e.OfflineLimit}
}

// subjectOf is an event's subject, nil when no credential was read.
func subjectOf(e access.GateEvent) *string {
	if e.Subject == "" {
		return nil
	}
	return &e.Subject
}

// eventRows are the row counts of the prepared INSERTs of events (insertEvents).
var eventRows = []int{1, 2, 4, 8, 16, 32}

// insertEventsSQL is the INSERT of rows events; $1 is the community, $2 the gate.
var insertEventsSQL = func() func(rows int) string {
	texts := map[int]string{}
	for _, rows := range eventRows {
		var b strings.Builder
		fmt.Fprintf(&b, `INSERT INTO entry_events (community_id, gate_id, %s) VALUES `, strings.Join(eventColumns, ", "))
		for r := range rows {
			if r > 0 {
				b.WriteByte(',')
			}
			b.WriteString("($1,$2")
			for c := range eventColumns {
				fmt.Fprintf(&b, ",$%d", 3+r*len(eventColumns)+c)
			}
			b.WriteByte(')')
		}
		b.WriteString(` ON CONFLICT DO NOTHING RETURNING ` + storedEventColumns)
		texts[rows] = b.String()
	}
	return func(rows int) string { return texts[rows] }
}()

// storedEventColumns are the columns of a storedEvent, as insertEvents returns them (and
// copyEvents fills from the batch): a column left out would leave its field zero, in the
// webhooks too.
const storedEventColumns = `id, occurred_at, credential_id, subject, method, result, reason, offline, stale, staff_id,
	resident_id, replay_key`

// storedEvent is a row StoreEvents has just added, with what its webhooks report
// (enqueueEntryWebhooks builds them from these, not from a second read of the table).
type storedEvent struct {
	ID         uuid.UUID  `db:"id"`
	OccurredAt time.Time  `db:"occurred_at"`
	Credential *uuid.UUID `db:"credential_id"`
	Subject    *string    `db:"subject"`
	Method     string     `db:"method"`
	Result     string     `db:"result"`
	Reason     string     `db:"reason"`
	Offline    bool       `db:"offline"`
	Stale      bool       `db:"stale"`
	Staff      *uuid.UUID `db:"staff_id"`
	Resident   *uuid.UUID `db:"resident_id"`
	ReplayKey  []byte     `db:"replay_key"`
}

// eventsStored does, in the batch's transaction, what follows from the rows it stored:
// visitors' entries counted (once: a re-sent event is not in stored), their webhook
// deliveries queued, and face entries noted for the retention of face data (harmless to
// repeat: greatest).
func (tx *Tx) eventsStored(ctx context.Context, g access.GateIdentity, events []access.GateEvent, stored []storedEvent) error {
	var visits []uuid.UUID
	for _, e := range stored {
		if (access.GateEvent{Result: e.Result, Credential: e.Credential, Subject: deref(e.Subject)}).UsesVisitorEntry() {
			visits = append(visits, *e.Credential)
		}
	}
	if _, err := countVisitorEntries(ctx, tx.x, g.Community, visits); err != nil {
		return err
	}
	// Webhooks of the stored events commit with them (the outbox), or not at all. A
	// re-sent event is not among them: its deliveries were queued when it was stored.
	// Most communities have no endpoint: one prepared lookup, in this transaction,
	// spares them the outbox's query (which tripled the cost of a batch).
	if len(stored) > 0 {
		var hooks bool
		if err := tx.prepared().GetContext(ctx, &hooks, `SELECT EXISTS (SELECT 1 FROM webhook_endpoints
			WHERE community_id = $1 AND state = 'active')`, g.Community); err != nil {
			return fmt.Errorf("store events: webhook endpoints: %w", err)
		}
		if hooks {
			if err := tx.enqueueEntryWebhooks(ctx, g, stored); err != nil {
				return err
			}
		}
	}
	now := time.Now()
	for _, e := range events {
		if e.MovesFaceRetention() {
			if err := tx.NoteFaceEntry(ctx, g.Community, *e.Resident, e.FaceEntryAt(now)); err != nil {
				return err
			}
		}
	}
	return nil
}

// unlinkDeleted sets to nil every resident id in ids whose resident has deleted their
// account. The residents' rows are held FOR SHARE until the batch commits, so an erasure
// running beside it either committed first (and is seen here) or waits and then unlinks
// these rows with the rest.
func (tx *Tx) unlinkDeleted(ctx context.Context, c uuid.UUID, ids []*uuid.UUID) error {
	var want []uuid.UUID
	for _, id := range ids {
		if id != nil {
			want = append(want, *id)
		}
	}
	if len(want) == 0 {
		return nil
	}
	var rows []struct {
		ID     uuid.UUID             `db:"id"`
		Status access.ResidentStatus `db:"status"`
	}
	if err := tx.x.SelectContext(ctx, &rows, `SELECT id, status FROM residents WHERE community_id = $1 AND id = ANY($2::uuid[]) ORDER BY id FOR SHARE`,
		c, pq.Array(uuidStrings(want))); err != nil {
		return fmt.Errorf("store events: residents: %w", err)
	}
	for _, r := range rows {
		if r.Status != access.ResidentDeleted {
			continue
		}
		for i, id := range ids {
			if id != nil && *id == r.ID {
				ids[i] = nil
			}
		}
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func uuidStrings(ids []uuid.UUID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}

// EventFilter selects entry events; zero fields do not filter.
type EventFilter struct {
	From, To   time.Time
	Gate       uuid.UUID
	Result     string
	Reason     string
	Method     string
	Credential uuid.UUID
	// Who is part of a resident's name or unit label: the events of the credentials and
	// face entries of the residents it matches (at most maxWho of them).
	Who string
	// ReceivedAfter keeps events the server received after it (the live stream).
	ReceivedAfter time.Time
	Cursor        string // from the previous page's next_cursor
	Limit         int
}

// maxWho bounds the residents one name or unit filter may match: a filter that matches
// more is too broad to mean a person, and is refused with a clear answer.
const maxWho = 200

// ErrWhoTooBroad refuses a name or unit filter that matches too many residents.
var ErrWhoTooBroad = access.Invalid("who", "matches more than %d residents: type more of the name or unit", maxWho)

// eventCursor is the (occurred_at, id) of the last row of a page.
func eventCursor(e access.EntryEvent) string {
	return base64.RawURLEncoding.EncodeToString([]byte(e.OccurredAt.UTC().Format(time.RFC3339Nano) + "|" + e.ID.String()))
}

func parseEventCursor(s string) (time.Time, uuid.UUID, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, uuid.Nil, access.Invalid("cursor", "is not a cursor from a previous page")
	}
	at, id, ok := strings.Cut(string(raw), "|")
	t, err1 := time.Parse(time.RFC3339Nano, at)
	u, err2 := uuid.Parse(id)
	if !ok || err1 != nil || err2 != nil {
		return time.Time{}, uuid.Nil, access.Invalid("cursor", "is not a cursor from a previous page")
	}
	return t, u, nil
}

// whoIDs resolves a name or unit filter to the residents it matches and their
// credentials.
func (db *DB) whoIDs(ctx context.Context, c uuid.UUID, who string) (residents, creds []string, err error) {
	pattern := "%" + likeEscaper.Replace(who) + "%"
	var ids []uuid.UUID
	// Units are few (hundreds to thousands): their residents come by the unit's label,
	// everyone who lived there, so that last year's entries of a unit find last year's
	// residents too.
	if err := db.x.SelectContext(ctx, &ids, `SELECT id FROM residents WHERE community_id = $1 AND name ILIKE $2
		UNION
		SELECT h.resident_id FROM residencies h JOIN units u ON u.community_id = $1 AND u.id = h.unit_id
		WHERE h.community_id = $1 AND u.label ILIKE $2
		LIMIT $3`, c, pattern, maxWho+1); err != nil {
		return nil, nil, fmt.Errorf("entry log filter: %w", err)
	}
	if len(ids) > maxWho {
		return nil, nil, ErrWhoTooBroad
	}
	residents = uuidStrings(ids)
	var cids []uuid.UUID
	if err := db.x.SelectContext(ctx, &cids, `SELECT id FROM credentials WHERE community_id = $1 AND resident_id = ANY($2::uuid[])`,
		c, pq.Array(residents)); err != nil {
		return nil, nil, fmt.Errorf("entry log filter: %w", err)
	}
	return residents, uuidStrings(cids), nil
}

// Events lists community c's entry events, newest first, with keyset pagination on
// (occurred_at, id): every filter is an equality on an indexed column or a time range,
// so a page reads only its own rows (migration 00020's indexes; docs/benchmarks.md).
// Each event comes with its gate's name and, resolved here, the resident and unit of its
// credential or face match, the visitor pass's label and the releasing staff member's
// name: the log says who came in, not which UUID.
func (db *DB) Events(ctx context.Context, c uuid.UUID, f EventFilter) (access.EventPage, error) {
	page := access.EventPage{Events: []access.EntryEvent{}}
	var curAt any
	var curID any
	if f.Cursor != "" {
		t, id, err := parseEventCursor(f.Cursor)
		if err != nil {
			return page, err
		}
		curAt, curID = t, id
	}
	var whoRes, whoCreds []string
	if f.Who != "" {
		r, cr, err := db.whoIDs(ctx, c, f.Who)
		if err != nil {
			return page, err
		}
		if len(r) == 0 {
			return page, nil
		}
		whoRes, whoCreds = r, cr
	}
	// Only the filters given are in the statement, so that each combination is one
	// constant text, prepared on the staff pool: its plan is made once per connection
	// instead of every time (planning the entry log's joins over every monthly partition
	// cost more than running them), and a busy machine makes staff wait for one round
	// trip fewer.
	args := []any{c, f.Limit}
	var where strings.Builder
	cond := func(format string, vals ...any) {
		refs := make([]any, len(vals))
		for i, v := range vals {
			args = append(args, v)
			refs[i] = len(args)
		}
		where.WriteString("\n\t\t\t  AND ")
		fmt.Fprintf(&where, format, refs...)
	}
	if !f.From.IsZero() {
		cond("occurred_at >= $%d", f.From)
	}
	if !f.To.IsZero() {
		cond("occurred_at < $%d", f.To)
	}
	if f.Gate != uuid.Nil {
		cond("gate_id = $%d", f.Gate)
	}
	if f.Result != "" {
		cond("result = $%d", f.Result)
	}
	if f.Credential != uuid.Nil {
		cond("credential_id = $%d", f.Credential)
	}
	if f.Cursor != "" {
		cond("(occurred_at, id) < ($%d, $%d::uuid)", curAt, curID)
	}
	if f.Reason != "" {
		cond("reason = $%d", f.Reason)
	}
	if f.Method != "" {
		cond("method = $%d", f.Method)
	}
	if f.Who != "" {
		cond("(credential_id = ANY($%d::uuid[]) OR resident_id = ANY($%d::uuid[]))", pq.Array(whoCreds), pq.Array(whoRes))
	}
	if !f.ReceivedAfter.IsZero() {
		cond("received_at > $%d AND occurred_at > $%d::timestamptz - interval '1 day'", f.ReceivedAfter, f.ReceivedAfter)
	}
	err := db.staff.sel(ctx, &page.Events, `SELECT e.id, e.occurred_at, e.received_at, e.gate_id, e.credential_id, e.subject, e.method,
			e.result, e.reason, e.offline, e.stale, e.staff_id, e.resident_id, e.score, e.dropped, e.offline_limit,
			g.name AS gate_name, who.name AS resident_name, who.unit_label, vp.label AS visitor_label, st.name AS staff_name
		FROM (SELECT id, occurred_at, received_at, gate_id, credential_id, subject, method,
				result, reason, offline, stale, staff_id, resident_id, score, dropped, offline_limit FROM entry_events
			WHERE community_id = $1`+where.String()+`
			ORDER BY occurred_at DESC, id DESC LIMIT $2) e
		LEFT JOIN gates g ON g.community_id = $1 AND g.id = e.gate_id
		LEFT JOIN credentials cr ON cr.community_id = $1 AND cr.id = e.credential_id
		LEFT JOIN visitor_passes vp ON vp.community_id = $1 AND vp.id = e.credential_id AND e.subject = 'visitor'
		LEFT JOIN LATERAL (SELECT r.name, u.label AS unit_label FROM residents r
			LEFT JOIN LATERAL (SELECT unit_id FROM residencies WHERE community_id = $1 AND resident_id = r.id
				ORDER BY valid_from DESC LIMIT 1) rs ON true
			LEFT JOIN units u ON u.community_id = $1 AND u.id = rs.unit_id
			WHERE r.community_id = $1 AND r.id = coalesce(e.resident_id, cr.resident_id)) who ON true
		LEFT JOIN staff st ON st.id = e.staff_id
		ORDER BY e.occurred_at DESC, e.id DESC`, args...)
	if err != nil {
		return page, fmt.Errorf("list events: %w", err)
	}
	if len(page.Events) == f.Limit && f.Limit > 0 {
		page.Next = eventCursor(page.Events[len(page.Events)-1])
	}
	return page, nil
}

// anomalyRow is an Anomaly as the query finds it, its gates in one text.
type anomalyRow struct {
	ReplayKey  []byte     `db:"replay_key"`
	Credential *uuid.UUID `db:"credential_id"`
	Gates      string     `db:"gates"`
	Count      int        `db:"grants"`
	First      time.Time  `db:"first_at"`
	Last       time.Time  `db:"last_at"`
}

// Anomalies lists replay keys granted at two or more gates since from, newest first.
// Card keys (type byte 3) are static by design and a card may open several gates. Keys
// are read with substring, never get_byte, so that a malformed key stored before the
// gate API checked them (an empty one) cannot fail the whole query.
func (db *DB) Anomalies(ctx context.Context, c uuid.UUID, from time.Time, limit int) ([]access.Anomaly, error) {
	var rows []anomalyRow
	err := db.x.SelectContext(ctx, &rows, `SELECT replay_key, (array_agg(credential_id))[1] AS credential_id,
			string_agg(DISTINCT gate_id::text, ',') AS gates, count(*) AS grants, min(occurred_at) AS first_at, max(occurred_at) AS last_at
		FROM entry_events
		WHERE community_id = $1 AND result = 'granted' AND length(replay_key) > 0 AND occurred_at >= $2
		  AND substring(replay_key from 1 for 1) <> '\x03'::bytea
		GROUP BY replay_key HAVING count(DISTINCT gate_id) > 1
		ORDER BY max(occurred_at) DESC LIMIT $3`, c, from, limit)
	if err != nil {
		return nil, fmt.Errorf("anomalies: %w", err)
	}
	out := make([]access.Anomaly, len(rows))
	for i, r := range rows {
		out[i] = access.Anomaly{ReplayKey: r.ReplayKey, Credential: r.Credential, Count: r.Count, First: r.First, Last: r.Last}
		for _, s := range strings.Split(r.Gates, ",") {
			out[i].Gates = append(out[i].Gates, uuid.MustParse(s))
		}
	}
	return out, nil
}

type entryCursor struct {
	At time.Time `json:"t"`
	ID uuid.UUID `json:"i"`
}

// ResidentEntries lists the entry events of the resident's own credentials (QR, device,
// card), newest first, with keyset pagination. Visitors' entries are not the host's.
func (db *DB) ResidentEntries(ctx context.Context, c, resident uuid.UUID, cursor string, limit int) (access.ResidentEntryPage, error) {
	var at, id any
	if cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(cursor)
		var cur entryCursor
		if err != nil || json.Unmarshal(raw, &cur) != nil || cur.ID == uuid.Nil {
			return access.ResidentEntryPage{}, ErrBadCursor
		}
		at, id = cur.At, cur.ID
	}
	page := access.ResidentEntryPage{Entries: []access.ResidentEntry{}}
	err := db.x.SelectContext(ctx, &page.Entries, `SELECT e.id, e.occurred_at, e.gate_id, g.name AS gate_name, e.credential_id,
		e.method, e.result, e.reason, e.offline
		FROM entry_events e LEFT JOIN gates g ON g.community_id = e.community_id AND g.id = e.gate_id
		WHERE e.community_id = $1 AND e.credential_id IN (SELECT id FROM credentials WHERE community_id = $1 AND resident_id = $2)
		AND ($3::timestamptz IS NULL OR (e.occurred_at, e.id) < ($3::timestamptz, $4::uuid))
		ORDER BY e.occurred_at DESC, e.id DESC LIMIT $5`, c, resident, at, id, limit+1)
	if err != nil {
		return page, fmt.Errorf("list entries: %w", err)
	}
	if len(page.Entries) > limit {
		page.Entries = page.Entries[:limit]
		last := page.Entries[limit-1]
		raw, _ := json.Marshal(entryCursor{At: last.OccurredAt, ID: last.ID})
		page.NextCursor = base64.RawURLEncoding.EncodeToString(raw)
	}
	return page, nil
}
