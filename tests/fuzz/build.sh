#!/bin/sh
# Build the libFuzzer harness for the SIP front end, without the Makefile.
#   tests/fuzz/build.sh            -> build/fuzz/fuzz_sip
# Env: CC (default clang-14), OUT (default build/fuzz), EXTRA_CFLAGS,
#      SRC: a tree holding proxy/ and rules/ to build instead of this one's
#      (to try a patch without touching the work tree).
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CC=${CC:-clang-14}
OUT=${OUT:-$ROOT/build/fuzz}
mkdir -p "$OUT"
SRC=${SRC:-$ROOT}
cd "$SRC"
# shellcheck disable=SC2046
$CC -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -DFUZZ_RULES_PATH="\"$ROOT/rules/examples/demo.yaml\"" \
    -Iproxy -Irules $(pkg-config --cflags libosip2 libsodium yaml-0.1 libevent_core libcrypto) \
    ${EXTRA_CFLAGS:-} \
    "$ROOT/tests/fuzz/fuzz_sip.c" proxy/sip.c proxy/sipresp.c proxy/fwd.c proxy/route.c proxy/route_fwd.c proxy/log.c proxy/arena.c rules/*.c \
    $(pkg-config --libs libosip2 libsodium yaml-0.1 libevent_core libcrypto) -pthread \
    -o "$OUT/fuzz_sip"
echo "built $OUT/fuzz_sip"
