#!/usr/bin/env bash
# Task lifecycle benchmark (issue: StartTask -> first 200, StopTask, plugin
# RSS with 200 live tasks, RecoverTask of all after kill -9). Prints a table.
#
#   bench/lifecycle/run.sh [-starts 20] [-tasks 200] [-parallel 8]
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$REPO"
BUILD_DIR="${BUILD_DIR:-build}"
SKIP_APT=1 SKIP_GO=0 scripts/setup.sh >/dev/null
eval "$(BUILD_DIR="$BUILD_DIR" host/build.sh --env)"
GP="${GOPATH%%:*}"
ln -sfn "$REPO/bench" "$GP/src/nomad_iis/bench"
go vet nomad_iis/bench/lifecycle
go build -o "$BUILD_DIR/bin/bench-lifecycle" nomad_iis/bench/lifecycle
# Many nginx instances: raise the descriptor limit if we may.
ulimit -n 65536 2>/dev/null || true
exec "$BUILD_DIR/bin/bench-lifecycle" -plugin "$BUILD_DIR/bin/nomad_iis" "$@"
