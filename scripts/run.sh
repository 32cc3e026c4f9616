#!/usr/bin/env bash
# The main job: sets up the machine, builds, and runs the bundled static
# sample app as an `iis` task through the project's Nomad client stand-in,
# serving it with nginx on http://127.0.0.1:${PORT:-8080}/. Ctrl-C stops the
# task and the plugin and leaves no process behind.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
PORT="${PORT:-8080}"
exec build/bin/nomad-iis-host run --plugin build/bin/nomad_iis \
  --task-config @host/testdata/jobs/static-app.json \
  --port "httplabel=${PORT}" --local host/testdata/static-app
