"""tests/torch/state.py DLC LIBDLRT TMP: STATE tensors against the twin.

tests/golden/x_state.net (x_running_mean, test only) is built in C with
tests/e2e/state.c, which trains 4 steps and saves a checkpoint. The twin,
from the same seed and data, trains 4 steps too; its registered buffer must
match the C running mean (loaded from that checkpoint), and its own
save_checkpoint/load_checkpoint must round-trip the buffer."""
import importlib.util
import os
import subprocess
import sys

import numpy as np
import torch

dlc, lib, tmp = sys.argv[1:4]
passed = failed = 0


def check(name, good, why=""):
    global passed, failed
    if good:
        print("ok state " + name)
        passed += 1
    else:
        print("FAIL state %s: %s" % (name, why))
        failed += 1


d = os.path.join(tmp, "state")
os.makedirs(d, exist_ok=True)
net = "tests/golden/x_state.net"
subprocess.run([dlc, "--prefix", "x_state", net, "-o", os.path.join(d, "state_api.c")], check=True)
subprocess.run([dlc, "--emit=torch", net, "-o", os.path.join(d, "twin.py")], check=True)
subprocess.run(["cc", "-std=c99", "-O0", "-Iruntime", "-I" + d, "-o", os.path.join(d, "state"),
                "tests/e2e/state.c", lib, "-lopenblas", "-lz", "-lm"], check=True)
ckpt = os.path.join(d, "c.ckpt")
out = subprocess.run([os.path.join(d, "state"), ckpt], capture_output=True, text=True)
check("c-program", out.returncode == 0, out.stdout + out.stderr)

spec = importlib.util.spec_from_file_location("twin", os.path.join(d, "twin.py"))
twin = importlib.util.module_from_spec(spec)
spec.loader.exec_module(twin)
model = twin.Model(seed=7)
opt = model.make_optimizer()
for step in range(4):   # the batches tests/e2e/state.c draws
    img = torch.from_numpy(np.sin(0.7 * np.arange(30) + step).astype(np.float32).reshape(5, 6))
    k = torch.tensor([(i + step) % 3 for i in range(5)])
    model.train_step(opt, img, k)
check("buffer-registered", "h_running_mean" in dict(model.named_buffers()) and
      "h_running_mean" not in dict(model.named_parameters()))
c = twin.Model(seed=None)
c.load_checkpoint(ckpt)
diff = float((c.h_running_mean - model.h_running_mean).abs().max())
check("running-mean-matches-c (max |diff| %.1e)" % diff, diff < 1e-5 and
      float(model.h_running_mean.abs().max()) > 0, "max |diff| %g" % diff)
pdiff = float(max((a - b).abs().max() for a, b in zip(c.param_list(), model.param_list())))
check("params-match-c (max |diff| %.1e)" % pdiff, pdiff < 1e-5, "max |diff| %g" % pdiff)
mine = os.path.join(d, "twin.ckpt")
model.save_checkpoint(mine)
back = twin.Model(seed=None)
back.load_checkpoint(mine)
check("twin-checkpoint-round-trips", torch.equal(back.h_running_mean, model.h_running_mean))
print("state: %d passed, %d failed" % (passed, failed))
