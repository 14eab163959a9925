-- +goose Up
-- The console's entry log filters (issue 17) page by (occurred_at, id) newest first
-- within a community; each filter that is an equality gets an index that starts with it
-- and continues in the page order, so a page of a rare filter (denied entries, manual
-- releases, one reason) reads its own rows and not the community's whole log. Gate and
-- credential filters have theirs already (entry_events_by_gate, entry_events_by_credential);
-- a resident's face entries are found by resident_id.
CREATE INDEX entry_events_by_result ON entry_events (community_id, result, reason, occurred_at DESC, id DESC);
CREATE INDEX entry_events_by_method ON entry_events (community_id, method, occurred_at DESC, id DESC);
CREATE INDEX entry_events_by_resident ON entry_events (community_id, resident_id, occurred_at DESC) WHERE resident_id IS NOT NULL;
-- The filter by unit finds everyone who lived there, moved out or not (residencies_by_unit
-- holds only current residencies).
CREATE INDEX residencies_by_unit_ever ON residencies (community_id, unit_id);

-- +goose Down
DROP INDEX residencies_by_unit_ever;
DROP INDEX entry_events_by_resident;
DROP INDEX entry_events_by_method;
DROP INDEX entry_events_by_result;
