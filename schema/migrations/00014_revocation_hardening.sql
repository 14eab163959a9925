-- +goose Up
-- Issue 11, server side.
-- A gate's heartbeat says whether its clock is past its alarm limit; staff see it in the
-- gate list beside clock_offset_ms. NULL until the gate's first heartbeat says.
ALTER TABLE gates ADD COLUMN clock_alarm boolean;

-- A compromised key is never trusted again, not even for what it signed before: it
-- leaves every gate's key set at the next sync. A compromised key is retired too (its
-- retirement and publication end at the compromise, or earlier).
ALTER TABLE signing_keys ADD COLUMN compromised_at timestamptz;
ALTER TABLE signing_keys ADD CONSTRAINT signing_keys_compromised_retired
    CHECK (compromised_at IS NULL OR retired_at IS NOT NULL);

-- Which key signed a card or a device certificate, recorded at issue, so that a key's
-- compromise revokes exactly what it signed. NULL for QR and visitor credentials (their
-- codes are minted again every minute with the active key) and for cards and devices
-- issued before this migration (a compromise finds those by when they were issued).
ALTER TABLE credentials ADD COLUMN kid bigint CHECK (kid BETWEEN 1 AND 4294967295);
CREATE INDEX credentials_by_kid ON credentials (community_id, kid) WHERE kid IS NOT NULL AND revoked_at IS NULL;

-- A gate summarises a flood of denied reads from one input in one flood_suppressed
-- event with the count of reads it decided without recording each.
ALTER TABLE entry_events ADD COLUMN dropped integer CHECK (dropped BETWEEN 1 AND 1000000000);

-- +goose Down
ALTER TABLE entry_events DROP COLUMN dropped;
DROP INDEX credentials_by_kid;
ALTER TABLE credentials DROP COLUMN kid;
ALTER TABLE signing_keys DROP CONSTRAINT signing_keys_compromised_retired;
ALTER TABLE signing_keys DROP COLUMN compromised_at;
ALTER TABLE gates DROP COLUMN clock_alarm;
