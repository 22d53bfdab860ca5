#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance, pinned in
# tests/npm) against a server this script starts: every server scenario of the 2025-11-25
# requirement set, the "pending" ones included, with no expected-failures file. Prints the
# suite's summary, whose last line is `Total: N passed, M failed`.
#
# Usage: run_conformance.sh SOURCE_DIR ENDPOINT_PATH SCENARIOS [--wait-for-upstreams] -- COMMAND [ARGS...]
#   COMMAND must print `listening on http://HOST:PORT` on stdout when ready (API.md, "Command
#   line"); the suite then runs against http://HOST:PORT/ENDPOINT_PATH. SCENARIOS is how many
#   scenarios the pinned suite runs against that server: a run that passes fewer (the suite
#   skipped some, or found none) fails like a failed scenario. --wait-for-upstreams also
#   waits for the gateway's /healthz to report its upstreams ready.
set -euo pipefail
usage="usage: $0 SOURCE_DIR ENDPOINT_PATH SCENARIOS [--wait-for-upstreams] -- COMMAND..."
root=$1
endpoint=$2
scenarios=${3:-}
[[ $scenarios =~ ^[1-9][0-9]*$ ]] || { echo "$usage" >&2; exit 2; }
shift 3
wait_upstreams=false
if [[ ${1:-} == --wait-for-upstreams ]]; then wait_upstreams=true; shift; fi
[[ ${1:-} == -- ]] || { echo "$usage" >&2; exit 2; }
shift
"$root/scripts/npm-tools"
npm_dir="$root/tests/npm"
export PATH="$npm_dir/node_modules/node/bin:$PATH"

work=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-conformance.XXXXXX")
# Made before the server starts: the background job opens them only once it runs, and the
# wait below must not find them missing.
: >"$work/server.out"
: >"$work/server.err"
"$@" >"$work/server.out" 2>"$work/server.err" &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Wait (with a deadline) for the server's ready line.
url=""
for _ in $(seq 1 600); do
  url=$(sed -n 's/^listening on \(http:\/\/[^ ]*\)$/\1/p' "$work/server.out")
  [[ -n "$url" ]] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "the server exited before listening: $*" >&2
    cat "$work/server.err" >&2
    exit 1
  fi
  sleep 0.1
done
[[ -n "$url" ]] || { echo "the server did not start within 60 s: $*" >&2; exit 1; }
if $wait_upstreams; then
  for _ in $(seq 1 600); do
    curl -sf "$url/healthz" | grep -q '"upstreams_ready":true' && break
    sleep 0.1
  done
fi

status=0
(cd "$work" && node "$npm_dir/node_modules/@modelcontextprotocol/conformance/dist/index.js" server \
  --url "$url$endpoint" --suite all --spec-version 2025-11-25 -o "$work/results") >"$work/suite.txt" 2>&1 || status=$?

# The per-check detail of failures, then the summary.
if grep -q "=== Failed Checks ===" "$work/suite.txt"; then
  sed -n '/=== Failed Checks ===/,/^Results saved/p' "$work/suite.txt"
fi
sed -n '/=== SUMMARY ===/,$p' "$work/suite.txt"
total=$(grep -E '^Total: [0-9]+ passed, [0-9]+ failed' "$work/suite.txt" | tail -1 || true)
if [[ -z "$total" ]]; then
  echo "no summary from the conformance suite (exit $status):" >&2
  tail -50 "$work/suite.txt" >&2
  exit 1
fi
if [[ $status -ne 0 || "$total" != "Total: $scenarios passed, 0 failed" ]]; then
  [[ "$total" =~ ^Total:\ [0-9]+\ passed,\ 0\ failed$ ]] && echo "expected $scenarios scenarios to pass: $total" >&2
  echo "conformance suite failed (exit $status); server stderr:" >&2
  tail -50 "$work/server.err" >&2
  exit 1
fi
