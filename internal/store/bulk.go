package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/lib/pq"
)

// Scale is how much SeedScale makes.
type Scale struct {
	Units, Residents, Events int
	// Days is the span of the events, ending now (0: 40 days).
	Days int
	// ReplayKeys gives each QR event a replay key of its own, of a real key's size (type,
	// 16 bytes, nonce), as a gate reports it: the index that anomaly.reuse reads is then
	// as large as a real one.
	ReplayKeys bool
}

// SeedScale fills community c (whose building and gates exist) with units, active
// residents each living in one and holding a QR credential, and entry events spread over
// the last s.Days days (40 by default) at the gates: mostly granted QR entries, 5 % denied
// with a reason, 10 % face entries, 1 % manual releases. It is for benchmarks and load tests of the
// console's lists at a property's real size (docs/benchmarks.md): each table is one
// INSERT ... SELECT over generate_series, with ids derived from the community and the
// row's number (md5), so that events can name credentials without a join at load time.
func (db *DB) SeedScale(ctx context.Context, c, building uuid.UUID, gates []uuid.UUID, s Scale) error {
	if s.Units < 1 || len(gates) == 0 {
		return fmt.Errorf("seed: need units and gates")
	}
	days := s.Days
	if days == 0 {
		days = 40
	}
	key := c.String()
	steps := []struct {
		what string
		sql  string
		args []any
	}{
		{"units", `INSERT INTO units (community_id, id, building_id, label)
			SELECT $1, md5($2 || 'u' || k)::uuid, $3, lpad(k::text, 4, '0') FROM generate_series(1, $4) k`,
			[]any{c, key, building, s.Units}},
		{"residents", `INSERT INTO residents (community_id, id, name, phone)
			SELECT $1, md5($2 || 'r' || i)::uuid,
				(ARRAY['王','李','张','刘','陈','杨','Smith ','Garcia '])[1 + i % 8] || 'Resident ' || lpad(i::text, 6, '0'),
				'138' || lpad(i::text, 8, '0')
			FROM generate_series(1, $3) i`, []any{c, key, s.Residents}},
		{"residencies", `INSERT INTO residencies (community_id, id, resident_id, unit_id, role)
			SELECT $1, md5($2 || 'h' || i)::uuid, md5($2 || 'r' || i)::uuid, md5($2 || 'u' || (1 + i % $4))::uuid, 'owner'
			FROM generate_series(1, $3) i`, []any{c, key, s.Residents, s.Units}},
		{"credentials", `INSERT INTO credentials (community_id, id, kind, subject, resident_id, zones)
			SELECT $1, md5($2 || 'q' || i)::uuid, 'qr', 'resident', md5($2 || 'r' || i)::uuid, 1
			FROM generate_series(1, $3) i`, []any{c, key, s.Residents}},
		{"entry events", `INSERT INTO entry_events (community_id, id, occurred_at, gate_id, credential_id, subject, method, result,
				reason, resident_id, staff_id, replay_key)
			SELECT $1, md5($2 || 'e' || i)::uuid, now() - (i::float8 / $3) * $6 * interval '1 day',
				($5::uuid[])[1 + i % cardinality($5::uuid[])],
				CASE WHEN i % 100 = 0 OR i % 10 = 1 THEN NULL ELSE md5($2 || 'q' || (1 + (i * 7919) % $4))::uuid END,
				CASE WHEN i % 100 = 0 THEN 'staff' ELSE 'resident' END,
				CASE WHEN i % 100 = 0 THEN 'manual' WHEN i % 10 = 1 THEN 'face' ELSE 'qr' END,
				CASE WHEN i % 20 = 3 THEN 'denied' ELSE 'granted' END,
				CASE WHEN i % 100 = 0 THEN 'manual_release' WHEN i % 20 = 3 THEN (ARRAY['expired','revoked','bad_signature','replay'])[1 + (i / 20) % 4] ELSE 'ok' END,
				CASE WHEN i % 10 = 1 AND i % 100 <> 0 THEN md5($2 || 'r' || (1 + (i * 7919) % $4))::uuid END,
				CASE WHEN i % 100 = 0 THEN md5($2 || 's')::uuid END,
				CASE WHEN $7 AND i % 100 <> 0 AND i % 10 <> 1 THEN '\x01'::bytea || decode(md5($2 || 'k' || i) || left(md5($2 || 'n' || i), 16), 'hex') END
			FROM generate_series(1, $3::bigint) i`, []any{c, key, s.Events, s.Residents, pq.Array(uuidStrings(gates)), days, s.ReplayKeys}},
	}
	for _, st := range steps {
		if _, err := db.x.ExecContext(ctx, st.sql, st.args...); err != nil {
			return fmt.Errorf("seed %s: %w", st.what, err)
		}
	}
	if _, err := db.x.ExecContext(ctx, `ANALYZE units; ANALYZE residents; ANALYZE residencies; ANALYZE credentials; ANALYZE entry_events`); err != nil {
		return fmt.Errorf("seed: analyze: %w", err)
	}
	return nil
}
