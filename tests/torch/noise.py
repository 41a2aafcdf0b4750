"""tests/torch/noise.py DLC LIBDLRT TMP: the twin's sample_noise against the
C runtime's draws.

tests/torch/noise.net has two noise inputs, z ~ normal(0, 0.5) and u ~
uniform(-1, 2). A C program seeds a dlrt_rng and fills a batch of each in
turn with dlrt_noise_fill, as the trainer fills a training batch, from the
rows of the generated descriptor; the twin's sample_noise(n, rng=Rng(seed))
must give the same float32 values bit for bit. Without rng it draws with
torch's generator: the right shapes, the range and roughly the moments."""
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
        print("ok noise " + name)
        passed += 1
    else:
        print("FAIL noise %s: %s" % (name, why))
        failed += 1


d = os.path.join(tmp, "noise")
os.makedirs(d, exist_ok=True)
subprocess.run([dlc, "--emit=torch", "tests/torch/noise.net", "-o", os.path.join(d, "twin.py")], check=True)
subprocess.run([dlc, "--prefix", "model", "tests/torch/noise.net", "-o", os.path.join(d, "model.c")], check=True)
with open(os.path.join(d, "fill.c"), "w") as f:
    f.write(r'''
#include <stdio.h>
#include <stdlib.h>
#include "dlrt.h"
#include "model.h"
int main(int argc, char **argv)
{
    const dlrt_model_api *api = model_model();
    int n = atoi(argv[1]), j;
    dlrt_rng r;
    dlrt_rng_seed(&r, strtoull(argv[2], NULL, 10));
    for (j = 0; j < api->nnoise; j++) {
        size_t count = (size_t)n * api->tensors[api->noise[j].tensor].size;
        float *x = malloc(count * sizeof *x);
        dlrt_noise_fill(x, count, &api->noise[j], &r);
        fwrite(x, sizeof *x, count, stdout);
        free(x);
    }
    return 0;
}
''')
exe = os.path.join(d, "fill")
subprocess.run(["cc", "-std=c99", "-O0", "-Iruntime", "-I" + d, "-o", exe, os.path.join(d, "fill.c"),
                os.path.join(d, "model.c"), lib, "-lopenblas", "-lz", "-lm"], check=True)
spec = importlib.util.spec_from_file_location("twin", os.path.join(d, "twin.py"))
twin = importlib.util.module_from_spec(spec)
spec.loader.exec_module(twin)

check("table", twin.NOISE == [("z", (4,), "normal", 0.0, 0.5), ("u", (3,), "uniform", -1.0, 2.0)],
      repr(twin.NOISE))
for n, seed in ((4, 7), (9, 12345678901234567)):
    raw = subprocess.run([exe, str(n), str(seed)], check=True, stdout=subprocess.PIPE).stdout
    c = np.frombuffer(raw, dtype=np.float32)
    py = twin.sample_noise(n, rng=twin.Rng(seed))
    mine = np.concatenate([py["z"].numpy().ravel(), py["u"].numpy().ravel()])
    check("rng-draws-equal-c-n%d" % n, py["z"].shape == (n, 4) and py["u"].shape == (n, 3) and
          c.shape == mine.shape and np.array_equal(c, mine), "C %s vs twin %s" % (c[:4], mine[:4]))
g = torch.Generator().manual_seed(3)
draw = twin.sample_noise(20000, generator=g)
z, u = draw["z"], draw["u"]
check("torch-draws", z.shape == (20000, 4) and u.shape == (20000, 3) and z.dtype == torch.float32 and
      abs(z.mean().item()) < 0.02 and abs(z.std().item() - 0.5) < 0.02 and
      u.min().item() >= -1 and u.max().item() < 2 and abs(u.mean().item() - 0.5) < 0.03,
      "z mean %g std %g, u %g..%g" % (z.mean(), z.std(), u.min(), u.max()))
print("noise: %d passed, %d failed" % (passed, failed))
