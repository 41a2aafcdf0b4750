#!/bin/sh
# bench/rnn_kernels.sh [ROUNDS]: issue 8's reference training step (a
# character LSTM, vocab 65, hidden 128, T 64, batch 32, dense + cross-
# entropy at every step, Adam) done with the recurrent kernels directly
# (bench/rnn_kernels.c) against PyTorch (bench/rnn_kernels_torch.py), one
# thread each, float. Runs the two alternately ROUNDS times (default 5, so
# that both see the same load; each run prints 3 means of 20 steps per
# variant) and prints per variant the medians, as make bench does:
#   bench rnn_kernels.VARIANT threads=1 dlc_ms=X torch_ms=Y ratio=X/Y
# onehot and embed are the kernels' fast paths (token and embedding
# projections); onehot_float and embed_float put the one-hot or the
# embedding's output through the float-sequence calls, against the same
# PyTorch variant. Then the C harness's last phase breakdown (ms per step).
# Not part of make test or make bench.
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
T=build/tmp/rnnbench
mkdir -p "$T"
make --no-print-directory -s build/libdlrt.a
cc -std=c99 -O3 -march=native -fno-math-errno -D_POSIX_C_SOURCE=200809L -Iruntime \
    bench/rnn_kernels.c build/libdlrt.a -lopenblas -lm -o "$T/rnn_kernels"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
: >"$T/dlc.txt"
: >"$T/torch.txt"
i=0
while [ "$i" -lt "$ROUNDS" ]; do
    "$T/rnn_kernels" >"$T/last.txt"
    grep ms_per_step "$T/last.txt" >>"$T/dlc.txt"
    /usr/bin/python3 bench/rnn_kernels_torch.py >>"$T/torch.txt"
    i=$((i + 1))
done
/usr/bin/python3 - "$T/dlc.txt" "$T/torch.txt" <<'PY'
import statistics
import sys


def load(path):
    rows = {}
    for line in open(path):
        name, _, _, ms = line.split()
        rows.setdefault(name, []).append(float(ms))
    return rows


dlc, torch = load(sys.argv[1]), load(sys.argv[2])
for name, runs in dlc.items():
    t = statistics.median(torch[name.replace("_float", "")])
    d = statistics.median(runs)
    print("bench rnn_kernels.%s threads=1 dlc_ms=%.4f torch_ms=%.4f ratio=%.3f" % (name, d, t, d / t))
PY
grep '^#' "$T/last.txt"
