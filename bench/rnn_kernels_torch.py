"""bench/rnn_kernels_torch.py [ROUNDS STEPS WARMUP]: issue 8's reference
training step in PyTorch, one thread, float32: a character LSTM (vocab 65,
one layer, hidden 128, T 64, batch 32), a per-step nn.Linear 128 -> 65,
F.cross_entropy at every step (mean over steps and batch) and
torch.optim.Adam. Two variants, as bench/rnn_kernels.c has them:
  onehot  F.one_hot(tokens, 65).float() into nn.LSTM(65, 128)
  embed   nn.Embedding(65, 64) into nn.LSTM(64, 128)
Prints per variant and round "NAME torch ms_per_step X" (the mean over
STEPS steps). bench/rnn_kernels.sh runs it alternately with the C harness.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/rnn_kernels_torch.py
"""
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

V, E, H, T, N = 65, 64, 128, 64, 32


class Model(nn.Module):
    def __init__(self, embed):
        super().__init__()
        self.emb = nn.Embedding(V, E) if embed else None
        self.lstm = nn.LSTM(E if embed else V, H, batch_first=True)
        self.dense = nn.Linear(H, V)

    def forward(self, tokens):
        x = self.emb(tokens) if self.emb is not None else F.one_hot(tokens, V).float()
        y, _ = self.lstm(x)
        return self.dense(y)


def main():
    rounds, steps, warmup = (int(a) for a in sys.argv[1:4]) if len(sys.argv) > 3 else (3, 20, 5)
    torch.set_num_threads(1)
    torch.manual_seed(1)
    g = torch.Generator().manual_seed(7)
    pool = [(torch.randint(0, V, (N, T), generator=g), torch.randint(0, V, (N, T), generator=g))
            for _ in range(8)]
    for name, embed in (("onehot", False), ("embed", True)):
        m = Model(embed)
        opt = torch.optim.Adam(m.parameters(), lr=1e-3)

        def step(i):
            x, lab = pool[i % len(pool)]
            opt.zero_grad()
            loss = F.cross_entropy(m(x).reshape(N * T, V), lab.reshape(N * T))
            loss.backward()
            opt.step()
        for i in range(warmup):
            step(i)
        for _ in range(rounds):
            t0 = time.perf_counter()
            for i in range(steps):
                step(i)
            print("%s torch ms_per_step %.4f" % (name, (time.perf_counter() - t0) * 1e3 / steps))
            sys.stdout.flush()


main()
