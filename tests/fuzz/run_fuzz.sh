#!/usr/bin/env bash
# Builds the JSON-RPC decoder fuzz target with clang (libFuzzer + ASan + UBSan) from the
# decoder's own sources only, then fuzzes it for a bounded time. Called by CTest
# (mcp_fuzz_json_rpc); the binary is rebuilt only when a source changed.
# Usage: run_fuzz.sh SOURCE_DIR WORK_DIR SECONDS
set -euo pipefail
root=$1
work=$2
seconds=${3:-60}
command -v clang++ >/dev/null || { echo "clang++ not found: install clang (scripts/install-deps)"; exit 77; }

mkdir -p "$work/corpus"
binary="$work/json_rpc_fuzz"
sources=("$root/tests/fuzz/json_rpc_fuzz.cpp" "$root/tests/fuzz/boost_json_src.cpp" "$root/src/mcp/json_rpc.cpp")
headers=("$root/include/tollgate/mcp/json_rpc.hpp" "$root/src/mcp/message_arena.hpp")
stale=0
[[ -x "$binary" ]] || stale=1
for f in "${sources[@]}" "${headers[@]}" "$0"; do
  [[ $stale -eq 1 || "$f" -nt "$binary" ]] && stale=1
done
if [[ $stale -eq 1 ]]; then
  echo "building $binary"
  # Shares scripts/build's lock: two compilers at once on 2 cores only slow both down.
  exec 9>"${TMPDIR:-/tmp}/tollgate-build.lock"
  flock 9
  objects=()
  for src in "${sources[@]}"; do
    obj="$work/$(basename "$src" .cpp).o"
    # Boost.JSON itself is not instrumented for coverage (it is not what we fuzz), only
    # checked by the sanitizers.
    coverage="-fsanitize=fuzzer-no-link"
    [[ "$src" == *boost_json_src.cpp ]] && coverage=""
    clang++ -std=c++20 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined $coverage \
      -I"$root/include" -I"$root/src" -c "$src" -o "$obj"
    objects+=("$obj")
  done
  clang++ -fsanitize=fuzzer,address,undefined "${objects[@]}" -o "$binary"
  flock -u 9
fi

# Bounded run: seeds from the repository, the growing corpus kept in WORK_DIR.
"$binary" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  "$work/corpus" "$root/tests/fuzz/corpus/json_rpc" 2>&1 | tail -25
exit "${PIPESTATUS[0]}"
