"""tests/kernels/rnn_ref.py: PyTorch's nn.RNN, nn.LSTM and nn.GRU values
for the recurrent kernels (runtime/kernels/rnn.h), read by
tests/kernels/test_rnn.c (its argument).

Each case is a line `KIND n T D H dirs has_h0 has_dhT` (KIND rnn_tanh,
rnn_relu, lstm or gru; dirs 2: bidirectional, the reverse direction is the
kernels' reverse = 1) followed by tensors `NAME COUNT v1 v2 ...` (float64,
repr: exact) and a line `end`. Inputs are deterministic (sin of the index);
the module is batch_first with one layer and biases; the loss is
sum(y * dy) + sum(h_n * dhn) (+ sum(c_n * dcn) for the LSTM), so dy, dhn
and dcn are the gradients flowing in. Torch's outputs and gradients follow.

    /usr/bin/python3 tests/kernels/rnn_ref.py > rnn_ref.txt
"""
import math
import sys

import torch

torch.set_default_dtype(torch.float64)
out = sys.stdout


def values(shape, seed, scale=1.0):
    n = math.prod(shape)
    return torch.tensor([scale * math.sin(0.731 * i + seed) * (1 + 0.1 * (i % 7))
                         for i in range(n)]).reshape(shape)


def put(name, t):
    flat = t.detach().reshape(-1).tolist()
    out.write("%s %d %s\n" % (name, len(flat), " ".join(repr(float(v)) for v in flat)))


def case(kind, n, T, D, H, dirs, has_h0, has_dhT):
    bi = dirs == 2
    if kind == "lstm":
        m = torch.nn.LSTM(D, H, batch_first=True, bidirectional=bi)
    elif kind == "gru":
        m = torch.nn.GRU(D, H, batch_first=True, bidirectional=bi)
    else:
        m = torch.nn.RNN(D, H, nonlinearity=kind[4:], batch_first=True, bidirectional=bi)
    seed = 10
    params = []
    for d in range(dirs):
        sfx = "_reverse" if d else ""
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            p = getattr(m, name + "_l0" + sfx)
            with torch.no_grad():
                p.copy_(values(tuple(p.shape), seed, 0.6))
            seed += 1
            params.append(("%s%d" % (name, d), p))
    x = values((n, T, D), 1).requires_grad_()
    h0 = values((dirs, n, H), 2, 0.5).requires_grad_() if has_h0 else None
    c0 = values((dirs, n, H), 3, 0.5).requires_grad_() if has_h0 else None
    if kind == "lstm":
        y, (hn, cn) = m(x, (h0, c0) if has_h0 else None)
    else:
        y, hn = m(x, h0)
        cn = None
    dy = values(tuple(y.shape), 4)
    loss = (y * dy).sum()
    dhn = dcn = None
    if has_dhT:
        dhn = values(tuple(hn.shape), 5)
        loss = loss + (hn * dhn).sum()
        if cn is not None:
            dcn = values(tuple(cn.shape), 6)
            loss = loss + (cn * dcn).sum()
    loss.backward()
    out.write("%s %d %d %d %d %d %d %d\n" % (kind, n, T, D, H, dirs, has_h0, has_dhT))
    put("x", x)
    for name, p in params:
        put(name, p)
    if has_h0:
        put("h0", h0)
        if kind == "lstm":
            put("c0", c0)
    put("dy", dy)
    if has_dhT:
        put("dhn", dhn)
        if kind == "lstm":
            put("dcn", dcn)
    put("y", y)
    put("hn", hn)
    if kind == "lstm":
        put("cn", cn)
    put("dx", x.grad)
    if has_h0:
        put("dh0", h0.grad)
        if kind == "lstm":
            put("dc0", c0.grad)
    for name, p in params:
        put("d" + name, p.grad)
    out.write("end\n")


for kind in ("lstm", "gru", "rnn_tanh", "rnn_relu"):
    case(kind, 3, 5, 4, 3, 2, 1, 1)    # both directions, h0 and final-state gradients
    case(kind, 2, 4, 3, 5, 1, 0, 0)    # zero initial state, only dy
    case(kind, 1, 1, 2, 3, 2, 1, 0)    # T = 1, n = 1
    case(kind, 1, 7, 3, 2, 1, 0, 1)    # n = 1, zero state, dhT
    case(kind, 2, 2, 3, 4, 2, 0, 1)    # T = 2
    case(kind, 2, 50, 3, 4, 2, 1, 1)   # T = 50, both directions
