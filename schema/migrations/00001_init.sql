-- +goose Up
-- Every table that belongs to a community carries community_id, and its primary key and
-- unique constraints include it, so the schema can be distributed by community on Citus
-- (see docs/scaling.md). Global tables (communities, staff, staff_tokens) are small and
-- would be reference tables there.

CREATE TABLE communities (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE buildings (
    community_id uuid NOT NULL REFERENCES communities (id),
    id           uuid NOT NULL,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (community_id, id),
    UNIQUE (community_id, name)
);

CREATE TABLE units (
    community_id uuid NOT NULL,
    id           uuid NOT NULL,
    building_id  uuid NOT NULL,
    label        text NOT NULL CHECK (length(label) BETWEEN 1 AND 100),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (community_id, id),
    UNIQUE (community_id, building_id, label),
    FOREIGN KEY (community_id, building_id) REFERENCES buildings (community_id, id)
);

-- Zones are bits of a credential's 64-bit zone mask; zone 0 is the perimeter.
CREATE TABLE zones (
    community_id  uuid NOT NULL REFERENCES communities (id),
    zone          smallint NOT NULL CHECK (zone BETWEEN 0 AND 63),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    anti_passback boolean NOT NULL DEFAULT false,
    PRIMARY KEY (community_id, zone)
);

CREATE TABLE residents (
    community_id uuid NOT NULL REFERENCES communities (id),
    id           uuid NOT NULL,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    phone        text CHECK (length(phone) <= 40),
    -- Minors need a guardian's consent for face entry (PIPL art. 31).
    under_14     boolean NOT NULL DEFAULT false,
    status       text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'moved_out', 'deleted')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    ended_at     timestamptz,
    PRIMARY KEY (community_id, id),
    CHECK ((status = 'active') = (ended_at IS NULL))
);
-- Keyset pagination and search of a community's residents by name.
CREATE INDEX residents_by_name ON residents (community_id, name, id);
-- Resident-scoped admin paths (cards) name only the resident id.
CREATE INDEX residents_by_id ON residents (id);

CREATE TABLE residencies (
    community_id uuid NOT NULL,
    id           uuid NOT NULL,
    resident_id  uuid NOT NULL,
    unit_id      uuid NOT NULL,
    role         text NOT NULL CHECK (role IN ('owner', 'tenant', 'family')),
    valid_from   timestamptz NOT NULL DEFAULT now(),
    valid_to     timestamptz,
    PRIMARY KEY (community_id, id),
    FOREIGN KEY (community_id, resident_id) REFERENCES residents (community_id, id),
    FOREIGN KEY (community_id, unit_id) REFERENCES units (community_id, id),
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
CREATE INDEX residencies_by_resident ON residencies (community_id, resident_id);
CREATE INDEX residencies_by_unit ON residencies (community_id, unit_id) WHERE valid_to IS NULL;

-- Invite codes are secrets: only their SHA-256 is stored.
CREATE TABLE invites (
    community_id uuid NOT NULL,
    id           uuid NOT NULL,
    resident_id  uuid NOT NULL,
    code_hash    bytea NOT NULL CHECK (length(code_hash) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    PRIMARY KEY (community_id, id),
    UNIQUE (community_id, code_hash),
    FOREIGN KEY (community_id, resident_id) REFERENCES residents (community_id, id)
);

-- Staff with no community are operators of the deployment.
CREATE TABLE staff (
    id           uuid PRIMARY KEY,
    community_id uuid REFERENCES communities (id),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    role         text NOT NULL CHECK (role IN ('admin', 'guard', 'auditor')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    disabled_at  timestamptz
);
CREATE INDEX staff_by_community ON staff (community_id);

CREATE TABLE staff_tokens (
    token_hash  bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    staff_id    uuid NOT NULL REFERENCES staff (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE passkeys (
    community_id    uuid NOT NULL,
    id              uuid NOT NULL,
    resident_id     uuid NOT NULL,
    credential_id   bytea NOT NULL CHECK (length(credential_id) BETWEEN 16 AND 1023),
    public_key      bytea NOT NULL,
    attestation_type text NOT NULL DEFAULT '',
    aaguid          bytea,
    sign_count      bigint NOT NULL DEFAULT 0 CHECK (sign_count >= 0),
    transports      text[] NOT NULL DEFAULT '{}',
    backup_eligible boolean NOT NULL DEFAULT false,
    backup_state    boolean NOT NULL DEFAULT false,
    user_verified   boolean NOT NULL DEFAULT false,
    name            text NOT NULL DEFAULT '' CHECK (length(name) <= 100),
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz,
    PRIMARY KEY (community_id, id),
    UNIQUE (community_id, credential_id),
    FOREIGN KEY (community_id, resident_id) REFERENCES residents (community_id, id)
);

CREATE TABLE sessions (
    community_id      uuid NOT NULL,
    token_hash        bytea NOT NULL CHECK (length(token_hash) = 32),
    resident_id       uuid NOT NULL,
    passkey_id        uuid NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    last_seen_at      timestamptz NOT NULL DEFAULT now(),
    -- The last user-verified passkey assertion, for step-up checks.
    verified_at       timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz NOT NULL,
    revoked_at        timestamptz,
    PRIMARY KEY (community_id, token_hash),
    FOREIGN KEY (community_id, resident_id) REFERENCES residents (community_id, id)
);
CREATE INDEX sessions_by_resident ON sessions (community_id, resident_id) WHERE revoked_at IS NULL;

-- Key ids are unique in the deployment (a gate looks a key up by kid alone); a sequence
-- keeps them unique without a global unique index.
CREATE SEQUENCE signing_key_kid_seq AS bigint MINVALUE 1 MAXVALUE 4294967295;
CREATE TABLE signing_keys (
    community_id    uuid NOT NULL REFERENCES communities (id),
    kid             bigint NOT NULL DEFAULT nextval('signing_key_kid_seq') CHECK (kid BETWEEN 1 AND 4294967295),
    public_key      bytea NOT NULL CHECK (length(public_key) = 32),
    -- Ed25519 seed sealed with AES-256-GCM under the master key; never in clear.
    private_key_enc bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    retired_at      timestamptz,
    -- Until when gates must keep trusting a retired key (its last token's expiry).
    publish_until   timestamptz,
    PRIMARY KEY (community_id, kid),
    CHECK ((retired_at IS NULL) = (publish_until IS NULL))
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (community_id) WHERE retired_at IS NULL;

CREATE TABLE visitor_passes (
    community_id     uuid NOT NULL,
    id               uuid NOT NULL,
    host_resident_id uuid NOT NULL,
    label            text NOT NULL CHECK (length(label) BETWEEN 1 AND 100),
    token_hash       bytea NOT NULL CHECK (length(token_hash) = 32),
    zones            bigint NOT NULL,
    valid_from       timestamptz NOT NULL,
    valid_until      timestamptz NOT NULL,
    max_entries      integer NOT NULL CHECK (max_entries BETWEEN 1 AND 100),
    entries_used     integer NOT NULL DEFAULT 0 CHECK (entries_used >= 0),
    created_at       timestamptz NOT NULL DEFAULT now(),
    revoked_at       timestamptz,
    PRIMARY KEY (community_id, id),
    UNIQUE (community_id, token_hash),
    FOREIGN KEY (community_id, host_resident_id) REFERENCES residents (community_id, id),
    CHECK (valid_until > valid_from AND valid_until <= valid_from + interval '7 days')
);

-- A credential is what a gate revokes by id: a resident's QR identity, a device
-- certificate, a printed card or a visitor pass.
CREATE TABLE credentials (
    community_id     uuid NOT NULL,
    id               uuid NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('qr', 'device', 'card', 'visitor')),
    subject          text NOT NULL CHECK (subject IN ('resident', 'visitor', 'staff')),
    resident_id      uuid,
    visitor_pass_id  uuid,
    passkey_id       uuid,
    zones            bigint NOT NULL,
    device_public_key bytea,
    label            text NOT NULL DEFAULT '' CHECK (length(label) <= 100),
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz,
    revoked_at       timestamptz,
    revoke_reason    text,
    PRIMARY KEY (community_id, id),
    FOREIGN KEY (community_id, resident_id) REFERENCES residents (community_id, id),
    FOREIGN KEY (community_id, visitor_pass_id) REFERENCES visitor_passes (community_id, id),
    CHECK (resident_id IS NOT NULL OR visitor_pass_id IS NOT NULL),
    CHECK ((revoked_at IS NULL) = (revoke_reason IS NULL))
);
CREATE INDEX credentials_by_resident ON credentials (community_id, resident_id) WHERE revoked_at IS NULL;

CREATE TABLE gates (
    community_id           uuid NOT NULL REFERENCES communities (id),
    id                     uuid NOT NULL,
    name                   text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    zone                   smallint NOT NULL,
    direction              text NOT NULL CHECK (direction IN ('in', 'out', 'both')),
    enrollment_code_hash   bytea CHECK (length(enrollment_code_hash) = 32),
    enrollment_expires_at  timestamptz,
    token_hash             bytea CHECK (length(token_hash) = 32),
    -- X25519 public key made by the gate at enrollment; face templates are sealed to it.
    box_public_key         bytea CHECK (length(box_public_key) = 32),
    settings               jsonb NOT NULL DEFAULT '{}',
    created_at             timestamptz NOT NULL DEFAULT now(),
    enrolled_at            timestamptz,
    disabled_at            timestamptz,
    last_seen_at           timestamptz,
    agent_version          text,
    queue_depth            integer,
    clock_offset_ms        bigint,
    PRIMARY KEY (community_id, id),
    UNIQUE (community_id, name),
    UNIQUE (community_id, enrollment_code_hash),
    UNIQUE (community_id, token_hash),
    FOREIGN KEY (community_id, zone) REFERENCES zones (community_id, zone)
);

-- Commands for one gate (manual release, purge), delivered through sync.
CREATE TABLE gate_commands (
    community_id uuid NOT NULL,
    id           uuid NOT NULL,
    gate_id      uuid NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('unlock', 'purge_template')),
    payload      jsonb NOT NULL DEFAULT '{}',
    created_by   uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    acked_at     timestamptz,
    result       text,
    PRIMARY KEY (community_id, id),
    FOREIGN KEY (community_id, gate_id) REFERENCES gates (community_id, id)
);
CREATE INDEX gate_commands_pending ON gate_commands (community_id, gate_id) WHERE acked_at IS NULL;

-- Entry events are facts reported by gates; the id is made on the gate, so a re-sent
-- batch is stored once. Partitioned by month on the time of the entry.
CREATE TABLE entry_events (
    community_id  uuid NOT NULL,
    id            uuid NOT NULL,
    occurred_at   timestamptz NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    gate_id       uuid NOT NULL,
    credential_id uuid,
    subject       text CHECK (subject IN ('resident', 'visitor', 'staff')),
    method        text NOT NULL CHECK (method IN ('qr', 'face', 'manual')),
    result        text NOT NULL CHECK (result IN ('granted', 'denied')),
    reason        text NOT NULL CHECK (length(reason) <= 64),
    offline       boolean NOT NULL DEFAULT false,
    stale         boolean NOT NULL DEFAULT false,
    staff_id      uuid,
    score         real,
    replay_key    bytea,
    PRIMARY KEY (community_id, id, occurred_at)
) PARTITION BY RANGE (occurred_at);
-- Events whose time falls outside every monthly partition (a gate clock far off) are
-- still kept; ensure_entry_partitions moves them when their month is created.
CREATE TABLE entry_events_default PARTITION OF entry_events DEFAULT;
CREATE INDEX entry_events_by_time ON entry_events (community_id, occurred_at DESC, id);
CREATE INDEX entry_events_by_credential ON entry_events (community_id, credential_id, occurred_at DESC);

-- +goose StatementBegin
CREATE FUNCTION ensure_entry_partitions(from_month date, months integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    m       date := date_trunc('month', from_month)::date;
    created integer := 0;
    part    text;
BEGIN
    FOR i IN 0 .. months - 1 LOOP
        part := format('entry_events_%s', to_char(m, 'YYYY_MM'));
        IF to_regclass(part) IS NULL THEN
            -- Rows of this month that landed in the default partition must move first,
            -- or attaching the new partition would fail.
            EXECUTE format('CREATE TABLE %I (LIKE entry_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
            EXECUTE format('WITH moved AS (DELETE FROM entry_events_default WHERE occurred_at >= %L AND occurred_at < %L RETURNING *) INSERT INTO %I SELECT * FROM moved',
                           m, (m + interval '1 month')::date, part);
            EXECUTE format('ALTER TABLE entry_events ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                           part, m, (m + interval '1 month')::date);
            created := created + 1;
        END IF;
        m := (m + interval '1 month')::date;
    END LOOP;
    RETURN created;
END;
$$;
-- +goose StatementEnd

SELECT ensure_entry_partitions((now() - interval '1 month')::date, 4);

CREATE TABLE consents (
    community_id   uuid NOT NULL,
    id             uuid NOT NULL,
    resident_id    uuid NOT NULL,
    -- The resident who consented: the subject, or a guardian for a minor.
    given_by       uuid NOT NULL,
    purpose        text NOT NULL CHECK (purpose IN ('face_entry')),
    scope          text NOT NULL CHECK (scope IN ('one_gate', 'community')),
    notice_version text NOT NULL,
    notice_hash    bytea NOT NULL CHECK (length(notice_hash) = 32),
    channel        text NOT NULL CHECK (length(channel) BETWEEN 1 AND 40),
    granted_at     timestamptz NOT NULL DEFAULT now(),
    withdrawn_at   timestamptz,
    PRIMARY KEY (community_id, id),
    FOREIGN KEY (community_id, resident_id) REFERENCES residents (community_id, id)
);
CREATE UNIQUE INDEX consents_one_live ON consents (community_id, resident_id, purpose) WHERE withdrawn_at IS NULL;

-- Face templates sealed to one gate's box key: the server cannot read them.
CREATE TABLE face_templates (
    community_id uuid NOT NULL,
    id           uuid NOT NULL,
    resident_id  uuid NOT NULL,
    consent_id   uuid NOT NULL,
    gate_id      uuid NOT NULL,
    model        text NOT NULL CHECK (length(model) BETWEEN 1 AND 64),
    sealed       bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (community_id, id),
    UNIQUE (community_id, resident_id, gate_id, model),
    FOREIGN KEY (community_id, resident_id) REFERENCES residents (community_id, id),
    FOREIGN KEY (community_id, consent_id) REFERENCES consents (community_id, id),
    FOREIGN KEY (community_id, gate_id) REFERENCES gates (community_id, id)
);

-- Append-only, hash-chained per community. Deployment-wide actions (an operator made
-- by the command line) use the nil community.
CREATE TABLE audit_log (
    community_id uuid NOT NULL,
    seq          bigserial NOT NULL,
    at           timestamptz NOT NULL,
    actor        text NOT NULL,
    action       text NOT NULL,
    target       text NOT NULL,
    -- json, not jsonb: the hash covers the exact text.
    summary      json NOT NULL,
    prev_hash    bytea NOT NULL CHECK (length(prev_hash) = 32),
    hash         bytea NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (community_id, seq)
);

-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

-- What gates sync: the sequence is the cursor. Writers take a per-community advisory
-- lock, so within a community sequence order is commit order and a gate never skips
-- a change that committed late.
CREATE TABLE change_log (
    community_id uuid NOT NULL,
    seq          bigserial NOT NULL,
    kind         text NOT NULL,
    gate_id      uuid,
    entity_id    uuid NOT NULL,
    data         jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (community_id, seq)
);

-- +goose Down
DROP TABLE change_log, audit_log, face_templates, consents, entry_events, gate_commands, gates,
    credentials, visitor_passes, signing_keys, sessions, passkeys, staff_tokens, staff, invites,
    residencies, residents, zones, units, buildings, communities CASCADE;
DROP SEQUENCE signing_key_kid_seq;
DROP FUNCTION ensure_entry_partitions(date, integer);
DROP FUNCTION audit_log_append_only();
