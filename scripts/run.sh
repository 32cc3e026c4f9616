#!/usr/bin/env bash
# The main job: sets up the machine and builds everything (scripts/setup.sh,
# which also runs host/build.sh), starts the project's single-node host
# (`nomad-iis-host agent`) with the nomad_iis plugin and its Management API
# (a freshly generated key), registers the bundled sample static app job
# (examples/jobs/static-app.json), waits until it serves, and prints the app
# URL, the Jobs API and Management API URLs and a curl example for each.
# Ctrl-C stops the task, the plugin and the host and leaves no process
# behind.
#
#   scripts/run.sh
#   HTTP_PORT=4646 MGMT_PORT=5004 scripts/run.sh   (the defaults)
#   SKIP_SETUP=1 scripts/run.sh                    (already built)
#   HOST_BIN=... PLUGIN=... JOB_FILE=...            (other binaries or job)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd)"

if [ "${SKIP_SETUP:-0}" != 1 ]; then
  SKIP_NPM="${SKIP_NPM:-1}" scripts/setup.sh  # the browser tests' packages are not needed here
fi

HTTP_PORT="${HTTP_PORT:-4646}"
MGMT_PORT="${MGMT_PORT:-5004}"
JOB_FILE="${JOB_FILE:-examples/jobs/static-app.json}"
HOST_BIN="${HOST_BIN:-$REPO/build/bin/nomad-iis-host}"
PLUGIN="${PLUGIN:-$REPO/build/bin/nomad_iis}"

# Everything the host writes lives here; workers run as www-data, so the
# directory must be world-traversable.
RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/nomad-iis-run-XXXXXX")"
chmod 755 "$RUN_DIR"
KEY="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
# The plugin reads its key from a root-only file: a command line is
# readable by every local user.
KEY_FILE="$RUN_DIR/api-key"
(umask 077 && printf '%s\n' "$KEY" >"$KEY_FILE")
ADDR_FILE="$RUN_DIR/addr"
AGENT_PID=""

cleanup() {
  # A second Ctrl-C must not cut the cleanup short (the host treats it as
  # "force": it kills the plugin, and the sweep below gets the rest).
  trap - EXIT
  trap '' INT TERM
  if [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; then
    echo
    echo "==> stopping the host (it stops the task and the plugin)..."
    kill -TERM "$AGENT_PID" 2>/dev/null || true
    for _ in $(seq 1 600); do
      kill -0 "$AGENT_PID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$AGENT_PID" 2>/dev/null; then
      echo "==> the host did not stop within 60 s; killing it" >&2
      kill -KILL "$AGENT_PID" 2>/dev/null || true
    fi
    wait "$AGENT_PID" 2>/dev/null || true
  fi
  # Nothing may outlive us: any process still using the run dir (a task's
  # nginx, the plugin) is killed by pid.
  local left
  left="$(pgrep -f -- "$RUN_DIR" || true)"
  if [ -n "$left" ]; then
    echo "==> killing leftover processes: $left" >&2
    # shellcheck disable=SC2086
    kill -KILL $left 2>/dev/null || true
  fi
  rm -rf "$RUN_DIR"
  echo "==> stopped; nothing left running"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$HOST_BIN" agent \
  -data-dir "$RUN_DIR/data" \
  -plugin "$PLUGIN" \
  -bind 127.0.0.1 -http-port "$HTTP_PORT" \
  -stop-on-exit \
  -addr-file "$ADDR_FILE" \
  -log-level warn \
  -- --management-api-port="$MGMT_PORT" --management-api-key-file="$KEY_FILE" --management-api-bind=127.0.0.1 \
  >"$RUN_DIR/agent.out" &
AGENT_PID=$!

for _ in $(seq 1 600); do
  [ -s "$ADDR_FILE" ] && break
  if ! kill -0 "$AGENT_PID" 2>/dev/null; then
    echo "run.sh: the host exited during start:" >&2
    cat "$RUN_DIR/agent.out" >&2
    exit 1
  fi
  sleep 0.1
done
[ -s "$ADDR_FILE" ] || { echo "run.sh: the host did not start within 60 s" >&2; exit 1; }
export NOMAD_ADDR
NOMAD_ADDR="$(cat "$ADDR_FILE")"

"$HOST_BIN" job run -address "$NOMAD_ADDR" "$JOB_FILE" >/dev/null
read -r ALLOC_ID _ APP_URL < <("$HOST_BIN" job urls -address "$NOMAD_ADDR" static-app | head -1)
for _ in $(seq 1 300); do
  curl -fsS -o /dev/null "$APP_URL" 2>/dev/null && break
  sleep 0.1
done
curl -fsS -o /dev/null "$APP_URL" || { echo "run.sh: $APP_URL does not answer" >&2; exit 1; }
MGMT_URL="http://127.0.0.1:$MGMT_PORT/api/v1"

cat <<EOF

==> The sample static app runs as an iis task (job "static-app", allocation $ALLOC_ID).

App:
  $APP_URL
  curl -s $APP_URL

Jobs API (Nomad's HTTP API, served by nomad-iis-host):
  $NOMAD_ADDR/v1/jobs
  curl -s $NOMAD_ADDR/v1/job/static-app/allocations

Management API (key: $KEY):
  $MGMT_URL
  curl -s -H 'X-Api-Key: $KEY' $MGMT_URL/allocs/$ALLOC_ID/app/status

Dashboard (sign in with the key above):
  http://127.0.0.1:$MGMT_PORT/ui/

Management CLI:
  NOMAD_ADDR=$NOMAD_ADDR NOMAD_IIS_API_KEY=$KEY build/bin/nomad-iis-ctl status --job static-app

Press Ctrl-C to stop everything.
EOF

wait "$AGENT_PID"
