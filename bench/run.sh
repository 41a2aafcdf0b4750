#!/bin/sh
# bench/run.sh (make bench): dlc against PyTorch, side by side in one run.
#
# 1. Per network, the median time of one training step (random data of the
#    network's shapes, its own batch size and optimizer): bench/step.c
#    through the generated descriptor, and bench/step_torch.py on the
#    network's PyTorch twin, alternately, ROUNDS rounds of STEPS steps each,
#    at 1 and at 2 threads (BENCH_THREADS, the list of thread counts). One
#    line per network and thread count:
#      bench NAME threads=T dlc_ms=X torch_ms=Y ratio=X/Y gemm_bound_ms=G bound_ratio=X/G
#            dlc_rss_mb=R torch_rss_mb=Q
#    (R, Q: the peak RSS of each side's timing process, first round, MiB)
#    G: the step's GEMMs alone, each timed by OpenBLAS at exactly its shape
#    (bench/gemm_trace.c lists the cblas_sgemm calls of one step,
#    bench/gemm_bound.c times them: the median of repeats, summed).
#    Per layer (BENCH_LAYERS; set but empty: none): its forward and its forward + backward, as
#    NAME.forward and NAME.forward_backward lines. A net's "# bench-steps: N"
#    line sets its STEPS (BENCH_STEPS overrides every one), "# bench-warmup: N"
#    its warm-up steps (50). At T > 1 threads dlc uses them as its trainer
#    does (bench/step.c: one thread, BLAS threads or a thread team,
#    whichever a short timing finds fastest), one "#   NAME threads=T
#    scheme ..." line per round after the bench line says which, and a
#    "#   NAME threads=T vs 1: ..." line compares dlc at both counts timed
#    again in alternating rounds (run_threads).
#    The showcase epoch, the memory epoch and the inference lines'
#    training-side settings use the first count of BENCH_THREADS.
# 2. The showcase end to end: one epoch of Fashion-MNIST with the generated
#    trainer, and the same MLP written by hand in PyTorch
#    (bench/fashion_mlp_torch.py): samples/s and test accuracy
#    (BENCH_SHOWCASE=0 skips it), then as one line: bench epoch_fashion_mlp
#    threads=T dlc_samples_s=.. torch_samples_s=.. ratio=.. dlc_acc=.. torch_acc=..
# 3. Compile times (bench_compile, at the end): the generated C of every
#    example and of bench/deep80.net (80 dense layers), `cc -O3` as the
#    Makefile builds a model: bench compile_NAME cc_s=S cpu_s=C (BENCH_COMPILE: the
#    nets; set but empty: none). Then deep80's training step, a line as in 1
#    (BENCH_DEEP: its net; set but empty: none).
# 4. Peak memory (RSS) of one epoch of the showcase, dlc and PyTorch
#    (BENCH_RSS=0 skips it): bench rss_fashion_mlp dlc_rss_mb=.. torch_rss_mb=..
# 5. Data-parallel training under mpirun, 1 and 2 ranks (bench/mpi.sh;
#    BENCH_MPI=0 skips it): bench mpi_NAME ranks=R step_ms=.. comm_ms=.. overlap=..
# 6. Batch-1 and small-batch inference (bench_infer): lines
#    infer_NAME_nN for N = 1, 4, 16, at 1 and 2 threads (BENCH_INFER_NETS,
#    BENCH_INFER_N, BENCH_INFER_THREADS), each with a comment giving the
#    times in microseconds and the memory floor (bench/weight_read.c).
set -eu
cd "$(dirname "$0")/.."
T=build/bench
mkdir -p "$T"
make --no-print-directory -s all build/fashion_mlp
thread_counts=${BENCH_THREADS:-1 2}
threads=${thread_counts%% *}
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
# run_net NET MODE LABEL WARMUP [N]: one line, "bench LABEL threads=T dlc_ms=... torch_ms=... ratio=...",
# timing MODE (train_step, forward or gradients; bench/step.c) in both, on
# N samples per call (default: the network's batch).
run_net() {
    net=$1 mode=$2 label=$3 warmup=$4 nsamples=${5:-}
    # an inference line (N given): dlc's threads are a dlrt_pool (bench/step.c)
    pool=${nsamples:+pool}
    # OpenBLAS's own threads: none beside a pool. An OpenBLAS started with
    # two threads has its worker spin for its first ~0.1 s (its thread
    # timeout), a second spinning pool on the helper's core for the whole
    # of an inference round; set_blas_threads(1) later does not stop it.
    blas=$threads
    [ -z "$pool" ] || blas=1
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
    : >"$T/$label.floor"
    floats=$(sed -n 's/^#define [A-Z_0-9]*_PARAM_COUNT \([0-9]*\).*/\1/p' "$T/$name.h")
    # An inference line's memory floor, timed just before dlc's run in
    # every round (weight_floor), so each round's ratio compares moments
    # seconds apart on this machine, whose speed moves by the minute.
    [ -z "$nsamples" ] || weight_floor >>"$T/$label.floor"
    # The first round also measures each side's peak RSS (peak_rss_mb).
    drss=$(export PEAK_RSS_LOG="$T/$label.dlc.log" OPENBLAS_NUM_THREADS=$blas OMP_NUM_THREADS=$threads
           peak_rss_mb "$T/step_$name" 1 "$steps" "$warmup" "$mode" "${nsamples:-0}" "$threads" $pool)
    sed -n 's/^ms_per_step //p' "$T/$label.dlc.log" >>"$T/$label.dlc"
    sed -n 's/^threads //p' "$T/$label.dlc.log" >>"$T/$label.threads"
    trss=$(export PEAK_RSS_LOG="$T/$label.torch.log" OMP_NUM_THREADS=$threads
           peak_rss_mb "$PY" bench/step_torch.py "$T/$name.py" 1 "$steps" "$warmup" "$threads" "$mode" $nsamples)
    sed -n 's/^ms_per_step //p' "$T/$label.torch.log" >>"$T/$label.torch"
    r=1
    while [ $r -lt "$rounds" ]; do
        [ -z "$nsamples" ] || weight_floor >>"$T/$label.floor"
        OPENBLAS_NUM_THREADS=$blas OMP_NUM_THREADS=$threads \
            "$T/step_$name" 1 "$steps" "$warmup" "$mode" "${nsamples:-0}" "$threads" $pool >"$T/$label.out"
        sed -n 's/^ms_per_step //p' "$T/$label.out" >>"$T/$label.dlc"
        sed -n 's/^threads //p' "$T/$label.out" >>"$T/$label.threads"
        OMP_NUM_THREADS=$threads "$PY" bench/step_torch.py "$T/$name.py" 1 "$steps" "$warmup" "$threads" "$mode" $nsamples |
            sed -n 's/^ms_per_step //p' >>"$T/$label.torch"
        r=$((r + 1))
    done
    d=$(median <"$T/$label.dlc")
    t=$(median <"$T/$label.torch")
    # the GEMMs of one call at this N ("MS COUNT"; 0 0: the call makes none)
    gb=$(gemm_bound "$name" "$prefix" "$mode" "${nsamples:-0}")
    g=${gb% *}
    awk -v n="$label" -v th="$threads" -v d="$d" -v t="$t" -v g="$g" -v dr="$drss" -v tr="$trss" \
        'BEGIN {printf "bench %s threads=%s dlc_ms=%.4f torch_ms=%.4f ratio=%.3f gemm_bound_ms=%.4f bound_ratio=%.3f dlc_rss_mb=%.1f torch_rss_mb=%.1f\n",
                n, th, d, t, d / t, g, (g > 0 ? d / g : 0), dr, tr}'
    # threads > 1: how dlc used them each round (bench/step.c, the trainer's choice)
    [ ! -s "$T/$label.threads" ] || sed "s/^/#   $label threads=$threads scheme /" "$T/$label.threads"
    [ "${gb#* }" != 0 ] ||
        echo "#   $label threads=$threads: no matrix product in this call (gemm_bound_ms=0, bound_ratio=0)"
}

# weight_floor: the microseconds $threads threads take to read $floats
# values once (run_net sets it: the network's parameter count), each
# thread its share from its own cache (bench/weight_read.c): the memory
# floor of an inference call at small N, which reads every weight once
# whatever N is. One number; run_net times it in every round of an
# inference line, just before dlc's run.
weight_floor() {
    [ "$T/weight_read" -nt bench/weight_read.c ] ||
        cc -std=c99 -O3 -march=native -o "$T/weight_read" bench/weight_read.c -lpthread
    "$T/weight_read" "$floats" "$threads" | sed -n 's/^floor_us //p'
}

# gemm_bound NAME PREFIX MODE [N]: "MS COUNT", the ms OpenBLAS takes for the
# matrix products of one MODE step of $T/NAME.c on N samples (default, or
# 0: the network's batch), at $threads threads, and how many there are
# ("0 0" when it has none). Every product counts, also those dlc does with
# its own kernels (dense's SMALL at small N, a recurrent step's GEMV):
# the trace is built with DLRT_DENSE_NO_SMALL (and its own
# runtime/dense.c, ahead of libdlrt's), so each one is a cblas_sgemm call
# it can record, and the bound is what OpenBLAS takes
# for exactly those shapes.
gemm_bound() {
    [ -x "$T/gemm_bound" ] ||
        cc -std=c99 -O2 -D_POSIX_C_SOURCE=200809L -o "$T/gemm_bound" bench/gemm_bound.c -lopenblas
    cc -std=c99 -O1 -march=native -fno-math-errno -DDLRT_DENSE_NO_SMALL -D_POSIX_C_SOURCE=200809L \
        -Iruntime -include "$T/$1.h" \
        -DMODEL_API="${2}_model" -o "$T/trace_$1" bench/step.c bench/gemm_trace.c "$T/$1.c" \
        runtime/dense.c build/libdlrt.a -Wl,--wrap=cblas_sgemm -lopenblas -lz -lm
    OPENBLAS_NUM_THREADS=$threads "$T/trace_$1" 1 1 0 "$3" "${4:-0}" 2>&1 >/dev/null |
        OPENBLAS_NUM_THREADS=$threads "$T/gemm_bound" |
        sed -n 's/^gemm_bound_ms \([0-9.]*\) gemms \([0-9]*\).*/\1 \2/p'
}

# run_threads NET MODE LABEL WARMUP: run_net at each of BENCH_THREADS's
# counts; then, per count T after the first, dlc's step at the first count
# and at T again in ROUNDS alternating rounds (the two lines above ran
# minutes apart, and this machine's speed moves by more than small
# differences between them), and a comment line with the medians: "#
# LABEL threads=T vs 1: dlc 1.52x as fast (alternating: 12.1 ms, 7.96 ms)"
# (above 1: the threads helped).
run_threads() {
    first=$threads
    for threads in $thread_counts; do
        run_net "$@"
        [ "$threads" = "$first" ] && continue
        : >"$T/$3.vs.a"
        : >"$T/$3.vs.b"
        r=0
        while [ $r -lt "$rounds" ]; do
            OPENBLAS_NUM_THREADS=$first OMP_NUM_THREADS=$first \
                "$T/step_$name" 1 "$steps" "$4" "$2" 0 "$first" | sed -n 's/^ms_per_step //p' >>"$T/$3.vs.a"
            OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads \
                "$T/step_$name" 1 "$steps" "$4" "$2" 0 "$threads" | sed -n 's/^ms_per_step //p' >>"$T/$3.vs.b"
            r=$((r + 1))
        done
        awk -v n="$3" -v th="$threads" -v f="$first" \
            -v a="$(median <"$T/$3.vs.a")" -v b="$(median <"$T/$3.vs.b")" \
            'BEGIN {printf "#   %s threads=%s vs %s: dlc %.2fx as fast (alternating: %.4g ms, %.4g ms)\n",
                    n, th, f, (b > 0 ? a / b : 0), a, b}'
    done
    threads=$first
}

for net in $nets; do
    steps=$(sed -n 's/^# bench-steps: *\([0-9]*\).*/\1/p' "$net" | head -n 1)
    steps=${BENCH_STEPS:-${steps:-500}}
    # "# bench-warmup: N": the warm-up steps (50 unless the net says)
    warmup=$(sed -n 's/^# bench-warmup: *\([0-9]*\).*/\1/p' "$net" | head -n 1)
    run_threads "$net" train_step "$(basename "$net" .net)" "${warmup:-50}"
done
# Single layers: forward (inference) and forward + backward (gradients).
for net in $layers; do
    steps=${BENCH_STEPS:-50}
    name=$(basename "$net" .net)
    run_net "$net" forward "$name.forward" 5
    run_net "$net" gradients "$name.forward_backward" 5
done

# (an if, not an exit: the sections after it run either way)
if [ "${BENCH_SHOWCASE:-1}" = 1 ]; then
echo "== the showcase end to end (examples/fashion_mlp.net, one epoch, $threads thread(s))"
start=$(date +%s.%N)
OPENBLAS_NUM_THREADS=$threads build/fashion_mlp --no-progress --checkpoint "$T/bench.ckpt" --overwrite | tee "$T/dlc.out"
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" 'BEGIN{printf "dlc: %.1f s wall for one epoch + evaluation\n", e - s}'
"$PY" bench/fashion_mlp_torch.py --threads "$threads" | tee "$T/torch.out"
# the epoch as a line: training samples/s and test accuracy of each, and
# ratio = dlc's training time / PyTorch's
ds=$(sed -n 's/^epoch 1\/1 .*, \([0-9]*\) samples\/s).*/\1/p' "$T/dlc.out" | head -n 1)
da=$(sed -n 's/^test accuracy: \([0-9.]*\)$/\1/p' "$T/dlc.out")
ts=$(sed -n 's/^torch: \([0-9]*\) samples\/s.*/\1/p' "$T/torch.out")
ta=$(sed -n 's/^torch: .*test accuracy: \([0-9.]*\).*/\1/p' "$T/torch.out")
awk -v th="$threads" -v ds="${ds:-0}" -v da="${da:-0}" -v ts="${ts:-0}" -v ta="${ta:-0}" \
    'BEGIN {printf "bench epoch_fashion_mlp threads=%s dlc_samples_s=%d torch_samples_s=%d ratio=%.3f dlc_acc=%s torch_acc=%s\n",
            th, ds, ts, (ds > 0 ? ts / ds : 0), da, ta}'
fi

# children_cpu FILE: the CPU seconds (user + system) of this shell's
# finished children when FILE was written by the `times` builtin (run in
# this shell, not in a subshell): its second line, "0m1.5s 0m0.1s".
children_cpu() {
    sed -n 2p "$1" | awk '{t = 0; for (k = 1; k <= 2; k++) {split($k, a, "m"); t += a[1] * 60 + a[2]}; print t}'
}

# bench_compile NET...: seconds `cc -O3` takes on each net's generated C
# (the model alone, as `make build/NAME` compiles it but without --main),
# one line each: bench compile_NAME cc_s=WALL cpu_s=CPU (CPU: user + system,
# steadier than the wall time on a shared machine).
bench_compile() {
    for net in "$@"; do
        name=$(basename "$net" .net)
        build/dlc "$net" -o "$T/compile_$name.c"
        times >"$T/times0"
        start=$(date +%s.%N)
        cc -std=c99 -O3 -march=native -fno-math-errno -Iruntime -c -o "$T/compile_$name.o" \
            "$T/compile_$name.c"
        end=$(date +%s.%N)
        times >"$T/times1"
        cpu0=$(children_cpu "$T/times0")
        cpu1=$(children_cpu "$T/times1")
        awk -v n="$name" -v s="$start" -v e="$end" -v c0="$cpu0" -v c1="$cpu1" \
            'BEGIN {printf "bench compile_%s cc_s=%.2f cpu_s=%.2f\n", n, e - s, c1 - c0}'
    done
}

# The compile time of every example, and of an 80-layer network.
bench_compile ${BENCH_COMPILE-examples/*.net bench/deep80.net}
# An 80-layer network's training step (bench/deep80.net), as the lines above.
for net in ${BENCH_DEEP-bench/deep80.net}; do
    steps=$(sed -n 's/^# bench-steps: *\([0-9]*\).*/\1/p' "$net" | head -n 1)
    steps=${BENCH_STEPS:-${steps:-100}}
    run_threads "$net" train_step "$(basename "$net" .net)" 10
done

# Peak memory of one epoch of the showcase (examples/fashion_mlp.net), the
#    whole Fashion-MNIST dataset included: the generated trainer (train,
#    validation, test) and bench/fashion_mlp_torch.py, in MB (peak_rss_mb).
#    One line: bench rss_fashion_mlp dlc_rss_mb=... torch_rss_mb=...
#    (BENCH_RSS=0 skips it).
rss_fashion_mlp() {
    d=$(OPENBLAS_NUM_THREADS=$threads peak_rss_mb build/fashion_mlp --no-progress --epochs 1 \
        --checkpoint "$T/rss.ckpt" --overwrite)
    t=$(OMP_NUM_THREADS=$threads peak_rss_mb "$PY" bench/fashion_mlp_torch.py --threads "$threads")
    echo "bench rss_fashion_mlp dlc_rss_mb=$d torch_rss_mb=$t"
}
[ "${BENCH_RSS:-1}" = 0 ] || rss_fashion_mlp

# Data parallelism: 1 and 2 ranks under mpirun (bench/mpi.sh; BENCH_MPI=0
# skips it).
[ "${BENCH_MPI:-1}" = 0 ] || sh bench/mpi.sh

# Batch-1 and small-batch inference: the forward pass through the
#    descriptor (bench/step.c forward N) against the twin in eval mode under
#    torch.no_grad() (bench/step_torch.py forward N), alternately, ROUNDS
#    rounds of 20000 / N + 100 calls (BENCH_INFER_STEPS overrides) after
#    2000 / N + 100 untimed ones (10-20 ms: time for the scheduler to
#    put a pool's helper on a core of its own), medians.
#    One line per network, N and thread count, as above, named
#    infer_NAME_nN; then the same medians in microseconds as a comment,
#    with the memory floor: the median time the same threads take just to
#    read the network's parameters once (weight_floor, timed just before
#    dlc in every round), which no call that reads each weight can beat,
#    and dlc's time over it (the median of the rounds' ratios). threads=2:
#    dlc with a dlrt_pool of 2 threads on its workspace (dense's large
#    layers split their weight rows over two cores; OpenBLAS at one
#    thread from the start), PyTorch with torch.set_num_threads(2).
#    BENCH_INFER_NETS (default examples/fashion_mlp.net, the MLP
#    784-256-128-10; set but empty: none), BENCH_INFER_N (default
#    "1 4 16"), BENCH_INFER_THREADS (default "1 2").
bench_infer() {
    saved_threads=$threads
    for net in ${BENCH_INFER_NETS-examples/fashion_mlp.net}; do
        for n in ${BENCH_INFER_N:-1 4 16}; do
            for threads in ${BENCH_INFER_THREADS:-1 2}; do
                steps=${BENCH_INFER_STEPS:-$((20000 / n + 100))}
                label=infer_$(basename "$net" .net)_n$n
                run_net "$net" forward "$label" $((2000 / n + 100)) "$n"
                d=$(median <"$T/$label.dlc")
                t=$(median <"$T/$label.torch")
                f=$(median <"$T/$label.floor")
                # dlc over the floor: each round's ratio, then their median
                fr=$(paste "$T/$label.dlc" "$T/$label.floor" |
                     awk '{print ($2 > 0 ? $1 * 1e3 / $2 : 0)}' | median)
                awk -v n="$label" -v th="$threads" -v d="$d" -v t="$t" -v f="$f" -v fr="$fr" \
                    'BEGIN {printf "#   %s threads=%s: dlc %.2f us, torch %.2f us per call (medians); reading the weights alone %.2f us (dlc at %.2fx that floor)\n",
                            n, th, d * 1e3, t * 1e3, f, fr}'
            done
        done
    done
    threads=$saved_threads
}
bench_infer
