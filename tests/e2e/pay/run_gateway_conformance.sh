#!/usr/bin/env bash
# The official MCP conformance suite against the gateway: `tollgate gateway` fronting
# examples/conformance_server (a stdio upstream, tools free so no platform call is needed),
# endpoint /mcp/conformance. Prints the suite's `Total: N passed, M failed` line.
# Usage: run_gateway_conformance.sh TOLLGATE CONFORMANCE_SERVER SOURCE_DIR
set -euo pipefail
tollgate=$1
conformance_server=$2
root=$3
"$root/scripts/npm-tools"
npm_dir="$root/tests/npm"
export PATH="$npm_dir/node_modules/node/bin:$PATH"

work=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-gateway-conformance.XXXXXX")
cat >"$work/gateway.toml" <<TOML
[platform]
url = "http://127.0.0.1:9"   # never called: every tool of this upstream is free

[[upstream]]
name = "conformance"
command = ["$conformance_server", "--stdio"]
TOML
# A well-formed provider key the gateway never uses (nothing is priced).
: >"$work/out"
TOLLGATE_API_KEY="sk_live_$(printf '0%.0s' $(seq 1 64))" \
  "$tollgate" gateway --config "$work/gateway.toml" --listen 127.0.0.1:0 >"$work/out" 2>"$work/err" &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

url=""
for _ in $(seq 1 600); do
  url=$(sed -n 's/^listening on \(http:\/\/[^ ]*\)$/\1/p' "$work/out")
  [[ -n "$url" ]] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/err" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$url" ]] || { echo "the gateway did not start" >&2; exit 1; }
# Wait until the upstream is connected and mirrored.
for _ in $(seq 1 600); do
  curl -sf "$url/healthz" | grep -q '"upstreams_ready":true' && break
  sleep 0.1
done

status=0
(cd "$work" && node "$npm_dir/node_modules/@modelcontextprotocol/conformance/dist/index.js" server \
  --url "$url/mcp/conformance" --suite all --spec-version 2025-11-25 -o "$work/results") >"$work/suite.txt" 2>&1 || status=$?
if grep -q "=== Failed Checks ===" "$work/suite.txt"; then
  sed -n '/=== Failed Checks ===/,/^Results saved/p' "$work/suite.txt"
fi
sed -n '/=== SUMMARY ===/,$p' "$work/suite.txt"
total=$(grep -E '^Total: [0-9]+ passed, [0-9]+ failed' "$work/suite.txt" | tail -1 || true)
[[ -n "$total" ]] || { echo "no summary from the conformance suite (exit $status)" >&2; tail -50 "$work/suite.txt" >&2; exit 1; }
if [[ $status -ne 0 || ! "$total" =~ ^Total:\ [0-9]+\ passed,\ 0\ failed$ ]]; then
  echo "conformance suite failed against the gateway (exit $status); gateway stderr:" >&2
  tail -50 "$work/err" >&2
  exit 1
fi
