"""probe.py: every kernel on NaN, infinities and extreme values, against PyTorch.

    probe.py DLC LIBDLRT TMPDIR NET...     (tests/torch/run.sh runs it)

Each tests/torch/probe/NAME.net feeds one op (or loss) from a dense layer
whose weights the test sets to zero and whose bias b it sets to the values
under test: with x = 1 the op's input is exactly b, and with one sample the
gradient of b is the gradient of the op's input (see probe.c). For each net
and precision (f32 and f64) the C model (built with probe.c) and its PyTorch
twin (dlc --emit=torch, in the same dtype) run the same cases; per case the
forward output, the loss and every gradient must agree:

  - NaN in exactly the same places, +Inf and -Inf in exactly the same places;
  - finite values within TOL[precision] of the tensor's scale (its largest
    finite magnitude, at least FLOOR: the probes' values are about 1, and
    a gradient that cancels to 1e-13 on one side is 0 on the other).

In f32 a result may instead match the float64 twin's, rounded to float:
the C losses sum in double, so the l1 of values near 3e38 is finite where
torch's float sum overflows to inf.

The cases: NaN, +-Inf, +-0, and logits at +-1e4, +-88, +-89, +-1e30, +-3e38
alone (elementwise ops) and in rows (softmax, log_softmax, cross_entropy),
targets holding NaN and infinities (mse, l1). Prints ok/FAIL lines and
"probe: N passed, M failed".
"""
import importlib.util
import os
import subprocess
import sys

import numpy as np
import torch

torch.set_num_threads(1)

K = 4
TOL = {"f32": 1e-5, "f64": 1e-12}
FLOOR = 1.0
NAN, INF = float("nan"), float("inf")

# Single values for the elementwise ops, K to a case.
VALUES = [NAN, INF, -INF, 0.0, -0.0, 1.0, -1.0, 0.5, 1e4, -1e4, 88.0, -88.0, 89.0, -89.0,
          1e30, -1e30, 1e-30, -1e-30, 3e38, -3e38, 20.0, -20.0, 1e-40, 17.0]
# Whole rows for the ops that work over a row.
ROWS = [
    [1e4, -1e4, 0.0, 1.0], [-1e4, 1e4, 0.0, -1.0], [1e4, 1e4, 1e4, 1e4], [-1e4] * 4,
    [88.0, -88.0, 89.0, -89.0], [89.0, 88.0, -89.0, -88.0], [1e30, -1e30, 0.0, 1.0],
    [-1e30, 1e30, 1.0, 0.0], [3e38, -3e38, 0.0, 0.0], [NAN, 1.0, 2.0, 3.0], [1.0, NAN, 2.0, 3.0],
    [INF, 1.0, 2.0, 3.0], [1.0, 2.0, -INF, 3.0], [-INF] * 4, [INF, INF, 1.0, 2.0],
    [INF, -INF, 0.0, 0.0], [NAN] * 4, [0.0] * 4,
]
# Targets other than zero, each tried with a finite and a non-finite b.
TARGETS = [[NAN, INF, -INF, 1.0], [1e30, -1e30, 0.0, 2.0], [INF, INF, -INF, -INF]]


def cases():
    """(b, y, t) triples; y cycles over the classes."""
    out = []
    for k in range(0, len(VALUES), K):
        out.append(VALUES[k:k + K])
    out += ROWS
    rs = np.random.RandomState(7)
    out += [list(rs.normal(0, 3, K)) for _ in range(3)]
    triples = [(b, i % K, [0.0] * K) for i, b in enumerate(out)]
    for i, t in enumerate(TARGETS):
        triples.append(([0.5, -1.0, 2.0, 0.0], i % K, t))
        triples.append(([INF, 1.0, NAN, -INF], (i + 1) % K, t))
    return triples


def load_twin(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def twin_case(tw, dtype, b, y, t, copies=1):
    """The twin on one case: (out, loss, grads of every parameter, flat).
    copies > 1 runs a batch of that many identical samples (same loss and
    gradients): torch then takes its vectorized kernels, which on some
    inputs answer differently from its scalar ones (hardtanh's gradient at
    NaN: 0 vectorized, dy scalar)."""
    m = tw.Model(dtype=dtype, seed=None)
    with torch.no_grad():
        w, bias = m.param_list()
        w.zero_()
        bias.copy_(torch.tensor(b, dtype=dtype))
    x = torch.ones((copies, 1), dtype=dtype)
    with torch.no_grad():
        out = m.forward(x)["out"][:1].reshape(-1).numpy().copy()
    m.zero_grad()
    loss = m.loss(x, torch.tensor([y] * copies), torch.tensor([t] * copies, dtype=dtype),
                  training=True)
    loss.backward()
    grads = [p.grad.reshape(-1) if p.grad is not None else torch.zeros(p.numel(), dtype=dtype)
             for p in m.param_list()]
    return out, float(loss.item()), torch.cat(grads).numpy().copy()


def mismatch(c, t, tol):
    """Why c (C) and t (torch) differ, or None."""
    c = np.asarray(c, dtype=np.float64).reshape(-1)
    t = np.asarray(t, dtype=np.float64).reshape(-1)
    if c.shape != t.shape:
        return "shapes %s and %s" % (c.shape, t.shape)
    if (np.isnan(c) != np.isnan(t)).any():
        return "NaN in different places"
    for sign in (1, -1):
        if ((c == sign * INF) != (t == sign * INF)).any():
            return "%sInf in different places" % ("+" if sign > 0 else "-")
    fin = np.isfinite(t)
    if not fin.any():
        return None
    scale = max(float(np.max(np.abs(t[fin]))), FLOOR)
    err = float(np.max(np.abs(c[fin] - t[fin]))) / scale
    return None if err <= tol else "rel err %.1e > %.0e" % (err, tol)


def fmt(v):
    return "[" + ", ".join("%.6g" % x for x in np.asarray(v).reshape(-1)) + "]"


def build(dlc, lib, net, d, prec):
    """Starts dlc + cc for one variant; returns the Popen of the build."""
    os.makedirs(d, exist_ok=True)
    flags = ["--precision=f64"] if prec == "f64" else []
    for args in ([dlc, "--prefix", "probe"] + flags + [net, "-o", d + "/probe.c"],
                 [dlc, "--emit=torch"] + flags + [net, "-o", d + "/twin.py"]):
        r = subprocess.run(args, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise RuntimeError("dlc failed: " + r.stderr.strip().split("\n")[0])
    real = "double" if prec == "f64" else "float"
    cmd = ["cc", "-std=c99", "-O0", "-Wall", "-Wextra", "-pedantic", "-Werror",
           "-D_POSIX_C_SOURCE=200809L", "-DREAL=" + real, "-Iruntime", "-I/usr/include/openblas",
           "-include", d + "/probe.h", "-o", d + "/probe", "tests/torch/probe.c", d + "/probe.c",
           lib, "-lopenblas", "-lz", "-lm"]
    return subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)


def run(tw, d, prec, all_cases):
    dtype = torch.float64 if prec == "f64" else torch.float32
    npreal = np.float64 if prec == "f64" else np.float32
    with open(d + "/cases.bin", "wb") as f:
        f.write(np.int32(len(all_cases)).tobytes())
        for b, y, t in all_cases:
            f.write(np.array(b, dtype=npreal).tobytes())
            f.write(np.int32(y).tobytes())
            f.write(np.array(t, dtype=npreal).tobytes())
    r = subprocess.run([d + "/probe", d], stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError("probe exited %d: %s" % (r.returncode, r.stderr.strip()))
    nout, nparam = K, 2 * K
    rec = np.dtype([("out", npreal, nout), ("loss", npreal), ("grads", npreal, nparam),
                    ("accuracy", np.float64)])
    dump = np.fromfile(d + "/dump.bin", dtype=np.uint8)
    if dump.size != rec.itemsize * len(all_cases):
        raise RuntimeError("dump.bin holds %d bytes, expected %d" % (dump.size, rec.itemsize * len(all_cases)))
    dump = dump.view(rec)
    failures = {"forward": None, "loss": None, "grads": None}
    if "cross_entropy" in d:
        failures["accuracy"] = None
    for i, (b, y, t) in enumerate(all_cases):
        row = dump[i]
        c = {"forward": row["out"], "loss": [row["loss"]], "grads": row["grads"],
             "accuracy": [row["accuracy"]]}
        out, loss, grads = twin_case(tw, dtype, b, y, t)
        # P_evaluate's accuracy: the first largest logit is the label, and a
        # row holding a NaN is never right (torch.argmax would pick the NaN).
        right = not np.isnan(np.asarray(b, dtype=npreal)).any() and \
            int(np.argmax(np.asarray(b, dtype=npreal))) == y
        want = {"forward": out, "loss": [loss], "grads": grads, "accuracy": [float(right)]}
        # torch's vectorized kernels (a batch of 32 copies) are torch too.
        out, loss, grads = twin_case(tw, dtype, b, y, t, copies=32)
        vector = {"forward": out, "loss": [loss], "grads": grads}
        exact = None
        if prec == "f32":
            out, loss, grads = twin_case(tw, torch.float64, b, y, t)
            exact = {"forward": out, "loss": [loss], "grads": grads}
        for key in failures:
            why = failures[key] is None and mismatch(c[key], want[key], TOL[prec])
            if why and exact and key in exact and not mismatch(c[key], np.float32(exact[key]), TOL[prec]):
                why = None
            if why and key in vector and not mismatch(c[key], vector[key], TOL[prec]):
                why = None
            if why:
                failures[key] = "case b=%s y=%d t=%s: %s: C %s, want (torch) %s" % (
                    fmt(b), y, fmt(t), why, fmt(c[key]), fmt(want[key]))
    return failures


def main():
    dlc, lib, tmp, nets = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    all_cases = cases()
    passed = failed = 0
    variants = [(net, prec) for net in nets for prec in ("f32", "f64")]
    builds = {}

    def start(k):
        net, prec = variants[k]
        d = os.path.join(tmp, "probe-%s-%s" % (os.path.basename(net)[:-4], prec))
        try:
            builds[k] = (d, build(dlc, lib, net, d, prec))
        except RuntimeError as e:
            builds[k] = (d, e)

    # Two builds at a time: cc dominates.
    if variants:
        start(0)
    for k, (net, prec) in enumerate(variants):
        if k + 1 < len(variants):
            start(k + 1)
        name = "probe %s %s" % (os.path.basename(net)[:-4], prec)
        d, proc = builds.pop(k)
        if isinstance(proc, Exception):
            print("FAIL %s: %s" % (name, proc))
            failed += 1
            continue
        _, err = proc.communicate()
        if proc.returncode != 0:
            print("FAIL %s: cc failed: %s" % (name, err.strip()[:300]))
            failed += 1
            continue
        try:
            tw = load_twin(d + "/twin.py", "twin_%s_%s" % (os.path.basename(net)[:-4], prec))
            failures = run(tw, d, prec, all_cases)
        except Exception as e:  # report, go on with the next variant
            print("FAIL %s: %s: %s" % (name, type(e).__name__, e))
            failed += 1
            continue
        for key, why in failures.items():
            if why:
                print("FAIL %s %s: %s" % (name, key, why))
                failed += 1
            else:
                print("ok %s %s (%d cases: NaN, +-Inf, extremes)" % (name, key, len(all_cases)))
                passed += 1
    print("probe: %d passed, %d failed" % (passed, failed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
