#!/usr/bin/python3
# regression.py: writes regression.csv (4000 samples) and regression_test.csv
# (1000) for examples/regression.net, from fixed seeds: columns x (uniform
# in [-3, 3]) and y = f(x) + sigma(x) * e, e ~ N(0, 1), with
#   f(x)     = sin(2 x) + 0.3 x                  the mean
#   sigma(x) = 0.05 + 0.05 * (x + 3)             the noise: 0.05 at x = -3,
#                                                0.35 at x = 3
# Heteroscedastic: the noise grows with x, so a network predicting a mean
# and a log-variance (gaussian_nll) can learn both. examples/data/
# regression_check.c compares what it learnt with sigma(x).
import math
import os
import random


def sigma(x):
    return 0.05 + 0.05 * (x + 3)


def gen(path, n, seed):
    r = random.Random(seed)
    with open(path, "w") as f:
        f.write("x,y\n")
        for _ in range(n):
            x = r.uniform(-3, 3)
            y = math.sin(2 * x) + 0.3 * x + sigma(x) * r.gauss(0, 1)
            f.write("%.5f,%.5f\n" % (x, y))


here = os.path.dirname(os.path.abspath(__file__))
gen(os.path.join(here, "regression.csv"), 4000, 1)
gen(os.path.join(here, "regression_test.csv"), 1000, 2)
