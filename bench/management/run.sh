#!/usr/bin/env bash
# Management API benchmarks, in one run on this machine against its own
# baselines (ratios matter; the machine is noisy):
#   1. GET .../status with wrk -c64 vs nginx serving a 1 KB file
#      (targets: >= 1.0x nginx req/s, p99 no worse than nginx's)
#   2. PUT of a 200 MB / 2,000-file zip (extracted) vs `unzip` (target <= 1.0x)
#   3. GET of the folder as a zip vs `zip -r -1` (target <= 0.9x)
# with the plugin's peak RSS during each (VmHWM, reset per phase; target:
# growth < 64 MB). Each
# measurement alternates with its baseline ROUNDS times (default 3) and
# reports the medians.
#
#   bench/management/run.sh                 plugin = $BUILD_DIR/bin/nomad_iis (BUILD_DIR=build)
#   DURATION=5 FILES=500 bench/management/run.sh   shorter
#   PHASES="upload" bench/management/run.sh        only some phases (status, upload,
#                                                   download; download needs upload)
#   PERF=1 PHASES=upload bench/management/run.sh   perf record -g the plugin during the
#                                                   uploads ($PERF_OUT, default /tmp/niis-upload.perf)
#
# Needs: wrk, curl, zip, unzip, base64, the plugin and host/build.sh's
# nomad-iis-host. Everything listens on 127.0.0.1 and is stopped by pid.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
BUILD_DIR="${BUILD_DIR:-build}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$REPO/$BUILD_DIR" ;; esac
PLUGIN="${NOMAD_IIS_PLUGIN:-$BUILD_DIR/bin/nomad_iis}"
HOST_BIN="$BUILD_DIR/bin/nomad-iis-host"
DURATION="${DURATION:-10}"
PHASES="${PHASES:-status upload download}"
has_phase() { [[ " $PHASES " == *" $1 "* ]]; }
FILES="${FILES:-2000}"
FILE_KB="${FILE_KB:-100}"
KEY="bench-key-$(date +%s%N)"

for tool in wrk curl zip unzip base64; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing" >&2; exit 2; }
done
[ -x "$PLUGIN" ] || { echo "run.sh: no plugin at $PLUGIN" >&2; exit 2; }
[ -x "$HOST_BIN" ] || BUILD_DIR="$BUILD_DIR" host/build.sh >/dev/null

WORK=$(mktemp -d /tmp/niis-bench-XXXXXX)
chmod 755 "$WORK"
HOST_PID=""
NGINX_PIDS=()
# Sends `signal` to `pid`, waits up to 10 s for it to exit, then kills it.
stop_pid() {  # signal pid
  kill -0 "$2" 2>/dev/null || return 0
  kill "-$1" "$2" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$2" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$2" 2>/dev/null || true
}
stop_nginx() {
  for pid in "${NGINX_PIDS[@]}"; do stop_pid QUIT "$pid"; done
  NGINX_PIDS=()
}
cleanup() {
  stop_nginx
  [ -z "$HOST_PID" ] || stop_pid INT "$HOST_PID"
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
API_PORT=$(free_port)
"$HOST_BIN" run --plugin "$PLUGIN" --task-config @host/testdata/jobs/static-app.json \
  --free-port httplabel --local host/testdata/static-app \
  --plugin-config "{\"data_dir\":\"$WORK/data\"}" --alloc-root "$WORK/allocs" \
  -- "--management-api-port=$API_PORT" "--management-api-key=$KEY" --management-api-bind=127.0.0.1 \
  >"$WORK/host.log" 2>&1 &
HOST_PID=$!
for _ in $(seq 1 300); do
  grep -q "press Ctrl-C" "$WORK/host.log" && break
  kill -0 "$HOST_PID" 2>/dev/null || { cat "$WORK/host.log" >&2; exit 1; }
  sleep 0.1
done
SITE=$(grep -o 'http://127.0.0.1:[0-9]*/' "$WORK/host.log" | head -1)
ALLOC_DIR=$(sed -n 's/^  alloc dir: //p' "$WORK/host.log")
ALLOC=$(basename "$ALLOC_DIR")
LOCAL="$ALLOC_DIR/app/local"
PLUGIN_PID=$(pgrep -P "$HOST_PID" | head -1)
API="http://127.0.0.1:$API_PORT/api/v1/allocs/$ALLOC/app"
until curl -sf -o /dev/null -H "X-Api-Key: $KEY" "$API/status"; do sleep 0.1; done

reset_peak() { echo 5 >"/proc/$PLUGIN_PID/clear_refs"; }
peak_mb() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$PLUGIN_PID/status"; }
now() { date +%s.%N; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
rows=()
row() { rows+=("$(printf '| %-34s | %14s | %14s | %6s | %-8s | %8s |' "$@")"); }

ROUNDS="${ROUNDS:-3}"
median() { tr ' ' '\n' <<<"$*" | sed '/^$/d' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

# ---- 1. status vs nginx ----
if has_phase status; then
# The baseline is a plain nginx serving a 1 KB file from disk, in two
# configurations: Debian's defaults (a worker per core, access log) and the
# leanest (one worker, no log); the ratio is taken against the faster of the
# two in this run. The task's own site (front nginx proxying to its pool's
# nginx) is listed too, for scale. Runs alternate, ROUNDS times, and each
# row reports the median, so a noisy neighbour hits all of them alike.
head -c 1024 /dev/zero | tr '\0' 'a' >"$LOCAL/1k.txt"
NGINX_DIR="$WORK/nginx"
mkdir -p "$NGINX_DIR/www" "$NGINX_DIR/tmp" "$NGINX_DIR/logs"
# Readable by nginx's workers: the task's own copy is not (directory_security).
install -m 644 "$LOCAL/1k.txt" "$NGINX_DIR/www/1k.txt"
nginx_conf() {  # name workers access_log port
  cat >"$NGINX_DIR/$1.conf" <<CONF
worker_processes $2;
pid $NGINX_DIR/$1.pid;
error_log $NGINX_DIR/logs/$1.error.log;
events { worker_connections 1024; }
http {
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 65;
  access_log $3;
  client_body_temp_path $NGINX_DIR/tmp; proxy_temp_path $NGINX_DIR/tmp;
  fastcgi_temp_path $NGINX_DIR/tmp; uwsgi_temp_path $NGINX_DIR/tmp; scgi_temp_path $NGINX_DIR/tmp;
  server { listen 127.0.0.1:$4; root $NGINX_DIR/www; }
}
CONF
  nginx -p "$NGINX_DIR" -c "$NGINX_DIR/$1.conf" -e "$NGINX_DIR/logs/$1.error.log"
  for _ in $(seq 1 50); do [ -s "$NGINX_DIR/$1.pid" ] && break; sleep 0.1; done
  NGINX_PIDS+=("$(cat "$NGINX_DIR/$1.pid")")
}
DEFAULT_PORT=$(free_port); LEAN_PORT=$(free_port)
nginx_conf default auto "$NGINX_DIR/logs/access.log" "$DEFAULT_PORT"
nginx_conf lean 1 off "$LEAN_PORT"
until curl -sf -o /dev/null "http://127.0.0.1:$DEFAULT_PORT/1k.txt" &&
  curl -sf -o /dev/null "http://127.0.0.1:$LEAN_PORT/1k.txt"; do sleep 0.1; done

wrk_run() { wrk -t2 -c"$1" -d"${DURATION}s" --latency "${@:2}" 2>&1; }
rps() { awk '/Requests\/sec/ {print $2}' <<<"$1"; }
p99() { awk '$1 == "99%" {print $2}' <<<"$1"; }
errors() { awk '/Non-2xx|Socket errors/' <<<"$1"; }
to_ms() { awk '{ v=$1; if (v ~ /us$/) printf "%.3f\n", v/1000; else if (v ~ /ms$/) printf "%.3f\n", v+0; else printf "%.3f\n", v*1000 }' <<<"$1"; }
declare -A RPS P99
targets=(status default lean site)
measure() {  # target connections
  case "$1" in
    status) wrk_run "$2" -H "X-Api-Key: $KEY" "$API/status" ;;
    default) wrk_run "$2" "http://127.0.0.1:$DEFAULT_PORT/1k.txt" ;;
    lean) wrk_run "$2" "http://127.0.0.1:$LEAN_PORT/1k.txt" ;;
    site) wrk_run "$2" "${SITE}1k.txt" ;;
  esac
}
reset_peak
for _ in $(seq 1 "$ROUNDS"); do
  for t in "${targets[@]}"; do
    out=$(measure "$t" 64)
    [ -z "$(errors "$out")" ] || echo "$t: $(errors "$out")" >&2
    RPS[$t]+="$(rps "$out") "
    P99[$t]+="$(to_ms "$(p99 "$out")") "
  done
done
status_rss=$(peak_mb)
for t in "${targets[@]}"; do
  RPS[$t]=$(median "${RPS[$t]}")
  P99[$t]=$(median "${P99[$t]}")
done
best=default
awk -v a="${RPS[lean]}" -v b="${RPS[default]}" 'BEGIN { exit !(a > b) }' && best=lean
row "status req/s (wrk -c64, median/$ROUNDS)" "${RPS[status]}" "${RPS[$best]} nginx" \
  "$(ratio "${RPS[status]}" "${RPS[$best]}")" ">= 1.0" "$status_rss"
row "status p99 latency (ms)" "${P99[status]}" "${P99[$best]} nginx" "" "<= nginx" ""
row "  nginx, Debian defaults (req/s)" "" "${RPS[default]}" "" "" ""
row "  nginx, 1 worker, no log (req/s)" "" "${RPS[lean]}" "" "" ""
row "  the task's site, 1k.txt (req/s)" "" "${RPS[site]}" "" "" ""
status8_out=$(measure status 8)
row "status p99 latency (wrk -c8, ms)" "$(to_ms "$(p99 "$status8_out")")" "" "" "" ""
stop_nginx
fi

# ---- 2. zip upload vs unzip ----
if has_phase upload; then
# Both sides write the same 2,000 files and are timed to the end of a sync.
# Rounds alternate like the status runs. Every round of either side writes
# a fresh folder and nothing is removed until all rounds are done: ext4
# makes file creation slower right after many files were deleted (it checks
# each candidate inode for a recent delete), and only one side would pay.
mkdir -p "$WORK/site"
for i in $(seq 1 "$FILES"); do
  d="$WORK/site/d$((i % 20))"
  mkdir -p "$d"
  head -c $((FILE_KB * 768)) /dev/urandom | base64 -w 76 >"$d/f$i.txt"
done
total_mb=$(du -sm "$WORK/site" | cut -f1)
(cd "$WORK/site" && zip -r -1 -q "$WORK/site.zip" .)
sync
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
unzip_runs="" upload_runs=""
reset_peak
for r in $(seq 1 "$ROUNDS"); do
  t0=$(now); unzip -q -o "$WORK/site.zip" -d "$WORK/unzipped$r"; sync; t1=$(now)
  unzip_runs+="$(seconds "$t0" "$t1") "
  [ -z "${PERF:-}" ] || { perf record -g -p "$PLUGIN_PID" -o "${PERF_OUT:-/tmp/niis-upload.perf}.$r" 2>/dev/null & PERF_PID=$!; sleep 0.5; }
  t0=$(now)
  code=$(curl -s -o "$WORK/upload.json" -w '%{http_code}' -X PUT -H "X-Api-Key: $KEY" \
    -H "Content-Type: application/zip" --data-binary @"$WORK/site.zip" "$API/fs/local%2Fsite$r")
  sync; t1=$(now)
  [ -z "${PERF:-}" ] || { kill -INT "$PERF_PID"; wait "$PERF_PID" || true; }
  [ "$code" = 200 ] || { echo "upload failed: $code $(cat "$WORK/upload.json")" >&2; exit 1; }
  upload_runs+="$(seconds "$t0" "$t1") "
done
upload_s=$(median "$upload_runs") unzip_s=$(median "$unzip_runs")
row "zip upload ${total_mb} MB / $FILES files (s)" "$upload_s" "$unzip_s unzip" "$(ratio "$upload_s" "$unzip_s")" "<= 1.0" "$(peak_mb)"
row "  each round: upload / unzip (s)" "${upload_runs% }" "${unzip_runs% }" "" "" ""
rm -rf "$WORK/site.zip" "$WORK/site" "$WORK"/unzipped*
for r in $(seq 2 "$ROUNDS"); do rm -rf "$LOCAL/site$r"; done
sync
fi

# ---- 3. folder download vs zip -r -1 ----
if has_phase download; then
zip_runs="" download_runs=""
reset_peak
for r in $(seq 1 "$ROUNDS"); do
  t0=$(now); (cd "$LOCAL/site1" && zip -r -1 -q "$WORK/baseline.zip" .); sync; t1=$(now)
  zip_runs+="$(seconds "$t0" "$t1") "
  rm -f "$WORK/baseline.zip"; sync
  t0=$(now)
  code=$(curl -s -o "$WORK/download.zip" -w '%{http_code}' -H "X-Api-Key: $KEY" "$API/fs/local%2Fsite1")
  sync; t1=$(now)
  [ "$code" = 200 ] || { echo "download failed: $code" >&2; exit 1; }
  download_runs+="$(seconds "$t0" "$t1") "
  unzip -tq "$WORK/download.zip" >/dev/null || { echo "the downloaded zip is broken" >&2; exit 1; }
  rm -f "$WORK/download.zip"; sync
done
download_s=$(median "$download_runs") zip_s=$(median "$zip_runs")
row "folder download as zip (s)" "$download_s" "$zip_s zip -r -1" "$(ratio "$download_s" "$zip_s")" "<= 0.9" "$(peak_mb)"
row "  each round: download / zip (s)" "${download_runs% }" "${zip_runs% }" "" "" ""
fi


echo
echo "Management API benchmarks ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
printf '| %-34s | %14s | %14s | %6s | %-8s | %8s |\n' "metric" "plugin" "baseline" "ratio" "target" "peak MB"
printf '|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..36})" "$(printf -- '-%.0s' {1..16})" \
  "$(printf -- '-%.0s' {1..16})" "--------" "----------" "----------"
printf '%s\n' "${rows[@]}"
