#!/bin/sh
# bench/conv_kernels.sh [ROUNDS]: the convolution kernels against
# torch.nn.functional.conv2d on the shapes of bench/conv_kernels.c, one
# thread each, float, batch 64. Builds bench/conv_kernels.c, then runs it
# and bench/conv_kernels_torch.py alternately ROUNDS times (default 3, so
# that both see the same load) and prints, per layer, the medians in ms:
# forward, input gradient, weight gradient, and all three (torch: forward
# plus one convolution_backward computing both gradients). Not part of
# make test or make bench.
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
T=build/tmp/conv_kernels
mkdir -p "$T"
make --no-print-directory -s build/libdlrt.a
cc -std=c99 -O3 -march=native -fno-math-errno -Iruntime bench/conv_kernels.c build/libdlrt.a \
    -lopenblas -lm -o "$T/conv_kernels"
export OPENBLAS_NUM_THREADS=1
: >"$T/dlc.txt"
: >"$T/torch.txt"
i=0
while [ "$i" -lt "$ROUNDS" ]; do
    "$T/conv_kernels" | grep planned >>"$T/dlc.txt"
    /usr/bin/python3 bench/conv_kernels_torch.py >>"$T/torch.txt"
    i=$((i + 1))
done
/usr/bin/python3 - "$T/dlc.txt" "$T/torch.txt" <<'PY'
import re
import statistics
import sys


def load(path):
    rows = {}
    for line in open(path):
        words = line.split()
        times = [float(v) for v in re.findall(r"(\d+\.\d+) ms", line)]
        rows.setdefault(words[0], (words[1], []))[1].append(times)
    return rows


dlc, torch = load(sys.argv[1]), load(sys.argv[2])
print("%-18s %-6s %31s   %31s" % ("layer", "scheme", "dlc fwd/dx/dW/all ms",
                                   "torch fwd/dx/dW/fwd+bwd ms"))
for name, (scheme, runs) in dlc.items():
    med = lambda rs: [statistics.median(r[i] for r in rs) for i in range(4)]
    d, t = med(runs), med(torch[name][1])
    print("%-18s %-6s %s   %s" % (name, scheme, " ".join("%7.2f" % v for v in d),
                                  " ".join("%7.2f" % v for v in t)))
PY
