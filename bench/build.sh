#!/usr/bin/env bash
# Builds the plugin and the Go host (scripts/setup.sh), then the
# benchmarks' Go programs into $BUILD_DIR/bin: bench-lifecycle, bench-sites
# and bench-sites-app. The benchmarks are their own module (bench/go.mod,
# nomad_iis/bench) joined to the host's workspace by $BUILD_DIR/go/bench.work.
#
#   bench/build.sh                 setup, vet, test bench/benchkit, build
#   SKIP_SETUP=1 bench/build.sh    without rebuilding the plugin and the host
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
cd "$REPO"
BUILD_DIR="${BUILD_DIR:-build}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$REPO/$BUILD_DIR" ;; esac
if [ "${SKIP_SETUP:-0}" != 1 ]; then
  SKIP_APT=1 SKIP_NPM=1 BUILD_DIR="$BUILD_DIR" scripts/setup.sh >/dev/null
fi
eval "$(BUILD_DIR="$BUILD_DIR" host/build.sh --env)"
go_version=$(sed -n 's/^go \([0-9.]*\)$/\1/p' host/go.mod)
GOWORK="$BUILD_DIR/go/bench.work"
printf 'go %s\n\nuse (\n\t%s\n\t%s\n\t%s\n)\n' "$go_version" "$REPO/host" "$BUILD_DIR/go/gen" "$REPO/bench" >"$GOWORK"
export GOWORK
cd bench
go vet ./...
go test -count=1 ./benchkit
go build -o "$BUILD_DIR/bin/bench-lifecycle" ./lifecycle
go build -o "$BUILD_DIR/bin/bench-sites" ./sites
go build -o "$BUILD_DIR/bin/bench-sites-app" ./sites/app
