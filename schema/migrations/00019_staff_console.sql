-- +goose Up
-- The staff console (issue 17): staff sign in with passkeys, not with a bearer token
-- pasted into a browser. An admin (or `server staff invite`) makes a one-time invite
-- link; the member registers a passkey with it; a passkey assertion opens a console
-- session held in an HttpOnly cookie. Staff are deployment-wide rows (operators have no
-- community), so these tables key on the member, not on a community, and are reference
-- tables on Citus like staff and staff_tokens.

-- One-time links that let a member register a passkey. Only the SHA-256 of the code
-- is stored; 72 hours to use it.
CREATE TABLE staff_invites (
    id          uuid PRIMARY KEY,
    staff_id    uuid NOT NULL REFERENCES staff (id),
    code_hash   bytea NOT NULL UNIQUE CHECK (length(code_hash) = 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    CHECK (expires_at > created_at)
);
CREATE INDEX staff_invites_by_staff ON staff_invites (staff_id);

CREATE TABLE staff_passkeys (
    id               uuid PRIMARY KEY,
    staff_id         uuid NOT NULL REFERENCES staff (id),
    credential_id    bytea NOT NULL UNIQUE CHECK (length(credential_id) BETWEEN 16 AND 1023),
    public_key       bytea NOT NULL,
    attestation_type text NOT NULL DEFAULT '',
    aaguid           bytea,
    sign_count       bigint NOT NULL DEFAULT 0 CHECK (sign_count >= 0),
    transports       text[] NOT NULL DEFAULT '{}',
    backup_eligible  boolean NOT NULL DEFAULT false,
    backup_state     boolean NOT NULL DEFAULT false,
    name             text NOT NULL DEFAULT '' CHECK (length(name) <= 100),
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_used_at     timestamptz
);
CREATE INDEX staff_passkeys_by_staff ON staff_passkeys (staff_id);

-- A console session: the cookie's secret and the CSRF token are stored hashed.
-- selected_community is the community an operator is working in (NULL: none chosen);
-- it is a view setting, not a permission: authorization is the member's role and scope.
CREATE TABLE staff_sessions (
    id                 uuid PRIMARY KEY,
    token_hash         bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    csrf_hash          bytea NOT NULL CHECK (length(csrf_hash) = 32),
    staff_id           uuid NOT NULL REFERENCES staff (id),
    passkey_id         uuid NOT NULL REFERENCES staff_passkeys (id),
    selected_community uuid,
    created_at         timestamptz NOT NULL DEFAULT now(),
    last_seen_at       timestamptz NOT NULL DEFAULT now(),
    expires_at         timestamptz NOT NULL,
    revoked_at         timestamptz
);
CREATE INDEX staff_sessions_by_staff ON staff_sessions (staff_id) WHERE revoked_at IS NULL;

-- WebAuthn ceremonies of the console (the residents' table is keyed by community).
CREATE TABLE staff_ceremonies (
    id_hash     bytea PRIMARY KEY CHECK (length(id_hash) = 32),
    purpose     text NOT NULL CHECK (purpose IN ('register', 'signin')),
    invite_id   uuid,
    staff_id    uuid,
    session     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    CHECK ((purpose = 'register') = (invite_id IS NOT NULL AND staff_id IS NOT NULL))
);
CREATE INDEX staff_ceremonies_expiry ON staff_ceremonies (expires_at);

-- +goose Down
DROP TABLE staff_ceremonies;
DROP TABLE staff_sessions;
DROP TABLE staff_passkeys;
DROP TABLE staff_invites;
