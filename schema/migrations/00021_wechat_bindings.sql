-- +goose Up
-- Issue 18: a resident's WeChat mini-program binding. One per resident per community
-- (re-binding needs a new invite and replaces it), and one resident per WeChat user per
-- community. The openid is stored as an HMAC under a key derived from the master key
-- (store.openIDKey), not as given: the lookup only ever asks "is this openid bound",
-- which a keyed hash answers, and a copy of the database alone then holds no WeChat
-- identifier that could be matched with other data of the same mini-program.
CREATE TABLE wechat_bindings (
    community_id uuid NOT NULL REFERENCES communities (id),
    id           uuid NOT NULL,
    resident_id  uuid NOT NULL,
    openid_hmac  bytea NOT NULL CHECK (length(openid_hmac) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    PRIMARY KEY (community_id, id),
    UNIQUE (community_id, resident_id),
    UNIQUE (community_id, openid_hmac)
);

-- +goose Down
DROP TABLE wechat_bindings;
