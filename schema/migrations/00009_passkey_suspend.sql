-- +goose Up
-- A passkey whose signature counter went backwards may have been copied (WebAuthn clone
-- detection, issue 13): it is suspended for good. It stays listed so the resident sees
-- what happened and removes it; it never signs in again (the store refuses it whatever
-- the counter says next), and nothing clears the mark but deleting the row.
ALTER TABLE passkeys
    ADD COLUMN suspended_at timestamptz,
    ADD COLUMN suspend_reason text CHECK (suspend_reason IN ('counter_regressed')),
    ADD CONSTRAINT passkeys_suspended CHECK ((suspended_at IS NULL) = (suspend_reason IS NULL));

-- +goose Down
ALTER TABLE passkeys
    DROP CONSTRAINT passkeys_suspended,
    DROP COLUMN suspend_reason,
    DROP COLUMN suspended_at;
