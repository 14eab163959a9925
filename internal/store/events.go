package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
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
// One transaction, on the gates' writes pool when ctx is a gate's upload: the batch is
// one prepared INSERT of every row (unnest of one array a column, so that its cost is
// one round trip whatever the batch size), committed synchronously. What follows from
// the rows it stored (and only those: a re-sent event is not among them) is done in the
// same transaction, after "stored" below.
func (db *DB) StoreEvents(ctx context.Context, g access.GateIdentity, events []access.GateEvent) ([]uuid.UUID, error) {
	n := len(events)
	ids, times, creds, subjects := make([]uuid.UUID, n), make([]time.Time, n), make([]*uuid.UUID, n), make([]*string, n)
	methods, results, reasons := make([]string, n), make([]string, n), make([]string, n)
	offline, stale, staffs, keys := make([]bool, n), make([]bool, n), make([]*uuid.UUID, n), make([][]byte, n)
	residents, scores, dropped, offlineLimit := make([]*uuid.UUID, n), make([]*float32, n), make([]*int64, n), make([]bool, n)
	for i, e := range events {
		// In UTC: lib/pq sends a time with its own offset, and PostgreSQL refuses
		// offsets it cannot represent (+23:59 is valid RFC 3339).
		ids[i], times[i], creds[i], methods[i], results[i], reasons[i] = e.ID, e.OccurredAt.UTC(), e.Credential, e.Method, e.Result, e.Reason
		offline[i], stale[i], staffs[i], keys[i] = e.Offline, e.Stale, e.Staff, e.ReplayKey
		residents[i], scores[i], offlineLimit[i] = e.Resident, e.Score, e.OfflineLimit
		if e.Dropped != nil {
			d := int64(*e.Dropped)
			dropped[i] = &d
		}
		if e.Subject != "" {
			s := e.Subject
			subjects[i] = &s
		}
	}
	// One statement for the batch; unnest keeps the arrays aligned. bytea[] goes as text
	// ('\x..' hex) because lib/pq has no bytea array encoder.
	hexKeys := make([]*string, n)
	for i, k := range keys {
		if k != nil {
			s := fmt.Sprintf(`\x%x`, k)
			hexKeys[i] = &s
		}
	}
	scoreTexts := make([]*string, n)
	for i, sc := range scores {
		if sc != nil {
			t := fmt.Sprint(*sc)
			scoreTexts[i] = &t
		}
	}
	err := db.InTx(ctx, "gate:"+g.ID.String(), func(tx *Tx) error {
		// A gate that was offline when a resident deleted their account uploads their
		// face entries later: stored unlinked, like the ones erased at deletion.
		if err := tx.unlinkDeleted(ctx, g.Community, residents); err != nil {
			return err
		}
		// The gate deletes what we acknowledge: the commit must be durable whatever the
		// cluster's default (synchronous_commit=off loses the last ~600 ms of commits in a
		// crash). The gates' writes pool commits synchronously (durable, store.go);
		// elsewhere (a batch stored by a tool or a test) this transaction asks for it.
		// Only off is raised, so a stronger setting (remote_apply) stays.
		if tx.p != tx.db.writes {
			if _, err := tx.x.ExecContext(ctx, `SELECT set_config('synchronous_commit', 'on', true) WHERE current_setting('synchronous_commit') = 'off'`); err != nil {
				return fmt.Errorf("durable commit: %w", err)
			}
		}
		// RETURNING gives only the rows this batch inserted, so a re-sent batch counts
		// no visitor entry twice.
		var stored []storedEvent
		err := tx.prepared().SelectContext(ctx, &stored, `INSERT INTO entry_events (community_id, id, occurred_at, gate_id, credential_id, subject,
				method, result, reason, offline, stale, staff_id, replay_key, resident_id, score, dropped, offline_limit)
			SELECT $1, u.id, u.at, $2, u.cred, u.subject, u.method, u.result, u.reason, u.offline, u.stale, u.staff, u.rkey::bytea,
				u.resident, u.score::real, u.dropped, u.offline_limit
			FROM unnest($3::uuid[], $4::timestamptz[], $5::uuid[], $6::text[], $7::text[], $8::text[], $9::text[],
				$10::bool[], $11::bool[], $12::uuid[], $13::text[], $14::uuid[], $15::text[], $16::integer[], $17::bool[])
				AS u(id, at, cred, subject, method, result, reason, offline, stale, staff, rkey, resident, score, dropped, offline_limit)
			ON CONFLICT DO NOTHING
			RETURNING id, occurred_at, received_at, credential_id, subject, method, result, reason, offline, stale, staff_id,
				resident_id, replay_key`,
			g.Community, g.ID, pq.Array(uuidStrings(ids)), pq.Array(times), pq.Array(nullUUIDStrings(creds)), pq.Array(subjects),
			pq.Array(methods), pq.Array(results), pq.Array(reasons), pq.Array(offline), pq.Array(stale),
			pq.Array(nullUUIDStrings(staffs)), pq.Array(hexKeys), pq.Array(nullUUIDStrings(residents)), pq.Array(scoreTexts), pq.Array(dropped),
			pq.Array(offlineLimit))
		if err != nil {
			return fmt.Errorf("store events: %w", err)
		}
		// stored: the rows this batch added. What the entry log reports beyond itself
		// (visitor entries counted, webhook deliveries) is made from these, here, in
		// this transaction.
		return tx.eventsStored(ctx, g, events, stored)
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// storedEvent is a row StoreEvents has just added, with what its webhooks report
// (enqueueEntryWebhooks builds them from these, not from a second read of the table).
type storedEvent struct {
	ID         uuid.UUID  `db:"id"`
	OccurredAt time.Time  `db:"occurred_at"`
	ReceivedAt time.Time  `db:"received_at"`
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
	nullTime := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t
	}
	nullText := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	var whoRes, whoCreds any
	if f.Who != "" {
		r, cr, err := db.whoIDs(ctx, c, f.Who)
		if err != nil {
			return page, err
		}
		if len(r) == 0 {
			return page, nil
		}
		whoRes, whoCreds = pq.Array(r), pq.Array(cr)
	}
	err := db.x.SelectContext(ctx, &page.Events, `SELECT e.id, e.occurred_at, e.received_at, e.gate_id, e.credential_id, e.subject, e.method,
			e.result, e.reason, e.offline, e.stale, e.staff_id, e.resident_id, e.score, e.dropped, e.offline_limit,
			g.name AS gate_name, who.name AS resident_name, who.unit_label, vp.label AS visitor_label, st.name AS staff_name
		FROM (SELECT id, occurred_at, received_at, gate_id, credential_id, subject, method,
				result, reason, offline, stale, staff_id, resident_id, score, dropped, offline_limit FROM entry_events
			WHERE community_id = $1
			  AND ($2::timestamptz IS NULL OR occurred_at >= $2)
			  AND ($3::timestamptz IS NULL OR occurred_at < $3)
			  AND ($4::uuid IS NULL OR gate_id = $4)
			  AND ($5::text IS NULL OR result = $5)
			  AND ($6::uuid IS NULL OR credential_id = $6)
			  AND ($7::timestamptz IS NULL OR (occurred_at, id) < ($7, $8::uuid))
			  AND ($10::text IS NULL OR reason = $10)
			  AND ($11::text IS NULL OR method = $11)
			  AND ($12::uuid[] IS NULL OR credential_id = ANY($13::uuid[]) OR resident_id = ANY($12::uuid[]))
			  AND ($14::timestamptz IS NULL OR (received_at > $14 AND occurred_at > $14::timestamptz - interval '1 day'))
			ORDER BY occurred_at DESC, id DESC LIMIT $9) e
		LEFT JOIN gates g ON g.community_id = $1 AND g.id = e.gate_id
		LEFT JOIN credentials cr ON cr.community_id = $1 AND cr.id = e.credential_id
		LEFT JOIN visitor_passes vp ON vp.community_id = $1 AND vp.id = e.credential_id AND e.subject = 'visitor'
		LEFT JOIN LATERAL (SELECT r.name, u.label AS unit_label FROM residents r
			LEFT JOIN LATERAL (SELECT unit_id FROM residencies WHERE community_id = $1 AND resident_id = r.id
				ORDER BY valid_from DESC LIMIT 1) rs ON true
			LEFT JOIN units u ON u.community_id = $1 AND u.id = rs.unit_id
			WHERE r.community_id = $1 AND r.id = coalesce(e.resident_id, cr.resident_id)) who ON true
		LEFT JOIN staff st ON st.id = e.staff_id
		ORDER BY e.occurred_at DESC, e.id DESC`,
		c, nullTime(f.From), nullTime(f.To), nullUUID(f.Gate), nullText(f.Result), nullUUID(f.Credential), curAt, curID, f.Limit,
		nullText(f.Reason), nullText(f.Method), whoRes, whoCreds, nullTime(f.ReceivedAfter))
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
