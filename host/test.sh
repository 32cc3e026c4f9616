#!/usr/bin/env bash
# Builds the Go host (host/build.sh) and runs its tests in module mode:
# unit tests (host/pluginhost, host/agent) and the integration tests in
# host/tests (plugin protocol, Management API, and host/tests/agent: the
# agent's Jobs API, also through HashiCorp's own Go client, placement,
# restart recovery, nomad-iis-ctl, the load test and scripts/run.sh) against
# the real plugin binary.
#
#   host/test.sh                          all tests, plugin = $BUILD_DIR/bin/nomad_iis
#   host/test.sh -run 'TestRecoverTask/crash'   extra `go test` flags
#   host/test.sh -run . nomad_iis/host/tests/agent   one package
#   NOMAD_IIS_PLUGIN=/path/to/nomad_iis host/test.sh
#   TEST_TIMEOUT=30m host/test.sh
set -euo pipefail

HOST_DIR="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HOST_DIR/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-build}"
case "$BUILD_DIR" in
  /*) ;;
  *) BUILD_DIR="$REPO/$BUILD_DIR" ;;
esac
export BUILD_DIR

"$HOST_DIR/build.sh"
eval "$("$HOST_DIR/build.sh" --env)"

export NOMAD_IIS_PLUGIN="${NOMAD_IIS_PLUGIN:-$BUILD_DIR/bin/nomad_iis}"
if [ ! -x "$NOMAD_IIS_PLUGIN" ]; then
  echo "host/test.sh: plugin binary $NOMAD_IIS_PLUGIN not found (build it first: scripts/setup.sh)" >&2
  exit 1
fi
echo "host/test.sh: testing $NOMAD_IIS_PLUGIN" >&2
# The agent tests (host/tests/agent) run the binaries build.sh produced.
export NOMAD_IIS_HOST_BIN="${NOMAD_IIS_HOST_BIN:-$BUILD_DIR/bin/nomad-iis-host}"
export NOMAD_IIS_CTL_BIN="${NOMAD_IIS_CTL_BIN:-$BUILD_DIR/bin/nomad-iis-ctl}"
export NOMAD_IIS_LOADTEST_BIN="${NOMAD_IIS_LOADTEST_BIN:-$BUILD_DIR/bin/nomad-iis-loadtest}"

cd "$HOST_DIR"
# A trailing argument naming packages replaces the default (every package with tests).
pkgs=()
if [ $# -gt 0 ] && [[ "${!#}" == nomad_iis/* ]]; then
  pkgs=("${!#}")
  set -- "${@:1:$#-1}"
else
  mapfile -t pkgs < <(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' ./... | sed '/^$/d')
fi
go vet "${pkgs[@]}"
# -p 1: packages one after another (the integration tests start real
# processes); -count=1: never reuse cached results, the plugin may have changed.
go test -p 1 -count=1 -v -timeout "${TEST_TIMEOUT:-20m}" "$@" "${pkgs[@]}"
