"""groups.py: several losses and parameter groups against torch.optim.

    groups.py DLC LIBDLRT TMPDIR

Each case is a net of tests/torch/groups/ compiled with `dlc --x-groups`
(several losses, each training its own parameter group; docs/design.md),
built with groups.c (which steps each loss in turn through the model
descriptor, as the generated trainer does), and replayed in PyTorch by
hand with one torch.optim optimizer per group: per batch, each loss in
turn after a fresh forward pass, zero_grad, backward, step of its group's
optimizer. Every loss and every parameter after every step must agree
within 1e-4 (float32, relative to the tensor's scale, as compare.py
measures), and a loss's step must leave the other groups untouched.

- two_heads: loss1 (cross_entropy) trains a trunk and head a, loss2
  (0.5 * mse) its own tower and head b, which reads the trunk; two Adam.
- gan_like (--x-groups=disc_w,disc_b/gen_w,gen_b): loss1 trains the
  discriminator, loss2 the generator through the discriminator's node;
  two SGD with momentum; and again with an optimizer of its own per group
  (--x-groups=disc_w,disc_b@adagrad/gen_w,gen_b@adam: Adagrad and Adam
  with torch.optim's defaults).

Prints ok/FAIL lines and "groups: N passed, N failed".
"""
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F

NSTEPS = 10
BATCH = 8
TOLERANCE = 1e-4
FLOOR = 1e-3

torch.set_num_threads(1)


def dense(p, name, x):
    return x @ p[name + "_w"].T + p[name + "_b"]


def two_heads_losses(p, data):
    x, y, t = data
    trunk = torch.tanh(dense(p, "trunk", x))
    a = dense(p, "a", trunk)
    b = dense(p, "b_2", torch.tanh(dense(p, "b", x)) * trunk)
    return [lambda: F.cross_entropy(a, y.long()), lambda: 0.5 * F.mse_loss(b, t)]


def gan_like_losses(p, data):
    z, r, f = data
    disc = dense(p, "disc", torch.tanh(dense(p, "gen", z)))
    return [lambda: F.mse_loss(disc, r), lambda: 0.5 * F.mse_loss(disc, f)]


CASES = [
    # name, dlc flag, data (name, per-sample shape or "label K"), groups,
    # the losses given params and a batch, an optimizer per group
    ("two_heads", "--x-groups", [("x", (6,)), ("y", "label 3"), ("t", (2,))],
     [["trunk_w", "trunk_b", "a_w", "a_b"], ["b_w", "b_b", "b_2_w", "b_2_b"]],
     two_heads_losses, [lambda ps: torch.optim.Adam(ps, lr=0.01)] * 2),
    ("gan_like", "--x-groups=disc_w,disc_b/gen_w,gen_b",
     [("z", (3,)), ("r", (1,)), ("f", (1,))],
     [["disc_w", "disc_b"], ["gen_w", "gen_b"]],
     gan_like_losses, [lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9)] * 2),
    # Each group its own kind of optimizer (torch.optim's defaults).
    ("gan_like", "--x-groups=disc_w,disc_b@adagrad/gen_w,gen_b@adam",
     [("z", (3,)), ("r", (1,)), ("f", (1,))],
     [["disc_w", "disc_b"], ["gen_w", "gen_b"]],
     gan_like_losses, [torch.optim.Adagrad, torch.optim.Adam]),
]


def err(c, t):
    c, t = np.asarray(c, np.float64), np.asarray(t, np.float64)
    return float(np.max(np.abs(c - t)) / max(float(np.max(np.abs(t))), FLOOR))


def run_case(dlc, lib, tmp, case):
    name, flag, tensors, groups, make_losses, make_opts = case
    d = os.path.join(tmp, "groups-" + name + ("-mixed" if "@" in flag else ""))
    os.makedirs(d, exist_ok=True)
    subprocess.run([dlc, flag, "--prefix", "grp", "tests/torch/groups/%s.net" % name,
                    "-o", d + "/grp.c"], check=True)
    subprocess.run(["cc", "-std=c99", "-O2", "-Wall", "-Wextra", "-pedantic", "-Werror",
                    "-D_POSIX_C_SOURCE=200809L", "-Iruntime", "-I/usr/include/openblas",
                    "-include", d + "/grp.h", "-o", d + "/groups", "tests/torch/groups.c",
                    d + "/grp.c", lib, "-lopenblas", "-lz", "-lm"], check=True)

    rs = np.random.RandomState(11)
    arrays = []
    for _, shape in tensors:
        if isinstance(shape, str):
            arrays.append(rs.randint(0, int(shape.split()[1]), NSTEPS * BATCH).astype(np.int32))
        else:
            arrays.append(rs.uniform(-1, 1, (NSTEPS * BATCH,) + shape).astype(np.float32))
    with open(d + "/data.bin", "wb") as f:
        f.write(b"".join(a.tobytes() for a in arrays))
    subprocess.run([d + "/groups", d], check=True)

    layout = {}
    with open(d + "/params.txt") as f:
        for line in f:
            pname, offset, size = line.split()
            layout[pname] = (int(offset), int(size))
    count = sum(size for _, size in layout.values())
    nl = len(groups)
    dump = np.fromfile(d + "/dump.bin", np.float32)
    init, rest = dump[:count], dump[count:].reshape(NSTEPS, nl, count + 1)

    # The shapes come from the twin's layout: [out, in] weights, [out] biases.
    p = {}
    for pname, (offset, size) in layout.items():
        value = init[offset:offset + size]
        if pname.endswith("_w"):
            out = layout[pname[:-2] + "_b"][1]
            value = value.reshape(out, size // out)
        p[pname] = torch.tensor(value, requires_grad=True)
    opts = [make([p[k] for k in g]) for make, g in zip(make_opts, groups)]

    def flat():
        out = np.zeros(count, np.float32)
        for pname, (offset, size) in layout.items():
            out[offset:offset + size] = p[pname].detach().numpy().ravel()
        return out

    worst, where, strays = 0.0, "", []
    for k in range(NSTEPS):
        sl = slice(k * BATCH, (k + 1) * BATCH)
        batch = [torch.tensor(a[sl]) for a in arrays]
        for l, opt in enumerate(opts):
            opt.zero_grad()
            loss = make_losses(p, batch)[l]()
            loss.backward()
            opt.step()
            c = rest[k, l]
            for e, what in ((err(c[:1], [loss.item()]), "loss"), (err(c[1:], flat()), "params")):
                if not e <= worst:
                    worst, where = e, "step %d loss%d %s" % (k + 1, l + 1, what)
            # C: the other groups' values are exactly those before the step
            prev = init if (k, l) == (0, 0) else rest[k - (l == 0), l - 1 if l else nl - 1][1:]
            for other, g in enumerate(groups):
                if other != l and any(not np.array_equal(c[1:][layout[q][0]:sum(layout[q])],
                                                         prev[layout[q][0]:sum(layout[q])]) for q in g):
                    strays.append("step %d loss%d moved group %d" % (k + 1, l + 1, other))
    results = []
    if worst <= TOLERANCE:
        results.append("ok groups %s: %d losses, %s, %d alternating steps (max rel err %.2g)"
                       % (name, nl, ", ".join(type(o).__name__ for o in opts), NSTEPS, worst))
    else:
        results.append("FAIL groups %s: %s: rel err %.3g > %g" % (name, where, worst, TOLERANCE))
    results.append("ok groups %s: each loss's step leaves the other groups untouched" % name
                   if not strays else "FAIL groups %s: %s" % (name, strays[0]))
    return results


def main():
    dlc, lib, tmp = sys.argv[1:4]
    passed = failed = 0
    for case in CASES:
        try:
            lines = run_case(dlc, lib, tmp, case)
        except (subprocess.CalledProcessError, OSError, ValueError) as e:
            lines = ["FAIL groups %s: %s" % (case[0], e)]
        for line in lines:
            print(line)
            if line.startswith("ok"):
                passed += 1
            else:
                failed += 1
    print("groups: %d passed, %d failed" % (passed, failed))


if __name__ == "__main__":
    main()
