-- Accounts, sessions, keys, and the double-entry ledger.
-- One file for both backends: {{BLOB}}, {{SERIAL_PK}} and {{WITHOUT_ROWID}} are replaced per
-- dialect (src/store/migrations.cpp). Times are int64 microseconds since the Unix epoch; money is
-- int64 micro-dollars. Tables that hot paths read by primary key are WITHOUT ROWID on SQLite:
-- stored in that key's B-tree, a lookup is one descent that finds the row, instead of a
-- descent of the key's index and then a second one of the table for the row.

-- Read by id on every signed-in request (the session's account).
CREATE TABLE accounts (
  id            TEXT PRIMARY KEY,
  email         TEXT NOT NULL UNIQUE,      -- lowercased before storing
  password_hash TEXT NOT NULL,             -- argon2id (libsodium crypto_pwhash_str)
  is_admin      BOOLEAN NOT NULL,
  created_at    BIGINT NOT NULL
){{WITHOUT_ROWID}};

-- Read by hash on every signed-in request.
CREATE TABLE sessions (
  token_hash  {{BLOB}} PRIMARY KEY,        -- SHA-256 of sess_...; the token itself is never stored
  account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  created_at  BIGINT NOT NULL,
  expires_at  BIGINT NOT NULL
){{WITHOUT_ROWID}};
CREATE INDEX sessions_account ON sessions(account_id);

-- Keyed by the hash: verifying a key, the hottest query there is, looks it up by hash.
-- (0003_key_lookup.sql keys it by an integer taken from the hash instead.)
CREATE TABLE api_keys (
  key_hash            {{BLOB}} PRIMARY KEY,  -- SHA-256 of sk_live_...; the key itself is never stored
  id                  TEXT NOT NULL UNIQUE,
  account_id          TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name                TEXT NOT NULL,
  scope               TEXT NOT NULL,       -- agent:connect | provider:charge
  last4               TEXT NOT NULL,
  created_at          BIGINT NOT NULL,
  last_used_at        BIGINT,
  spend_limit_micros  BIGINT,              -- NULL: no limit
  spend_period        TEXT,                -- day | month | total
  period_start        BIGINT NOT NULL DEFAULT 0,
  period_spent_micros BIGINT NOT NULL DEFAULT 0
){{WITHOUT_ROWID}};
-- In the listing's order (newest first, then id), so a listing reads it without sorting.
CREATE INDEX api_keys_account ON api_keys(account_id, scope, created_at DESC, id);

CREATE TABLE ledger_accounts (
  id             TEXT PRIMARY KEY,         -- credits:<account> | earnings:<account> | platform:<name>
  account_id     TEXT,
  balance_micros BIGINT NOT NULL DEFAULT 0
);
INSERT INTO ledger_accounts (id, account_id, balance_micros) VALUES ('platform:deposits', NULL, 0);

-- Immutable: rows are inserted, never updated or deleted.
CREATE TABLE transfers (
  seq                 {{SERIAL_PK}},
  id                  TEXT NOT NULL UNIQUE,
  kind                TEXT NOT NULL,       -- deposit | charge | refund
  debit_account       TEXT NOT NULL REFERENCES ledger_accounts(id),
  credit_account      TEXT NOT NULL REFERENCES ledger_accounts(id),
  amount_micros       BIGINT NOT NULL CHECK (amount_micros > 0),
  payer_account_id    TEXT,
  payee_account_id    TEXT,
  key_id              TEXT,
  key_last4           TEXT,
  tool                TEXT,
  idempotency_key     TEXT,
  request_fingerprint TEXT,
  refund_of           TEXT,
  note                TEXT,
  created_at          BIGINT NOT NULL,
  CHECK (debit_account <> credit_account)
);
CREATE UNIQUE INDEX transfers_idempotency ON transfers(payee_account_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
-- A charge is refunded at most once, whatever the application does.
CREATE UNIQUE INDEX transfers_refund_of ON transfers(refund_of) WHERE refund_of IS NOT NULL;
CREATE INDEX transfers_payer ON transfers(payer_account_id, seq);
CREATE INDEX transfers_payee ON transfers(payee_account_id, seq);
-- No index on debit_account/credit_account: only `ledger verify` sums by them, in one scan,
-- and every index is one more write per charge.
