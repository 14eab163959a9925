-- +goose Up
-- Erasure erases (issue 13): a deleted resident's credentials stay as revocations the
-- gates must keep learning until they expire (a snapshot lists revoked credentials from
-- this table), but no longer say whose they were. An owner-less credential must be
-- revoked: one that still opens a gate always has its resident or visitor pass.
ALTER TABLE credentials DROP CONSTRAINT credentials_check;
ALTER TABLE credentials ADD CONSTRAINT credentials_owner
    CHECK (resident_id IS NOT NULL OR visitor_pass_id IS NOT NULL OR revoked_at IS NOT NULL);

-- +goose Down
-- Erased credentials cannot get their owner back: the old check binds new rows only.
ALTER TABLE credentials DROP CONSTRAINT credentials_owner;
ALTER TABLE credentials ADD CONSTRAINT credentials_check
    CHECK (resident_id IS NOT NULL OR visitor_pass_id IS NOT NULL) NOT VALID;
