#!/bin/sh
# tests/e2e/thread_pool.sh: a dlrt_pool (runtime/thread_pool.c) attached to
# a workspace changes no bit of forward or of a training pass:
# tests/e2e/thread_pool.c over
# examples/fashion_mlp.net (float and --precision=f64),
# examples/fashion_residual.net (a skip connection) and
# examples/fashion_cnn.net (convolutions, batchnorm, pooling before its
# dense layers). Run by tests/e2e/run.sh; alone: sh tests/e2e/thread_pool.sh
# (after make). SAN="-fsanitize=..." LIB=build/asan/libdlrt.a: the same
# under sanitizers (tests/sanitize/run.sh); POOL_ONLY="mlp cnn": only
# those of mlp, mlp_f64, residual and cnn. By hand, under ThreadSanitizer:
#   make BUILD=build/tsan SAN=-fsanitize=thread CFLAGS="-O1 -g" build/tsan/libdlrt.a
#   T=build/tmp/pool_tsan SAN=-fsanitize=thread LIB=build/tsan/libdlrt.a \
#       sh tests/e2e/thread_pool.sh
set -u
DLC=${DLC:-build/dlc}
T=${T:-build/tmp/pool}
mkdir -p "$T"
LIB=${LIB:-build/libdlrt.a}
SAN=${SAN:-}
pass=0 fail=0
ok() { echo "ok $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
CFL="-std=c99 -Wall -Wextra -pedantic -Werror -O1 -march=native -fno-math-errno -D_POSIX_C_SOURCE=200809L -Iruntime"

only=${POOL_ONLY:-mlp mlp_f64 residual cnn}
wanted() { case " $only " in *" $1 "*) return 0 ;; esac; return 1; }

# pool NAME NET [dlc flags]
pool() {
    name=$1 net=$2; shift 2
    wanted "$name" || return 0
    prefix=$(sed -n 's/^model[[:space:]]*\([A-Za-z_0-9]*\).*/\1/p' "$net" | head -n 1)
    if "$DLC" "$@" "$net" -o "$T/$name.c" 2>"$T/$name.err" &&
       cc $CFL $SAN -include "$T/$name.h" -DMODEL_API="${prefix}_model" -o "$T/$name" \
           tests/e2e/thread_pool.c "$T/$name.c" "$LIB" -lopenblas -lz -lm 2>>"$T/$name.err" &&
       OPENBLAS_NUM_THREADS=1 "$T/$name" >"$T/$name.out" 2>&1 && tail -n 1 "$T/$name.out" | grep -qx ok
    then ok "pool-$name-same-bits"
    else bad "pool-$name" "$(cat "$T/$name.err" "$T/$name.out" 2>/dev/null | head -c 800)"; fi
}
pool mlp examples/fashion_mlp.net
pool mlp_f64 examples/fashion_mlp.net --precision=f64
pool residual examples/fashion_residual.net
pool cnn examples/fashion_cnn.net
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
