#!/usr/bin/env bash
# Builds the Go host offline (Debian's Go 1.19 in GOPATH mode against
# /usr/share/gocode) into ${BUILD_DIR:-build}/go and produces
# ${BUILD_DIR:-build}/bin/nomad-iis-host.
#
#   host/build.sh                  generate (if the protos changed), vet, build
#   BUILD_DIR=build-x host/build.sh another build directory (relative to the repo root)
#   host/build.sh --env            print the Go environment lines (for host/test.sh)
#
# Layout under $BUILD_DIR/go:
#   gopath/src/nomad_iis/host -> <repo>/host   (symlink: sources stay in place)
#   gopath/src/nomad_iis/gen/...               (generated from <repo>/proto, never committed)
#   gocache/                                   (Go build cache)
set -euo pipefail

HOST_DIR="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HOST_DIR/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-build}"
case "$BUILD_DIR" in
  /*) ;;
  *) BUILD_DIR="$REPO/$BUILD_DIR" ;;
esac
GO_DIR="$BUILD_DIR/go"
GP="$GO_DIR/gopath"
GEN="$GP/src/nomad_iis/gen"
STAMP="$GO_DIR/protos.stamp"

export GO111MODULE=off GOFLAGS= GOPATH="$GP:/usr/share/gocode" GOCACHE="$GO_DIR/gocache" CGO_ENABLED=0 GOPROXY=off

if [ "${1:-}" = --env ]; then
  printf 'export GO111MODULE=off GOFLAGS= GOPATH=%q GOCACHE=%q CGO_ENABLED=0 GOPROXY=off\n' "$GOPATH" "$GOCACHE"
  exit 0
fi

mkdir -p "$GP/src/nomad_iis" "$BUILD_DIR/bin"
if [ "$(readlink "$GP/src/nomad_iis/host" 2>/dev/null || true)" != "$HOST_DIR" ]; then
  rm -rf "$GP/src/nomad_iis/host"
  ln -s "$HOST_DIR" "$GP/src/nomad_iis/host"
fi

# Regenerate the Go stubs only when a .proto is newer than the last run.
protos=$(cd "$REPO/proto" && find . -name '*.proto' | sed 's|^\./||' | sort)
if [ ! -f "$STAMP" ] || [ -n "$(find "$REPO/proto" -name '*.proto' -newer "$STAMP" | head -1)" ]; then
  rm -rf "$GEN"
  mkdir -p "$GEN"
  # go-plugin 1.0.1 registers plugin.Empty and plugin.ConnInfo itself, so a Go
  # binary that imported our controller/broker stubs would panic on a protobuf
  # name conflict. They are generated (the contract is complete) but never
  # imported; stdio.proto has no clash and gets its own package, which the
  # host does use (Nomad's newer go-plugin opens StreamStdio at connect).
  nonstdio=$(echo "$protos" | grep -v '^goplugin/stdio.proto$')
  # shellcheck disable=SC2086
  (cd "$REPO/proto" && protoc -I . -I /usr/include \
    --go_out="$GP/src" --go-grpc_out="$GP/src" $nonstdio)
  stdio_pkg='nomad_iis/gen/gopluginstdio;gopluginstdio'
  (cd "$REPO/proto" && protoc -I . -I /usr/include \
    --go_opt="Mgoplugin/stdio.proto=$stdio_pkg" --go-grpc_opt="Mgoplugin/stdio.proto=$stdio_pkg" \
    --go_out="$GP/src" --go-grpc_out="$GP/src" goplugin/stdio.proto)
  touch "$STAMP"
fi

# Every directory under host/ with non-test Go files is a package to vet and
# build (host/test.sh vets the test-only packages).
mapfile -t pkgs < <(cd "$HOST_DIR" && find . -name '*.go' -not -name '*_test.go' -not -path './testdata/*' \
  -printf '%h\n' | sort -u | sed 's|^\.|nomad_iis/host|')

unformatted=$(cd "$HOST_DIR" && gofmt -l . 2>/dev/null | grep -v '^testdata/' || true)
if [ -n "$unformatted" ]; then
  echo "host/build.sh: not gofmt-formatted:" >&2
  echo "$unformatted" >&2
  exit 1
fi
go vet "${pkgs[@]}"
built=()
for dir in "$HOST_DIR"/cmd/*/; do
  name="$(basename "$dir")"
  go build -o "$BUILD_DIR/bin/$name" "nomad_iis/host/cmd/$name"
  built+=("$BUILD_DIR/bin/$name")
done
echo "host/build.sh: built ${built[*]}" >&2
