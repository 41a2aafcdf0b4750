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
#    line sets its STEPS (BENCH_STEPS overrides every one).
# 2. The showcase end to end: one epoch of Fashion-MNIST with the generated
#    trainer, and the same MLP written by hand in PyTorch
#    (bench/fashion_mlp_torch.py): samples/s and test accuracy
#    (BENCH_SHOWCASE=0 skips it).
# 3. Batch-1 and small-batch inference (bench_infer, at the end): lines
#    infer_NAME_nN for N = 1, 4, 16 (BENCH_INFER_NETS, BENCH_INFER_N).
set -eu
cd "$(dirname "$0")/.."
T=build/bench
mkdir -p "$T"
make --no-print-directory -s all build/fashion_mlp
threads=${BENCH_THREADS:-1}
rounds=${BENCH_ROUNDS:-5}
nets=${BENCH_NETS-"examples/fashion_mlp.net examples/fashion_residual.net examples/fashion_autoencoder.net bench/lenet.net examples/dilated.net bench/char_lstm.net bench/char_lstm_embed.net"}
layers=${BENCH_LAYERS-"bench/conv3x3_64.net"}
PY=/usr/bin/python3

median() { sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# run_net NET MODE LABEL WARMUP [N]: one line, "bench LABEL threads=T dlc_ms=... torch_ms=... ratio=...",
# timing MODE (train_step, forward or gradients; bench/step.c) in both, on
# N samples per call (default: the network's batch).
run_net() {
    net=$1 mode=$2 label=$3 warmup=$4 nsamples=${5:-}
    name=$(basename "$net" .net)
    build/dlc "$net" -o "$T/$name.c"
    build/dlc --emit=torch "$net" -o "$T/$name.py"
    prefix=$(sed -n 's/^model[[:space:]]*\([A-Za-z_0-9]*\).*/\1/p' "$net" | head -n 1)
    cc -std=c99 -O3 -march=native -fno-math-errno -D_POSIX_C_SOURCE=200809L -Iruntime \
        -include "$T/$name.h" -DMODEL_API="${prefix}_model" -o "$T/step_$name" \
        bench/step.c "$T/$name.c" build/libdlrt.a -lopenblas -lz -lm
    : >"$T/$label.dlc"
    : >"$T/$label.torch"
    r=0
    while [ $r -lt "$rounds" ]; do
        OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads \
            "$T/step_$name" 1 "$steps" "$warmup" "$mode" $nsamples | sed -n 's/^ms_per_step //p' >>"$T/$label.dlc"
        OMP_NUM_THREADS=$threads "$PY" bench/step_torch.py "$T/$name.py" 1 "$steps" "$warmup" "$threads" "$mode" $nsamples |
            sed -n 's/^ms_per_step //p' >>"$T/$label.torch"
        r=$((r + 1))
    done
    d=$(median <"$T/$label.dlc")
    t=$(median <"$T/$label.torch")
    awk -v n="$label" -v th="$threads" -v d="$d" -v t="$t" \
        'BEGIN {printf "bench %s threads=%s dlc_ms=%.4f torch_ms=%.4f ratio=%.3f\n", n, th, d, t, d / t}'
}

for net in $nets; do
    steps=$(sed -n 's/^# bench-steps: *\([0-9]*\).*/\1/p' "$net" | head -n 1)
    steps=${BENCH_STEPS:-${steps:-500}}
    run_net "$net" train_step "$(basename "$net" .net)" 50
done
# Single layers: forward (inference) and forward + backward (gradients).
for net in $layers; do
    steps=${BENCH_STEPS:-50}
    name=$(basename "$net" .net)
    run_net "$net" forward "$name.forward" 5
    run_net "$net" gradients "$name.forward_backward" 5
done

if [ "${BENCH_SHOWCASE:-1}" = 1 ]; then
    echo "== the showcase end to end (examples/fashion_mlp.net, one epoch, $threads thread(s))"
    start=$(date +%s.%N)
    OPENBLAS_NUM_THREADS=$threads build/fashion_mlp --no-progress --checkpoint "$T/bench.ckpt" --overwrite | tee "$T/dlc.out"
    end=$(date +%s.%N)
    awk -v s="$start" -v e="$end" 'BEGIN{printf "dlc: %.1f s wall for one epoch + evaluation\n", e - s}'
    "$PY" bench/fashion_mlp_torch.py --threads "$threads"
fi

# 3. Batch-1 and small-batch inference: the forward pass through the
#    descriptor (bench/step.c forward N) against the twin in eval mode under
#    torch.no_grad() (bench/step_torch.py forward N), alternately, ROUNDS
#    rounds of 20000 / N + 100 calls (BENCH_INFER_STEPS overrides), medians.
#    One line per network and N, as above, named infer_NAME_nN; then the
#    same medians in microseconds as a comment. BENCH_INFER_NETS (default
#    examples/fashion_mlp.net, the MLP 784-256-128-10; set but empty: none),
#    BENCH_INFER_N (default "1 4 16").
bench_infer() {
    for net in ${BENCH_INFER_NETS-examples/fashion_mlp.net}; do
        for n in ${BENCH_INFER_N:-1 4 16}; do
            steps=${BENCH_INFER_STEPS:-$((20000 / n + 100))}
            label=infer_$(basename "$net" .net)_n$n
            run_net "$net" forward "$label" 200 "$n"
            d=$(median <"$T/$label.dlc")
            t=$(median <"$T/$label.torch")
            awk -v n="$label" -v d="$d" -v t="$t" \
                'BEGIN {printf "#   %s: dlc %.2f us, torch %.2f us per call (medians)\n", n, d * 1e3, t * 1e3}'
        done
    done
}
bench_infer
