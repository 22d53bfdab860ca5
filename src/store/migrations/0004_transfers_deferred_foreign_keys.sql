-- The two foreign keys of transfers are checked when the transaction commits instead of at
-- each row: a violation still fails the whole transaction, and nothing of it is written.
-- Why: a batch of charges goes into transfers as one multi-row INSERT, and on SQLite a
-- foreign key checked at each row can abort such a statement halfway, so SQLite kept a
-- statement journal (a copy of every page the INSERT touched) on every commit. Deferred,
-- with INSERT OR FAIL for the other constraints (the ledger rolls the whole transaction
-- back on any failure), there is nothing to undo statement by statement (bench/README.md,
-- tenth session: 5% of the platform's instructions per charge).
--
-- PostgreSQL alters the two constraints in place. SQLite cannot alter a constraint: the
-- table is rebuilt with the same rows, seq values and indexes (AUTOINCREMENT carries on after
-- the largest seq; no other table references transfers).
{{POSTGRES_ONLY}} ALTER TABLE transfers ALTER CONSTRAINT transfers_debit_account_fkey DEFERRABLE INITIALLY DEFERRED;
{{POSTGRES_ONLY}} ALTER TABLE transfers ALTER CONSTRAINT transfers_credit_account_fkey DEFERRABLE INITIALLY DEFERRED;
{{SQLITE_ONLY}} CREATE TABLE transfers_new (
{{SQLITE_ONLY}}   seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
{{SQLITE_ONLY}}   id                  TEXT NOT NULL UNIQUE,
{{SQLITE_ONLY}}   kind                TEXT NOT NULL,
{{SQLITE_ONLY}}   debit_account       TEXT NOT NULL REFERENCES ledger_accounts(id) DEFERRABLE INITIALLY DEFERRED,
{{SQLITE_ONLY}}   credit_account      TEXT NOT NULL REFERENCES ledger_accounts(id) DEFERRABLE INITIALLY DEFERRED,
{{SQLITE_ONLY}}   amount_micros       BIGINT NOT NULL CHECK (amount_micros > 0),
{{SQLITE_ONLY}}   payer_account_id    TEXT,
{{SQLITE_ONLY}}   payee_account_id    TEXT,
{{SQLITE_ONLY}}   key_id              TEXT,
{{SQLITE_ONLY}}   key_last4           TEXT,
{{SQLITE_ONLY}}   tool                TEXT,
{{SQLITE_ONLY}}   idempotency_key     TEXT,
{{SQLITE_ONLY}}   request_fingerprint TEXT,
{{SQLITE_ONLY}}   refund_of           TEXT,
{{SQLITE_ONLY}}   note                TEXT,
{{SQLITE_ONLY}}   created_at          BIGINT NOT NULL,
{{SQLITE_ONLY}}   CHECK (debit_account <> credit_account)
{{SQLITE_ONLY}} );
{{SQLITE_ONLY}} INSERT INTO transfers_new (seq, id, kind, debit_account, credit_account, amount_micros, payer_account_id,
{{SQLITE_ONLY}}                            payee_account_id, key_id, key_last4, tool, idempotency_key, request_fingerprint,
{{SQLITE_ONLY}}                            refund_of, note, created_at)
{{SQLITE_ONLY}}   SELECT seq, id, kind, debit_account, credit_account, amount_micros, payer_account_id, payee_account_id, key_id,
{{SQLITE_ONLY}}          key_last4, tool, idempotency_key, request_fingerprint, refund_of, note, created_at
{{SQLITE_ONLY}}   FROM transfers ORDER BY seq;
{{SQLITE_ONLY}} DROP TABLE transfers;
{{SQLITE_ONLY}} ALTER TABLE transfers_new RENAME TO transfers;
{{SQLITE_ONLY}} CREATE UNIQUE INDEX transfers_idempotency ON transfers(payee_account_id, idempotency_key)
{{SQLITE_ONLY}}   WHERE idempotency_key IS NOT NULL;
{{SQLITE_ONLY}} CREATE UNIQUE INDEX transfers_refund_of ON transfers(refund_of) WHERE refund_of IS NOT NULL;
{{SQLITE_ONLY}} CREATE INDEX transfers_payer ON transfers(payer_account_id, seq);
{{SQLITE_ONLY}} CREATE INDEX transfers_payee ON transfers(payee_account_id, seq);
