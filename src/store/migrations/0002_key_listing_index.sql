-- The key listing reads only this index: it holds every column the listing returns, so a
-- listing of N keys is a walk along N adjacent index entries instead of N more descents of
-- the api_keys table by hash (with ~30 keys: most of the listing's database time). The
-- columns after the sort order (account, scope, newest first, id) are carried, not searched.
-- last_used_at is written only by the verifier's periodic flush, so keeping it here costs
-- key verification nothing.
DROP INDEX api_keys_account;
CREATE INDEX api_keys_account ON api_keys(account_id, scope, created_at DESC, id, name, last4, last_used_at,
                                          spend_limit_micros, spend_period);
