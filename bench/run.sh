#!/bin/sh
# bench/run.sh: training throughput of the showcase MLP, dlc vs PyTorch, on
# the same data, architecture, batch size and optimizer (one epoch of
# Fashion-MNIST, 54,000 training images after the validation split).
# Prints samples per second for each; numbers vary with the machine.
set -eu
cd "$(dirname "$0")/.."
T=build/tmp/bench
mkdir -p "$T"
make --no-print-directory -s all build/fashion_mlp
threads=${OPENBLAS_NUM_THREADS:-1}
echo "== dlc (examples/fashion_mlp.net, OPENBLAS_NUM_THREADS=$threads)"
start=$(date +%s.%N)
OPENBLAS_NUM_THREADS=$threads build/fashion_mlp --no-progress --checkpoint "$T/bench.ckpt" --overwrite | tee "$T/dlc.out"
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" 'BEGIN{printf "dlc: %.1f s wall for one epoch + evaluation\n", e - s}'
echo "== PyTorch (bench/fashion_mlp_torch.py, torch.set_num_threads($threads))"
/usr/bin/python3 bench/fashion_mlp_torch.py --threads "$threads"
