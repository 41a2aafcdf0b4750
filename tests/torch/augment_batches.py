"""tests/torch/augment_batches.py DLC LIBDLRT TMP: the augmented batches of
tests/torch/augment.net, C against twin, bit for bit.

random_crop, random_hflip, random_shift, cutout and gaussian_noise are
chained; after set_rng(5) on both sides, two training-mode passes (the
second continuing the stream) must give identical values at every stage,
and a pass with training off must leave the image untouched. The image
holds NaN and infinities: what a crop, shift or square removes is 0 on
both sides."""
import importlib.util
import os
import re
import subprocess
import sys

import numpy as np
import torch

dlc, lib, tmp = sys.argv[1:4]
passed = failed = 0
N, SHAPE, STAGES = 6, (2, 6, 7), "abcde"


def check(name, good, why=""):
    global passed, failed
    if good:
        print("ok augment_batches " + name)
        passed += 1
    else:
        print("FAIL augment_batches %s: %s" % (name, why))
        failed += 1


d = os.path.join(tmp, "augment_batches")
os.makedirs(d, exist_ok=True)
net = "tests/torch/augment.net"
src = os.path.join(d, "augment_api.c")
subprocess.run([dlc, "--prefix", "augment", net, "-o", src], check=True)
subprocess.run([dlc, "--emit=torch", net, "-o", os.path.join(d, "twin.py")], check=True)
subprocess.run(["cc", "-std=c99", "-O0", "-Iruntime", "-I" + d, "-o", os.path.join(d, "dump"),
                "tests/torch/augment_dump.c", lib, "-lopenblas", "-lz", "-lm"], check=True)
# The arena offsets of a .. e, from the workspace layout comment.
offsets = {}
for line in open(src):
    m = re.match(r"\s*\*\s+(\w+)\s+\[n, [0-9, ]+\]\s+at (\d+)\s", line)
    if m and m.group(1) in STAGES and m.group(1) not in offsets:
        offsets[m.group(1)] = m.group(2)
dump = os.path.join(d, "batches.bin")
subprocess.run([os.path.join(d, "dump"), dump] + [offsets[s] for s in STAGES], check=True)
c = np.fromfile(dump, dtype=np.float32).reshape(3, len(STAGES), N, *SHAPE)

spec = importlib.util.spec_from_file_location("twin", os.path.join(d, "twin.py"))
twin = importlib.util.module_from_spec(spec)
spec.loader.exec_module(twin)
model = twin.Model(seed=7)
flat = np.sin(0.37 * np.arange(N * 84)).astype(np.float32) + np.float32(1.5)
flat[[5, 90, 200, 333]] = [np.nan, np.inf, -np.inf, np.nan]   # as augment_dump.c
image = flat.reshape(N, *SHAPE)
model.set_rng(5)
for call in range(3):
    with torch.no_grad():
        values = model.forward(torch.from_numpy(image), training=call < 2)
    for k, s in enumerate(STAGES):
        ours, theirs = c[call, k], values[s].numpy()
        what = "%s-%s" % ("train%d" % (call + 1) if call < 2 else "eval", s)
        if call == 2:
            check(what + "-identity", np.array_equal(ours, image, equal_nan=True) and np.array_equal(theirs, image, equal_nan=True),
                  "training off changed the image")
        else:
            check(what, np.array_equal(ours, theirs, equal_nan=True),
                  "%d of %d values differ" % (int((~((ours == theirs) | (np.isnan(ours) & np.isnan(theirs)))).sum()), ours.size))
# The draws did something: every stage differs from the image in training.
check("augmentations-active", all(not np.array_equal(c[0, k], c[0, k - 1] if k else image, equal_nan=True)
                                  for k in range(len(STAGES))))
print("augment_batches: %d passed, %d failed" % (passed, failed))
