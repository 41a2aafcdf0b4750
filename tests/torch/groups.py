"""groups.py: several losses and parameter groups against torch.optim.

    groups.py DLC LIBDLRT TMPDIR

Each case is a net of tests/torch/groups/ with several named losses
(`loss NAME = expr updates A, B`, or the default rule; docs/language.md),
each training its own parameter group with its own optimizer, built with
groups.c (which steps the losses through the model descriptor on the
trainer's schedule: rounds of R = max steps batches, loss l on batch i of
a round iff i >= R - steps_l), and replayed in PyTorch by hand with one
torch.optim optimizer per group: per batch, each loss that steps in turn
after a fresh forward pass, zero_grad, backward, (clip_grad_norm_,) step
of its group's optimizer. Every loss, every loss term (P_loss_terms) and
every parameter after every step must agree within 1e-4 (float32,
relative to the tensor's scale, as compare.py measures), and a loss's step
must leave the other groups untouched.

- two_heads: loss1 (cross_entropy) trains a trunk and head a, loss2
  (0.5 * mse) its own tower and head b, which reads the trunk; two Adam.
- gan_like (updates disc / updates gen): loss1 trains the discriminator,
  loss2 the generator through the discriminator's node; two SGD with
  momentum.
- gan_mixed: the same with loss sections: Adagrad with weight decay and
  steps 3 for the discriminator, Adam with clip_norm for the generator.
- gan_no_decay: gan_like with weight decay and, in loss1's section only,
  no_decay bias_and_norm: torch.optim.SGD with a group of weight decay 0.
- gan_bce: a GAN's two alternating steps with bce from logits, the
  discriminator's two-term loss (2 steps per round) then the generator's
  through the discriminator; Adam(betas = (0.5, 0.999)) for both.

Prints ok/FAIL lines and "groups: N passed, N failed".
"""
import importlib.util
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
    return [lambda: [F.cross_entropy(a, y.long())], lambda: [F.mse_loss(b, t)]]


def gan_like_losses(p, data):
    z, r, f = data
    disc = dense(p, "disc", torch.tanh(dense(p, "gen", z)))
    return [lambda: [F.mse_loss(disc, r)], lambda: [F.mse_loss(disc, f)]]


def gan_bce_losses(p, data):
    z, x, r, one = data
    g = dense(p, "g", torch.tanh(dense(p, "gh", z)))
    logit = dense(p, "logit", torch.tanh(dense(p, "dh", g * x)))
    bce = F.binary_cross_entropy_with_logits
    return [lambda: [bce(logit, r), bce(logit, one)], lambda: [bce(logit, one)]]


def warmup_losses(p, data):
    x, t, r = data
    mu, logvar = dense(p, "mu", x), dense(p, "logvar", x)
    h = torch.tanh(dense(p, "h", mu))
    recon, score = dense(p, "recon", h), dense(p, "score", h)
    kl = -0.5 * torch.sum(1 + logvar - mu ** 2 - torch.exp(logvar)) / mu.shape[0]
    return [lambda: [F.mse_loss(recon, t), kl], lambda: [F.mse_loss(score, r)]]


def warmup_scale(k, n):
    """min(1, epoch / N), each batch k (from 0) an epoch k + 1."""
    return min(1.0, (k + 1) / n)


def adam_betas(ps):
    return torch.optim.Adam(ps, lr=0.01, betas=(0.5, 0.999))


CASES = [
    # name, data (name, per-sample shape, "label K" or "prob N": values in
    # [0, 1)), groups, the losses' terms given params and a batch, the term
    # weights per loss, an optimizer per group, clip_norm per group
    ("two_heads", [("x", (6,)), ("y", "label 3"), ("t", (2,))],
     [["trunk_w", "trunk_b", "a_w", "a_b"], ["b_w", "b_b", "b_2_w", "b_2_b"]],
     two_heads_losses, [[1], [0.5]], [lambda ps: torch.optim.Adam(ps, lr=0.01)] * 2, [None, None]),
    ("gan_like", [("z", (3,)), ("r", (1,)), ("f", (1,))],
     [["disc_w", "disc_b"], ["gen_w", "gen_b"]],
     gan_like_losses, [[1], [0.5]], [lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9)] * 2,
     [None, None]),
    # Each group its own kind of optimizer and settings (loss sections).
    ("gan_mixed", [("z", (3,)), ("r", (1,)), ("f", (1,))],
     [["disc_w", "disc_b"], ["gen_w", "gen_b"]],
     gan_like_losses, [[1], [0.5]],
     [lambda ps: torch.optim.Adagrad(ps, weight_decay=0.01), torch.optim.Adam], [None, 0.05]),
    ("gan_bce", [("z", (3,)), ("x", (2,)), ("r", "prob 1"), ("one", "ones 1")],
     [["dh_w", "dh_b", "logit_w", "logit_b"], ["gh_w", "gh_b", "g_w", "g_b"]],
     gan_bce_losses, [[1, 0.5], [1]], [adam_betas] * 2, [None, None]),
    # warmup(0.5 * kl_normal, epochs = 4): the weight 0.5 * min(1, epoch / 4).
    ("warmup", [("x", (4,)), ("t", (4,)), ("r", (1,))],
     [["mu_w", "mu_b", "logvar_w", "logvar_b", "h_w", "h_b", "recon_w", "recon_b"],
      ["score_w", "score_b"]],
     warmup_losses, [[1, lambda k: 0.5 * warmup_scale(k, 4)], [1]],
     [lambda ps: torch.optim.Adam(ps, lr=0.01)] * 2, [None, None]),
    # no_decay bias_and_norm in loss1's section: disc_b in a param group of
    # weight decay 0; loss2's group decays both of its tensors.
    ("gan_no_decay", [("z", (3,)), ("r", (1,)), ("f", (1,))],
     [["disc_w", "disc_b"], ["gen_w", "gen_b"]],
     gan_like_losses, [[1], [0.5]],
     [lambda ps: torch.optim.SGD([{"params": [ps[0]]}, {"params": [ps[1]], "weight_decay": 0.0}],
                                 lr=0.05, momentum=0.9, weight_decay=0.2),
      lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=0.2)], [None, None]),
]


def err(c, t):
    c, t = np.asarray(c, np.float64), np.asarray(t, np.float64)
    return float(np.max(np.abs(c - t)) / max(float(np.max(np.abs(t))), FLOOR))


def run_case(dlc, lib, tmp, case):
    name, tensors, groups, make_losses, weights, make_opts, clips = case
    d = os.path.join(tmp, "groups-" + name)
    os.makedirs(d, exist_ok=True)
    subprocess.run([dlc, "--prefix", "grp", "tests/torch/groups/%s.net" % name,
                    "-o", d + "/grp.c"], check=True)
    subprocess.run(["cc", "-std=c99", "-O0", "-Wall", "-Wextra", "-pedantic", "-Werror",
                    "-D_POSIX_C_SOURCE=200809L", "-Iruntime", "-I/usr/include/openblas",
                    "-include", d + "/grp.h", "-o", d + "/groups", "tests/torch/groups.c",
                    d + "/grp.c", lib, "-lopenblas", "-lz", "-lm"], check=True)

    rs = np.random.RandomState(11)
    arrays = []
    for _, shape in tensors:
        if isinstance(shape, str) and shape.startswith("label"):
            arrays.append(rs.randint(0, int(shape.split()[1]), NSTEPS * BATCH).astype(np.int32))
        elif isinstance(shape, str) and shape.startswith("prob"):
            arrays.append(rs.uniform(0, 1, (NSTEPS * BATCH, int(shape.split()[1]))).astype(np.float32))
        elif isinstance(shape, str):
            arrays.append(np.ones((NSTEPS * BATCH, int(shape.split()[1])), np.float32))
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
    with open(d + "/steps.txt") as f:
        info = [[int(v) for v in line.split()] for line in f]
    steps = [row[0] for row in info]
    nterms = sum(row[2] for row in info)
    count = sum(size for _, size in layout.values())
    nl = len(groups)
    rnd = max(steps)
    schedule = [(k, l) for k in range(NSTEPS) for l in range(nl) if k % rnd >= rnd - steps[l]]
    dump = np.fromfile(d + "/dump.bin", np.float32)
    init, rest = dump[:count], dump[count:].reshape(len(schedule), 1 + nterms + count)

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
    prev = init
    for j, (k, l) in enumerate(schedule):
        sl = slice(k * BATCH, (k + 1) * BATCH)
        batch = [torch.tensor(a[sl]) for a in arrays]
        opt = opts[l]
        opt.zero_grad()
        terms = make_losses(p, batch)[l]()
        loss = sum((w(k) if callable(w) else w) * t for w, t in zip(weights[l], terms))
        loss.backward()
        if clips[l]:
            torch.nn.utils.clip_grad_norm_([p[q] for q in groups[l]], clips[l])
        opt.step()
        c = rest[j]
        first = info[l][1]
        c_terms = c[1 + first:1 + first + len(terms)]
        for e, what in ((err(c[:1], [loss.item()]), "loss"),
                        (err(c_terms, [t.item() for t in terms]), "terms"),
                        (err(c[1 + nterms:], flat()), "params")):
            if not e <= worst:
                worst, where = e, "batch %d loss%d %s" % (k + 1, l + 1, what)
        # C: the other groups' values are exactly those before the step
        now = c[1 + nterms:]
        for other, g in enumerate(groups):
            if other != l and any(not np.array_equal(now[layout[q][0]:sum(layout[q])],
                                                     prev[layout[q][0]:sum(layout[q])]) for q in g):
                strays.append("batch %d loss%d moved group %d" % (k + 1, l + 1, other))
        prev = now
    results = []
    results.append(twin_check(dlc, d, name, arrays, layout, schedule, rest, nterms, count))
    if worst <= TOLERANCE:
        results.append("ok groups %s: %d losses, %s, steps %s, %d steps on %d batches "
                       "(max rel err %.2g)" % (name, nl, ", ".join(type(o).__name__ for o in opts),
                                               "/".join(map(str, steps)), len(schedule), NSTEPS, worst))
    else:
        results.append("FAIL groups %s: %s: rel err %.3g > %g" % (name, where, worst, TOLERANCE))
    results.append("ok groups %s: each loss's step leaves the other groups untouched" % name
                   if not strays else "FAIL groups %s: %s" % (name, strays[0]))
    return results


def twin_check(dlc, d, name, arrays, layout, schedule, rest, nterms, count):
    """The PyTorch twin (dlc --emit=torch) of the same net, from the C's
    initial weights: make_optimizers() and train_step_<loss> on the same
    schedule (LOSSES, STEPS); each step's loss, terms (loss_terms) and
    parameters against the C's."""
    subprocess.run([dlc, "--emit=torch", "tests/torch/groups/%s.net" % name, "-o", d + "/twin.py"],
                   check=True)
    spec = importlib.util.spec_from_file_location("twin_" + name, d + "/twin.py")
    tw = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tw)
    m = tw.Model(seed=7)
    init = np.fromfile(d + "/dump.bin", np.float32)[:count]
    with torch.no_grad():
        for pname, (offset, size) in layout.items():
            getattr(m, pname).copy_(torch.tensor(init[offset:offset + size]).reshape(getattr(m, pname).shape))
    opts = m.make_optimizers()
    rnd = max(m.STEPS)
    twin_schedule = [(k, l) for k in range(NSTEPS) for l in range(len(m.LOSSES))
                     if k % rnd >= rnd - m.STEPS[l]]
    if twin_schedule != schedule:
        return "FAIL groups %s twin: schedule %s, C's %s" % (name, twin_schedule[:6], schedule[:6])
    worst, where = 0.0, ""
    for j, (k, l) in enumerate(schedule):
        batch = [a[k * BATCH:(k + 1) * BATCH] for a in arrays]
        for t, n in enumerate(m.TERM_WARMUP):
            if n:
                m.set_term_scale(t, min(1.0, (k + 1) / n))
        loss = getattr(m, "train_step_" + m.LOSSES[l])(opts[l], *batch)
        c = rest[j]
        flat = np.zeros(count, np.float32)
        for pname, (offset, size) in layout.items():
            flat[offset:offset + size] = getattr(m, pname).detach().numpy().ravel()
        for e, what in ((err(c[:1], [loss]), "loss"), (err(c[1 + nterms:], flat), "params")):
            if not e <= worst:
                worst, where = e, "batch %d %s %s" % (k + 1, m.LOSSES[l], what)
    # The twin's checkpoint with every group's optimizer state and step
    # count (the C's group_steps), back into a fresh twin.
    m.save_checkpoint(d + "/twin.ckpt", optimizer=opts)
    m2 = tw.Model(seed=8)
    opts2 = m2.make_optimizers()
    step = m2.load_checkpoint(d + "/twin.ckpt", optimizer=opts2)
    want = [sum(1 for _, l in schedule if l == g) for g in range(len(m.LOSSES))]
    if tw.STATE_STEP and (m2.group_steps(opts2) != want or step != len(schedule)):
        return "FAIL groups %s twin checkpoint: group steps %s, step %d; want %s, %d" % (
            name, m2.group_steps(opts2), step, want, len(schedule))
    if not all(torch.equal(a, b) for a, b in zip(m.param_list(), m2.param_list())):
        return "FAIL groups %s twin checkpoint: the parameters differ after a round trip" % name
    if worst <= TOLERANCE:
        return "ok groups %s twin: make_optimizers, train_step_<loss> on STEPS %s (max rel err %.2g), its checkpoint" % (
            name, m.STEPS, worst)
    return "FAIL groups %s twin: %s: rel err %.3g > %g" % (name, where, worst, TOLERANCE)


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
