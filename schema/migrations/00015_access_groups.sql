-- +goose Up
-- Issue 16: who may enter where and when. Access groups name zones and, optionally, a
-- weekly schedule and a holiday calendar in the community's time zone; a building's
-- residents open the perimeter and the building's zones by default; staff widen or narrow
-- that per building, unit or resident (access_policies); people who are not residents
-- (staff, cleaners, couriers, contractors) are passholders bound to a group; lockdowns
-- shut gates; a gate past the community's offline limit follows its offline policy.
-- The foreign keys between these community tables are in 00016 (docs/scaling.md: a new
-- community table in one migration, its foreign keys to other community tables in the
-- next).

-- A community's settings: its time zone (schedules are local times there) and what its
-- gates do once they have not synced for longer than the offline limit.
ALTER TABLE communities ADD COLUMN time_zone text NOT NULL DEFAULT 'Asia/Shanghai';
ALTER TABLE communities ADD COLUMN offline_limit_seconds integer NOT NULL DEFAULT 129600;
ALTER TABLE communities ADD COLUMN offline_policy text NOT NULL DEFAULT 'accept_all_verifiable';
ALTER TABLE communities ADD CONSTRAINT communities_time_zone CHECK (length(time_zone) BETWEEN 1 AND 64);
ALTER TABLE communities ADD CONSTRAINT communities_offline_limit CHECK (offline_limit_seconds BETWEEN 60 AND 7776000);
ALTER TABLE communities ADD CONSTRAINT communities_offline_policy
    CHECK (offline_policy IN ('accept_all_verifiable', 'cards_and_device_passes_only', 'manual_release_only'));

-- A building's zones: what its residents open besides the perimeter, by default. Until
-- this migration every resident opened every zone; so that an upgrade locks nobody out,
-- each existing building gets every zone its community has. Staff then narrow them
-- (PUT /admin/v1/communities/{c}/buildings/{b}: docs/operations.md).
ALTER TABLE buildings ADD COLUMN zones bigint NOT NULL DEFAULT 0;
UPDATE buildings b SET zones = z.mask
FROM (SELECT community_id, bit_or(1::bigint << zone) AS mask FROM zones WHERE zone <> 0 GROUP BY community_id) z
WHERE z.community_id = b.community_id;

CREATE TABLE access_groups (
    community_id uuid NOT NULL REFERENCES communities (id),
    id           uuid NOT NULL,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    zones        bigint NOT NULL CHECK (zones <> 0),
    -- access.WeeklySchedule as JSON ({"mon": [{"start": "07:00", "end": "18:00"}], ...});
    -- NULL: at all times.
    schedule     jsonb,
    -- [{"date": "2026-10-01", "name": "...", "windows": [...]}]: no windows, closed.
    holidays     jsonb NOT NULL DEFAULT '[]',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (community_id, id),
    UNIQUE (community_id, name)
);

-- What staff set at one level: the groups it adds, and whether the level above still
-- counts (inherit) or is replaced. The target is a building, a unit or a resident.
CREATE TABLE access_policies (
    community_id uuid NOT NULL REFERENCES communities (id),
    level        text NOT NULL CHECK (level IN ('building', 'unit', 'resident')),
    target_id    uuid NOT NULL,
    group_ids    uuid[] NOT NULL DEFAULT '{}',
    inherit      boolean NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (community_id, level, target_id)
);

CREATE TABLE passholders (
    community_id uuid NOT NULL REFERENCES communities (id),
    id           uuid NOT NULL,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind         text NOT NULL CHECK (kind IN ('staff', 'cleaner', 'courier', 'contractor')),
    company      text NOT NULL DEFAULT '' CHECK (length(company) <= 200),
    group_id     uuid NOT NULL,
    valid_until  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    ended_at     timestamptz,
    PRIMARY KEY (community_id, id)
);
CREATE INDEX passholders_by_group ON passholders (community_id, group_id);

CREATE TABLE lockdowns (
    community_id uuid NOT NULL REFERENCES communities (id),
    id           uuid NOT NULL,
    scope        text NOT NULL CHECK (scope IN ('gate', 'zone', 'community')),
    zone         smallint,
    gate_id      uuid,
    reason       text NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
    started_by   uuid,
    started_at   timestamptz NOT NULL DEFAULT now(),
    -- The automatic end, if staff gave one.
    ends_at      timestamptz,
    -- When it was lifted or ended by itself; lifted_by is NULL when it ended by itself.
    ended_at     timestamptz,
    lifted_by    uuid,
    PRIMARY KEY (community_id, id),
    CHECK ((scope = 'zone') = (zone IS NOT NULL)),
    CHECK ((scope = 'gate') = (gate_id IS NOT NULL)),
    CHECK (ends_at IS NULL OR ends_at > started_at)
);
CREATE INDEX lockdowns_in_force ON lockdowns (community_id, started_at) WHERE ended_at IS NULL;

-- A passholder's card is a credential of theirs.
ALTER TABLE credentials ADD COLUMN passholder_id uuid;

-- An event decided past the offline limit says so, whatever the policy made of it.
ALTER TABLE entry_events ADD COLUMN offline_limit boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE entry_events DROP COLUMN offline_limit;
ALTER TABLE credentials DROP COLUMN passholder_id;
DROP TABLE lockdowns, passholders, access_policies, access_groups;
ALTER TABLE buildings DROP COLUMN zones;
ALTER TABLE communities DROP CONSTRAINT communities_offline_policy;
ALTER TABLE communities DROP CONSTRAINT communities_offline_limit;
ALTER TABLE communities DROP CONSTRAINT communities_time_zone;
ALTER TABLE communities DROP COLUMN offline_policy;
ALTER TABLE communities DROP COLUMN offline_limit_seconds;
ALTER TABLE communities DROP COLUMN time_zone;
