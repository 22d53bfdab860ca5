-- Keys are found by a 63-bit integer taken from their hash instead of by the 32-byte hash,
-- and their last-use times move to a narrow table of their own. (0002 was an index removed
-- again before any release; a database that applied it still gets this migration, which
-- drops that index with the old table.)
--
-- Why the integer: verification, the hottest query there is, descends the table's B-tree
-- once per call. On SQLite an INTEGER PRIMARY KEY is the rowid: interior pages hold ~3x more
-- keys than with a 32-byte blob and each step of the search compares two integers instead of
-- decoding a record and comparing 32 bytes.
--
-- `lookup` is the first 8 bytes of key_hash, big-endian, with the top bit cleared so that it
-- is a non-negative int64 on both backends (store::key_lookup computes the same in C++). It
-- is not a secret: the full hash is still stored and compared on every lookup, so two keys
-- that share a lookup value can never be mistaken for each other; the second of them simply
-- cannot be stored (a 1 in 2^63 event per pair of keys): that create alone is answered
-- PLATFORM_UNAVAILABLE with nothing written, and trying again makes a new key.
--
-- Why the uses table: last-use times are written in one batch per second
-- (keys::KeyVerifier::flush_last_used). With them in api_keys, a batch of many keys rewrote
-- nearly every page of the key table (~150 bytes a row); in api_key_uses a row is ~20 bytes,
-- so the same batch rewrites ~8x fewer pages, and the WAL and its checkpoint shrink with it.
-- Among a million keys that took a flush of 100,000 uses from ~2 s to ~0.7 s and halved what
-- it costs the verifications that follow it (bench/README.md, "Seventh session").
CREATE TABLE api_keys_new (
  lookup              {{INT64_KEY}} PRIMARY KEY,
  key_hash            {{BLOB}} NOT NULL,   -- SHA-256 of sk_live_...; the key itself is never stored
  id                  TEXT NOT NULL UNIQUE,
  account_id          TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name                TEXT NOT NULL,
  scope               TEXT NOT NULL,       -- agent:connect | provider:charge
  last4               TEXT NOT NULL,
  created_at          BIGINT NOT NULL,
  spend_limit_micros  BIGINT,              -- NULL: no limit
  spend_period        TEXT,                -- day | month | total
  period_start        BIGINT NOT NULL DEFAULT 0,
  period_spent_micros BIGINT NOT NULL DEFAULT 0
);
INSERT INTO api_keys_new (lookup, key_hash, id, account_id, name, scope, last4, created_at,
                          spend_limit_micros, spend_period, period_start, period_spent_micros)
  SELECT {{KEY_LOOKUP_OF_KEY_HASH}}, key_hash, id, account_id, name, scope, last4, created_at,
         spend_limit_micros, spend_period, period_start, period_spent_micros
  FROM api_keys;
-- One row per key, from its creation to its deletion (the cascade), so a flush only ever
-- updates rows and can never bring back a key deleted meanwhile.
CREATE TABLE api_key_uses (
  lookup       {{INT64_KEY}} PRIMARY KEY REFERENCES api_keys_new(lookup) ON DELETE CASCADE,
  last_used_at BIGINT                  -- NULL: never used
);
INSERT INTO api_key_uses (lookup, last_used_at)
  SELECT {{KEY_LOOKUP_OF_KEY_HASH}}, last_used_at FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_new RENAME TO api_keys;
-- In the listing's order (newest first, then id), so a listing reads it without sorting.
CREATE INDEX api_keys_account ON api_keys(account_id, scope, created_at DESC, id);
