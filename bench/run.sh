#!/bin/sh
# bench/run.sh (make bench): dlc against PyTorch, side by side in one run.
#
# 1. Per network, the median time of one training step (random data of the
#    network's shapes, its own batch size and optimizer): bench/step.c
#    through the generated descriptor, and bench/step_torch.py on the
#    network's PyTorch twin, alternately, ROUNDS rounds of STEPS steps each,
#    one thread each (BENCH_THREADS to change). One line per network:
#      bench NAME threads=T dlc_ms=X torch_ms=Y ratio=X/Y
#    Per layer (BENCH_LAYERS; set but empty: none): its forward and its forward + backward, as
#    NAME.forward and NAME.forward_backward lines. A net's "# bench-steps: N"
#    line sets its STEPS (BENCH_STEPS overrides every one), "# bench-warmup: N"
#    its warm-up steps (50). BENCH_THREADS > 1: dlc uses the threads as its
#    trainer does (bench/step.c: one thread, BLAS threads or a thread team,
#    whichever a short timing finds fastest), one "#   NAME threads=T
#    scheme ..." line per round after the bench line says which.
# 2. The showcase end to end: one epoch of Fashion-MNIST with the generated
#    trainer, and the same MLP written by hand in PyTorch
#    (bench/fashion_mlp_torch.py): samples/s and test accuracy
#    (BENCH_SHOWCASE=0 skips it).
set -eu
cd "$(dirname "$0")/.."
T=build/bench
mkdir -p "$T"
make --no-print-directory -s all build/fashion_mlp
threads=${BENCH_THREADS:-1}
rounds=${BENCH_ROUNDS:-5}
nets=${BENCH_NETS-"examples/fashion_mlp.net examples/fashion_residual.net examples/fashion_autoencoder.net bench/lenet.net examples/dilated.net bench/char_lstm.net bench/char_lstm_embed.net bench/wide_mlp.net"}
layers=${BENCH_LAYERS-"bench/conv3x3_64.net"}
PY=/usr/bin/python3

median() { sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# peak_rss_mb CMD [ARG...]: runs CMD and prints its peak resident set size
# in MB (MiB: getrusage's ru_maxrss of the child, as /usr/bin/time -v's
# "Maximum resident set size", / 1024), one decimal, e.g. 82.0; CMD's
# stdout and stderr go to the file $PEAK_RSS_LOG (default
# $T/peak_rss.log), rewritten each call, for a caller that also wants
# what CMD printed; the status is CMD's. Measured by tests/e2e/peak_rss.c,
# a small C parent (a child forked from a big one, e.g. python, would
# count the parent's pages until its exec).
peak_rss_mb() {
    [ -x "$T/peak_rss" ] || cc -std=c99 -O2 -o "$T/peak_rss" tests/e2e/peak_rss.c
    prs=0
    "$T/peak_rss" "$T/peak_rss.kb" "$@" >"${PEAK_RSS_LOG:-$T/peak_rss.log}" 2>&1 || prs=$?
    awk '{printf "%.1f\n", $1 / 1024}' "$T/peak_rss.kb"
    return $prs
}

# run_net NET MODE LABEL: one line, "bench LABEL threads=T dlc_ms=... torch_ms=... ratio=...",
# timing MODE (train_step, forward or gradients; bench/step.c) in both.
run_net() {
    net=$1 mode=$2 label=$3 warmup=$4
    name=$(basename "$net" .net)
    build/dlc "$net" -o "$T/$name.c"
    build/dlc --emit=torch "$net" -o "$T/$name.py"
    prefix=$(sed -n 's/^model[[:space:]]*\([A-Za-z_0-9]*\).*/\1/p' "$net" | head -n 1)
    cc -std=c99 -O3 -march=native -fno-math-errno -D_POSIX_C_SOURCE=200809L -Iruntime \
        -include "$T/$name.h" -DMODEL_API="${prefix}_model" -o "$T/step_$name" \
        bench/step.c "$T/$name.c" build/libdlrt.a -lopenblas -lz -lm
    : >"$T/$label.dlc"
    : >"$T/$label.torch"
    : >"$T/$label.threads"
    r=0
    while [ $r -lt "$rounds" ]; do
        OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads \
            "$T/step_$name" 1 "$steps" "$warmup" "$mode" "$threads" >"$T/$label.out"
        sed -n 's/^ms_per_step //p' "$T/$label.out" >>"$T/$label.dlc"
        sed -n 's/^threads //p' "$T/$label.out" >>"$T/$label.threads"
        OMP_NUM_THREADS=$threads "$PY" bench/step_torch.py "$T/$name.py" 1 "$steps" "$warmup" "$threads" "$mode" |
            sed -n 's/^ms_per_step //p' >>"$T/$label.torch"
        r=$((r + 1))
    done
    d=$(median <"$T/$label.dlc")
    t=$(median <"$T/$label.torch")
    awk -v n="$label" -v th="$threads" -v d="$d" -v t="$t" \
        'BEGIN {printf "bench %s threads=%s dlc_ms=%.4f torch_ms=%.4f ratio=%.3f\n", n, th, d, t, d / t}'
    # threads > 1: how dlc used them each round (bench/step.c, the trainer's choice)
    [ ! -s "$T/$label.threads" ] || sed "s/^/#   $label threads=$threads scheme /" "$T/$label.threads"
}

for net in $nets; do
    steps=$(sed -n 's/^# bench-steps: *\([0-9]*\).*/\1/p' "$net" | head -n 1)
    steps=${BENCH_STEPS:-${steps:-500}}
    # "# bench-warmup: N": the warm-up steps (50 unless the net says)
    warmup=$(sed -n 's/^# bench-warmup: *\([0-9]*\).*/\1/p' "$net" | head -n 1)
    run_net "$net" train_step "$(basename "$net" .net)" "${warmup:-50}"
done
# Single layers: forward (inference) and forward + backward (gradients).
for net in $layers; do
    steps=${BENCH_STEPS:-50}
    name=$(basename "$net" .net)
    run_net "$net" forward "$name.forward" 5
    run_net "$net" gradients "$name.forward_backward" 5
done

[ "${BENCH_SHOWCASE:-1}" = 1 ] || exit 0
echo "== the showcase end to end (examples/fashion_mlp.net, one epoch, $threads thread(s))"
start=$(date +%s.%N)
OPENBLAS_NUM_THREADS=$threads build/fashion_mlp --no-progress --checkpoint "$T/bench.ckpt" --overwrite | tee "$T/dlc.out"
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" 'BEGIN{printf "dlc: %.1f s wall for one epoch + evaluation\n", e - s}'
"$PY" bench/fashion_mlp_torch.py --threads "$threads"

# 3. Peak memory of one epoch of the showcase (examples/fashion_mlp.net), the
#    whole Fashion-MNIST dataset included: the generated trainer (train,
#    validation, test) and bench/fashion_mlp_torch.py, in MB (peak_rss_mb).
#    One line: bench rss_fashion_mlp dlc_rss_mb=... torch_rss_mb=...
#    (BENCH_RSS=0 skips it; BENCH_SHOWCASE=0 skips it with the showcase).
rss_fashion_mlp() {
    d=$(OPENBLAS_NUM_THREADS=$threads peak_rss_mb build/fashion_mlp --no-progress --epochs 1 \
        --checkpoint "$T/rss.ckpt" --overwrite)
    t=$(OMP_NUM_THREADS=$threads peak_rss_mb "$PY" bench/fashion_mlp_torch.py --threads "$threads")
    echo "bench rss_fashion_mlp dlc_rss_mb=$d torch_rss_mb=$t"
}
[ "${BENCH_RSS:-1}" = 0 ] || rss_fashion_mlp
