"""step_torch.py TWIN.py ROUNDS STEPS WARMUP THREADS: times the PyTorch twin's
training step (bench/run.sh runs it alternately with bench/step.c).

The twin (dlc --emit=torch) is the same network, the same optimizer and the
same batch size. One change for speed: its dropout replays dlc's random
stream in Python (to match the C masks bit for bit), which no PyTorch user
would do, so here it is F.dropout. Random data of the network's shapes, a
pool of 8 batches; prints "ms_per_step X" per round of STEPS steps."""
import importlib.util
import math
import sys
import time

import torch
import torch.nn.functional as F


def main():
    path, rounds, steps, warmup, threads = sys.argv[1], *map(int, sys.argv[2:6])
    torch.set_num_threads(threads)
    spec = importlib.util.spec_from_file_location("twin", path)
    tw = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tw)
    m = tw.Model()
    m.dropout = lambda x, rate, training=None: F.dropout(
        x, rate, training=m.dropout_on if training is None else training)
    opt = m.make_optimizer()
    g = torch.Generator().manual_seed(7)
    pool = []
    for _ in range(8):
        batch = [torch.rand((tw.BATCH,) + tuple(shape), generator=g) for _, shape in tw.INPUTS]
        for _, kind, what in tw.LABELS:
            if kind == "label":
                batch.append(torch.randint(0, what, (tw.BATCH,), generator=g))
            else:
                batch.append(torch.rand((tw.BATCH,) + tuple(what), generator=g))
        pool.append(batch)
    for s in range(warmup):
        m.train_step(opt, *pool[s % 8])
    for _ in range(rounds):
        start = time.perf_counter()
        for s in range(steps):
            m.train_step(opt, *pool[s % 8])
        print("ms_per_step %.4f" % ((time.perf_counter() - start) * 1e3 / steps))


if __name__ == "__main__":
    main()
