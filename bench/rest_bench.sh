#!/usr/bin/env bash
# REST benchmark of the agent-key API (issue 2, "Done means"): `tollgate serve` on SQLite,
# one account, then wrk with 32 keep-alive connections running an equal create/list/delete
# mix of agent keys; beside it, in the same run and with the same wrk settings, GET /healthz
# as the baseline (HTTP + routing + one indexed store read, no auth, no writes) and GET
# /api/v1/keys alone (reads only). Prints requests/s, p50/p99 and the ratio to the baseline.
# Target: REST p99 < 5 ms.
# Usage: bench/rest_bench.sh [seconds=15] [connections=32]
#   SERVER_THREADS (default: the server's own, one I/O thread per core it may use, so 1 on
#   the one core it is pinned to) and the pinning below are printed with the results;
#   TOLLGATE_BIN runs another build of the binary (for before/after comparisons).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-15}
conns=${2:-32}
server_threads=${SERVER_THREADS:-}
bin=${TOLLGATE_BIN:-$root/build/tollgate}
work=$(mktemp -d /tmp/tollgate-rest-bench.XXXXXX)
server_pid=
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
[[ -n "${TOLLGATE_BIN:-}" ]] || "$root/scripts/build" tollgate >/dev/null
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }

# Two cores: the server gets CPU 0, wrk gets CPU 1, so the load generator does not steal
# the server's core. With one core, both share it.
cores=$(nproc)
if ((cores >= 2)); then server_cpu=0; wrk_cpu=1; else server_cpu=0; wrk_cpu=0; fi
server_flags=(--listen 127.0.0.1:0 --db "sqlite:$work/rest.db" --log-level warn --no-access-log
              --max-keys-per-account 100000)
[[ -n "$server_threads" ]] && server_flags+=(--threads "$server_threads")
taskset -c "$server_cpu" "$bin" serve "${server_flags[@]}" >"$work/out" 2>"$work/err" &
server_pid=$!
for _ in $(seq 1 200); do grep -q "listening on" "$work/out" 2>/dev/null && break; sleep 0.05; done
url=$(sed -n 's/^listening on //p' "$work/out")
[[ -n "$url" ]] || { echo "server did not start:" >&2; cat "$work/err" >&2; exit 1; }

session=$(curl -sf -XPOST "$url/api/v1/auth/signup" -d '{"email":"bench@example.com","password":"benchmark-pass"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["session_token"])')
# A few keys so that list has something to return from the start.
for i in 1 2 3 4 5; do
  curl -sf -XPOST "$url/api/v1/keys" -H "Authorization: Bearer $session" -d "{\"name\":\"seed $i\"}" >/dev/null
done

run_wrk() {  # mode path
  REST_BENCH_MODE=$1 REST_BENCH_SESSION=$session \
    taskset -c "$wrk_cpu" wrk -t1 -c"$conns" -d"${seconds}s" --latency -s "$root/bench/rest_bench.lua" "$url$2" |
    grep '^RESULT' || { echo "wrk failed" >&2; exit 1; }
}

echo "== Tollgate REST benchmark: agent keys =="
echo "machine: $cores cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "server: taskset -c $server_cpu $bin serve ${server_flags[*]}"
echo "        (SQLite WAL, synchronous=FULL: every create and delete is an fsync'd commit)"
echo "wrk:    taskset -c $wrk_cpu wrk -t1 -c$conns -d${seconds}s --latency (keep-alive), script bench/rest_bench.lua"
echo
baseline=$(run_wrk get /healthz)
echo "baseline GET /healthz:               $baseline"
list=$(run_wrk list /)
echo "list only (GET /api/v1/keys):        $list"
# Key creates and deletes share transactions (group commit): "batches writes apply_micros".
commit_stats() {
  curl -sf "$url/metrics" | awk '
    /^tollgate_group_commit_account_write_batches / {b=$2} /^tollgate_group_commit_account_write_requests / {r=$2}
    /^tollgate_group_commit_account_write_apply_micros / {u=$2}
    /^tollgate_group_commit_apply_seconds_bucket\{kind="account_write",le="0.001000"\}/ {l1=$2}
    /^tollgate_group_commit_apply_seconds_bucket\{kind="account_write",le="0.002500"\}/ {l2=$2}
    /^tollgate_group_commit_apply_seconds_bucket\{kind="account_write",le="0.005000"\}/ {l5=$2}
    END {print b+0, r+0, u+0, l1+0, l2+0, l5+0}'
}
before=$(commit_stats)
mix=$(run_wrk mix /)
commits=$(commit_stats | awk -v b="$before" 'BEGIN{split(b,x," ")} {
  n=$1-x[1]; d=(n?n:1)
  printf "%d writes in %d commits, %.1f per commit, %.2f ms per commit; commits within 1 ms %.1f%%, 2.5 ms %.1f%%, 5 ms %.2f%%",
    $2-x[2], n, ($2-x[2])/d, ($3-x[3])/d/1000, 100*($4-x[4])/d, 100*($5-x[5])/d, 100*($6-x[6])/d}')
echo "create/list/delete mix (1:1:1):      $mix"
keys_left=$(curl -sf "$url/api/v1/keys" -H "Authorization: Bearer $session" |
  python3 -c 'import json,sys; print(len(json.load(sys.stdin)["keys"]))')
echo "keys left in the account after the run: $keys_left"
echo "mix group commit: $commits"
checkpoints=$(curl -sf "$url/metrics" | awk '
  /^tollgate_sqlite_checkpoints / {n=$2} /^tollgate_sqlite_checkpoint_background_micros / {b=$2}
  /^tollgate_sqlite_checkpoint_exclusive_micros / {e=$2}
  END {if (n > 0) printf "%d WAL checkpoints, %.1f ms each beside the writers, %.2f ms each in the last step (waiting for the write in progress, then holding writers back)", n, b/n/1000, e/n/1000}')
[[ -n "$checkpoints" ]] && echo "checkpoints (whole run): $checkpoints"
echo
python3 - "$baseline" "$mix" "$list" <<'PY'
import re, sys
def f(s, k): return float(re.search(k + r"=([0-9.]+)", s).group(1))
base, mix, lst = sys.argv[1], sys.argv[2], sys.argv[3]
print(f"{'':34}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
for name, r in (("GET /healthz (baseline)", base), ("keys list only", lst), ("keys create/list/delete mix", mix)):
    print(f"{name:34}{f(r,'rps'):10.0f}{f(r,'p50_ms'):10.3f}{f(r,'p99_ms'):10.3f}{f(r,'max_ms'):10.1f}")
print(f"ratio mix/baseline: {f(mix,'rps')/f(base,'rps'):.2f}x the throughput, "
      f"{f(mix,'p99_ms')/f(base,'p99_ms'):.1f}x the p99")
errors = f(mix, 'socket_errors') + f(mix, 'non2xx')
print(f"mix errors: {errors:.0f} (socket errors + non-2xx)")
p99 = f(mix, 'p99_ms')
print(f"target REST p99 < 5 ms: {'PASS' if p99 < 5 else 'FAIL'} ({p99:.2f} ms)")
PY
