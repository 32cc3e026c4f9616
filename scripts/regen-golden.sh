#!/usr/bin/env bash
# Regenerates the golden msgpack files of the config tests with Nomad's real
# encoder (the plugin-host conformance harness): for each HCL-JSON input
# tests/data/config/<name>.json it writes <name>.msgpack, the exact bytes a
# Nomad client sends for that config block. Inputs named driver_* are encoded
# against the driver (agent plugin) schema, all others against the task schema.
# A dev tool: the committed tests read the .msgpack files and never run this.
#
#   scripts/regen-golden.sh            build schema_json, regenerate everything
#   BUILD_DIR=build-x scripts/regen-golden.sh
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir="${BUILD_DIR:-build-config}"
harness_dir="${PLUGIN_HOST_DIR:-$(cd .. && pwd)/shared/tools/plugin-host}"
plugin_host="$harness_dir/build/bin/plugin-host"
data_dir="tests/data/config"

if [ ! -x "$plugin_host" ]; then
  echo "building plugin-host in $harness_dir" >&2
  (cd "$harness_dir" && SKIP_APT=1 ./build.sh)
fi

if [ ! -f "$build_dir/build.ninja" ] && [ ! -f "$build_dir/Makefile" ]; then
  cmake -S . -B "$build_dir" -G Ninja >/dev/null
fi
cmake --build "$build_dir" --target schema_json -j2 >/dev/null

spec_dir="$(mktemp -d)"
trap 'rm -rf "$spec_dir"' EXIT
"$build_dir/bin/schema_json" task >"$spec_dir/task.json"
"$build_dir/bin/schema_json" driver >"$spec_dir/driver.json"

count=0
for input in "$data_dir"/*.json; do
  name="$(basename "$input" .json)"
  case "$name" in
    driver_*) spec="$spec_dir/driver.json" ;;
    *) spec="$spec_dir/task.json" ;;
  esac
  # The harness prints one JSON object per line; the encode step carries the bytes as hex.
  "$plugin_host" encode --spec "$spec" --task-config "@$input" 2>/dev/null |
    python3 -c '
import json, sys
for line in sys.stdin:
    if line.startswith("{"):
        event = json.loads(line)
        if event.get("step") == "encode" and event.get("status") == "ok":
            sys.stdout.buffer.write(bytes.fromhex(event["detail"]["msgpack_hex"]))
            sys.exit(0)
sys.exit("no encode result")
' >"$data_dir/$name.msgpack.tmp"
  mv "$data_dir/$name.msgpack.tmp" "$data_dir/$name.msgpack"
  echo "$name.msgpack: $(stat -c %s "$data_dir/$name.msgpack") bytes" >&2
  count=$((count + 1))
done
echo "regenerated $count golden files in $data_dir" >&2
