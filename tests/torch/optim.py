"""optim.py: every optimizer variant against torch.optim, step by step.

    optim.py DLC LIBDLRT TMPDIR     (tests/torch/run.sh runs it)

For each row of tests/torch/optimizers.txt and of tests/torch/optim/variants.txt
(the rows only this script runs: no_decay, the other weight decay and
clipping combinations) and each precision (f32, f64),
tests/torch/optim/net.net gets the row's train-block lines; dlc makes the
C model (built with tests/torch/optim.c) and the PyTorch twin in the same
dtype. From the C model's initial weights (init.ckpt) and identical
batches, both take NSTEPS optimizer steps; the parameters after every step
must agree within TOL[precision] of the tensor's scale (max |c - t| /
max(max |t|, FLOOR)), and the optimizer state the C checkpoint holds after
the last step (trained.ckpt, loaded by the twin into a fresh torch
optimizer) must agree with torch.optim's own. Prints ok/FAIL lines and
"optim: N passed, M failed".
"""
import importlib.util
import os
import re
import subprocess
import sys

import numpy as np
import torch

torch.set_num_threads(1)

NSTEPS = 20
TOL = {"f32": 1e-4, "f64": 1e-6}
FLOOR = 1e-3
NET = "tests/torch/optim/net.net"


def variants():
    """(name, [train-block lines]) from tests/torch/optimizers.txt, then
    tests/torch/optim/variants.txt."""
    out = []
    for path in ("tests/torch/optimizers.txt", "tests/torch/optim/variants.txt"):
        out += read_variants(path)
    return out


def read_variants(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, rest = line.split(":", 1)
            out.append((name.strip(), [s.strip() for s in rest.split(";") if s.strip()]))
    return out


def write_net(d, lines):
    src = open(NET).read()
    body = "".join("    %s\n" % s for s in lines)
    src = re.sub(r"train \{\n", "train {\n" + body, src)
    with open(os.path.join(d, "net.net"), "w") as f:
        f.write(src)


def build_twin(dlc, d, prec):
    flags = ["--precision=f64"] if prec == "f64" else []
    r = subprocess.run([dlc, "--emit=torch"] + flags + [d + "/net.net", "-o", d + "/twin.py"],
                       stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError("dlc failed: " + r.stderr.strip().split("\n")[0])


def build(dlc, lib, d, prec, driver="optim", includes=()):
    """DIR/net.net compiled (prefix opt) and its twin, and the driver
    tests/torch/DRIVER.c built with it as DIR/DRIVER (schedule.py's too)."""
    flags = ["--precision=f64"] if prec == "f64" else []
    net = os.path.join(d, "net.net")
    for args in ([dlc, "--prefix", "opt"] + flags + [net, "-o", d + "/opt.c"],
                 [dlc, "--emit=torch"] + flags + [net, "-o", d + "/twin.py"]):
        r = subprocess.run(args, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise RuntimeError("dlc failed: " + r.stderr.strip().split("\n")[0])
    real = "double" if prec == "f64" else "float"
    cmd = ["cc", "-std=c99", "-O0", "-Wall", "-Wextra", "-pedantic", "-Werror",
           "-D_POSIX_C_SOURCE=200809L", "-DREAL=" + real, "-Iruntime", "-I/usr/include/openblas",
           "-include", d + "/opt.h"] + [a for h in includes for a in ("-include", h)] + \
          ["-o", d + "/" + driver, "tests/torch/%s.c" % driver, d + "/opt.c", lib, "-lopenblas", "-lz", "-lm"]
    r = subprocess.run(cmd, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError("cc failed: " + r.stderr.strip()[:300])


def load_twin(d):
    spec = importlib.util.spec_from_file_location("twin_" + os.path.basename(d), d + "/twin.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def rel_err(c, t):
    c = np.asarray(c, dtype=np.float64).reshape(-1)
    t = np.asarray(t, dtype=np.float64).reshape(-1)
    if c.shape != t.shape or not np.isfinite(c).all() or not np.isfinite(t).all():
        return float("inf")
    return float(np.max(np.abs(c - t), initial=0.0)) / max(float(np.max(np.abs(t), initial=0.0)), FLOOR)


def run(d, prec, plain=None):
    """Worst relative errors: (parameters over all steps, optimizer state).
    plain: the twin without the row's no_decay, or None."""
    tw = load_twin(d)
    dtype = torch.float64 if prec == "f64" else torch.float32
    npreal = np.float64 if prec == "f64" else np.float32
    rs = np.random.RandomState(7)
    n = tw.BATCH
    x = rs.uniform(-1, 1, size=(NSTEPS * n, 6)).astype(npreal)
    t = rs.uniform(-1, 1, size=(NSTEPS * n, 3)).astype(npreal)
    with open(d + "/data.bin", "wb") as f:
        f.write(x.tobytes())
        f.write(t.tobytes())
    r = subprocess.run([d + "/optim", d], stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError("optim exited %d: %s" % (r.returncode, r.stderr.strip()))
    dump = np.fromfile(d + "/dump.bin", dtype=npreal).reshape(NSTEPS, 1 + tw.PARAM_COUNT)

    def twin_steps(model, optimizer):
        for k in range(NSTEPS):
            model.train_step(optimizer, torch.from_numpy(x[k * n:(k + 1) * n]),
                             torch.from_numpy(t[k * n:(k + 1) * n]))
        return torch.cat([p.detach().reshape(-1) for p in model.param_list()]).numpy()

    # With clipping, the same steps without it must end elsewhere: the
    # thresholds really clip, so the comparison below tests the clipping.
    if tw.CLIP_NORM is not None or tw.CLIP_VALUE is not None:
        clipped = (tw.CLIP_NORM, tw.CLIP_VALUE)
        tw.CLIP_NORM = tw.CLIP_VALUE = None
        m0 = tw.Model(dtype=dtype, seed=None)
        m0.load_checkpoint(d + "/init.ckpt")
        unclipped = twin_steps(m0, m0.make_optimizer())
        tw.CLIP_NORM, tw.CLIP_VALUE = clipped
        if rel_err(unclipped, dump[-1, 1:]) < 100 * TOL[prec]:
            raise RuntimeError("clipping changed nothing: choose smaller thresholds")

    # With no_decay, the same steps with every parameter decayed (the twin
    # of the row without its no_decay line) must end elsewhere.
    if plain is not None:
        m0 = plain.Model(dtype=dtype, seed=None)
        m0.load_checkpoint(d + "/init.ckpt")
        decayed = twin_steps(m0, m0.make_optimizer())
        if rel_err(decayed, dump[-1, 1:]) < 100 * TOL[prec]:
            raise RuntimeError("no_decay changed nothing: choose a larger weight decay")

    m = tw.Model(dtype=dtype, seed=None)
    m.load_checkpoint(d + "/init.ckpt")
    opt = m.make_optimizer()
    worst = 0.0
    for k in range(NSTEPS):
        xs = torch.from_numpy(x[k * n:(k + 1) * n])
        ts = torch.from_numpy(t[k * n:(k + 1) * n])
        loss = m.train_step(opt, xs, ts)
        worst = max(worst, rel_err(dump[k, 0], loss))
        flat = torch.cat([p.detach().reshape(-1) for p in m.param_list()]).numpy()
        worst = max(worst, rel_err(dump[k, 1:], flat))
    # The C optimizer state, as the twin loads it, against torch.optim's.
    m3 = tw.Model(dtype=dtype, seed=None)
    opt3 = m3.make_optimizer()
    step = m3.load_checkpoint(d + "/trained.ckpt", opt3)
    state = 0.0 if step == NSTEPS else float("inf")
    for key in tw.STATE_KEYS:
        for p, p3 in zip(m.param_list(), m3.param_list()):
            ours = opt.state[p][key] if key in opt.state.get(p, {}) else torch.zeros_like(p)
            state = max(state, rel_err(opt3.state[p3][key].numpy(), ours.detach().numpy()))
    return worst, state


def main():
    dlc, lib, tmp = sys.argv[1:4]
    passed = failed = 0
    for name, lines in variants():
        for prec in ("f32", "f64"):
            d = os.path.join(tmp, "optim-%s-%s" % (name, prec))
            os.makedirs(d, exist_ok=True)
            label = "optim %s/%s (%s)" % (name, prec, "; ".join(lines))
            try:
                write_net(d, lines)
                build(dlc, lib, d, prec)
                plain = None
                if any(s.startswith("no_decay") for s in lines):
                    dp = d + "-decayed"
                    os.makedirs(dp, exist_ok=True)
                    write_net(dp, [s for s in lines if not s.startswith("no_decay")])
                    build_twin(dlc, dp, prec)
                    plain = load_twin(dp)
                params, state = run(d, prec, plain)
            except Exception as e:  # one variant's trouble is its own FAIL
                print("FAIL %s: %s: %s" % (label, type(e).__name__, e))
                failed += 1
                continue
            tol = TOL[prec]
            if params <= tol and state <= tol:
                print("ok %s: %d steps, params max rel err %.1e, state %.1e" % (label, NSTEPS, params, state))
                passed += 1
            else:
                print("FAIL %s: params max rel err %.1e, state %.1e (tolerance %.0e)" % (
                    label, params, state, tol))
                failed += 1
    print("optim: %d passed, %d failed" % (passed, failed))


if __name__ == "__main__":
    main()
