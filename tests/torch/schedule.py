"""schedule.py: every learning-rate schedule against torch.optim.lr_scheduler.

    schedule.py DLC LIBDLRT TMPDIR     (tests/torch/run.sh runs it)

For each row of tests/torch/schedules.txt and each precision (f32, f64),
tests/torch/optim/net.net (two param groups) gets the row's train-block
lines; dlc makes the C model (built with tests/torch/schedule.c, which
steps runtime/schedule.c as the trainer does) and the PyTorch twin, whose
make_scheduler builds the same torch.optim.lr_scheduler objects. From the
C model's initial weights and identical batches (SPE an epoch), both take
NSTEPS steps, stepping the schedule per epoch (per batch for onecycle;
plateau on each epoch's validation loss). After every step the parameters
must agree within TOL[precision] of the tensor's scale, and each group's
learning rate and momentum (the C model's runtime values against torch's
param_groups) within 1e-12 relative; the learning rate must change during
the run (except for `constant`). Prints ok/FAIL lines and
"schedule: N passed, M failed".
"""
import os
import sys
import warnings

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import optim  # noqa: E402  (write_net, load_twin, rel_err)

torch.set_num_threads(1)
warnings.simplefilter("ignore")

NSTEPS = 20
SPE = 2
TOL = {"f32": 1e-4, "f64": 1e-6}


def variants():
    out = []
    with open("tests/torch/schedules.txt") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, rest = line.split(":", 1)
            out.append((name.strip(), [s.strip() for s in rest.split(";") if s.strip()]))
    return out


def build(dlc, lib, d, prec):
    optim.build(dlc, lib, d, prec, driver="schedule", includes=("runtime/dlrt.h",))


def run(d, prec):
    """Worst relative errors: (parameters and losses, learning rates), and
    how many distinct learning rates group 0 trained with."""
    import subprocess
    tw = optim.load_twin(d)
    dtype = torch.float64 if prec == "f64" else torch.float32
    npreal = np.float64 if prec == "f64" else np.float32
    rs = np.random.RandomState(11)
    n = tw.BATCH
    x = rs.uniform(-1, 1, size=((NSTEPS + 1) * n, 6)).astype(npreal)
    t = rs.uniform(-1, 1, size=((NSTEPS + 1) * n, 3)).astype(npreal)
    with open(d + "/data.bin", "wb") as f:
        f.write(x.tobytes())
        f.write(t.tobytes())
    r = subprocess.run([d + "/schedule", d, str(SPE)], stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError("schedule exited %d: %s" % (r.returncode, r.stderr.strip()))
    real = np.dtype(npreal).itemsize
    step_bytes = (1 + tw.PARAM_COUNT) * real
    raw = open(d + "/dump.bin", "rb").read()
    ngroups = (len(raw) // NSTEPS - step_bytes) // 16
    m = tw.Model(dtype=dtype, seed=None)
    m.load_checkpoint(d + "/init.ckpt")
    opt = m.make_optimizer()
    if len(opt.param_groups) != ngroups:
        raise RuntimeError("the C model has %d lr groups, torch %d" % (ngroups, len(opt.param_groups)))
    sched = m.make_scheduler(opt, SPE, NSTEPS // SPE)
    xv, tv = torch.from_numpy(x[NSTEPS * n:]), torch.from_numpy(t[NSTEPS * n:])
    worst = lr_worst = 0.0
    lrs = set()
    for k in range(NSTEPS):
        at = k * (step_bytes + 16 * ngroups)
        c = np.frombuffer(raw[at:at + step_bytes], dtype=npreal)
        c_lr = np.frombuffer(raw[at + step_bytes:at + step_bytes + 16 * ngroups], dtype=np.float64)
        t_lr = []
        for g in opt.param_groups:
            mom = g["betas"][0] if "betas" in g else g.get("momentum", 0.0)
            t_lr += [g["lr"], mom]
        has_mom = tw.OPTIMIZER not in ("sgd", "adagrad") and not (
            tw.OPTIMIZER == "rmsprop" and tw.MOMENTUM == 0)
        for j in range(ngroups):
            lr_worst = max(lr_worst, abs(c_lr[2 * j] - t_lr[2 * j]) / max(abs(t_lr[2 * j]), 1e-300))
            if has_mom:
                lr_worst = max(lr_worst, abs(c_lr[2 * j + 1] - t_lr[2 * j + 1]) / max(abs(t_lr[2 * j + 1]), 1e-300))
        lrs.add(t_lr[0])
        loss = m.train_step(opt, torch.from_numpy(x[k * n:(k + 1) * n]), torch.from_numpy(t[k * n:(k + 1) * n]))
        sched.batch_end()
        worst = max(worst, optim.rel_err(c[0], loss))
        flat = torch.cat([p.detach().reshape(-1) for p in m.param_list()]).numpy()
        worst = max(worst, optim.rel_err(c[1:], flat))
        if k % SPE == SPE - 1:
            with torch.no_grad():
                val = m.loss(xv, tv, training=False).item()
            sched.epoch_end(val)
    return worst, lr_worst, len(lrs)


def main():
    dlc, lib, tmp = sys.argv[1:4]
    passed = failed = 0
    for name, lines in variants():
        for prec in ("f32", "f64"):
            d = os.path.join(tmp, "schedule-%s-%s" % (name, prec))
            os.makedirs(d, exist_ok=True)
            label = "schedule %s/%s (%s)" % (name, prec, "; ".join(lines))
            try:
                optim.write_net(d, lines)
                build(dlc, lib, d, prec)
                params, lr, distinct = run(d, prec)
            except Exception as e:  # one row's trouble is its own FAIL
                print("FAIL %s: %s: %s" % (label, type(e).__name__, e))
                failed += 1
                continue
            tol = TOL[prec]
            changes = distinct > 1 or name == "constant"
            if params <= tol and lr <= 1e-12 and changes:
                print("ok %s: %d steps, %d lrs, params max rel err %.1e, lr %.1e" % (
                    label, NSTEPS, distinct, params, lr))
                passed += 1
            else:
                print("FAIL %s: params max rel err %.1e (tolerance %.0e), lr %.1e, %d distinct lrs" % (
                    label, params, tol, lr, distinct))
                failed += 1
    print("schedule: %d passed, %d failed" % (passed, failed))


if __name__ == "__main__":
    main()
