"""bench/conv_kernels_torch.py: torch.nn.functional.conv2d on the shapes of
bench/conv_kernels.c, one thread, float32: the median forward, input-gradient
and weight-gradient times in ms (torch.nn.grad's conv2d_input/conv2d_weight,
the functions autograd's convolution backward runs).

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/conv_kernels_torch.py
"""
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(1)
CASES = [
    ("lenet_conv1", 64, 1, 28, 28, 6, 5, 2, 1),
    ("lenet_conv2", 64, 6, 14, 14, 16, 5, 0, 1),
    ("conv3x3_64", 64, 64, 32, 32, 64, 3, 1, 1),
    ("conv3x3_64_8x8", 64, 64, 8, 8, 64, 3, 1, 1),
    ("conv1x1_64", 64, 64, 16, 16, 64, 1, 0, 1),
    ("depthwise3x3_32", 64, 32, 16, 16, 32, 3, 1, 32),
]
REPS = 15


def median_ms(fn):
    times = []
    for _ in range(REPS):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return times[REPS // 2]


with torch.no_grad():
    for name, n, c, h, w, f, k, pad, g in CASES:
        x = torch.rand(n, c, h, w) - 0.5
        wt = torch.rand(f, c // g, k, k) - 0.5
        y = F.conv2d(x, wt, padding=pad, groups=g)
        dy = torch.rand_like(y) - 0.5
        fwd = median_ms(lambda: F.conv2d(x, wt, padding=pad, groups=g))
        # the backward autograd runs: one convolution_backward for both
        # gradients (what a training step pays), and each alone
        both = median_ms(lambda: torch.ops.aten.convolution_backward(
            dy, x, wt, None, [1, 1], [pad, pad], [1, 1], False, [0, 0], g,
            [True, True, False]))
        data = median_ms(lambda: torch.ops.aten.convolution_backward(
            dy, x, wt, None, [1, 1], [pad, pad], [1, 1], False, [0, 0], g,
            [True, False, False]))
        weight = median_ms(lambda: torch.ops.aten.convolution_backward(
            dy, x, wt, None, [1, 1], [pad, pad], [1, 1], False, [0, 0], g,
            [False, True, False]))
        print("%-16s torch  fwd %7.3f ms  data %7.3f ms  weight %7.3f ms  fwd+bwd %7.3f ms"
              % (name, fwd, data, weight, fwd + both))
