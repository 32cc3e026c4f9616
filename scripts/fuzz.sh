#!/usr/bin/env bash
# Builds and runs the libFuzzer target for the config decoders
# (tests/fuzz/config_decoder_fuzz.cpp) with ASan + UBSan. Standalone on
# purpose: the main CMake build (and so CI) never compiles it.
#
#   scripts/fuzz.sh            fuzz for 60 s
#   scripts/fuzz.sh 600        fuzz for 10 min
#   FUZZ_DIR=/tmp/f scripts/fuzz.sh   keep build, corpus and crash files there
#
# Needs Debian's clang and libclang-rt-14-dev. The golden .msgpack files seed
# the corpus; a dictionary of our key names and enum values helps the fuzzer
# reach the decoders' inner blocks. Crashes are written as $FUZZ_DIR/crash-*.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
fuzz_dir="${FUZZ_DIR:-build-fuzz}"
cxx="${CXX_FUZZ:-clang++}"

if ! command -v "$cxx" >/dev/null; then
  echo "fuzz.sh: $cxx not found (apt-get install clang libclang-rt-14-dev)" >&2
  exit 2
fi

mkdir -p "$fuzz_dir/corpus" "$fuzz_dir/seed"
binary="$fuzz_dir/config_decoder_fuzz"
echo "== building $binary" >&2
"$cxx" -std=c++17 -g -O1 -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -DMSGPACK_DEFAULT_API_VERSION=3 -I. \
  config/*.cpp tests/fuzz/config_decoder_fuzz.cpp -o "$binary"

cp tests/data/config/*.msgpack "$fuzz_dir/seed/"

# Dictionary: every key and enum value as a msgpack fixstr (header byte 0xa0 + length).
python3 - "$fuzz_dir/config.dict" <<'PY'
import sys
words = """target_website applicationPools application_pools applications permit_iusr bindings
service_auto_start_providers name managed_pipeline_mode managed_runtime_version start_mode
idle_timeout disable_overlapped_recycle periodic_restart enable_32bit_app_on_win64
service_unavailable_response queue_length start_time_limit shutdown_time_limit identity
username password extensions value application_pool alias path enable_preload
service_auto_start_enabled service_auto_start_provider virtual_directories type port hostname
require_sni ip_address certificates thumbprint pfx_file cert_file key_file use_self_signed
enabled fingerprint_interval directory_security allowed_target_websites
allowed_apppool_identities allowed_apppool_users placeholder_app_path procdumps binary_path
accept_eula nginx_path chromium_path data_dir rapid_fail_max_crashes rapid_fail_interval
upload_max_bytes zip_max_entries zip_max_uncompressed_bytes allow_secrets_access
screenshot_concurrency screenshot_timeout procdump_concurrency
default http https OnDemand AlwaysRunning HttpLevel TcpLevel Integrated Classic v4.0 v2.0 None
ApplicationPoolIdentity LocalSystem LocalService NetworkService SpecificUser
1h30m 00:20:00 1.02:00:00 500ms 443 * ::1 *.example.com""".split()
with open(sys.argv[1], "w") as out:
    for i, word in enumerate(words):
        data = bytes([0xa0 + len(word)]) + word.encode()
        out.write('w%d="%s"\n' % (i, "".join("\\x%02x" % b for b in data)))
PY

echo "== fuzzing for ${seconds}s" >&2
"$binary" -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
  -dict="$fuzz_dir/config.dict" -artifact_prefix="$fuzz_dir/" -print_final_stats=1 \
  "$fuzz_dir/corpus" "$fuzz_dir/seed"
