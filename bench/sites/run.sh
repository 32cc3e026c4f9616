#!/usr/bin/env bash
# Site-serving benchmark (issue 16): static files vs a plain nginx, an
# httpPlatform app through the site vs directly, a static site recycled
# every second, the PSS of 200 static tasks vs 200 nginx, StartTask -> first
# 200 vs an nginx cold start, StopTask. Prints one table; see
# bench/README.md ("Site serving") for what each row means.
#
#   bench/sites/run.sh                                  everything (about 5 minutes)
#   bench/sites/run.sh -duration 3s -rounds 1 -tasks 50 shorter
#   bench/sites/run.sh -phases static,recycle           some phases (static, app,
#                                                       recycle, start, memory)
#   SKIP_SETUP=1 bench/sites/run.sh                     without rebuilding the plugin
#   NOMAD_IIS_PLUGIN=/path/nomad_iis bench/sites/run.sh another plugin binary
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$REPO"
BUILD_DIR="${BUILD_DIR:-build}"
command -v wrk >/dev/null || { echo "run.sh: wrk is missing" >&2; exit 2; }
BUILD_DIR="$BUILD_DIR" bench/build.sh >&2
# Many nginx instances: raise the descriptor limit if we may.
ulimit -n 65536 2>/dev/null || true
exec "$BUILD_DIR/bin/bench-sites" -plugin "${NOMAD_IIS_PLUGIN:-$BUILD_DIR/bin/nomad_iis}" \
  -app "$BUILD_DIR/bin/bench-sites-app" "$@"
