#!/usr/bin/env bash
# Charge throughput over HTTP (wrk, keep-alive connections, many agent keys) on SQLite and on
# PostgreSQL, next to pgbench running the equivalent one-charge-per-transaction SQL with the
# same client count on the same PostgreSQL, in the same run. Prints charges/s, p50/p99 and
# the ratio to pgbench.
# Usage: bench/charge/charge_bench.sh [seconds=20] [connections=64]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-20}
conns=${2:-64}
bin=${TOLLGATE_BIN:-$root/build/tollgate}
pgbin=/usr/lib/postgresql/15/bin
work=$(mktemp -d /tmp/tollgate-charge-bench.XXXXXX)
pg_dir=$(mktemp -d /tmp/tollgate-charge-bench-pg.XXXXXX)  # its own: PostgreSQL runs as another user
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  "$root/scripts/pg-throwaway" stop "$pg_dir" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
"$root/scripts/build" tollgate >/dev/null

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

# Starts tollgate serve on $1 (db url); sets $url.
start_server() {
  "$bin" serve --listen 127.0.0.1:0 --db "$1" --no-access-log --log-level warn >"$work/out" 2>"$work/err" &
  pids+=($!)
  for _ in $(seq 1 200); do grep -q "listening on" "$work/out" 2>/dev/null && break; sleep 0.05; done
  url=$(sed -n 's/^listening on //p' "$work/out")
}

# Accounts, keys and money for the run: 4 agent accounts x 16 keys, one provider.
setup_world() {
  local admin_token provider_token
  admin_token=$(curl -sf -XPOST "$url/api/v1/auth/signup" -d '{"email":"admin@bench","password":"benchmark-pass"}' | json "['session_token']")
  provider_token=$(curl -sf -XPOST "$url/api/v1/auth/signup" -d '{"email":"provider@bench","password":"benchmark-pass"}' | json "['session_token']")
  provider_key=$(curl -sf -XPOST "$url/api/v1/provider-keys" -H "Authorization: Bearer $provider_token" -d '{"name":"bench"}' | json "['key']")
  : >"$work/keys"
  for a in 1 2 3 4; do
    local token
    token=$(curl -sf -XPOST "$url/api/v1/auth/signup" -d "{\"email\":\"agent$a@bench\",\"password\":\"benchmark-pass\"}" | json "['session_token']")
    curl -sf -XPOST "$url/api/v1/admin/credits" -H "Authorization: Bearer $admin_token" \
      -d "{\"email\":\"agent$a@bench\",\"amount\":\"1000000\"}" >/dev/null
    for k in $(seq 1 16); do
      curl -sf -XPOST "$url/api/v1/keys" -H "Authorization: Bearer $token" -d "{\"name\":\"k$k\"}" | json "['key']" >>"$work/keys"
    done
  done
}

run_wrk() {
  CHARGE_KEYS_FILE="$work/keys" CHARGE_PROVIDER_KEY="$provider_key" \
    wrk -t2 -c"$conns" -d"${seconds}s" --latency -s "$root/bench/charge/charge.lua" "$url" | grep '^RESULT'
}

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }

echo "== Tollgate charge benchmark =="
echo "machine: $(nproc) cores; wrk -t2 -c$conns -d${seconds}s; 64 agent keys over 4 accounts; \$0.01 per charge"
echo "server: tollgate serve --no-access-log --log-level warn (default threads: $(nproc)); one committer (group commit)"
echo

# --- SQLite (WAL, synchronous=FULL: every commit is fsynced) ---
start_server "sqlite:$work/bench.db"
setup_world
sqlite_result=$(run_wrk)
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
"$bin" ledger verify --db "sqlite:$work/bench.db" | tail -1
echo "sqlite   (synchronous=FULL): $sqlite_result"

# --- PostgreSQL (throwaway cluster, fsync on) ---
eval "$("$root/scripts/pg-throwaway" start "$pg_dir")"
pg_url=$TOLLGATE_TEST_POSTGRES_URL
start_server "$pg_url"
setup_world
pg_result=$(run_wrk)
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
"$bin" ledger verify --db "$pg_url" | tail -1
echo "postgres (fsync on):         $pg_result"

# --- pgbench: the same charge as one transaction per request, same clients, same database ---
psql_() { "$pgbin/psql" -q -v ON_ERROR_STOP=1 "$pg_url" "$@"; }
psql_ -c "CREATE TABLE bench_agents AS SELECT row_number() OVER () AS n, id, account_id FROM ledger_accounts WHERE id LIKE 'credits:%' AND balance_micros > 0"
accounts=$(psql_ -At -c "SELECT count(*) FROM bench_agents")
provider=$(psql_ -At -c "SELECT id FROM accounts WHERE email = 'provider@bench'")
pgb=$("$pgbin/pgbench" -n -c "$conns" -j 2 -T "$seconds" -r -f "$root/bench/charge/pgbench_charge.sql" \
  -D accounts="$accounts" -D provider="'$provider'" -D earnings="'earnings:$provider'" "$pg_url" 2>&1)
grep -q "aborted" <<<"$pgb" && { echo "pgbench failed: $pgb" >&2; exit 1; }
pgb_tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$pgb")
pgb_lat=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' <<<"$pgb")
echo "pgbench  (same SQL per charge, -c$conns -j2): tps=$pgb_tps latency_avg_ms=$pgb_lat"
psql_ -c "DELETE FROM transfers WHERE id LIKE 'pgb_%'" >/dev/null

echo
python3 - "$sqlite_result" "$pg_result" "$pgb_tps" <<'PY'
import sys, re
def f(s, k): return float(re.search(k + r"=([0-9.]+)", s).group(1))
sq, pg, pgb = sys.argv[1], sys.argv[2], float(sys.argv[3])
print(f"SQLite:     {f(sq,'rps'):8.0f} charges/s  p50 {f(sq,'p50_ms'):.2f} ms  p99 {f(sq,'p99_ms'):.2f} ms  (target >= 10000/s, p99 < 20 ms)")
print(f"PostgreSQL: {f(pg,'rps'):8.0f} charges/s  p50 {f(pg,'p50_ms'):.2f} ms  p99 {f(pg,'p99_ms'):.2f} ms")
print(f"pgbench:    {pgb:8.0f} tx/s")
print(f"ratio PostgreSQL/pgbench: {f(pg,'rps')/pgb:.2f}x (target >= 1.0)")
PY
