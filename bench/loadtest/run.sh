#!/usr/bin/env bash
# Load-test presets of nomad-iis-loadtest (host/loadtest), each against a
# private single-node host (nomad-iis-host agent in a temp dir, loopback
# only, stopped with its tasks afterwards). Prints a table per preset,
# writes $BUILD_DIR/loadtest-<preset>.json, exits 1 if any preset failed.
#
#   bench/loadtest/run.sh                        steady, kill9, 200tasks
#   bench/loadtest/run.sh kill9 -duration 60s    one preset, extra flags
#   SKIP_SETUP=1 bench/loadtest/run.sh steady    without rebuilding
#
# Presets: steady (8 Management API clients over 3 allocations plus site
# traffic, 20 s), kill9 (the same, the plugin SIGKILLed after a third of
# the run: zero failed site requests expected), 200tasks (200 allocations
# on the node, 16 clients, 30 s).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$REPO"
BUILD_DIR="${BUILD_DIR:-build}"
if [ "${SKIP_SETUP:-0}" != 1 ]; then
  SKIP_APT=1 BUILD_DIR="$BUILD_DIR" scripts/setup.sh >/dev/null
fi
# Many nginx instances: raise the descriptor limit if we may.
ulimit -n 65536 2>/dev/null || true

presets=()
while [ $# -gt 0 ] && [[ "$1" != -* ]]; do
  presets+=("$1")
  shift
done
[ ${#presets[@]} -gt 0 ] || presets=(steady kill9 200tasks)

failed=()
for p in "${presets[@]}"; do
  echo "== preset $p" >&2
  if ! "$BUILD_DIR/bin/nomad-iis-loadtest" -preset "$p" -spawn \
      -host-bin "$BUILD_DIR/bin/nomad-iis-host" -plugin "$BUILD_DIR/bin/nomad_iis" \
      -site examples/static-app -json "$BUILD_DIR/loadtest-$p.json" "$@"; then
    failed+=("$p")
  fi
  echo
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "bench/loadtest: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "bench/loadtest: all presets passed" >&2
