-- +goose Up
-- Gate API and gate admin (issue 5).

-- Admin paths that name only a gate (/admin/v1/gates/{id}/unlock) find its community.
CREATE INDEX gates_by_id ON gates (id);

-- Cross-gate anomalies: the same presentation (replay key) granted at two gates. Card
-- keys are static and excluded by the query, not by the index.
CREATE INDEX entry_events_granted_replay ON entry_events (community_id, replay_key, occurred_at)
    WHERE result = 'granted' AND replay_key IS NOT NULL;

-- Staff filter the entry log by gate.
CREATE INDEX entry_events_by_gate ON entry_events (community_id, gate_id, occurred_at DESC);

-- A face entry names the matched resident (there is no credential): the server moves
-- that resident's retention clock and staff can filter the log by person.
ALTER TABLE entry_events ADD COLUMN resident_id uuid;

-- +goose Down
ALTER TABLE entry_events DROP COLUMN resident_id;
DROP INDEX entry_events_by_gate;
DROP INDEX entry_events_granted_replay;
DROP INDEX gates_by_id;
