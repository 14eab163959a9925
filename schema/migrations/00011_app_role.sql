-- +goose Up
-- The programs can run as a database role that is not the owner (docs/operations.md,
-- "Database roles"): it may not rewrite the audit log, and the two things it does to the
-- schema at run time, making and dropping the entry log's monthly partitions, go through
-- these owner's functions instead of needing ownership of entry_events.
ALTER FUNCTION ensure_entry_partitions(date, integer) SECURITY DEFINER SET search_path = public, pg_temp;

-- +goose StatementBegin
CREATE FUNCTION drop_entry_partition(part text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF part !~ '^entry_events_[0-9]{4}_[0-9]{2}$' OR NOT EXISTS (
        SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'entry_events'::regclass AND c.relname = part) THEN
        RAISE EXCEPTION 'not a monthly partition of entry_events: %', part;
    END IF;
    EXECUTE format('DROP TABLE %I', part);
END;
$$;
-- +goose StatementEnd
REVOKE EXECUTE ON FUNCTION ensure_entry_partitions(date, integer), drop_entry_partition(text) FROM PUBLIC;

-- +goose Down
DROP FUNCTION drop_entry_partition(text);
ALTER FUNCTION ensure_entry_partitions(date, integer) SECURITY INVOKER RESET search_path;
GRANT EXECUTE ON FUNCTION ensure_entry_partitions(date, integer) TO PUBLIC;
