#!/usr/bin/python3
"""char_lm_torch.py: examples/char_lm.net's PyTorch counterpart, on the same
data, split and settings, for its bits per character.

The data exactly as the dlc trainer makes it (runtime/text.c, driver.c):
the bytes of the --text files (a directory: its regular files, not
symbolic links, in byte order of their names), the vocabulary their
distinct bytes in byte order, the last 10% the test text, the last
`validation` of the rest the validation text, and each part cut into
windows of T + 1 bytes with stride T; with --stateful as `batch` parallel
streams (row b of batch c continues row b of batch c - 1; the state carried
over, detached, and zeroed at each epoch and evaluation), otherwise the
training windows shuffled each epoch, each from a zero state. Model:
one-hot -> nn.LSTM -> nn.Linear per step, cross-entropy at every step,
Adam, gradients clipped to a global norm (clip_grad_norm_). The epoch with
the lowest validation loss is kept and tested, as the trainer does.

    /usr/bin/python3 examples/data/char_lm_torch.py --text /usr/share/common-licenses
"""
import argparse
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def read_text(paths):
    data = b""
    for p in paths:
        if os.path.isdir(p):
            names = sorted(os.fsencode(n) for n in os.listdir(p))
            for n in names:
                full = os.path.join(os.fsencode(p), n)
                if os.path.isfile(full) and not os.path.islink(full):
                    data += open(full, "rb").read()
        else:
            data += open(p, "rb").read()
    return data


def windows(tokens, steps, streams):
    """Rows c * streams + b = window c of stream b (dlrt_text_windows)."""
    n = len(tokens)
    length = n // streams
    per = (length - 1) // steps if length > steps else 0
    xs, ys = [], []
    for c in range(per):
        for b in range(streams):
            s = b * length + c * steps
            xs.append(tokens[s:s + steps])
            ys.append(tokens[s + 1:s + steps + 1])
    return torch.tensor(xs, dtype=torch.long), torch.tensor(ys, dtype=torch.long)


class CharLM(nn.Module):
    def __init__(self, vocab, hidden, layers):
        super().__init__()
        self.vocab = vocab
        self.lstm = nn.LSTM(vocab, hidden, num_layers=layers, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        h, state = self.lstm(F.one_hot(x, self.vocab).float(), state)
        return self.out(h), state


def evaluate(model, x, y, batch, stateful):
    """Mean cross-entropy per step: whole batches in order from a zero
    state carried along (stateful), or every window from a zero state."""
    model.eval()
    total, count, right = 0.0, 0, 0
    state = None
    with torch.no_grad():
        n = len(x) // batch * batch if stateful else len(x)
        for i in range(0, n, batch):
            logits, st = model(x[i:i + batch], state if stateful else None)
            state = st if stateful else None
            yy = y[i:i + batch]
            total += F.cross_entropy(logits.reshape(-1, model.vocab), yy.reshape(-1),
                                     reduction="sum").item()
            right += (logits.argmax(-1) == yy).sum().item()
            count += yy.numel()
    model.train()
    return total / count, right / count


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--text", action="append", required=True)
    ap.add_argument("--vocab-size", type=int, default=96)   # class(V) of the .net
    ap.add_argument("--steps", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--clip-norm", type=float, default=1.0)
    ap.add_argument("--validation", type=float, default=0.1)
    ap.add_argument("--stateful", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)

    text = read_text(a.text)
    vocab = sorted(set(text))
    assert len(vocab) <= a.vocab_size, f"{len(vocab)} distinct bytes > {a.vocab_size}"
    index = {b: i for i, b in enumerate(vocab)}
    tokens = [index[b] for b in text]
    n_test = int(len(tokens) * 0.1)
    rest = len(tokens) - n_test
    n_val = int(a.validation * rest + 0.5)
    n_train = rest - n_val
    streams = a.batch if a.stateful else 1
    xtr, ytr = windows(tokens[:n_train], a.steps, streams)
    xva, yva = windows(tokens[n_train:rest], a.steps, streams)
    xte, yte = windows(tokens[rest:], a.steps, streams)
    print(f"torch: {len(text)} bytes, vocabulary {len(vocab)} in {a.vocab_size}; "
          f"{len(xtr)} training windows, {len(xva)} validation, {len(xte)} test; "
          f"{'stateful' if a.stateful else 'shuffled'}")

    model = CharLM(a.vocab_size, a.hidden, a.layers)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    best, best_state = math.inf, None
    for epoch in range(1, a.epochs + 1):
        start = time.time()
        order = torch.arange(len(xtr)) if a.stateful else torch.randperm(len(xtr))
        n = len(xtr) // a.batch * a.batch if a.stateful else len(xtr)
        state, total, count = None, 0.0, 0
        for i in range(0, n, a.batch):
            idx = order[i:i + a.batch]
            logits, st = model(xtr[idx], state)
            if a.stateful:   # truncated BPTT: carry the state, not its gradient
                state = tuple(s.detach() for s in st)
            loss = F.cross_entropy(logits.reshape(-1, a.vocab_size), ytr[idx].reshape(-1))
            opt.zero_grad()
            loss.backward()
            if a.clip_norm > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip_norm)
            opt.step()
            total += loss.item() * len(idx)
            count += len(idx)
        vloss, vacc = evaluate(model, xva, yva, a.batch, a.stateful)
        mark = ""
        if vloss < best:
            best, mark = vloss, " *"
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        print(f"epoch {epoch}/{a.epochs}  train loss {total / count:.4f}  val loss {vloss:.4f}  "
              f"val acc {vacc:.4f}  val bpc {vloss / math.log(2):.4f}  ({time.time() - start:.1f} s){mark}")
        sys.stdout.flush()
    model.load_state_dict(best_state)
    tloss, tacc = evaluate(model, xte, yte, a.batch, a.stateful)
    print(f"test loss: {tloss:.4f}")
    print(f"test accuracy: {tacc:.4f}")
    print(f"test bpc: {tloss / math.log(2):.4f}")


if __name__ == "__main__":
    main()
