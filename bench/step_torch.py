"""step_torch.py TWIN.py ROUNDS STEPS WARMUP THREADS [MODE [N]]: times the PyTorch
twin's training step (bench/run.sh runs it alternately with bench/step.c);
MODE as step.c's: train_step (default), forward (inference under
torch.no_grad, dropout off, the module in eval mode) or gradients (loss and
backward, no update); N samples per call (default: the network's batch).

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
    mode = sys.argv[6] if len(sys.argv) > 6 else "train_step"
    torch.set_num_threads(threads)
    spec = importlib.util.spec_from_file_location("twin", path)
    tw = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tw)
    m = tw.Model()
    m.dropout = lambda x, rate, training=None: F.dropout(
        x, rate, training=m.dropout_on if training is None else training)
    opt = m.make_optimizer()
    n = int(sys.argv[7]) if len(sys.argv) > 7 else tw.BATCH
    if mode == "forward":
        m.eval()
    g = torch.Generator().manual_seed(7)
    pool = []
    for _ in range(8):
        batch = []
        for _, shape, *classes in tw.INPUTS:   # token inputs: (name, shape, classes)
            size = (n,) + tuple(shape)
            batch.append(torch.randint(0, classes[0], size, generator=g) if classes
                         else torch.rand(size, generator=g))
        for _, kind, what, *shape in tw.LABELS:   # per-step labels: (.., classes, shape)
            if kind == "label":
                size = (n,) + (tuple(shape[0]) if shape else ())
                batch.append(torch.randint(0, what, size, generator=g))
            else:
                batch.append(torch.rand((n,) + tuple(what), generator=g))
        pool.append(batch)
    ninputs = len(tw.INPUTS)

    def one(batch):
        if mode == "train_step":
            m.train_step(opt, *batch)
        elif mode == "gradients":
            for p in m.param_list():
                p.grad = None
            m.loss(*batch, training=True).backward()
        else:
            with torch.no_grad():
                m.forward(*batch[:ninputs], training=False)

    for s in range(warmup):
        one(pool[s % 8])
    for _ in range(rounds):
        start = time.perf_counter()
        for s in range(steps):
            one(pool[s % 8])
        print("ms_per_step %.4f" % ((time.perf_counter() - start) * 1e3 / steps))


if __name__ == "__main__":
    main()
