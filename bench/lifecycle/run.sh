#!/usr/bin/env bash
# Task lifecycle benchmark (issue: StartTask -> first 200, StopTask, plugin
# RSS with 200 live tasks, RecoverTask of all after kill -9). Prints a table.
#
#   bench/lifecycle/run.sh [-starts 20] [-tasks 200] [-parallel 8]
#   SKIP_SETUP=1 bench/lifecycle/run.sh    without rebuilding the plugin
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$REPO"
BUILD_DIR="${BUILD_DIR:-build}"
BUILD_DIR="$BUILD_DIR" bench/build.sh >&2
# Many nginx instances: raise the descriptor limit if we may.
ulimit -n 65536 2>/dev/null || true
exec "$BUILD_DIR/bin/bench-lifecycle" -plugin "$BUILD_DIR/bin/nomad_iis" "$@"
