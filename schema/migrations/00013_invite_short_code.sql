-- +goose Up
-- An invite also has a short code to type (secret.NewShort): 12 symbols, the first two
-- the community's bucket, stored as an HMAC (50 random bits are too few for a plain
-- hash). Unique per community like every key here; the lookup finds the community from
-- the bucket (communities_short_bucket below), so it needs no global index.
ALTER TABLE invites ADD COLUMN short_hash bytea CHECK (length(short_hash) = 32);
ALTER TABLE invites ADD CONSTRAINT invites_community_id_short_hash_key UNIQUE (community_id, short_hash);

-- secret.ShortBucket: 10 bits of the SHA-256 of the community id.
CREATE INDEX communities_short_bucket ON communities (((get_byte(sha256(uuid_send(id)), 0) * 256 + get_byte(sha256(uuid_send(id)), 1)) % 1024));

-- +goose Down
DROP INDEX communities_short_bucket;
ALTER TABLE invites DROP COLUMN short_hash;
