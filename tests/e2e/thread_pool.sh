#!/bin/sh
# tests/e2e/thread_pool.sh: a dlrt_pool (runtime/thread_pool.c) attached to
# a workspace changes no bit of forward or of a training pass:
# tests/e2e/thread_pool.c over
# examples/fashion_mlp.net (float and --precision=f64),
# examples/fashion_residual.net (a skip connection) and
# examples/fashion_cnn.net (convolutions, batchnorm, pooling before its
# dense layers) and tests/e2e/pool_stages.net (the corners of the forward
# pass on a pool at n = 1: prologues, chains, residuals, two inputs). Run by tests/e2e/run.sh; alone: sh tests/e2e/thread_pool.sh
# (after make). SAN="-fsanitize=..." LIB=build/asan/libdlrt.a: the same
# under sanitizers (tests/sanitize/run.sh); POOL_ONLY="mlp cnn": only
# those of mlp, mlp_f64, residual, cnn and stages. By hand, under ThreadSanitizer:
#   make BUILD=build/tsan SAN=-fsanitize=thread CFLAGS="-O1 -g" build/tsan/libdlrt.a
#   T=build/tmp/pool_tsan SAN=-fsanitize=thread LIB=build/tsan/libdlrt.a \
#       sh tests/e2e/thread_pool.sh
set -u
T=${T:-build/tmp/pool}
CFL="-std=c99 -Wall -Wextra -pedantic -Werror -O1 -march=native -fno-math-errno -D_POSIX_C_SOURCE=200809L -Iruntime"
. tests/e2e/descriptor_prog.sh
only=${POOL_ONLY:-mlp mlp_f64 residual cnn stages}

# pool NAME NET [dlc flags]
pool() {
    name=$1 net=$2; shift 2
    wanted "$name" || return 0
    if descriptor_prog "$name" "$net" thread_pool "$@"; then ok "pool-$name-same-bits"
    else bad "pool-$name" "$(cat "$T/$name.err" "$T/$name.out" 2>/dev/null | head -c 800)"; fi
}
pool mlp examples/fashion_mlp.net
pool mlp_f64 examples/fashion_mlp.net --precision=f64
pool residual examples/fashion_residual.net
pool cnn examples/fashion_cnn.net
pool stages tests/e2e/pool_stages.net
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
