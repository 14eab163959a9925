-- +goose Up
-- Issue 18: the binding's foreign key to its resident (a later migration than the table,
-- as docs/scaling.md's rule for Citus asks), and the session kind. A WeChat session is
-- opened by a WeChat login, not a passkey, so it has no passkey and may use only the
-- routes mobile-api's route table opens to it.
ALTER TABLE wechat_bindings ADD CONSTRAINT wechat_bindings_resident_fkey
    FOREIGN KEY (community_id, resident_id) REFERENCES residents (community_id, id);
ALTER TABLE sessions ADD COLUMN kind text NOT NULL DEFAULT 'passkey';
ALTER TABLE sessions ADD CONSTRAINT sessions_kind CHECK (kind IN ('passkey', 'wechat'));
ALTER TABLE sessions ALTER COLUMN passkey_id DROP NOT NULL;
ALTER TABLE sessions ADD CONSTRAINT sessions_kind_passkey CHECK ((kind = 'passkey') = (passkey_id IS NOT NULL));

-- +goose Down
DELETE FROM sessions WHERE kind = 'wechat';
ALTER TABLE sessions DROP CONSTRAINT sessions_kind_passkey;
ALTER TABLE sessions ALTER COLUMN passkey_id SET NOT NULL;
ALTER TABLE sessions DROP CONSTRAINT sessions_kind;
ALTER TABLE sessions DROP COLUMN kind;
ALTER TABLE wechat_bindings DROP CONSTRAINT wechat_bindings_resident_fkey;
