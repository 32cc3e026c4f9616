#!/usr/bin/env bash
# Builds and runs the Management API's libFuzzer targets with ASan + UBSan:
#   tests/http/fuzz_paths.cpp  path decoding and resolution (traversal, symlinks, secrets)
#   tests/files/fuzz_zip_extractor.cpp   guarded zip extraction (zip-slip, links, bombs,
#                                        malformed), libarchive fed in chunks
# Standalone on purpose: neither CMake nor CI builds them.
#
#   scripts/fuzz-http.sh              each target for 120 s
#   scripts/fuzz-http.sh 600          each target for 10 min
#   scripts/fuzz-http.sh 60 zip       only the zip target
#   FUZZ_DIR=/tmp/f scripts/fuzz-http.sh   build, corpora and crash files there
#
# Needs Debian's clang, libclang-rt-14-dev, libpoco-dev and libarchive-dev. Crashes are
# written as $FUZZ_DIR/<target>/crash-*; the script exits non-zero on one.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-120}"
only="${2:-}"
fuzz_dir="${FUZZ_DIR:-build-fuzz-http}"
cxx="${CXX_FUZZ:-clang++}"
command -v "$cxx" >/dev/null || { echo "fuzz-http.sh: $cxx not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }

flags=(-std=c++17 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
  -fno-sanitize-recover=undefined -I.)
build() {  # name sources...
  local name=$1; shift
  mkdir -p "$fuzz_dir/$name/corpus" "$fuzz_dir/$name/seed"
  echo "== building $fuzz_dir/$name/fuzz" >&2
  "$cxx" "${flags[@]}" "$@" -o "$fuzz_dir/$name/fuzz" -lPocoZip -lPocoFoundation -lz
}

run() {  # name extra-args...
  local name=$1; shift
  echo "== fuzzing $name for ${seconds}s" >&2
  "$fuzz_dir/$name/fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$fuzz_dir/$name/" -print_final_stats=1 "$@" \
    "$fuzz_dir/$name/corpus" "$fuzz_dir/$name/seed"
}

zip_seeds() {  # dir [chunk]: the seed archives, each after the chunk-size byte if given
  python3 - "$1" "${2:--1}" <<'PY'
import io, sys, zipfile
out, chunk = sys.argv[1], int(sys.argv[2])
prefix, suffix = (bytes([chunk]), f"-{chunk}") if chunk >= 0 else (b'', '')
def save(name, build, stream=False):
    buf = io.BytesIO()
    target = buf
    class NoSeek(io.RawIOBase):  # forces data descriptors
        def writable(self): return True
        def write(self, b): return buf.write(b)
    with zipfile.ZipFile(NoSeek() if stream else buf, 'w', zipfile.ZIP_DEFLATED) as z:
        build(z)
    open(f"{out}/{name}{suffix}.zip", 'wb').write(prefix + buf.getvalue())
save('simple', lambda z: (z.writestr('a.txt', 'hello'), z.writestr('d/b.txt', 'x' * 300)))
save('dirs', lambda z: (z.writestr('d/', ''), z.writestr('d/e/', ''), z.writestr('d/e/f', 'f')))
save('stored', lambda z: z.writestr(zipfile.ZipInfo('s.bin'), b'\0\1\2' * 50))
save('streamed', lambda z: (z.writestr('x', 'streamed'), z.writestr('y/z', 'data' * 50)), stream=True)
def link(z):
    i = zipfile.ZipInfo('l'); i.create_system = 3; i.external_attr = 0o120777 << 16
    z.writestr(i, '/etc/passwd')
save('link', link)
save('slip', lambda z: z.writestr('../evil', 'e'))
PY
}

zip_dict() {  # the zip signatures and name parts the zip targets share
  cat >"$fuzz_dir/zip.dict" <<'DICT'
"PK\x03\x04"
"PK\x01\x02"
"PK\x05\x06"
"PK\x07\x08"
"PK\x06\x06"
"PK\x06\x07"
"../"
"/"
"\x14\x00"
"\x08\x00"
DICT
}

if [ -z "$only" ] || [ "$only" = paths ]; then
  build paths tests/http/fuzz_paths.cpp adapters/http/paths.cpp iis/files/task_tree.cpp \
    iis/files/swap.cpp iis/files/file_error.cpp common/beneath.cpp
  printf '%s\n' 'local/index.html' 'local%2Findex.html' 'local/out/x' '%2e%2e/x' 'secrets/token' \
    'local/sec/token' 'local/in/../index.html' 'local/up/secrets' 'local/root/etc' '%252e%252e' \
    'local/./sub//x' 'local\..\x' 'tmp' 'private/x' 'local/priv/x' 'local/abs/x' | split -l 1 - "$fuzz_dir/paths/seed/s"
  cat >"$fuzz_dir/paths.dict" <<'DICT'
"/"
".."
"."
"%2e"
"%2E"
"%2f"
"%2F"
"%25"
"%5c"
"%00"
"local"
"secrets"
"out"
"sec"
"up"
"in"
"root"
"private"
"priv"
"abs"
DICT
  run paths -max_len=256 -dict="$fuzz_dir/paths.dict"
fi

if [ -z "$only" ] || [ "$only" = zip ]; then
  build zip tests/files/fuzz_zip_extractor.cpp iis/files/zip_extractor.cpp \
    iis/files/zip_trailer.cpp common/fiber.cpp common/fiber_record.cpp common/beneath.cpp \
    -DBOOST_USE_UCONTEXT -DBOOST_USE_ASAN -larchive
  for chunk in 0 1 7 200; do zip_seeds "$fuzz_dir/zip/seed" "$chunk"; done
  zip_dict
  run zip -max_len=4096 -dict="$fuzz_dir/zip.dict"
fi
