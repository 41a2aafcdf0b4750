"""groups.py: several losses and parameter groups against torch.optim.

    groups.py DLC LIBDLRT TMPDIR

Compiles tests/torch/groups/two_heads.net with `dlc --x-groups` (two
losses, each training its own parameter group; docs/design.md), builds it
with groups.c, and replays the same 10 batches in PyTorch by hand: per
batch, loss1 (cross_entropy on head a) steps one torch.optim.Adam over its
group (the trunk and head a), then loss2 (0.5 * mse on head b) steps a
second Adam over its group (head b's tower), each after a fresh forward
pass, as the generated trainer alternates them. Every loss and every
parameter after every step must agree within 1e-4 (float32, relative to
the tensor's scale, as compare.py measures). Prints ok/FAIL lines and
"groups: N passed, N failed".
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
NET = "tests/torch/groups/two_heads.net"
GROUP1 = ["trunk_w", "trunk_b", "a_w", "a_b"]
GROUP2 = ["b_w", "b_b", "b_2_w", "b_2_b"]

torch.set_num_threads(1)


def err(c, t):
    c, t = np.asarray(c, np.float64), np.asarray(t, np.float64)
    return float(np.max(np.abs(c - t)) / max(float(np.max(np.abs(t))), FLOOR))


def main():
    dlc, lib, tmp = sys.argv[1:4]
    d = os.path.join(tmp, "groups")
    os.makedirs(d, exist_ok=True)
    subprocess.run([dlc, "--x-groups", "--prefix", "grp", NET, "-o", d + "/grp.c"], check=True)
    subprocess.run(["cc", "-std=c99", "-O2", "-Wall", "-Wextra", "-pedantic", "-Werror",
                    "-D_POSIX_C_SOURCE=200809L", "-Iruntime", "-I/usr/include/openblas",
                    "-include", d + "/grp.h", "-o", d + "/groups", "tests/torch/groups.c",
                    d + "/grp.c", lib, "-lopenblas", "-lz", "-lm"], check=True)

    rs = np.random.RandomState(11)
    x = rs.uniform(-1, 1, (NSTEPS * BATCH, 6)).astype(np.float32)
    y = rs.randint(0, 3, NSTEPS * BATCH).astype(np.int32)
    t = rs.uniform(-1, 1, (NSTEPS * BATCH, 2)).astype(np.float32)
    with open(d + "/data.bin", "wb") as f:
        f.write(x.tobytes() + y.tobytes() + t.tobytes())
    subprocess.run([d + "/groups", d], check=True)

    layout = {}
    with open(d + "/params.txt") as f:
        for line in f:
            name, offset, size = line.split()
            layout[name] = (int(offset), int(size))
    count = sum(size for _, size in layout.values())
    dump = np.fromfile(d + "/dump.bin", np.float32)
    init, rest = dump[:count], dump[count:].reshape(NSTEPS, 2, count + 1)

    shapes = {"trunk_w": (5, 6), "trunk_b": (5,), "a_w": (3, 5), "a_b": (3,),
              "b_w": (5, 6), "b_b": (5,), "b_2_w": (2, 5), "b_2_b": (2,)}
    p = {}
    for name, shape in shapes.items():
        offset, size = layout[name]
        p[name] = torch.tensor(init[offset:offset + size].reshape(shape), requires_grad=True)
    opt1 = torch.optim.Adam([p[k] for k in GROUP1], lr=0.01)
    opt2 = torch.optim.Adam([p[k] for k in GROUP2], lr=0.01)

    def heads(xb):
        trunk = torch.tanh(xb @ p["trunk_w"].T + p["trunk_b"])
        a = trunk @ p["a_w"].T + p["a_b"]
        tower = torch.tanh(xb @ p["b_w"].T + p["b_b"]) * trunk
        return a, tower @ p["b_2_w"].T + p["b_2_b"]

    def flat():
        out = np.zeros(count, np.float32)
        for name, (offset, size) in layout.items():
            out[offset:offset + size] = p[name].detach().numpy().ravel()
        return out

    passed = failed = 0
    worst = 0.0
    where = ""
    for k in range(NSTEPS):
        sl = slice(k * BATCH, (k + 1) * BATCH)
        xb, yb, tb = torch.tensor(x[sl]), torch.tensor(y[sl]).long(), torch.tensor(t[sl])
        for which, opt in ((0, opt1), (1, opt2)):
            opt.zero_grad()
            a, b = heads(xb)
            loss = F.cross_entropy(a, yb) if which == 0 else 0.5 * F.mse_loss(b, tb)
            loss.backward()
            opt.step()
            c = rest[k, which]
            for e, what in ((err(c[:1], [loss.item()]), "loss"), (err(c[1:], flat()), "params")):
                if not e <= worst:
                    worst, where = e, "step %d loss%d %s" % (k + 1, which + 1, what)
    # loss2 must not have moved the trunk: its params after loss2's step
    # equal those after loss1's step.
    g1 = sum(layout[k][1] for k in GROUP1)
    moved = max(err(rest[k, 1][1:][:g1], rest[k, 0][1:][:g1]) for k in range(NSTEPS))
    if worst <= TOLERANCE:
        print("ok groups: two losses, two Adam groups, %d alternating steps (max rel err %.2g)"
              % (NSTEPS, worst))
        passed += 1
    else:
        print("FAIL groups: %s: rel err %.3g > %g" % (where, worst, TOLERANCE))
        failed += 1
    if moved == 0 and all(layout[k][0] < g1 for k in GROUP1):
        print("ok groups: loss2's step leaves loss1's group (values [0, %d)) untouched" % g1)
        passed += 1
    else:
        print("FAIL groups: loss2's step changed loss1's group (rel %.3g) or the layout is not "
              "group by group" % moved)
        failed += 1
    print("groups: %d passed, %d failed" % (passed, failed))


if __name__ == "__main__":
    main()
