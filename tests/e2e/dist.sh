#!/bin/sh
# tests/e2e/dist.sh: the data-parallel hooks of generated code (dlrt_dist,
# runtime/dlrt.h; issue 11's compiler side), without MPI.
#   1. dist_hooks.c against nets of every kind (an MLP with dropout,
#      batchnorm, LSTMs with learned and given states, stacked and
#      stateful, shared weights, parameter references, several losses,
#      frozen and unreached parameters, masks, randwire): grad_ready reports
#      every trained parameter once per call, with its final values, and
#      the hooks change no bit (one rank, allreduce the identity).
#   2. dist_bn.c: two ranks in two threads, synchronized batchnorm, in
#      float64: shares of a batch (even and uneven) combined as
#      sum_r (n_r / N) g_r equal the whole batch's gradients and running
#      statistics.
# Prints ok/FAIL lines and "N passed, N failed".
set -u
DLC=${DLC:-build/dlc}
T=build/tmp/e2e_dist
rm -rf "$T"; mkdir -p "$T"
pass=0 fail=0
ok() { echo "ok $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
CFL="-std=c99 -Wall -Wextra -pedantic -Werror -O2 -Iruntime"
LIBS="build/libdlrt.a -lopenblas -lz -lm"
export OPENBLAS_NUM_THREADS=1

# hooks NAME NET [dlc flags] -- [parameters it must not report]
hooks() {
    name=$1 net=$2; shift 2
    flags=""
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do flags="$flags $1"; shift; done
    [ $# -gt 0 ] && shift
    # shellcheck disable=SC2086
    if "$DLC" --prefix dh $flags "$net" -o "$T/$name.c" 2>"$T/$name.err" &&
       cc $CFL -o "$T/$name" tests/e2e/dist_hooks.c "$T/$name.c" $LIBS 2>>"$T/$name.err" &&
       "$T/$name" "$@" >"$T/$name.out" 2>>"$T/$name.err"; then
        ok "dist-hooks-$name ($(tail -n 1 "$T/$name.out"))"
    else bad "dist-hooks-$name" "$(cat "$T/$name.out" "$T/$name.err" | head -c 600)"; fi
}

hooks mlp examples/fashion_mlp.net
hooks mlp_f64 examples/fashion_mlp.net --precision=f64
hooks cnn_bn examples/fashion_cnn.net
hooks norm tests/torch/norm.net
hooks lstm_state tests/grad/lstm_state.net
hooks lstm_stacked tests/grad/lstm_stacked.net
hooks char_lm examples/char_lm.net
hooks net_shared tests/grad/net_shared.net
hooks param_ref tests/grad/param_ref.net
hooks param_ref_rnn tests/grad/param_ref_rnn.net
hooks param_ref_norm tests/grad/param_ref_norm.net
hooks gan_like tests/grad/gan_like.net
hooks two_groups tests/grad/two_groups.net
hooks gan_fashion examples/gan_fashion.net
hooks frozen tests/torch/frozen.net -- h2_w h2_b
hooks unreached tests/torch/unreached.net -- side_w side_b
hooks sparse tests/torch/sparse.net
hooks randwire tests/grad/randwire.net
hooks check_numerics examples/fashion_cnn.net --check-numerics

# 2. Synchronized batchnorm across two ranks (threads), float64.
if "$DLC" --precision=f64 --prefix bn tests/e2e/dist_bn.net -o "$T/bn.c" 2>"$T/bn.err" &&
   cc $CFL -pthread -o "$T/dist_bn" tests/e2e/dist_bn.c "$T/bn.c" $LIBS 2>>"$T/bn.err" &&
   "$T/dist_bn" >"$T/bn.out" 2>>"$T/bn.err"; then
    ok "dist-sync-batchnorm-two-ranks (8+8, 5+3, 3+5: sum_r n_r/N g_r = the batch's gradient within 1e-10)"
else bad dist-sync-batchnorm-two-ranks "$(cat "$T/bn.out" "$T/bn.err" | head -c 600)"; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
