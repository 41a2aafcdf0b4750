"""tests/torch/recurrent.py DLC LIBDLRT TMP: rnn, lstm and gru in C against
REAL torch.nn.RNN / nn.LSTM / nn.GRU modules (batch_first=True).

For each case a small net `output h = lstm(x, ...)`, `loss mse(h, t)` is
compiled to C (tests/torch/recurrent_driver.c runs it through the
descriptor) and to its twin. The twin's scoped_state_dict, its prefix
dropped, must load into the torch.nn module with load_state_dict(strict=
True): the parameter names and shapes are PyTorch's. From those weights
and the same data, in float32, within 1e-4 relative to each tensor's scale:
the output (the whole sequence, or torch.cat of h_n's last layer), the
loss and every weight gradient, and the losses and parameters after
several Adam steps; sequence lengths 1, 2, 50 and 60; PyTorch's default
init (every weight and bias within 1/sqrt(H), spread up to it). Stateful cases: two
forward calls, the second from the first's final state, and training
steps over one stream with the hidden state carried and detached between
chunks, as truncated BPTT does in PyTorch."""
import importlib.util
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F

dlc, lib, tmp = sys.argv[1:4]
torch.set_num_threads(1)
TOL = 1e-4
N, STEPS = 4, 4
passed = failed = 0


def check(name, err, why=""):
    global passed, failed
    if err is not None and err <= TOL:
        print("ok recurrent %s (max rel err %.1e)" % (name, err))
        passed += 1
    else:
        print("FAIL recurrent %s: %s" % (name, why or "max rel err %s" % err))
        failed += 1


def rel(c, t):
    c, t = np.asarray(c, dtype=np.float64), np.asarray(t, dtype=np.float64)
    if c.shape != t.shape:
        return None
    return float(np.max(np.abs(c - t))) / max(float(np.max(np.abs(t))), 1e-3)


# name, op, T, D, H, layers, bidirectional, return_sequences, extra arguments
CASES = [
    ("lstm_t1", "lstm", 1, 3, 4, 1, False, True, ""),
    ("gru_t2_stacked_bidir_last", "gru", 2, 3, 4, 2, True, False, ""),
    ("rnn_t50_bidir", "rnn", 50, 2, 5, 1, True, True, ""),
    ("lstm_t60_stacked_last", "lstm", 60, 3, 8, 2, False, False, ""),
    ("rnn_relu_t2_stacked_nobias", "rnn", 2, 3, 4, 2, False, True,
     ", nonlinearity = \"relu\", bias = false"),
    ("gru_t50", "gru", 50, 4, 6, 1, False, True, ""),
    ("lstm_bidir_stacked", "lstm", 7, 3, 4, 3, True, True, ""),
    ("lstm_h0_c0", "lstm", 5, 3, 4, 1, False, True, ", h0 = s, c0 = c"),
    ("gru_h0_bidir", "gru", 4, 2, 3, 1, True, False, ", h0 = s2"),
    ("lstm_stateful", "lstm", 6, 3, 4, 2, False, True, ", stateful = true"),
    ("gru_stateful_last", "gru", 5, 2, 3, 1, False, False, ", stateful = true"),
    ("rnn_stateful", "rnn", 3, 2, 3, 1, False, True, ", stateful = true"),
]

subprocess.run(["cc", "--version"], capture_output=True)
for name, op, T, D, H, L, bidir, retseq, extra in CASES:
    d = os.path.join(tmp, "recurrent", name)
    os.makedirs(d, exist_ok=True)
    dirs = 2 if bidir else 1
    stateful = "stateful" in extra
    out_shape = [T, dirs * H] if retseq else [dirs * H]
    net = ["model r", "input x : f32[%d, %d]" % (T, D)]
    if "h0 = s," in extra or extra.endswith("h0 = s"):
        net.append("input s : f32[%d]" % H)
    if "c0 = c" in extra:
        net.append("input c : f32[%d]" % H)
    if "h0 = s2" in extra:
        net.append("input s2 : f32[%d, %d]" % (dirs * L, H))
    net.append("target t : f32[%s]" % ", ".join(map(str, out_shape)))
    net.append("output h = %s(x, %d, num_layers = %d, bidirectional = %s, return_sequences = %s%s)"
               % (op, H, L, "true" if bidir else "false", "true" if retseq else "false", extra))
    net += ["loss mse(h, t)", "train {", "    optimizer adam(lr = 0.01)", "    batch 6", "}"]
    src = os.path.join(d, "net.net")
    with open(src, "w") as f:
        f.write("\n".join(net) + "\n")
    try:
        subprocess.run([dlc, "--prefix", "model", src, "-o", os.path.join(d, "model.c")], check=True)
        subprocess.run([dlc, "--emit=torch", src, "-o", os.path.join(d, "twin.py")], check=True)
        subprocess.run(["cc", "-std=c99", "-O0", "-Wall", "-Wextra", "-pedantic", "-Werror",
                        "-D_POSIX_C_SOURCE=200809L", "-Iruntime", "-I/usr/include/openblas",
                        "-include", os.path.join(d, "model.h"), "-o", os.path.join(d, "driver"),
                        "tests/torch/recurrent_driver.c", os.path.join(d, "model.c"), lib,
                        "-lopenblas", "-lz", "-lm"], check=True)
    except subprocess.CalledProcessError as err:
        check(name + " build", None, str(err))
        continue
    spec = importlib.util.spec_from_file_location("twin_" + name, os.path.join(d, "twin.py"))
    tw = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tw)
    twin = tw.Model(seed=3)

    # The twin's weights as the module's state_dict: names, shapes, strict.
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[op]
    kw = {"nonlinearity": "relu"} if "relu" in extra else {}
    mod = cls(D, H, L, bias="bias = false" not in extra, batch_first=True,
              bidirectional=bidir, **kw)
    sd = {k[len("h."):]: v.detach().clone() for k, v in twin.scoped_state_dict().items()}
    try:
        mod.load_state_dict(sd, strict=True)
    except RuntimeError as err:
        check(name + " state_dict", None, str(err).splitlines()[0])
        continue
    init = {k: v.clone() for k, v in sd.items()}
    # PyTorch's default init: every weight and bias from U(-1/sqrt(H), 1/sqrt(H)).
    bound = 1 / np.sqrt(H)
    pool = torch.cat([v.flatten() for v in init.values()]).double() / bound
    inside = float(pool.abs().max()) <= 1 and (pool.numel() < 100 or float(pool.abs().max()) > 0.95)
    check(name + " default init U(-1/sqrt(H), 1/sqrt(H))", 0.0 if inside else None,
          "max |w| sqrt(H) = %.4f over %d values" % (float(pool.abs().max()), pool.numel()))
    np.concatenate([p.detach().numpy().ravel() for p in twin.param_list()]).astype(
        np.float32).tofile(os.path.join(d, "params.bin"))

    rs = np.random.RandomState(len(name))
    batches = []
    for s in range(STEPS):
        b = {"x": rs.uniform(-1, 1, (N, T, D)).astype(np.float32)}
        if "input s " in "\n".join(net) + " ":
            b["s"] = rs.uniform(-1, 1, (N, H)).astype(np.float32)
        if "input c " in "\n".join(net):
            b["c"] = rs.uniform(-1, 1, (N, H)).astype(np.float32)
        if "input s2" in "\n".join(net):
            b["s2"] = rs.uniform(-1, 1, (N, dirs * L, H)).astype(np.float32)
        b["t"] = rs.uniform(-1, 1, [N] + out_shape).astype(np.float32)
        batches.append(b)
    order = [nm for nm, _ in tw.INPUTS] + [nm for nm, _, _ in tw.LABELS]
    with open(os.path.join(d, "data.bin"), "wb") as f:
        for b in batches:
            for nm in order:
                f.write(b[nm].tobytes())
    run = subprocess.run([os.path.join(d, "driver"), d, str(N), str(STEPS)], capture_output=True,
                         text=True)
    if run.returncode != 0:
        check(name + " driver", None, run.stderr.strip())
        continue
    c = np.fromfile(os.path.join(d, "out.bin"), dtype=np.float32)
    size = N * int(np.prod(out_shape))
    nparam = sum(p.numel() for p in twin.param_list())
    fwd = [c[k * size:(k + 1) * size] for k in range(2 if stateful else 1)]
    at = size * len(fwd)
    c_loss, c_grads = c[at], c[at + 1:at + 1 + nparam]
    at += 1 + nparam
    c_losses, c_params = c[at:at + STEPS], c[at + STEPS:]

    def initial(b):
        if "s" not in b and "s2" not in b:
            return None
        h = torch.from_numpy(b["s"]).unsqueeze(0) if "s" in b else \
            torch.from_numpy(b["s2"]).transpose(0, 1).contiguous()
        if op == "lstm":
            cc = torch.from_numpy(b["c"]).unsqueeze(0) if "c" in b else torch.zeros_like(h)
            return (h, cc)
        return h

    def value(out, hn):
        if retseq:
            return out
        h = hn[0] if op == "lstm" else hn
        return h[-dirs:].transpose(0, 1).reshape(N, dirs * H)

    def detach(hn):
        return tuple(v.detach() for v in hn) if op == "lstm" else hn.detach()

    # forward (and, stateful, a second call from the first's final state)
    hx = initial(batches[0])
    with torch.no_grad():
        out, hn = mod(torch.from_numpy(batches[0]["x"]), hx)
        err = rel(fwd[0].reshape([N] + out_shape), value(out, hn).numpy())
        if stateful:
            out2, hn2 = mod(torch.from_numpy(batches[1]["x"]), hn)
            e2 = rel(fwd[1].reshape([N] + out_shape), value(out2, hn2).numpy())
            err = None if err is None or e2 is None else max(err, e2)
    check(name + " forward" + (" x2 carried" if stateful else ""), err)

    # The twin on the same calls (stateful: its carry, then reset_state).
    def twin_out(b):
        with torch.no_grad():
            args = [torch.from_numpy(b[nm]) for nm, _ in tw.INPUTS]
            return twin.forward(*args)["h"].numpy()

    with torch.no_grad():
        out, hn = mod(torch.from_numpy(batches[0]["x"]), initial(batches[0]))
        first = value(out, hn).numpy()
        err = rel(twin_out(batches[0]), first)
        if stateful and err is not None:
            out2, hn2 = mod(torch.from_numpy(batches[1]["x"]), hn)
            e2 = rel(twin_out(batches[1]), value(out2, hn2).numpy())
            twin.reset_state()
            e3 = rel(twin_out(batches[0]), first)
            err = None if e2 is None or e3 is None else max(err, e2, e3)
    check(name + " twin forward" + (" x2 carried, reset_state" if stateful else ""), err)

    # loss and every weight gradient
    mod.zero_grad()
    out, hn = mod(torch.from_numpy(batches[0]["x"]), initial(batches[0]))
    loss = F.mse_loss(value(out, hn), torch.from_numpy(batches[0]["t"]))
    loss.backward()
    worst, why = rel(c_loss, loss.item()), ""
    grads = dict(mod.named_parameters())
    off = 0
    for pname, shape in tw.PARAMS:
        cnt = int(np.prod(shape))
        key = tw.PATHS[pname][len("h."):]
        e = rel(c_grads[off:off + cnt].reshape(shape), grads[key].grad.numpy())
        if e is None or e > worst:
            worst, why = e, "d %s max rel err %s" % (key, e)
        off += cnt
    check(name + " loss and %d weight gradients" % len(tw.PARAMS), worst,
          why if worst is None or worst > TOL else "")

    # Adam steps (stateful: one stream, the state carried and detached)
    mod.load_state_dict(init, strict=True)
    opt = torch.optim.Adam(mod.parameters(), lr=0.01)
    hx, t_losses = None, []
    for s in range(STEPS):
        b = batches[s]
        opt.zero_grad()
        out, hn = mod(torch.from_numpy(b["x"]), hx if stateful else initial(b))
        loss = F.mse_loss(value(out, hn), torch.from_numpy(b["t"]))
        loss.backward()
        opt.step()
        t_losses.append(loss.item())
        if stateful:
            hx = detach(hn)
    worst = rel(c_losses, t_losses)
    off = 0
    params = dict(mod.named_parameters())
    for pname, shape in tw.PARAMS:
        cnt = int(np.prod(shape))
        e = rel(c_params[off:off + cnt].reshape(shape),
                params[tw.PATHS[pname][len("h."):]].detach().numpy())
        worst = None if e is None or worst is None else max(worst, e)
        off += cnt
    check(name + " %d adam steps%s" % (STEPS, " over one stream" if stateful else ""), worst)

print("recurrent: %d passed, %d failed" % (passed, failed))
