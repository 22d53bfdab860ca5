#!/usr/bin/env bash
# The official MCP conformance suite against the gateway: `tollgate gateway` fronting
# examples/conformance_server (a stdio upstream, tools free so no platform call is needed),
# endpoint /mcp/conformance. The suite runs through tests/e2e/mcp/run_conformance.sh.
# Usage: run_gateway_conformance.sh TOLLGATE CONFORMANCE_SERVER SOURCE_DIR
set -euo pipefail
tollgate=$1
conformance_server=$2
root=$3

config_dir=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-gateway-conformance.XXXXXX")
trap 'rm -rf "$config_dir"' EXIT
cat >"$config_dir/gateway.toml" <<TOML
[platform]
url = "http://127.0.0.1:9"   # never called: every tool of this upstream is free

[[upstream]]
name = "conformance"
command = ["$conformance_server", "--stdio"]
TOML
# A well-formed provider key the gateway never uses (nothing is priced).
"$root/tests/e2e/mcp/run_conformance.sh" "$root" /mcp/conformance 43 --wait-for-upstreams -- \
  env TOLLGATE_API_KEY="sk_live_$(printf '0%.0s' $(seq 1 64))" \
  "$tollgate" gateway --config "$config_dir/gateway.toml" --listen 127.0.0.1:0
