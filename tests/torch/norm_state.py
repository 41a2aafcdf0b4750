"""tests/torch/norm_state.py DLC LIBDLRT TMP: batchnorm's running statistics
against the twin's registered buffers (F.batch_norm's own update).

tests/torch/norm.net is built in C with tests/e2e/norm_state.c, which
trains 5 steps from create(7), prints the eval-mode loss on a sixth batch
and saves a checkpoint. The twin, from the same seed and batches, trains
5 steps too: every running_mean and running_var must match the C ones
(loaded from that checkpoint), the eval-mode loss too (it reads them), and
the twin's own checkpoint must round-trip them."""
import importlib.util
import os
import subprocess
import sys

import numpy as np
import torch

dlc, lib, tmp = sys.argv[1:4]
passed = failed = 0
N = 8


def check(name, good, why=""):
    global passed, failed
    if good:
        print("ok norm_state " + name)
        passed += 1
    else:
        print("FAIL norm_state %s: %s" % (name, why))
        failed += 1


def batch(step):
    """The batch tests/e2e/norm_state.c draws at step `step`."""
    image = np.sin(0.7 * np.arange(N * 24) + step).astype(np.float32).reshape(N, 2, 3, 4)
    seq = np.cos(0.3 * np.arange(N * 15) + step).astype(np.float32).reshape(N, 3, 5)
    y = torch.tensor([(i + step) % 4 for i in range(N)])
    return torch.from_numpy(image), torch.from_numpy(seq), y


d = os.path.join(tmp, "norm_state")
os.makedirs(d, exist_ok=True)
net = "tests/torch/norm.net"
subprocess.run([dlc, "--prefix", "norm", net, "-o", os.path.join(d, "norm_api.c")], check=True)
subprocess.run([dlc, "--emit=torch", net, "-o", os.path.join(d, "twin.py")], check=True)
subprocess.run(["cc", "-std=c99", "-O0", "-Iruntime", "-I" + d, "-o", os.path.join(d, "norm_state"),
                "tests/e2e/norm_state.c", lib, "-lopenblas", "-lz", "-lm"], check=True)
ckpt = os.path.join(d, "c.ckpt")
out = subprocess.run([os.path.join(d, "norm_state"), ckpt], capture_output=True, text=True)
check("c-program", out.returncode == 0 and "ok" in out.stdout, out.stdout + out.stderr)
c_eval = float([l.split()[1] for l in out.stdout.splitlines() if l.startswith("eval ")][0])

spec = importlib.util.spec_from_file_location("twin", os.path.join(d, "twin.py"))
twin = importlib.util.module_from_spec(spec)
spec.loader.exec_module(twin)
torch.set_num_threads(1)
model = twin.Model(seed=7)
opt = model.make_optimizer()
for step in range(5):
    model.train_step(opt, *batch(step))
names = ["%s_running_%s" % (layer, what) for layer in ("b2", "b1", "f") for what in ("mean", "var")]
buffers = dict(model.named_buffers())
check("buffers-registered", all(n in buffers for n in names) and
      not any(n in dict(model.named_parameters()) for n in names), sorted(buffers))
c = twin.Model(seed=None)
c.load_checkpoint(ckpt)
worst = 0.0
for n in names:
    ours, theirs = getattr(c, n), getattr(model, n)
    worst = max(worst, float((ours - theirs).abs().max() / max(float(theirs.abs().max()), 1e-3)))
moved = all(float((getattr(model, n) - (1.0 if n.endswith("var") else 0.0)).abs().max()) > 1e-3
            for n in names)
check("running-statistics-match-c (max rel err %.1e)" % worst, worst < 1e-4 and moved,
      "max rel err %g, moved %s" % (worst, moved))
with torch.no_grad():
    t_eval = model.loss(*batch(5), training=False).item()
rel = abs(t_eval - c_eval) / max(abs(t_eval), 1e-3)
check("eval-loss-after-training-matches-c (rel err %.1e)" % rel, rel < 1e-4,
      "C %r, twin %r" % (c_eval, t_eval))
with torch.no_grad():
    fresh = twin.Model(seed=None)
    for p, q in zip(fresh.param_list(), model.param_list()):
        p.copy_(q)
    check("eval-reads-running-statistics",
          abs(fresh.loss(*batch(5), training=False).item() - t_eval) > 1e-4)
mine = os.path.join(d, "twin.ckpt")
model.save_checkpoint(mine)
back = twin.Model(seed=None)
back.load_checkpoint(mine)
check("twin-checkpoint-round-trips", all(torch.equal(getattr(back, n), getattr(model, n))
                                         for n in names))
print("norm_state: %d passed, %d failed" % (passed, failed))
