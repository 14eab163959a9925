-- +goose Up
-- Face entry (issue 6): what separate consent records, gate-only enrolment, purge
-- requests with per-gate acknowledgements, retention by last face entry.

-- The personal information handler named in the face-entry notice (PIPL art. 17): the
-- property company's name and contact. Face entry is offered in a community only once
-- they are set, which is the operator's act of switching it on (docs/face-entry-operator.*).
ALTER TABLE communities
    ADD COLUMN face_operator_name text CHECK (length(face_operator_name) BETWEEN 1 AND 200),
    ADD COLUMN face_operator_contact text CHECK (length(face_operator_contact) BETWEEN 1 AND 200),
    ADD CONSTRAINT communities_face_operator CHECK ((face_operator_name IS NULL) = (face_operator_contact IS NULL));

ALTER TABLE consents
    -- The language of the notice shown; notice_hash is the hash of that text.
    ADD COLUMN notice_language text NOT NULL DEFAULT 'zh' CHECK (notice_language IN ('zh', 'en')),
    -- The one gate of a one_gate consent: the template is made and kept there only.
    ADD COLUMN gate_id uuid,
    -- Who ended the consent ("resident:<id>", "staff:<id>", "system:retention").
    ADD COLUMN withdrawn_by text CHECK (length(withdrawn_by) BETWEEN 1 AND 80),
    ADD COLUMN end_reason text CHECK (end_reason IN ('withdrawal', 'move_out', 'deletion', 'retention', 'superseded')),
    -- Retention counts from the last face entry (or the grant, before the first one).
    ADD COLUMN last_face_entry_at timestamptz,
    ADD CONSTRAINT consents_gate FOREIGN KEY (community_id, gate_id) REFERENCES gates (community_id, id),
    ADD CONSTRAINT consents_given_by FOREIGN KEY (community_id, given_by) REFERENCES residents (community_id, id),
    ADD CONSTRAINT consents_one_gate CHECK ((scope = 'one_gate') = (gate_id IS NOT NULL)),
    ADD CONSTRAINT consents_end CHECK ((withdrawn_at IS NULL) = (end_reason IS NULL)
                                   AND (withdrawn_at IS NULL) = (withdrawn_by IS NULL));
ALTER TABLE consents ALTER COLUMN notice_language DROP DEFAULT;
CREATE INDEX consents_by_resident ON consents (community_id, resident_id, granted_at DESC);
-- The retention sweep looks for live consents by their last use.
CREATE INDEX consents_live_by_use ON consents ((coalesce(last_face_entry_at, granted_at)))
    WHERE withdrawn_at IS NULL;

-- A consent record is evidence (PIPL art. 14, 29): it is kept, with its withdrawal, for at
-- least three years after it ends, and what was agreed to never changes. Only the end of a
-- live consent and the time of the last face entry may be written.
-- +goose StatementBegin
CREATE FUNCTION consents_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.withdrawn_at IS NULL OR OLD.withdrawn_at > now() - interval '3 years' THEN
            RAISE EXCEPTION 'consent records are kept for 3 years after they end';
        END IF;
        RETURN OLD;
    END IF;
    IF (NEW.community_id, NEW.id, NEW.resident_id, NEW.given_by, NEW.purpose, NEW.scope, NEW.gate_id,
        NEW.notice_version, NEW.notice_hash, NEW.notice_language, NEW.channel, NEW.granted_at)
       IS DISTINCT FROM
       (OLD.community_id, OLD.id, OLD.resident_id, OLD.given_by, OLD.purpose, OLD.scope, OLD.gate_id,
        OLD.notice_version, OLD.notice_hash, OLD.notice_language, OLD.channel, OLD.granted_at)
       OR (OLD.withdrawn_at IS NOT NULL AND (NEW.withdrawn_at, NEW.withdrawn_by, NEW.end_reason)
           IS DISTINCT FROM (OLD.withdrawn_at, OLD.withdrawn_by, OLD.end_reason)) THEN
        RAISE EXCEPTION 'a consent record cannot be changed, only ended';
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER consents_keep BEFORE UPDATE OR DELETE ON consents
    FOR EACH ROW EXECUTE FUNCTION consents_keep();

-- A template of a one_gate consent never leaves its gate: the row records only that the
-- gate holds one (sealed is NULL), so purges and the filing count know about it.
ALTER TABLE face_templates ALTER COLUMN sealed DROP NOT NULL;
ALTER TABLE face_templates ADD CONSTRAINT face_templates_sealed_size
    CHECK (sealed IS NULL OR length(sealed) BETWEEN 64 AND 4096);
CREATE INDEX face_templates_by_gate ON face_templates (community_id, gate_id);

-- One row per gate of each purge: the gate deletes the template from memory and disk and
-- acknowledges. request_id groups the rows of one withdrawal, move-out, deletion or
-- retention purge.
CREATE TABLE face_purges (
    community_id uuid NOT NULL,
    id           uuid NOT NULL,
    request_id   uuid NOT NULL,
    resident_id  uuid NOT NULL,
    gate_id      uuid NOT NULL,
    reason       text NOT NULL CHECK (reason IN ('withdrawal', 'move_out', 'deletion', 'retention')),
    requested_at timestamptz NOT NULL DEFAULT now(),
    acked_at     timestamptz,
    PRIMARY KEY (community_id, id),
    UNIQUE (community_id, request_id, gate_id),
    FOREIGN KEY (community_id, resident_id) REFERENCES residents (community_id, id),
    FOREIGN KEY (community_id, gate_id) REFERENCES gates (community_id, id),
    CHECK (acked_at IS NULL OR acked_at >= requested_at)
);
CREATE INDEX face_purges_by_resident ON face_purges (community_id, resident_id, gate_id, requested_at DESC);
CREATE INDEX face_purges_pending ON face_purges (community_id, gate_id) WHERE acked_at IS NULL;

-- +goose Down
DROP TABLE face_purges;
DROP INDEX face_templates_by_gate;
ALTER TABLE face_templates DROP CONSTRAINT face_templates_sealed_size;
DELETE FROM face_templates WHERE sealed IS NULL;
ALTER TABLE face_templates ALTER COLUMN sealed SET NOT NULL;
DROP TRIGGER consents_keep ON consents;
DROP FUNCTION consents_keep();
DROP INDEX consents_live_by_use;
DROP INDEX consents_by_resident;
ALTER TABLE consents
    DROP CONSTRAINT consents_end,
    DROP CONSTRAINT consents_one_gate,
    DROP CONSTRAINT consents_given_by,
    DROP CONSTRAINT consents_gate,
    DROP COLUMN last_face_entry_at,
    DROP COLUMN end_reason,
    DROP COLUMN withdrawn_by,
    DROP COLUMN gate_id,
    DROP COLUMN notice_language;
ALTER TABLE communities
    DROP CONSTRAINT communities_face_operator,
    DROP COLUMN face_operator_contact,
    DROP COLUMN face_operator_name;
