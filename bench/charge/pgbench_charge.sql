-- The single-charge transaction a platform without group commit would run per request,
-- on Tollgate's own schema: debit the agent's credits if covered, record the transfer,
-- credit the provider's earnings. pgbench runs it with the same client count as wrk.
-- :earnings and :provider arrive as quoted SQL literals (-D earnings="'...'").
\set n random(1, :accounts)
BEGIN;
UPDATE ledger_accounts SET balance_micros = balance_micros - 10000
  WHERE id = (SELECT id FROM bench_agents WHERE n = :n) AND balance_micros >= 10000;
INSERT INTO transfers (id, kind, debit_account, credit_account, amount_micros, payer_account_id,
                       payee_account_id, key_id, key_last4, tool, created_at)
  SELECT 'pgb_' || md5(random()::text), 'charge', a.id, :earnings, 10000, a.account_id,
         :provider, 'key_bench', 'xxxx', 'bench', (extract(epoch from clock_timestamp()) * 1000000)::bigint
  FROM bench_agents a WHERE a.n = :n;
UPDATE ledger_accounts SET balance_micros = balance_micros + 10000 WHERE id = :earnings;
COMMIT;
