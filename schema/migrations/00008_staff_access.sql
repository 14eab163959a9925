-- +goose Up
-- Staff access can be taken away (issue 13). Every staff token gets an id, so that it
-- can be listed and revoked without its secret; a kind and a label, so that its holder
-- can tell a console login from an integration; an expiry, so that no token works for
-- ever; and when it was last used (written at most once a minute: see store/staff.go).
ALTER TABLE staff_tokens
    ADD COLUMN id           uuid,
    ADD COLUMN kind         text NOT NULL DEFAULT 'console' CHECK (kind IN ('console', 'integration')),
    ADD COLUMN label        text NOT NULL DEFAULT '' CHECK (length(label) <= 100),
    ADD COLUMN expires_at   timestamptz,
    ADD COLUMN last_used_at timestamptz;

-- Tokens made before this migration had no expiry. They get 90 days (the default
-- lifetime) from now, not from when they were made: counted from created_at, every
-- token older than 90 days would stop the moment the server upgrades, locking out the
-- admins and integrations of every deployment that has run for a quarter, with no
-- warning. From now, their holders have a full lifetime to rotate.
UPDATE staff_tokens SET id = gen_random_uuid(), expires_at = now() + interval '90 days';

ALTER TABLE staff_tokens
    ALTER COLUMN id SET NOT NULL,
    ALTER COLUMN expires_at SET NOT NULL,
    ADD CONSTRAINT staff_tokens_id_key UNIQUE (id),
    ADD CONSTRAINT staff_tokens_expire CHECK (expires_at > created_at);
-- The longest lifetime (a year, for integrations) is the program's rule, not a CHECK:
-- the tokens migrated above would break any bound counted from created_at.

-- A member's tokens, for listing and for revoking them all.
CREATE INDEX staff_tokens_by_staff ON staff_tokens (staff_id);

-- +goose Down
DROP INDEX staff_tokens_by_staff;
ALTER TABLE staff_tokens
    DROP COLUMN id,
    DROP COLUMN kind,
    DROP COLUMN label,
    DROP COLUMN expires_at,
    DROP COLUMN last_used_at;
