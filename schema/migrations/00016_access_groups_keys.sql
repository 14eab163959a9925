-- +goose Up
-- Issue 16: the foreign keys of 00015's tables to other community tables (a migration
-- of their own: docs/scaling.md), and credentials of passholders.
ALTER TABLE passholders ADD CONSTRAINT passholders_group
    FOREIGN KEY (community_id, group_id) REFERENCES access_groups (community_id, id);
ALTER TABLE credentials ADD CONSTRAINT credentials_passholder
    FOREIGN KEY (community_id, passholder_id) REFERENCES passholders (community_id, id);
ALTER TABLE lockdowns ADD CONSTRAINT lockdowns_gate
    FOREIGN KEY (community_id, gate_id) REFERENCES gates (community_id, id);
ALTER TABLE lockdowns ADD CONSTRAINT lockdowns_zone
    FOREIGN KEY (community_id, zone) REFERENCES zones (community_id, zone);
-- A credential that opens anything has an owner: a resident, a visitor pass or (now) a
-- passholder (00010 explains the revoked ones without).
ALTER TABLE credentials DROP CONSTRAINT credentials_owner;
ALTER TABLE credentials ADD CONSTRAINT credentials_owner
    CHECK (resident_id IS NOT NULL OR visitor_pass_id IS NOT NULL OR passholder_id IS NOT NULL OR revoked_at IS NOT NULL);
CREATE INDEX credentials_by_passholder ON credentials (community_id, passholder_id) WHERE passholder_id IS NOT NULL;

-- +goose Down
DROP INDEX credentials_by_passholder;
ALTER TABLE credentials DROP CONSTRAINT credentials_owner;
ALTER TABLE credentials ADD CONSTRAINT credentials_owner
    CHECK (resident_id IS NOT NULL OR visitor_pass_id IS NOT NULL OR revoked_at IS NOT NULL) NOT VALID;
ALTER TABLE lockdowns DROP CONSTRAINT lockdowns_zone;
ALTER TABLE lockdowns DROP CONSTRAINT lockdowns_gate;
ALTER TABLE credentials DROP CONSTRAINT credentials_passholder;
ALTER TABLE passholders DROP CONSTRAINT passholders_group;
