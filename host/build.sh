#!/usr/bin/env bash
# Builds the Go host in module mode (host/go.mod + go.sum, dependencies from
# the Go module proxy into the module cache) into ${BUILD_DIR:-build}/go and
# produces ${BUILD_DIR:-build}/bin/nomad-iis-host (and the other host/cmd/*).
#
#   host/build.sh                  generate (if the protos changed), vet, build
#   BUILD_DIR=build-x host/build.sh another build directory (relative to the repo root)
#   host/build.sh --env            print the Go environment lines (for host/test.sh)
#
# Layout under $BUILD_DIR/go:
#   go.work                        the workspace: <repo>/host and gen/
#   gen/                           module nomad_iis/gen, generated from <repo>/proto (never committed)
#   tools/                         protoc-gen-go and protoc-gen-go-grpc, at the versions host/go.mod pins
#   gocache/                       Go build cache
set -euo pipefail

HOST_DIR="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HOST_DIR/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-build}"
case "$BUILD_DIR" in
  /*) ;;
  *) BUILD_DIR="$REPO/$BUILD_DIR" ;;
esac
GO_DIR="$BUILD_DIR/go"
GEN="$GO_DIR/gen"
STAMP="$GO_DIR/protos.stamp"

# The Go that host/go.mod asks for: the one on PATH, else /usr/local/go (the
# machine's own Go; Debian 12's golang-go is 1.19, too old for go.mod).
need=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$HOST_DIR/go.mod")
go_ok() {
  local v
  v=$("$1" env GOVERSION 2>/dev/null) || return 1
  v=${v#go}
  [ "$(printf '%s\n%s\n' "$need" "$v" | sort -V | head -1)" = "$need" ]
}
GO=""
for cand in "$(command -v go || true)" /usr/local/go/bin/go; do
  if [ -n "$cand" ] && go_ok "$cand"; then GO="$cand"; break; fi
done
if [ -z "$GO" ]; then
  echo "host/build.sh: needs Go >= $need (host/go.mod); found $(go version 2>/dev/null || echo none) on PATH and nothing newer in /usr/local/go" >&2
  exit 1
fi
GOBIN_DIR="$(dirname "$GO")"

export PATH="$GOBIN_DIR:$PATH" GO111MODULE=on GOFLAGS="-mod=readonly -buildvcs=false" GOWORK="$GO_DIR/go.work" \
  GOCACHE="$GO_DIR/gocache" CGO_ENABLED=0 GOTOOLCHAIN=local

if [ "${1:-}" = --env ]; then
  printf 'export PATH=%q:"$PATH" GO111MODULE=on GOFLAGS="-mod=readonly -buildvcs=false" GOWORK=%q GOCACHE=%q CGO_ENABLED=0 GOTOOLCHAIN=local\n' \
    "$GOBIN_DIR" "$GOWORK" "$GOCACHE"
  exit 0
fi

mkdir -p "$GEN" "$GO_DIR/tools" "$BUILD_DIR/bin"
# gen/ is its own module; its gRPC and protobuf versions are host/go.mod's.
modver() { sed -n "s|^\s*$1 \(v[^ ]*\).*|\1|p" "$HOST_DIR/go.mod" | head -1; }
gen_mod="module nomad_iis/gen

go $need

require (
	google.golang.org/grpc $(modver google.golang.org/grpc)
	google.golang.org/protobuf $(modver google.golang.org/protobuf)
)"
[ "$(cat "$GEN/go.mod" 2>/dev/null)" = "$gen_mod" ] || { echo "$gen_mod" >"$GEN/go.mod"; rm -f "$STAMP"; }
work="go $need

use (
	$HOST_DIR
	./gen
)"
[ "$(cat "$GOWORK" 2>/dev/null)" = "$work" ] || echo "$work" >"$GOWORK"

# Regenerate the Go stubs when a .proto or host/go.mod (the generators'
# versions) is newer than the last run.
if [ ! -f "$STAMP" ] || [ "$HOST_DIR/go.mod" -nt "$STAMP" ] \
  || [ -n "$(find "$REPO/proto" -name '*.proto' -newer "$STAMP" | head -1)" ]; then
  (cd "$HOST_DIR" && go build -o "$GO_DIR/tools/" google.golang.org/protobuf/cmd/protoc-gen-go \
    google.golang.org/grpc/cmd/protoc-gen-go-grpc)
  find "$GEN" -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
  protos=$(cd "$REPO/proto" && find . -name '*.proto' | sed 's|^\./||' | sort)
  # go_package says nomad_iis/gen/<pkg>; module=nomad_iis/gen puts <pkg>/ in gen/.
  # The goplugin stubs are generated (the contract is complete) but never
  # imported: go-plugin registers the same plugin.* protobuf names itself.
  # shellcheck disable=SC2086
  (cd "$REPO/proto" && protoc -I . -I /usr/include \
    --plugin=protoc-gen-go="$GO_DIR/tools/protoc-gen-go" \
    --plugin=protoc-gen-go-grpc="$GO_DIR/tools/protoc-gen-go-grpc" \
    --go_opt=module=nomad_iis/gen --go-grpc_opt=module=nomad_iis/gen \
    --go_out="$GEN" --go-grpc_out="$GEN" $protos)
  touch "$STAMP"
fi

unformatted=$(cd "$HOST_DIR" && gofmt -l . 2>/dev/null | grep -v '^testdata/' || true)
if [ -n "$unformatted" ]; then
  echo "host/build.sh: not gofmt-formatted:" >&2
  echo "$unformatted" >&2
  exit 1
fi
# Every package with non-test Go files (host/test.sh vets the test-only ones).
mapfile -t pkgs < <(cd "$HOST_DIR" && go list -f '{{if .GoFiles}}{{.ImportPath}}{{end}}' ./... | sed '/^$/d')
(cd "$HOST_DIR" && go vet "${pkgs[@]}")
built=()
for dir in "$HOST_DIR"/cmd/*/; do
  name="$(basename "$dir")"
  (cd "$HOST_DIR" && go build -o "$BUILD_DIR/bin/$name" "nomad_iis/host/cmd/$name")
  built+=("$BUILD_DIR/bin/$name")
done
echo "host/build.sh: built ${built[*]}" >&2
