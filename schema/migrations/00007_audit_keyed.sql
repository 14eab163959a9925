-- +goose Up
-- The audit chain becomes keyed (HMAC under a key derived from the master key, which is
-- not in the database) and gets a signed head per community, kept apart from the rows
-- and rewritten with each one, so that deleting the newest rows or emptying the table
-- shows. Rows written before this migration keep their unkeyed hashes (version 1).
ALTER TABLE audit_log ADD COLUMN version smallint NOT NULL DEFAULT 1 CHECK (version IN (1, 2));
ALTER TABLE audit_log ALTER COLUMN version SET DEFAULT 2;

CREATE TABLE audit_heads (
    community_id uuid PRIMARY KEY,
    seq          bigint NOT NULL,
    hash         bytea NOT NULL CHECK (length(hash) = 32),
    mac          bytea NOT NULL CHECK (length(mac) = 32)
);

-- Row triggers do not fire on TRUNCATE: one statement emptied the table unseen.
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
-- A head only moves forward (the program upserts it); it is never deleted.
-- +goose StatementBegin
CREATE FUNCTION audit_heads_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' OR NEW.seq <= OLD.seq OR NEW.community_id <> OLD.community_id THEN
        RAISE EXCEPTION 'audit_heads only moves forward';
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_heads_forward BEFORE UPDATE OR DELETE ON audit_heads
    FOR EACH ROW EXECUTE FUNCTION audit_heads_forward();
CREATE TRIGGER audit_heads_no_truncate BEFORE TRUNCATE ON audit_heads
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- +goose Down
DROP TABLE audit_heads;
DROP FUNCTION audit_heads_forward();
DROP TRIGGER audit_log_no_truncate ON audit_log;
ALTER TABLE audit_log DROP COLUMN version;
