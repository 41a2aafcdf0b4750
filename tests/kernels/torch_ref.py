"""tests/kernels/torch_ref.py: reference values from PyTorch for the C
kernels, written to stdout for tests/kernels/test_torch.c.

Also the augmentation kernels, replayed here with torch ops from the
runtime's random stream (class Rng: runtime/rng.c, written from
docs/runtime.md) in the draw order runtime/kernels/augment.h documents:
the C kernels must give the same values bit for bit, in float64 and in
float32 (tensors y_f64 and y_f32), as a PyTorch twin would.

Each case is a line `OP int...` (the kernel's size arguments in its own
order) followed by tensors, one per line: `NAME COUNT v1 v2 ...` (float64,
repr: exact), inputs first, then torch's outputs and gradients. Inputs are
deterministic (sin of the index), the computation float64.

    /usr/bin/python3 tests/kernels/torch_ref.py > ref.txt
"""
import math
import sys

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
out = sys.stdout


def values(shape, seed):
    n = math.prod(shape)
    return torch.tensor([math.sin(0.731 * i + seed) * (1 + 0.1 * (i % 7))
                         for i in range(n)]).reshape(shape)


def put(name, t):
    flat = t.detach().reshape(-1).tolist()
    out.write("%s %d %s\n" % (name, len(flat), " ".join(repr(float(v)) for v in flat)))


def case(op, ints):
    out.write("%s %s\n" % (op, " ".join(str(i) for i in ints)))


def conv2d(n, C, H, W, Fo, kh, kw, sh, sw, pt, pb, pl, pr, dh, dw, g):
    x = values((n, C, H, W), 1).requires_grad_()
    w = values((Fo, C // g, kh, kw), 2).requires_grad_()
    b = values((Fo,), 3).requires_grad_()
    y = F.conv2d(F.pad(x, (pl, pr, pt, pb)), w, b, (sh, sw), 0, (dh, dw), g)
    dy = values(tuple(y.shape), 4)
    y.backward(dy)
    case("conv2d", [n, C, H, W, Fo, kh, kw, sh, sw, pt, pb, pl, pr, dh, dw, g])
    for name, t in (("x", x), ("w", w), ("b", b), ("dy", dy), ("y", y),
                    ("dx", x.grad), ("dw", w.grad), ("db", b.grad)):
        put(name, t)


def conv_transpose2d(n, C, H, W, Fo, kh, kw, sh, sw, ph, pw, oph, opw, dh, dw, g):
    x = values((n, C, H, W), 5).requires_grad_()
    w = values((C, Fo // g, kh, kw), 6).requires_grad_()
    b = values((Fo,), 7).requires_grad_()
    y = F.conv_transpose2d(x, w, b, (sh, sw), (ph, pw), (oph, opw), g, (dh, dw))
    dy = values(tuple(y.shape), 8)
    y.backward(dy)
    case("conv_transpose2d", [n, C, H, W, Fo, kh, kw, sh, sw, ph, pw, oph, opw, dh, dw, g])
    for name, t in (("x", x), ("w", w), ("b", b), ("dy", dy), ("y", y),
                    ("dx", x.grad), ("dw", w.grad), ("db", b.grad)):
        put(name, t)


def maxpool2d(n, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw):
    x = values((n, C, H, W), 9).requires_grad_()
    y, idx = F.max_pool2d(x, (kh, kw), (sh, sw), (ph, pw), (dh, dw), return_indices=True)
    dy = values(tuple(y.shape), 10)
    y.backward(dy)
    case("maxpool2d", [n, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw])
    for name, t in (("x", x), ("dy", dy), ("y", y), ("argmax", idx.double()), ("dx", x.grad)):
        put(name, t)


def avgpool2d(n, C, H, W, kh, kw, sh, sw, ph, pw):
    x = values((n, C, H, W), 11).requires_grad_()
    y = F.avg_pool2d(x, (kh, kw), (sh, sw), (ph, pw))
    dy = values(tuple(y.shape), 12)
    y.backward(dy)
    case("avgpool2d", [n, C, H, W, kh, kw, sh, sw, ph, pw])
    for name, t in (("x", x), ("dy", dy), ("y", y), ("dx", x.grad)):
        put(name, t)


def batchnorm(n, C, inner):
    """Two train-mode steps (momentum 0.1, eps 1e-5), then eval."""
    x = values((n, C, inner), 13).requires_grad_()
    w = values((C,), 14).requires_grad_()
    b = values((C,), 15).requires_grad_()
    rm, rv = values((C,), 16), values((C,), 17).abs() + 0.5
    rm0, rv0 = rm.clone(), rv.clone()
    F.batch_norm(x.detach(), rm, rv, w.detach(), b.detach(), True, 0.1, 1e-5)
    y = F.batch_norm(x, rm, rv, w, b, True, 0.1, 1e-5)
    dy = values(tuple(y.shape), 18)
    y.backward(dy)
    ye = F.batch_norm(x.detach(), rm, rv, w.detach(), b.detach(), False, 0.1, 1e-5)
    case("batchnorm", [n, C, inner])
    for name, t in (("x", x), ("w", w), ("b", b), ("rm", rm0), ("rv", rv0), ("dy", dy),
                    ("y", y), ("rm2", rm), ("rv2", rv), ("dx", x.grad), ("dw", w.grad),
                    ("db", b.grad), ("yeval", ye)):
        put(name, t)


def layernorm(rows, cols):
    x = values((rows, cols), 19).requires_grad_()
    w = values((cols,), 20).requires_grad_()
    b = values((cols,), 21).requires_grad_()
    y = F.layer_norm(x, (cols,), w, b, 1e-5)
    dy = values(tuple(y.shape), 22)
    y.backward(dy)
    case("layernorm", [rows, cols])
    for name, t in (("x", x), ("w", w), ("b", b), ("dy", dy), ("y", y), ("dx", x.grad),
                    ("dw", w.grad), ("db", b.grad)):
        put(name, t)


def upsample(n, C, H, W, sh, sw):
    x = values((n, C, H, W), 23).requires_grad_()
    y = F.interpolate(x, scale_factor=(sh, sw), mode="nearest")
    dy = values(tuple(y.shape), 24)
    y.backward(dy)
    case("upsample", [n, C, H, W, sh, sw])
    for name, t in (("x", x), ("dy", dy), ("y", y), ("dx", x.grad)):
        put(name, t)


M64 = (1 << 64) - 1


class Rng:
    """dlrt_rng: xoshiro256** seeded through splitmix64 (runtime/rng.c)."""

    def __init__(self, seed):
        self.s = []
        sm = seed & M64
        for _ in range(4):
            sm = (sm + 0x9E3779B97F4A7C15) & M64
            z = sm
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            self.s.append(z ^ (z >> 31))

    def next(self):
        s = self.s
        rotl = lambda x, k: ((x << k) | (x >> (64 - k))) & M64
        result = (rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result

    def uniform(self):
        return (self.next() >> 11) * (1.0 / 9007199254740992.0)

    def normal(self):
        u1 = self.uniform()
        u2 = self.uniform()
        return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(6.283185307179586 * u2)

    def draw(self, m):
        """augment.h's draw(m): an integer in [0, m) from one uniform."""
        return int(self.uniform() * m)


def augment(op, n, C, H, W, arg, seed):
    """The kernel `op` on values((n, C, H, W)), in both precisions."""
    x = values((n, C, H, W), 25)
    case(op, [n, C, H, W, arg, seed])
    put("x", x)
    for dtype, name in ((torch.float64, "y_f64"), (torch.float32, "y_f32")):
        xs, rng, ys = x.to(dtype), Rng(seed), []
        if op == "gaussian_noise":   # arg: std in hundredths
            noise = [arg / 100 * rng.normal() for _ in range(xs.numel())]
            put(name, xs + torch.tensor(noise).to(dtype).reshape(xs.shape))
            continue
        for s in range(n):
            img = xs[s]
            if op == "random_crop":      # arg: padding
                top, left = rng.draw(2 * arg + 1), rng.draw(2 * arg + 1)
                img = F.pad(img, (arg, arg, arg, arg))[:, top:top + H, left:left + W]
            elif op == "random_shift":   # arg: shift
                dy, dx = rng.draw(2 * arg + 1) - arg, rng.draw(2 * arg + 1) - arg
                img = F.pad(img, (arg, arg, arg, arg))
                img = img[:, arg - dy:arg - dy + H, arg - dx:arg - dx + W]
            elif op == "random_hflip":   # arg: p in hundredths
                if rng.uniform() < arg / 100:
                    img = torch.flip(img, dims=[2])
            elif op == "cutout":         # arg: size
                cy, cx = rng.draw(H), rng.draw(W)
                img = img.clone()
                y0, x0 = max(cy - arg // 2, 0), max(cx - arg // 2, 0)
                img[:, y0:max(cy - arg // 2 + arg, 0), x0:max(cx - arg // 2 + arg, 0)] = 0
            ys.append(img)
        put(name, torch.stack(ys))


# conv2d: n C H W F kh kw sh sw pt pb pl pr dh dw g
conv2d(2, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1)     # 3x3 same
conv2d(2, 2, 9, 7, 4, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1, 1)     # stride 2 valid
conv2d(1, 4, 10, 10, 4, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 2)   # dilation 2, groups 2
conv2d(2, 3, 11, 11, 6, 3, 3, 1, 1, 3, 3, 3, 3, 3, 3, 3)   # dilation 3, depthwise x2
conv2d(2, 2, 6, 8, 3, 2, 4, 1, 1, 0, 1, 1, 2, 1, 1, 1)     # even kernel `same`
conv2d(3, 2, 1, 12, 3, 1, 3, 1, 1, 0, 0, 4, 0, 1, 2, 1)    # causal conv1d, dilation 2
conv2d(2, 4, 5, 5, 6, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 2)     # 1x1 grouped
conv2d(2, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 1)   # LeNet conv1
conv2d(2, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 0, 0, 1, 1, 1)  # LeNet conv2 (SHIFT)
# conv_transpose2d: n C H W F kh kw sh sw ph pw oph opw dh dw g
conv_transpose2d(2, 3, 4, 5, 2, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1)
conv_transpose2d(2, 4, 3, 3, 6, 4, 4, 2, 2, 1, 1, 0, 0, 1, 1, 2)
conv_transpose2d(1, 2, 5, 4, 2, 3, 2, 3, 2, 2, 0, 2, 1, 2, 3, 1)
conv_transpose2d(2, 6, 5, 5, 8, 3, 3, 1, 1, 1, 1, 0, 0, 2, 2, 2)   # dilated, groups, SHIFT
# maxpool2d: n C H W kh kw sh sw ph pw dh dw
maxpool2d(2, 3, 8, 8, 2, 2, 2, 2, 0, 0, 1, 1)
maxpool2d(2, 2, 9, 7, 3, 3, 2, 2, 1, 1, 1, 1)
maxpool2d(1, 2, 10, 9, 3, 2, 1, 2, 1, 1, 2, 3)
maxpool2d(2, 2, 1, 11, 1, 3, 1, 2, 0, 1, 1, 1)             # maxpool1d
# avgpool2d: n C H W kh kw sh sw ph pw
avgpool2d(2, 3, 8, 8, 2, 2, 2, 2, 0, 0)
avgpool2d(2, 2, 9, 7, 3, 3, 2, 2, 1, 1)
avgpool2d(1, 2, 7, 9, 3, 2, 1, 2, 1, 1)
batchnorm(4, 3, 10)
batchnorm(5, 4, 1)
layernorm(6, 10)
upsample(2, 2, 3, 4, 2, 2)
upsample(1, 2, 1, 5, 1, 3)
# augmentation: n C H W arg seed
augment("random_crop", 5, 2, 6, 7, 2, 11)
augment("random_crop", 3, 1, 28, 28, 4, 12)
augment("random_shift", 5, 2, 6, 7, 3, 13)
augment("random_hflip", 6, 2, 4, 5, 80, 14)
augment("gaussian_noise", 2, 2, 3, 4, 25, 15)
augment("cutout", 6, 2, 7, 6, 3, 16)
augment("cutout", 6, 1, 8, 8, 4, 17)
