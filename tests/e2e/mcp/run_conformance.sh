#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance, pinned in
# tests/npm) against examples/conformance_server: every server scenario of the 2025-11-25
# requirement set, the "pending" ones included, with no expected-failures file. Prints the
# suite's summary, whose last line is `Total: N passed, M failed`.
# Usage: run_conformance.sh CONFORMANCE_SERVER SOURCE_DIR [server flags, e.g. --response-mode sse]
set -euo pipefail
server=$1
root=$2
shift 2
"$root/scripts/npm-tools"
npm_dir="$root/tests/npm"
export PATH="$npm_dir/node_modules/node/bin:$PATH"

work=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-conformance.XXXXXX")
"$server" --listen 127.0.0.1:0 "$@" >"$work/server.out" 2>"$work/server.err" &
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
    echo "conformance_server exited before listening:" >&2
    cat "$work/server.err" >&2
    exit 1
  fi
  sleep 0.1
done
[[ -n "$url" ]] || { echo "conformance_server did not start within 60 s" >&2; exit 1; }

status=0
(cd "$work" && node "$npm_dir/node_modules/@modelcontextprotocol/conformance/dist/index.js" server \
  --url "$url/mcp" --suite all --spec-version 2025-11-25 -o "$work/results") >"$work/suite.txt" 2>&1 || status=$?

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
if [[ $status -ne 0 || ! "$total" =~ ^Total:\ [0-9]+\ passed,\ 0\ failed$ ]]; then
  echo "conformance suite failed (exit $status); server stderr:" >&2
  tail -50 "$work/server.err" >&2
  exit 1
fi
