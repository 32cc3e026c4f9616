#!/usr/bin/env bash
# Installs the Debian packages the project needs (only those missing; one
# apt-get update, and only when something must be installed), then builds the
# plugin (build/bin/nomad_iis) and the Go host (build/bin/nomad-iis-host).
#
#   scripts/setup.sh                 packages + release build
#   SKIP_APT=1 scripts/setup.sh      build only
#   BUILD_DIR=build-asan CMAKE_ARGS=-DNOMAD_IIS_SANITIZE=ON scripts/setup.sh
#   SKIP_NPM=1 scripts/setup.sh      without the browser tests' npm packages
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${SKIP_APT:-0}" != 1 ]; then
  missing=()
  while read -r pkg; do
    pkg="${pkg%%#*}"; pkg="${pkg//[[:space:]]/}"
    [ -n "$pkg" ] || continue
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done < scripts/packages.txt
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # Debian's nodejs comes without npm (NodeSource's bundles it).
  if ! command -v npm >/dev/null; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null
  fi
fi

# The dashboard's browser tests: playwright-core, pinned by
# tests/ui/package-lock.json (it drives Debian's chromium; no browser download).
if [ "${SKIP_NPM:-0}" != 1 ]; then
  (cd tests/ui && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

BUILD_DIR="${BUILD_DIR:-build}"
jobs="${JOBS:-$(nproc)}"
# shellcheck disable=SC2086
cmake -S . -B "$BUILD_DIR" -G Ninja ${CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j "$jobs"
if [ "${SKIP_GO:-0}" != 1 ] && [ -x host/build.sh ]; then
  BUILD_DIR="$BUILD_DIR" host/build.sh
fi
echo "setup: built $BUILD_DIR/bin/nomad_iis" >&2
