#!/usr/bin/env bash
# Sets up the machine, builds, and runs every test: the C++ unit and
# integration suites (CTest), the Go host's integration tests against the
# real plugin, nginx and processes, the dashboard in a real browser
# (tests/ui: chromium driven by playwright-core against a live dev host),
# and the C++ suites once more under AddressSanitizer +
# UndefinedBehaviorSanitizer.
#
#   scripts/test.sh              everything
#   SKIP_ASAN=1 scripts/test.sh  without the sanitizer pass
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
if [ -z "${SKIP_ASAN:-}" ]; then
  SKIP_APT=1 SKIP_GO=1 SKIP_NPM=1 BUILD_DIR=build-asan \
    CMAKE_ARGS="-DNOMAD_IIS_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug" scripts/setup.sh
fi

echo "== C++ tests (release)" >&2
ctest --test-dir build --output-on-failure -j2

if [ -x host/test.sh ]; then
  echo "== Go host integration tests" >&2
  BUILD_DIR=build host/test.sh
fi

echo "== Dashboard in a real browser (tests/ui)" >&2
(cd tests/ui && BUILD_DIR=build npm test)

if [ -z "${SKIP_ASAN:-}" ]; then
  echo "== C++ tests (ASan + UBSan)" >&2
  # One suite at a time: sanitized suites run 2-3x slower, and the site tests
  # (real nginx, 5 s HTTP timeouts) starved beside the zip tests on 2 cores.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j1
  echo "== Management API integration tests against the ASan + UBSan plugin" >&2
  # Real clients over real sockets reach code paths the C++ suites do not
  # (pipelined, cut and slow connections); an ASan report aborts the plugin.
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    NOMAD_IIS_PLUGIN="$PWD/build-asan/bin/nomad_iis" NOMAD_IIS_PLUGIN_SANITIZED=1 \
    BUILD_DIR=build host/test.sh -run . nomad_iis/host/tests/management
fi
echo "== all tests passed" >&2
