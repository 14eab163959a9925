-- +goose Up
-- mobile-api: WebAuthn ceremony state and the step-up record of sessions.

-- One row per WebAuthn ceremony in progress (registration, sign-in, step-up), so that a
-- challenge lives server-side, expires in 5 minutes and is used once (the finish step
-- deletes the row it reads).
--
-- Keyed by community like every other table: the ceremony id handed to the client is
-- community id || 32 random bytes (as secret tokens are), so the finish step finds the row
-- by (community_id, hash). A discoverable sign-in begins before anyone knows who is
-- signing in, so there is no community yet: those rows use the nil community. On Citus
-- they all land on one shard, which is fine for rows that are tiny and live for minutes.
CREATE TABLE webauthn_ceremonies (
    community_id uuid NOT NULL,
    -- SHA-256 of the ceremony id: a leaked row does not let anyone finish the ceremony.
    id_hash      bytea NOT NULL CHECK (length(id_hash) = 32),
    purpose      text NOT NULL CHECK (purpose IN ('register', 'signin', 'add_passkey', 'step_up')),
    resident_id  uuid,
    invite_id    uuid,
    -- webauthn.SessionData as JSON, exactly as Begin* returned it.
    session      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (community_id, id_hash),
    CHECK ((purpose = 'signin') = (community_id = '00000000-0000-0000-0000-000000000000')),
    CHECK ((purpose = 'signin') = (resident_id IS NULL)),
    CHECK ((purpose = 'register') = (invite_id IS NOT NULL))
);
CREATE INDEX webauthn_ceremonies_expiry ON webauthn_ceremonies (expires_at);

-- Which passkey made the session's last user-verified assertion: a device certificate
-- records the passkey that authorised it, which need not be the one that signed in.
ALTER TABLE sessions ADD COLUMN verified_passkey_id uuid;

-- Visitor pass lists, newest first, per host and per community.
CREATE INDEX visitor_passes_by_host ON visitor_passes (community_id, host_resident_id, created_at DESC);
CREATE INDEX visitor_passes_by_time ON visitor_passes (community_id, created_at DESC, id);
-- A resident's passkeys and credentials of one kind.
CREATE INDEX passkeys_by_resident ON passkeys (community_id, resident_id);
CREATE INDEX credentials_by_resident_kind ON credentials (community_id, resident_id, kind, created_at DESC);
-- One live QR identity per resident: two phones asking for their first pass at once
-- must not make two.
CREATE UNIQUE INDEX credentials_one_live_qr ON credentials (community_id, resident_id)
    WHERE kind = 'qr' AND revoked_at IS NULL;
-- Device certificates a passkey authorised, revoked with it.
CREATE INDEX credentials_by_passkey ON credentials (community_id, passkey_id) WHERE passkey_id IS NOT NULL;

-- +goose Down
DROP INDEX credentials_by_passkey;
DROP INDEX credentials_one_live_qr;
DROP INDEX credentials_by_resident_kind;
DROP INDEX passkeys_by_resident;
DROP INDEX visitor_passes_by_time;
DROP INDEX visitor_passes_by_host;
ALTER TABLE sessions DROP COLUMN verified_passkey_id;
DROP TABLE webauthn_ceremonies;
