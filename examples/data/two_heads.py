#!/usr/bin/python3
# two_heads.py: writes two_heads.csv (1000 samples) and two_heads_test.csv
# (300) for examples/two_heads.net, from fixed seeds: columns a0, a1, b0, b1
# (uniform in [-1, 1]), the class y = (a0 + b0 > 0) + (a1 * b1 > 0), and the
# targets t0 = a0 * b0, t1 = (a1 + b1) / 2.
import os
import random


def gen(path, n, seed):
    r = random.Random(seed)
    with open(path, "w") as f:
        f.write("a0,a1,b0,b1,y,t0,t1\n")
        for _ in range(n):
            a0, a1, b0, b1 = (r.uniform(-1, 1) for _ in range(4))
            y = int(a0 + b0 > 0) + int(a1 * b1 > 0)
            f.write("%.4f,%.4f,%.4f,%.4f,%d,%.4f,%.4f\n" % (a0, a1, b0, b1, y, a0 * b0, (a1 + b1) / 2))


here = os.path.dirname(os.path.abspath(__file__))
gen(os.path.join(here, "two_heads.csv"), 1000, 1)
gen(os.path.join(here, "two_heads_test.csv"), 300, 2)
