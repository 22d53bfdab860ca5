#!/usr/bin/env bash
# Paid tool calls: tools/call of weather_server's current_conditions ($0.01) through the
# payments SDK and through the gateway, each next to the same call unpaid, in one run, with
# the platform (SQLite, synchronous=FULL) on the same machine. Prints calls/s, p50/p99 and
# the ratios the targets are about:
#   - a paid call keeps >= 50% of the unpaid throughput (SDK server; gateway)
#   - the gateway adds <= 1 ms at p50 over calling the upstream directly (both unpaid)
# The throughput target compares each path at the load that suits it: the SDK server's and
# the gateway's unpaid and paid passes also run at each of a list of connection counts (third
# argument, default 32,128,512; "" skips them), and the best paid rate is set against the best
# unpaid one. At one fixed count the two are bound by different things: at 32 connections a
# paid call spends most of its time waiting for its commit while the unpaid path is bound by
# CPU, so that ratio (printed too) measures the charge's latency as much as throughput.
# Usage: bench/pay/pay_bench.sh [seconds=10] [connections=32] [counts for peaks=32,128,512]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=${1:-10}
conns=${2:-32}
peak_counts=${3-32,128,512}
[[ -z $peak_counts || $peak_counts =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] ||
  { echo "the third argument is a list of connection counts, e.g. 32,128,512" >&2; exit 2; }
"$root/scripts/build" tollgate weather_server >/dev/null
bin="$root/build"
work=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-pay-bench.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

start() {  # NAME command... ; sets url_NAME
  local name=$1
  shift
  "$@" >"$work/$name.out" 2>"$work/$name.err" &
  pids+=($!)
  local url=""
  for _ in $(seq 1 300); do
    url=$(sed -n 's/^listening on \(http:\/\/[^ ]*\)$/\1/p' "$work/$name.out" 2>/dev/null || true)
    [[ -n "$url" ]] && break
    sleep 0.1
  done
  [[ -n "$url" ]] || { echo "$name did not start" >&2; cat "$work/$name.err" >&2; exit 1; }
  printf -v "url_$name" '%s' "$url"
}

# The platform and the accounts.
start platform "$bin/tollgate" serve --listen 127.0.0.1:0 --db "sqlite:$work/t.db" --no-access-log --log-level warn
owner=$(curl -sf -XPOST "$url_platform/api/v1/auth/signup" -d '{"email":"owner@bench","password":"benchmark-pass"}' | json "['session_token']")
agent_key=$(curl -sf -XPOST "$url_platform/api/v1/keys" -H "Authorization: Bearer $owner" -d '{"name":"bench"}' | json "['key']")
provider_key=$(curl -sf -XPOST "$url_platform/api/v1/provider-keys" -H "Authorization: Bearer $owner" -d '{"name":"bench"}' | json "['key']")
curl -sf -XPOST "$url_platform/api/v1/admin/credits" -H "Authorization: Bearer $owner" \
  -d '{"email":"owner@bench","amount":"1000000"}' >/dev/null

# The servers: unpaid and paid SDK servers, and gateways in front of an unpaid stdio upstream.
start direct_free "$bin/weather_server" --listen 127.0.0.1:0 --free
TOLLGATE_URL=$url_platform TOLLGATE_API_KEY=$provider_key start direct_paid "$bin/weather_server" --listen 127.0.0.1:0
for mode in free paid; do
  price=$([[ $mode == paid ]] && echo '"0.01"' || echo '"0"')
  cat >"$work/gateway_$mode.toml" <<TOML
[platform]
url = "$url_platform"
[[upstream]]
name = "weather"
command = ["$bin/weather_server", "--stdio", "--free"]
[upstream.prices]
current_conditions = $price
TOML
  TOLLGATE_API_KEY=$provider_key start "gateway_$mode" "$bin/tollgate" gateway --config "$work/gateway_$mode.toml" \
    --listen 127.0.0.1:0 --log-level warn
done

sessions() {  # URL COUNT -> file with COUNT session ids
  local file="$work/sessions.$RANDOM"
  for _ in $(seq 1 "$2"); do
    curl -s -D - -o /dev/null -XPOST "$1" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
      -H "Authorization: Bearer $agent_key" \
      -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"wrk","version":"1"}}}' |
      sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: *\([^[:space:]]*\).*/\1/p' >>"$file"
  done
  echo "$file"
}

declare -A rate p50 p99
load() {  # LABEL URL TOKEN [CONNECTIONS]
  local label=$1 url=$2 token=$3 c=${4:-$conns} file
  file=$(sessions "$url" "$c")
  for _ in $(seq 1 100); do curl -sf "${url%/mcp*}/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  MCP_SESSIONS_FILE=$file AGENT_TOKEN=$token wrk -t1 -c"$c" -d2s -s "$here/call.lua" "$url" >/dev/null
  local line
  line=$(MCP_SESSIONS_FILE=$file AGENT_TOKEN=$token wrk -t1 -c"$c" -d"${seconds}s" -s "$here/call.lua" "$url" | grep '^RESULT')
  local requests duration errors
  requests=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$line")
  duration=$(sed -n 's/.*duration_us=\([0-9]*\).*/\1/p' <<<"$line")
  errors=$(sed -n 's/.*errors=\([0-9]*\).*/\1/p' <<<"$line")
  rate[$label]=$(awk -v r="$requests" -v d="$duration" 'BEGIN { printf "%.0f", r / (d / 1e6) }')
  p50[$label]=$(sed -n 's/.*p50_us=\([0-9]*\).*/\1/p' <<<"$line")
  p99[$label]=$(sed -n 's/.*p99_us=\([0-9]*\).*/\1/p' <<<"$line")
  printf "%-34s %9s %9.2f %9.2f %7s\n" "$label" "${rate[$label]}" "$(awk -v x="${p50[$label]}" 'BEGIN{print x/1000}')" \
    "$(awk -v x="${p99[$label]}" 'BEGIN{print x/1000}')" "$errors"
}

echo "tools/call current_conditions, wrk -t1 -c$conns -d${seconds}s (2 s warm-up), one session per connection, $(nproc) cores"
echo "platform: tollgate serve (SQLite, synchronous=FULL) on this machine; paid = \$0.01 charged before each call"
printf "%-34s %9s %9s %9s %7s\n" "path" "calls/s" "p50 ms" "p99 ms" "errors"
# The platform's charge group commit so far: "batches charges apply_micros".
commit_stats() {
  curl -sf "$url_platform/metrics" | awk '
    /^tollgate_group_commit_charge_batches / {b=$2} /^tollgate_group_commit_charge_requests / {r=$2}
    /^tollgate_group_commit_charge_apply_micros / {u=$2} END {print b+0, r+0, u+0}'
}
commit_note=()
load "SDK server, unpaid" "$url_direct_free/mcp" ""
before=$(commit_stats)
load "SDK server, paid (with_payments)" "$url_direct_paid/mcp" "$agent_key"
commit_note+=("SDK server, paid: $(commit_stats | awk -v b="$before" 'BEGIN{split(b,x," ")} {
  n=$1-x[1]; printf "%d charges in %d commits, %.1f per commit, %.2f ms per commit", $2-x[2], n, ($2-x[2])/(n?n:1), ($3-x[3])/(n?n:1)/1000}')")
load "gateway -> stdio upstream, unpaid" "$url_gateway_free/mcp/weather" "$agent_key"
before=$(commit_stats)
load "gateway -> stdio upstream, paid" "$url_gateway_paid/mcp/weather" "$agent_key"
commit_note+=("gateway, paid: $(commit_stats | awk -v b="$before" 'BEGIN{split(b,x," ")} {
  n=$1-x[1]; printf "%d charges in %d commits, %.1f per commit, %.2f ms per commit", $2-x[2], n, ($2-x[2])/(n?n:1), ($3-x[3])/(n?n:1)/1000}')")
# The gateway's own latency, without queueing: one connection at a time.
load "SDK server, unpaid, 1 connection" "$url_direct_free/mcp" "" 1
load "gateway, unpaid, 1 connection" "$url_gateway_free/mcp/weather" "$agent_key" 1
# What a charge adds to one call, without queueing.
load "SDK server, paid, 1 connection" "$url_direct_paid/mcp" "$agent_key" 1

# Peaks: each path's unpaid and paid passes at each of the given connection counts.
peak_lines=()
best_of() {  # LABEL UNPAID_URL UNPAID_TOKEN PAID_URL: runs the passes, appends the best-against-best line
  local label=$1 free_url=$2 free_token=$3 paid_url=$4 c f p best_free=0 best_free_at=0 best_paid=0 best_paid_at=0
  for c in ${peak_counts//,/ }; do
    load "$label, unpaid, $c connections" "$free_url" "$free_token" "$c"
    load "$label, paid, $c connections" "$paid_url" "$agent_key" "$c"
    f=${rate[$label, unpaid, $c connections]} p=${rate[$label, paid, $c connections]}
    ((f > best_free)) && best_free=$f best_free_at=$c
    ((p > best_paid)) && best_paid=$p best_paid_at=$c
  done
  peak_lines+=("$(awk -v l="$label" -v p="$best_paid" -v pc="$best_paid_at" -v f="$best_free" -v fc="$best_free_at" 'BEGIN {
    printf "paid/unpaid throughput, %s, best against best: %.0f%% (target >= 50%%; paid %d calls/s at %d connections, unpaid %d at %d)", l, 100 * p / f, p, pc, f, fc }')")
}
if [[ -n $peak_counts ]]; then
  best_of "SDK server" "$url_direct_free/mcp" "" "$url_direct_paid/mcp"
  best_of "gateway" "$url_gateway_free/mcp/weather" "$agent_key" "$url_gateway_paid/mcp/weather"
fi

# The gateway mounted inside `tollgate serve` (--gateway-config): it charges in-process, the
# same ledger path without the HTTP hop to the platform. The platform restarts on the same
# database with an unpaid and a paid upstream.
kill "${pids[0]}"
wait "${pids[0]}" 2>/dev/null || true
cat >"$work/mounted.toml" <<TOML
[[upstream]]
name = "free"
command = ["$bin/weather_server", "--stdio", "--free"]
[upstream.prices]
current_conditions = "0"

[[upstream]]
name = "paid"
command = ["$bin/weather_server", "--stdio", "--free"]
[upstream.prices]
current_conditions = "0.01"
TOML
TOLLGATE_API_KEY=$provider_key start mounted "$bin/tollgate" serve --listen 127.0.0.1:0 --db "sqlite:$work/t.db" \
  --no-access-log --log-level warn --gateway-config "$work/mounted.toml"
for _ in $(seq 1 100); do curl -sf "$url_mounted/healthz" | grep -q '"upstreams_ready":true' && break; sleep 0.1; done
url_platform=$url_mounted
load "gateway in serve, unpaid" "$url_mounted/mcp/free" "$agent_key"
before=$(commit_stats)
load "gateway in serve, paid" "$url_mounted/mcp/paid" "$agent_key"
commit_note+=("gateway in serve, paid: $(commit_stats | awk -v b="$before" 'BEGIN{split(b,x," ")} {
  n=$1-x[1]; printf "%d charges in %d commits, %.1f per commit, %.2f ms per commit", $2-x[2], n, ($2-x[2])/(n?n:1), ($3-x[3])/(n?n:1)/1000}')")

echo
echo "platform group commit (warm-up included):"
printf '  %s\n' "${commit_note[@]}"
awk -v pf="${rate[SDK server, unpaid]}" -v pp="${rate[SDK server, paid (with_payments)]}" \
    -v gf="${rate[gateway -> stdio upstream, unpaid]}" -v gp="${rate[gateway -> stdio upstream, paid]}" \
    -v mf="${rate[gateway in serve, unpaid]}" -v mp="${rate[gateway in serve, paid]}" \
    -v d50="${p50[SDK server, unpaid]}" -v g50="${p50[gateway -> stdio upstream, unpaid]}" \
    -v d1="${p50[SDK server, unpaid, 1 connection]}" -v g1="${p50[gateway, unpaid, 1 connection]}" 'BEGIN {
  printf "paid/unpaid at %d connections, SDK server: %.0f%% (the paid path waits for its commit here)\n", '"$conns"', 100 * pp / pf
  printf "paid/unpaid at %d connections, gateway:    %.0f%%\n", '"$conns"', 100 * gp / gf
  printf "paid/unpaid at %d connections, gateway in serve (in-process charging): %.0f%%\n", '"$conns"', 100 * mp / mf
  printf "gateway p50 added over the upstream directly (unpaid), 1 connection: %.2f ms (target <= 1 ms)\n", (g1 - d1) / 1000
  printf "gateway p50 added over the upstream directly (unpaid), %d connections: %.2f ms\n", '"$conns"', (g50 - d50) / 1000
}'
printf '%s\n' "${peak_lines[@]}"
"$bin/tollgate" ledger verify --db "sqlite:$work/t.db" | tail -1
