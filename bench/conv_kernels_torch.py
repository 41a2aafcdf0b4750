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
# name, n, C, H, W, F, kh, kw, pad_t, pad_l, pad_r, dilation, groups
CASES = [
    ("lenet_conv1", 64, 1, 28, 28, 6, 5, 5, 2, 2, 2, 1, 1),
    ("lenet_conv2", 64, 6, 14, 14, 16, 5, 5, 0, 0, 0, 1, 1),
    ("conv3x3_64", 64, 64, 32, 32, 64, 3, 3, 1, 1, 1, 1, 1),
    ("conv3x3_64_8x8", 64, 64, 8, 8, 64, 3, 3, 1, 1, 1, 1, 1),
    ("conv1x1_64", 64, 64, 16, 16, 64, 1, 1, 0, 0, 0, 1, 1),
    ("depthwise3x3_32", 64, 32, 16, 16, 32, 3, 3, 1, 1, 1, 1, 32),
    ("dilated3x3_16_d2", 64, 16, 28, 28, 16, 3, 3, 2, 2, 2, 2, 1),
    ("causal1d_32_k3_d4", 64, 32, 1, 256, 32, 1, 3, 0, 8, 0, 4, 1),
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
    for name, n, c, h, w, f, kh, kw, pt, pl, pr, dil, g in CASES:
        # asymmetric (causal) padding as torch users write it: F.pad first
        x = F.pad(torch.rand(n, c, h, w) - 0.5, (pl, pr, pt, pt))
        wt = torch.rand(f, c // g, kh, kw) - 0.5
        d = [dil if kh > 1 else 1, dil]
        y = F.conv2d(x, wt, None, 1, 0, d, g)
        dy = torch.rand_like(y) - 0.5
        fwd = median_ms(lambda: F.conv2d(x, wt, None, 1, 0, d, g))
        # the backward autograd runs: one convolution_backward for both
        # gradients (what a training step pays), and each alone
        def bwd(mask):
            return lambda: torch.ops.aten.convolution_backward(
                dy, x, wt, None, [1, 1], [0, 0], d, False, [0, 0], g, mask)
        both = median_ms(bwd([True, True, False]))
        data = median_ms(bwd([True, False, False]))
        weight = median_ms(bwd([False, True, False]))
        print("%-16s torch  fwd %7.3f ms  data %7.3f ms  weight %7.3f ms  fwd+bwd %7.3f ms"
              % (name, fwd, data, weight, fwd + both))
