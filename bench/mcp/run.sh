#!/usr/bin/env bash
# MCP benchmark: tools/call of a trivial tool over Streamable HTTP, Tollgate's
# conformance_server against the official TypeScript SDK server (ts_server.mjs) serving the
# same tool, side by side with the same load (wrk + call.lua, one wrk thread, same
# connections), in stateless JSON mode and with sessions. Then 10,000 idle sessions and the
# memory each one costs. Prints numbers; not a test.
# The runs go in rounds (ours and the SDK's alternate within each round), and each ratio is
# given per round and as the median over rounds: on a shared VM one round's ratio moves by a
# quarter from run to run. Each round starts with the ceiling: fixed_answer_server, which
# answers with the same bytes and does nothing else, so it shows the most any server can
# reach under this load on this machine (wrk shares its cores).
# Usage: bench/mcp/run.sh [seconds per run, default 10] [connections, default 50] [idle sessions, default 10000] [rounds, default 3]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=${1:-10}
conns=${2:-50}
idle=${3:-10000}
rounds=${4:-3}
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "rounds must be a whole number, at least 1" >&2; exit 2; }

"$root/scripts/build" conformance_server fixed_answer_server >/dev/null
"$root/scripts/npm-tools"
export PATH="$root/tests/npm/node_modules/node/bin:$PATH"
command -v wrk >/dev/null || { echo "wrk is required (Debian package wrk)" >&2; exit 1; }
ours="$root/build/conformance_server"
ceiling="$root/build/bench/fixed_answer_server"
work=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-bench.XXXXXX")
pid=""
cleanup() {
  [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

start() {  # command... ; sets pid and url (the /mcp endpoint)
  : >"$work/server.out"  # made first: the background job opens it only once it runs
  "$@" >"$work/server.out" 2>"$work/server.err" &
  pid=$!
  url=""
  for _ in $(seq 1 300); do
    url=$(sed -n 's/^listening on \(http:\/\/[^ ]*\)$/\1/p' "$work/server.out")
    [[ -n "$url" ]] && break
    sleep 0.1
  done
  [[ -n "$url" ]] || { echo "server did not start: $*" >&2; cat "$work/server.err" >&2; exit 1; }
  url="$url/mcp"
}

stop() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=""
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"; }

# load LABEL SESSIONS_FILE -> prints a row, records calls/s and p99 under "LABEL|ROUND"
declare -A calls p99
load() {
  local label=$1 sessions=$2
  local line
  # The warm-up also checks every answer (status 200 and the tool's text); the measured pass
  # does not, to keep the load tool's own cost down (see call.lua).
  line=$(MCP_CHECK=1 MCP_SESSIONS_FILE=$sessions wrk -t1 -c"$conns" -d2s --timeout 10s -s "$here/call.lua" "$url" | grep '^RESULT')
  [[ $line =~ errors=0 ]] || { echo "$label: wrong answers in the warm-up: $line" >&2; exit 1; }
  line=$(MCP_SESSIONS_FILE=$sessions wrk -t1 -c"$conns" -d"${seconds}s" --timeout 10s -s "$here/call.lua" "$url" | grep '^RESULT')
  local requests duration errors p50us p99us
  requests=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$line")
  duration=$(sed -n 's/.*duration_us=\([0-9]*\).*/\1/p' <<<"$line")
  errors=$(sed -n 's/.*errors=\([0-9]*\).*/\1/p' <<<"$line")
  p50us=$(sed -n 's/.*p50_us=\([0-9]*\).*/\1/p' <<<"$line")
  p99us=$(sed -n 's/.*p99_us=\([0-9]*\).*/\1/p' <<<"$line")
  local rate
  rate=$(awk -v r="$requests" -v d="$duration" 'BEGIN { printf "%.0f", r / (d / 1e6) }')
  calls["$label|$round"]=$rate
  p99["$label|$round"]=$p99us
  printf "%-6s %-34s %10s %9.2f %9.2f %8s\n" "$round" "$label" "$rate" "$(awk -v x="$p50us" 'BEGIN{print x/1000}')" \
    "$(awk -v x="$p99us" 'BEGIN{print x/1000}')" "$errors"
}

# ratio OURS THEIRS -> one line: calls/s and p99 ratios of each round, then their medians
ratio() {
  local a=() b=() pa=() pb=() r
  for ((r = 1; r <= rounds; r++)); do
    a+=("${calls["$1|$r"]}") b+=("${calls["$2|$r"]}") pa+=("${p99["$1|$r"]}") pb+=("${p99["$2|$r"]}")
  done
  awk -v a="${a[*]}" -v b="${b[*]}" -v pa="${pa[*]}" -v pb="${pb[*]}" -v n1="$1" -v n2="$2" '
    function median(v, n,   i, j, t) {
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
      return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    BEGIN {
      n = split(a, A); split(b, B); split(pa, PA); split(pb, PB)
      for (i = 1; i <= n; i++) { x[i] = A[i] / B[i]; y[i] = PB[i] / PA[i]; xs = xs sprintf(" %.1fx", x[i]); ys = ys sprintf(" %.1fx", y[i]) }
      printf "  %s vs %s:\n    calls/s median %.1fx (rounds:%s); p99 lower, median %.1fx (rounds:%s)\n", n1, n2, median(x, n), xs, median(y, n), ys
    }'
}

# share LABEL FACTOR -> FACTOR x LABEL's calls/s as a percentage of the ceiling's, the median
# of the rounds
share() {
  local v=() r
  for ((r = 1; r <= rounds; r++)); do
    v+=("$(awk -v a="${calls["$1|$r"]}" -v c="${calls["ceiling: fixed answer, no MCP|$r"]}" -v f="$2" 'BEGIN { print 100 * f * a / c }')")
  done
  printf '%s\n' "${v[@]}" | sort -g | awk '{ x[NR] = $1 } END { printf "%.0f%%", NR % 2 ? x[(NR + 1) / 2] : (x[NR / 2] + x[NR / 2 + 1]) / 2 }'
}

echo "tools/call of test_simple_text, wrk -t1 -c$conns -d${seconds}s (after a 2 s warm-up), servers on 1 thread, $(nproc) cores, $rounds rounds"
printf "%-6s %-34s %10s %9s %9s %8s\n" "round" "server / mode" "calls/s" "p50 ms" "p99 ms" "errors"

for ((round = 1; round <= rounds; round++)); do
  start "$ceiling"
  load "ceiling: fixed answer, no MCP" ""
  stop
  start "$ours" --listen 127.0.0.1:0 --stateless --threads 1
  load "tollgate stateless (JSON)" ""
  stop
  start node "$here/ts_server.mjs" --stateless
  load "ts-sdk stateless (JSON)" ""
  stop

  start "$ours" --listen 127.0.0.1:0 --threads 1
  node "$here/sessions.mjs" "$url" "$conns" >"$work/sessions.txt"
  load "tollgate sessions (auto: JSON)" "$work/sessions.txt"
  stop
  start "$ours" --listen 127.0.0.1:0 --threads 1 --response-mode json
  node "$here/sessions.mjs" "$url" "$conns" >"$work/sessions.txt"
  load "tollgate sessions (JSON)" "$work/sessions.txt"
  stop
  start node "$here/ts_server.mjs" --sessions --json
  node "$here/sessions.mjs" "$url" "$conns" >"$work/sessions.txt"
  load "ts-sdk sessions (JSON)" "$work/sessions.txt"
  stop
  start "$ours" --listen 127.0.0.1:0 --threads 1 --response-mode sse
  node "$here/sessions.mjs" "$url" "$conns" >"$work/sessions.txt"
  load "tollgate sessions (SSE)" "$work/sessions.txt"
  stop
  start node "$here/ts_server.mjs" --sessions
  node "$here/sessions.mjs" "$url" "$conns" >"$work/sessions.txt"
  load "ts-sdk sessions (SSE)" "$work/sessions.txt"
  stop
  start node "$here/ts_server.mjs" --sessions --resumable
  node "$here/sessions.mjs" "$url" "$conns" >"$work/sessions.txt"
  load "ts-sdk sessions (SSE, resumable)" "$work/sessions.txt"
  stop
done

echo
ratio "tollgate stateless (JSON)" "ts-sdk stateless (JSON)"
# Like for like: both servers' JSON modes, where a call's other messages do not go on its
# POST (ours sends them to the GET stream; the SDK drops them).
ratio "tollgate sessions (JSON)" "ts-sdk sessions (JSON)"
# Each server's default: ours answers JSON until a call needs a stream, the SDK's SSE.
ratio "tollgate sessions (auto: JSON)" "ts-sdk sessions (JSON)"
ratio "tollgate sessions (auto: JSON)" "ts-sdk sessions (SSE)"
ratio "tollgate sessions (SSE)" "ts-sdk sessions (SSE)"
ratio "tollgate sessions (SSE)" "ts-sdk sessions (SSE, resumable)"

# wrk and the server share this machine's cores, so the load tool's own cost caps every
# server: the fixed-answer server shows where. A 10x target above 100% cannot be shown here.
echo
echo "Against the ceiling (fixed_answer_server: wrk and loopback TCP only), medians of the rounds:"
for label in "tollgate stateless (JSON)" "tollgate sessions (JSON)" "tollgate sessions (auto: JSON)" "tollgate sessions (SSE)"; do
  printf "  %-40s %s of the ceiling\n" "$label" "$(share "$label" 1)"
done
for label in "ts-sdk stateless (JSON)" "ts-sdk sessions (JSON)" "ts-sdk sessions (SSE)" "ts-sdk sessions (SSE, resumable)"; do
  printf "  %-40s %s of the ceiling\n" "10x $label" "$(share "$label" 10)"
done

echo
echo "$idle idle sessions (initialize + initialized, no GET stream), resident memory:"
for server in tollgate ts-sdk; do
  if [[ $server == tollgate ]]; then start "$ours" --listen 127.0.0.1:0 --threads 1; else start node "$here/ts_server.mjs" --sessions; fi
  node "$here/sessions.mjs" "$url" 10 >/dev/null  # warm-up: first allocations, JIT
  before=$(rss_kib)
  node "$here/sessions.mjs" "$url" "$idle" >"$work/idle.txt"
  after=$(rss_kib)
  opened=$(grep -c . "$work/idle.txt")
  # The oldest and newest sessions still answer.
  ok=0
  for sid in "$(head -1 "$work/idle.txt")" "$(tail -1 "$work/idle.txt")"; do
    curl -s -X POST "$url" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
      -H "Mcp-Session-Id: $sid" -H 'MCP-Protocol-Version: 2025-11-25' \
      -d '{"jsonrpc":"2.0","id":"check","method":"tools/call","params":{"name":"test_simple_text"}}' |
      grep -q "simple text response" && ok=$((ok + 1))
  done
  awk -v s="$server" -v n="$opened" -v b="$before" -v a="$after" -v ok="$ok" \
    'BEGIN { printf "  %-9s %6d sessions: RSS %.1f MiB -> %.1f MiB, %.1f KiB per session; first and last session answer: %s\n",
             s, n, b / 1024, a / 1024, (a - b) / n, ok == 2 ? "yes" : "NO" }'
  stop
done
