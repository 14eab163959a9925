-- +goose Up
-- A community can switch face entry off (DELETE .../face-operator): every live consent
-- ends and every template is purged with the reason service_ended.
ALTER TABLE consents DROP CONSTRAINT consents_end_reason_check;
ALTER TABLE consents ADD CONSTRAINT consents_end_reason_check
    CHECK (end_reason IN ('withdrawal', 'move_out', 'deletion', 'retention', 'superseded', 'service_ended'));
ALTER TABLE face_purges DROP CONSTRAINT face_purges_reason_check;
ALTER TABLE face_purges ADD CONSTRAINT face_purges_reason_check
    CHECK (reason IN ('withdrawal', 'move_out', 'deletion', 'retention', 'service_ended'));

-- +goose Down
-- Ended consents cannot be changed (consents_keep) and are kept for years, so the old
-- check comes back NOT VALID: it binds new rows and leaves kept records as they are.
ALTER TABLE face_purges DROP CONSTRAINT face_purges_reason_check;
ALTER TABLE face_purges ADD CONSTRAINT face_purges_reason_check
    CHECK (reason IN ('withdrawal', 'move_out', 'deletion', 'retention')) NOT VALID;
ALTER TABLE consents DROP CONSTRAINT consents_end_reason_check;
ALTER TABLE consents ADD CONSTRAINT consents_end_reason_check
    CHECK (end_reason IN ('withdrawal', 'move_out', 'deletion', 'retention', 'superseded')) NOT VALID;
