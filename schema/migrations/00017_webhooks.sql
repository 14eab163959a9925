-- +goose Up
-- Issue 16 item 4: signed webhooks. Every table keys on community_id, so it is
-- distributed by community on Citus and co-located with what it reports; foreign keys
-- between these tables come in the next migration (docs/scaling.md's split rule).

-- An HTTPS endpoint staff registered for some event types. The signing secret is sealed
-- under the master key (AES-256-GCM, bound to the community and endpoint): shown once
-- when made or rotated, never again. During a rotation's overlap the previous secret
-- signs too, until previous_secret_expires_at.
CREATE TABLE webhook_endpoints (
    community_id               uuid NOT NULL REFERENCES communities (id),
    id                         uuid NOT NULL,
    url                        text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    description                text NOT NULL DEFAULT '' CHECK (length(description) <= 200),
    events                     text[] NOT NULL CHECK (cardinality(events) >= 1),
    secret_sealed              bytea NOT NULL,
    previous_secret_sealed     bytea,
    previous_secret_expires_at timestamptz,
    secret_rotated_at          timestamptz,
    state                      text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'paused')),
    paused_at                  timestamptz,
    paused_reason              text,
    -- The start of the current run of failed attempts; a run of a day pauses the endpoint.
    failing_since              timestamptz,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (community_id, id),
    CHECK ((previous_secret_sealed IS NULL) = (previous_secret_expires_at IS NULL))
);

-- The outbox: one row per event and endpoint, written in the transaction of what it
-- reports, so a committed change is never without its delivery and a rolled-back one
-- never has one. The body is made from these columns at each attempt.
CREATE TABLE webhook_deliveries (
    community_id    uuid NOT NULL REFERENCES communities (id),
    endpoint_id     uuid NOT NULL,
    event_id        uuid NOT NULL,
    event_type      text NOT NULL CHECK (length(event_type) <= 64),
    data            jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    -- A sender that claimed the row holds it until then; a sender killed mid-delivery
    -- lets it go by itself, and the row is sent again (at least once).
    lease_until     timestamptz,
    last_status     integer,
    last_error      text,
    delivered_at    timestamptz,
    PRIMARY KEY (community_id, endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (community_id, next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_done ON webhook_deliveries (created_at) WHERE state <> 'pending';

-- The delivery log: one row per attempt.
CREATE TABLE webhook_attempts (
    community_id uuid NOT NULL REFERENCES communities (id),
    endpoint_id  uuid NOT NULL,
    event_id     uuid NOT NULL,
    attempt      integer NOT NULL CHECK (attempt >= 1),
    event_type   text NOT NULL,
    at           timestamptz NOT NULL,
    status_code  integer,
    latency_ms   integer NOT NULL CHECK (latency_ms >= 0),
    error        text CHECK (length(error) <= 500),
    PRIMARY KEY (community_id, endpoint_id, event_id, attempt)
);
CREATE INDEX webhook_attempts_by_time ON webhook_attempts (community_id, endpoint_id, at DESC);

-- What the server last said about each gate's liveness (gate.offline / gate.online), so
-- that each change is reported once, whichever server copy notices it.
CREATE TABLE gate_liveness (
    community_id uuid NOT NULL REFERENCES communities (id),
    gate_id      uuid NOT NULL,
    offline      boolean NOT NULL,
    changed_at   timestamptz NOT NULL,
    PRIMARY KEY (community_id, gate_id)
);

-- +goose Down
DROP TABLE gate_liveness;
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
