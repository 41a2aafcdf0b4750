#!/bin/sh
# bench/mpi.sh (the end of make bench): data-parallel training under mpirun,
# 1 and 2 ranks (BENCH_RANKS), one BLAS thread per rank. Per network, from
# the trainer's own report (runtime/comm_mpi.c) over one epoch of
# BENCH_MPI_LIMIT Fashion-MNIST samples, one line per rank count:
#   bench mpi_NAME ranks=R step_ms=S compute_ms=C exposed_ms=E comm_ms=A overlap=F bytes=B buckets=K
# step_ms = compute_ms + exposed_ms per step: forward and backward of this
# rank's share of the batch (with the buckets sent as they are ready), then
# the wait for the last buckets; comm_ms is the allreduce of the same
# buckets measured alone after training; overlap = 1 - exposed / comm
# (the share of the communication hidden behind the backward pass).
# docs/scaling.md models these numbers for N machines.
set -eu
cd "$(dirname "$0")/.."
T=build/bench/mpi
mkdir -p "$T"
if ! command -v mpirun >/dev/null 2>&1; then
    echo "bench/mpi.sh: no mpirun (install openmpi-bin libopenmpi-dev, or make deps-test)" >&2
    exit 1
fi
make --no-print-directory -s MPI=1 all
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
nets=${BENCH_MPI_NETS-"examples/fashion_mlp.net examples/fashion_cnn.net bench/lenet.net examples/sequence_classifier.net"}
ranks_list=${BENCH_RANKS:-"1 2"}
limit=${BENCH_MPI_LIMIT:-12800}
for net in $nets; do
    name=$(basename "$net" .net)
    build/dlc --main "$net" -o "$T/$name.c"
    mpicc -std=c99 -O3 -march=native -fno-math-errno -Iruntime -o "$T/$name" "$T/$name.c" \
        build/libdlrt_mpi.a -lopenblas -lz -lm
    for ranks in $ranks_list; do
        mpirun --oversubscribe -np "$ranks" "$T/$name" --limit "$limit" --epochs 1 --test-limit 100 \
            --no-progress --overwrite --checkpoint "$T/$name.ckpt" >"$T/$name.$ranks.out" 2>&1 ||
            { echo "bench mpi_$name ranks=$ranks FAILED: $(tail -c 300 "$T/$name.$ranks.out")"; continue; }
        sed -n 's/^data parallel: \([0-9]*\) ranks, \([0-9]*\) steps: \([0-9.]*\) ms per step computing, \([0-9.]*\) ms waiting for the allreduce; the allreduce alone \([0-9.]*\) ms (\([0-9]*\) bytes in \([0-9]*\) bucket.*/\1 \3 \4 \5 \6 \7/p' \
            "$T/$name.$ranks.out" |
            awk -v n="$name" '{printf "bench mpi_%s ranks=%d step_ms=%.4f compute_ms=%.4f exposed_ms=%.4f comm_ms=%.4f overlap=%.2f bytes=%d buckets=%d\n",
                n, $1, $2 + $3, $2, $3, $4, ($4 > 0 ? 1 - $3 / $4 : 1) < 0 ? 0 : ($4 > 0 ? 1 - $3 / $4 : 1), $5, $6}'
    done
done
