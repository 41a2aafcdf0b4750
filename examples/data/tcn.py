#!/usr/bin/python3
# tcn.py: writes tcn.csv (2000 sequences) and tcn_test.csv (500) for
# examples/tcn.net, from fixed seeds. Each sequence has T = 24 steps and two
# channels: a value v_t in {0.1, ..., 0.9} and a marker m_t (1 with
# probability 0.2, else 0). The target at every step is the sum of the
# marked values among the last W = 12 steps (t - 11 .. t): a causal model
# must see 12 steps back, and no further use helps. Columns: the input
# [2, 24] row-major (v_0 .. v_23, then m_0 .. m_23), then the 24 targets.
import os
import random

T, W = 24, 12


def gen(path, n, seed):
    r = random.Random(seed)
    with open(path, "w") as f:
        f.write(",".join(["v%d" % t for t in range(T)] + ["m%d" % t for t in range(T)] +
                         ["y%d" % t for t in range(T)]) + "\n")
        for _ in range(n):
            v = [r.randint(1, 9) for _ in range(T)]          # tenths
            m = [int(r.random() < 0.2) for _ in range(T)]
            y = [sum(v[s] * m[s] for s in range(max(0, t - W + 1), t + 1)) for t in range(T)]
            f.write(",".join(["%.1f" % (a / 10) for a in v] + ["%d" % a for a in m] +
                             ["%.1f" % (a / 10) for a in y]) + "\n")


here = os.path.dirname(os.path.abspath(__file__))
gen(os.path.join(here, "tcn.csv"), 2000, 1)
gen(os.path.join(here, "tcn_test.csv"), 500, 2)
