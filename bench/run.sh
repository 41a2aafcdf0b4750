#!/bin/sh
# bench/run.sh (make bench): dlc against PyTorch, side by side in one run.
#
# 1. Per network, the median time of one training step (random data of the
#    network's shapes, its own batch size and optimizer): bench/step.c
#    through the generated descriptor, and bench/step_torch.py on the
#    network's PyTorch twin, alternately, ROUNDS rounds of STEPS steps each,
#    one thread each (BENCH_THREADS to change). One line per network:
#      bench NAME threads=T dlc_ms=X torch_ms=Y ratio=X/Y
# 2. The showcase end to end: one epoch of Fashion-MNIST with the generated
#    trainer, and the same MLP written by hand in PyTorch
#    (bench/fashion_mlp_torch.py): samples/s and test accuracy.
set -eu
cd "$(dirname "$0")/.."
T=build/bench
mkdir -p "$T"
make --no-print-directory -s all build/fashion_mlp
threads=${BENCH_THREADS:-1}
rounds=${BENCH_ROUNDS:-5}
nets=${BENCH_NETS:-"examples/fashion_mlp.net examples/fashion_residual.net examples/fashion_autoencoder.net"}
PY=/usr/bin/python3

median() { sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

for net in $nets; do
    name=$(basename "$net" .net)
    build/dlc "$net" -o "$T/$name.c"
    build/dlc --emit=torch "$net" -o "$T/$name.py"
    prefix=$(sed -n 's/^model[[:space:]]*\([A-Za-z_0-9]*\).*/\1/p' "$net" | head -n 1)
    cc -std=c99 -O3 -march=native -fno-math-errno -D_POSIX_C_SOURCE=200809L -Iruntime \
        -include "$T/$name.h" -DMODEL_API="${prefix}_model" -o "$T/step_$name" \
        bench/step.c "$T/$name.c" build/libdlrt.a -lopenblas -lz -lm
    steps=${BENCH_STEPS:-500}
    : >"$T/$name.dlc"
    : >"$T/$name.torch"
    r=0
    while [ $r -lt "$rounds" ]; do
        OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads \
            "$T/step_$name" 1 "$steps" 50 | sed -n 's/^ms_per_step //p' >>"$T/$name.dlc"
        OMP_NUM_THREADS=$threads "$PY" bench/step_torch.py "$T/$name.py" 1 "$steps" 50 "$threads" |
            sed -n 's/^ms_per_step //p' >>"$T/$name.torch"
        r=$((r + 1))
    done
    d=$(median <"$T/$name.dlc")
    t=$(median <"$T/$name.torch")
    awk -v n="$name" -v th="$threads" -v d="$d" -v t="$t" \
        'BEGIN {printf "bench %s threads=%s dlc_ms=%.4f torch_ms=%.4f ratio=%.3f\n", n, th, d, t, d / t}'
done

echo "== the showcase end to end (examples/fashion_mlp.net, one epoch, $threads thread(s))"
start=$(date +%s.%N)
OPENBLAS_NUM_THREADS=$threads build/fashion_mlp --no-progress --checkpoint "$T/bench.ckpt" --overwrite | tee "$T/dlc.out"
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" 'BEGIN{printf "dlc: %.1f s wall for one epoch + evaluation\n", e - s}'
"$PY" bench/fashion_mlp_torch.py --threads "$threads"
