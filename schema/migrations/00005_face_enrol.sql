-- +goose Up
-- One-gate face enrolment sessions (docs/face-entry.md): a resident with a one_gate
-- consent starts a session from the app; the gate learns it as a command of kind
-- face_enrol (payload {resident_id, model?, expires_at}) and acks it "enrolled" or
-- "expired". The template is made and kept on that gate only.
ALTER TABLE gate_commands DROP CONSTRAINT gate_commands_kind_check;
ALTER TABLE gate_commands ADD CONSTRAINT gate_commands_kind_check
    CHECK (kind IN ('unlock', 'purge_template', 'face_enrol'));
-- A face_enrol session names its resident and its end in the payload.
ALTER TABLE gate_commands ADD CONSTRAINT gate_commands_face_enrol_payload
    CHECK (kind <> 'face_enrol' OR (payload ? 'resident_id' AND payload ? 'expires_at'));
-- The app looks up a resident's sessions, newest first.
CREATE INDEX gate_commands_face_enrol ON gate_commands (community_id, ((payload ->> 'resident_id')), created_at DESC)
    WHERE kind = 'face_enrol';

-- +goose Down
DROP INDEX gate_commands_face_enrol;
ALTER TABLE gate_commands DROP CONSTRAINT gate_commands_face_enrol_payload;
DELETE FROM gate_commands WHERE kind = 'face_enrol';
ALTER TABLE gate_commands DROP CONSTRAINT gate_commands_kind_check;
ALTER TABLE gate_commands ADD CONSTRAINT gate_commands_kind_check CHECK (kind IN ('unlock', 'purge_template'));
