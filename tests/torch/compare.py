"""compare.py: the PyTorch half of tests/torch (run.sh drives it).

    compare.py prepare DIR...   for each variant directory (holding twin.py,
                                the PyTorch twin dlc emitted): write shim.h
                                for driver.c, data.bin (the batches both sides
                                use) and twin.ckpt (weights the twin made, for
                                the C side to load)
    compare.py compare DIR...   after the C driver ran: compare its dump.bin
                                with the twin, print ok/FAIL lines

Every comparison starts from identical weights (the C model's init.ckpt,
loaded into the twin) and identical data, in float32, and reports per tensor
the max relative error measured against the tensor's scale:
max |c - t| / max(max |t|, 1e-3). Against the scale rather than per element:
Adam divides each gradient by its own magnitude, so an element whose
gradient is pure cancellation noise (1e-8 against terms of 1e-4) moves by a
different few lr * 1e-3 on each side; that is float32, not a bug, and it is
small against the tensor's values.
"""
import importlib.util
import math
import os
import sys

import numpy as np
import torch

TOLERANCE = 1e-4
FLOOR = 1e-3            # tensors smaller than this are compared absolutely
NSTEPS = 10             # optimizer steps (and batches in data.bin)
RNG_DRAWS = 1000        # driver.c's check of the runtime generator
SEEDS = {"train": 101, "grads": 202, "steps": 303}

torch.set_num_threads(1)


def load_twin(d):
    name = "twin_" + os.path.basename(d.rstrip("/")).replace("-", "_")
    spec = importlib.util.spec_from_file_location(name, os.path.join(d, "twin.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def arg_specs(tw):
    """The C argument list: inputs, then labels/targets. (name, size, dtype,
    shape, classes): token inputs ("tokens", (T,), K) and labels, one per
    sample ("y", "label", K) or per step ("y", "label", K, (T,)), are int32
    class indices below classes; the rest float32 (classes 0)."""
    specs = []
    for row in tw.INPUTS:
        name, shape = row[0], tuple(row[1])
        if len(row) > 2:
            specs.append((name, math.prod(shape), np.int32, shape, row[2]))
        else:
            specs.append((name, math.prod(shape), np.float32, shape, 0))
    for row in tw.LABELS:
        name, kind, what = row[:3]
        if kind == "label":
            shape = tuple(row[3]) if len(row) > 3 else ()
            specs.append((name, math.prod(shape), np.int32, shape, what))
        else:
            specs.append((name, math.prod(what), np.float32, what, 0))
    return specs


def ignore_index(tw):
    """The ignore_index a loss of the twin passes, or None: the steps the
    labels of a sequence hold it are padding."""
    import re
    with open(tw.__file__) as f:
        m = re.search(r"ignore_index=(-?\d+)", f.read())
    return int(m.group(1)) if m else None


def make_data(tw, seed):
    """Deterministic pseudo-random batches: inputs in [-1, 1) (pixels-like
    [0, 1) for wide inputs), class indices uniform (labels of a sequence
    padded with the twin's ignore_index at about a fifth of the steps, never
    all of a batch), targets in [-1, 1)."""
    rs = np.random.RandomState(seed)
    nall = NSTEPS * tw.BATCH
    ignore = ignore_index(tw)
    data = []
    for name, size, dtype, shape, classes in arg_specs(tw):
        if dtype == np.int32:
            a = rs.randint(0, classes, size=(nall,) + shape).astype(np.int32)
            is_label = any(row[0] == name for row in tw.LABELS)
            if ignore is not None and is_label:
                flat = a.reshape(nall, -1)
                pad = rs.uniform(0, 1, size=flat.shape) < 0.2
                pad[:, 0] = False   # every sample keeps a counted step
                flat[pad] = ignore
            data.append(a)
        elif size > 100:
            data.append(rs.uniform(0, 1, size=(nall,) + tuple(shape)).astype(np.float32))
        else:
            data.append(rs.uniform(-1, 1, size=(nall,) + tuple(shape)).astype(np.float32))
    return data


def poison(tw, data):
    """Batch 0 with NaN and infinities planted in the real-valued arguments:
    sample 1 gets a NaN, sample 2 +inf, sample 3 -inf, sample 4 a NaN and an
    inf (element 0, or the next ones when there are more); labels stay."""
    n = tw.BATCH
    out = []
    for (name, size, dtype, shape, classes), a in zip(arg_specs(tw), data):
        b = a[:n].copy()
        if dtype != np.int32:
            flat = b.reshape(n, -1)
            plant = [(1, 0, np.nan), (2, 1, np.inf), (3, 2, -np.inf), (4, 0, np.nan), (4, 3, np.inf)]
            for sample, elem, value in plant:
                if sample < n:
                    flat[sample, elem % size] = value
        out.append(b)
    return out


def twin_weights(tw):
    """The weights the twin saves for the C side: deterministic, not the init."""
    m = tw.Model(seed=None)
    g = torch.Generator().manual_seed(99)
    with torch.no_grad():
        for p in m.param_list():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    if hasattr(m, "apply_masks"):   # connectivity masks: masked weights are 0
        m.apply_masks()
    return m


def write_shim(tw, d):
    specs = arg_specs(tw)
    nfwd = len(tw.INPUTS)
    outs = [math.prod(shape) for _, shape in tw.OUTPUTS]

    def cast(k, spec):
        return "(const %s *)(b)[%d]" % ("int32_t" if spec[2] == np.int32 else "float", k)

    lines = [
        "/* shim.h for %s, written by tests/torch/compare.py: what driver.c needs */" % tw.MODEL,
        "/* to know about this network's argument lists. */",
        '#include "model.h"',
        "#include <stdint.h>",
        "enum { NARGS = %d, NOUT = %d, NSTEPS = %d };" % (len(specs), len(outs), NSTEPS),
        "#define SEED %dull" % tw.SEED,
        "static const size_t arg_size[NARGS] = {%s};" % ", ".join(str(s[1]) for s in specs),
        "static const size_t out_size[NOUT + 1] = {%s};" % ", ".join(str(s) for s in outs + [0]),
        "#define ALL_ARGS(b) %s" % ", ".join(cast(k, s) for k, s in enumerate(specs)),
        "#define FWD_ARGS(b) %s" % ", ".join(cast(k, s) for k, s in enumerate(specs[:nfwd])),
        "#define OUT_ARGS(o) %s" % "".join(", (o)[%d]" % k for k in range(len(outs))),
        "",
    ]
    with open(os.path.join(d, "shim.h"), "w") as f:
        f.write("\n".join(lines))


def prepare(d):
    tw = load_twin(d)
    write_shim(tw, d)
    with open(os.path.join(d, "data.bin"), "wb") as f:
        for a in make_data(tw, 1234):
            f.write(a.tobytes())
    twin_weights(tw).save_checkpoint(os.path.join(d, "twin.ckpt"))
    with open(os.path.join(d, "poison.bin"), "wb") as f:
        for a in poison(tw, make_data(tw, 1234)):
            f.write(a.tobytes())


class Dump:
    """Reads driver.c's dump.bin front to back."""

    def __init__(self, path):
        with open(path, "rb") as f:
            self.data = f.read()
        self.pos = 0

    def take(self, dtype, count):
        a = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
        self.pos += a.nbytes
        return a

    def f32(self, count=None):
        return self.take(np.float32, 1)[0] if count is None else self.take(np.float32, count)


def rel_err(c, t):
    """(max |c - t| / max(max |t|, FLOOR), max |c - t|) over the finite values;
    inf when the shapes differ or NaN, +inf or -inf are not in exactly the
    same places."""
    c = np.asarray(c, dtype=np.float64).reshape(-1)
    t = np.asarray(t, dtype=np.float64).reshape(-1)
    if c.shape != t.shape or (np.isnan(c) != np.isnan(t)).any():
        return float("inf"), float("inf")
    if ((c == np.inf) != (t == np.inf)).any() or ((c == -np.inf) != (t == -np.inf)).any():
        return float("inf"), float("inf")
    fin = np.isfinite(t)
    if not fin.any():
        return 0.0, 0.0
    diff = np.abs(c[fin] - t[fin])
    scale = max(float(np.max(np.abs(t[fin]))), FLOOR)
    return float(np.max(diff)) / scale, float(np.max(diff))


class Report:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, name, rows, tol=TOLERANCE, note=""):
        """rows: (label, rel, absdiff). One ok/FAIL line, then one per tensor."""
        worst = max((r[1] for r in rows), default=0.0)
        note = "; " + note if note else ""
        if worst <= tol:
            self.passed += 1
            print("ok %s (max rel err %.1e%s)" % (name, worst, note))
        else:
            self.failed += 1
            bad = [r[0] for r in rows if not r[1] <= tol]
            print("FAIL %s: max rel err %.1e > %.0e in %s%s" % (name, worst, tol, ", ".join(bad), note))
        for label, rel, diff in rows:
            print("    %-14s max |diff| %.2e  max rel err %.2e" % (label, diff, rel))

    def fail(self, name, why):
        self.failed += 1
        print("FAIL %s: %s" % (name, why))


def split(tw, flat):
    out, offset = {}, 0
    for name, shape in tw.PARAMS:
        size = math.prod(shape)
        out[name] = np.asarray(flat[offset:offset + size]).reshape(shape)
        offset += size
    return out


def compare(d, rep, check_rng):
    v = os.path.basename(d.rstrip("/")).replace("-", "/", 1)
    tw = load_twin(d)
    dump = Dump(os.path.join(d, "dump.bin"))
    data = [torch.from_numpy(a.copy()) for a in make_data(tw, 1234)]
    nfwd, n = len(tw.INPUTS), tw.BATCH

    def batch(k):
        return [a[k * n:(k + 1) * n] for a in data]

    # The runtime generator against its Python port, bit for bit.
    raw = dump.take(np.uint64, RNG_DRAWS)
    uni = dump.take(np.float64, RNG_DRAWS)
    if check_rng:
        r = tw.Rng(42)
        ok = [r.next() for _ in range(RNG_DRAWS)] == [int(x) for x in raw]
        ok = ok and r.uniforms(RNG_DRAWS) == [float(x) for x in uni]
        if ok:
            rep.passed += 1
            print("ok rng (dlrt_rng and the twin's Rng: %d draws identical)" % (2 * RNG_DRAWS))
        else:
            rep.fail("rng", "dlrt_rng and the twin's Rng differ")

    # Identical starting weights: the C model's checkpoint, loaded.
    m = tw.Model(seed=None)
    step = m.load_checkpoint(os.path.join(d, "init.ckpt"))
    c_init = {name: getattr(m, name).detach().numpy().copy() for name, _ in tw.PARAMS}
    # The twin's own init replays P_create(SEED): the same values.
    fresh = tw.Model()
    rep.check(v + " init", [(name, *rel_err(c_init[name], getattr(fresh, name).detach().numpy()))
                            for name, _ in tw.PARAMS], note="" if step == 0 else "step %d" % step)

    # (a) forward values of every output, over all samples (chunked in C).
    with torch.no_grad():
        values = m.forward(*data[:nfwd])
    rows = []
    for name, shape in tw.OUTPUTS:
        c = dump.f32(NSTEPS * n * math.prod(shape))
        rows.append((name, *rel_err(c, values[name].numpy())))
    rep.check(v + " forward", rows)

    # (b) the loss: evaluate over everything, one batch in eval and training mode.
    rows = []
    with torch.no_grad():
        rows.append(("evaluate", *rel_err(dump.f32(), m.loss(*data, training=False).item())))
        rows.append(("loss(eval)", *rel_err(dump.f32(), m.loss(*batch(0), training=False).item())))
        m.set_rng(SEEDS["train"])
        rows.append(("loss(train)", *rel_err(dump.f32(), m.loss(*batch(0), training=True).item())))
    rep.check(v + " loss", rows)

    # (c) every parameter's gradient.
    m.set_rng(SEEDS["grads"])
    m.zero_grad()
    total = m.loss(*batch(0), training=True)
    total.backward()
    rows = [("loss", *rel_err(dump.f32(), total.item()))]
    c_grads = split(tw, dump.f32(tw.PARAM_COUNT))
    for name, _ in tw.PARAMS:
        g = getattr(m, name).grad
        g = np.zeros(getattr(m, name).shape) if g is None else g.numpy()
        rows.append((name, *rel_err(c_grads[name], g)))
    rep.check(v + " grads", rows)

    # (d) the parameters after each of NSTEPS optimizer steps.
    opt = m.make_optimizer()
    m.set_rng(SEEDS["steps"])
    loss_rel = loss_diff = 0.0
    worst = {name: (0.0, 0.0) for name, _ in tw.PARAMS}
    for k in range(NSTEPS):
        loss = m.train_step(opt, *batch(k))
        rel, diff = rel_err(dump.f32(), loss)
        loss_rel, loss_diff = max(loss_rel, rel), max(loss_diff, diff)
        c_params = split(tw, dump.f32(tw.PARAM_COUNT))
        for name, _ in tw.PARAMS:
            rel, diff = rel_err(c_params[name], getattr(m, name).detach().numpy())
            worst[name] = (max(worst[name][0], rel), max(worst[name][1], diff))
    rows = [("step losses", loss_rel, loss_diff)] + [(name, *worst[name]) for name, _ in tw.PARAMS]
    rep.check("%s steps x%d" % (v, NSTEPS), rows)

    # The optimizer state P_save wrote after the steps, against torch.optim's.
    m3 = tw.Model(seed=None)
    opt3 = m3.make_optimizer()
    step = m3.load_checkpoint(os.path.join(d, "trained.ckpt"), opt3)
    rows = []
    for key in tw.STATE_KEYS:
        for name, _ in tw.PARAMS:
            # torch.optim keeps no state for a parameter it skipped (grad
            # None); the C checkpoint holds zeros there.
            p = getattr(m, name)
            ours = opt.state[p][key].numpy() if key in opt.state.get(p, {}) else np.zeros(tuple(p.shape))
            rows.append(("%s.%s" % (name, key), *rel_err(opt3.state[getattr(m3, name)][key].numpy(), ours)))
    adam_step = int(opt.state[m.param_list()[0]].get("step", NSTEPS))
    if step != NSTEPS or adam_step != NSTEPS:
        rep.fail(v + " optimizer state", "step %d in the C checkpoint, %d in torch, expected %d"
                 % (step, adam_step, NSTEPS))
    else:
        rep.check(v + " optimizer state", rows, note="%s, step %d" % (tw.OPTIMIZER, step))

    # The other direction: the twin's checkpoint, loaded by P_load.
    status = int(dump.take(np.int32, 1)[0])
    loaded = split(tw, dump.f32(tw.PARAM_COUNT))
    if status != 0:
        rep.fail(v + " checkpoint", "P_load refused the twin's checkpoint (see driver's stderr)")
    else:
        theirs = twin_weights(tw)
        rows = [(name, *rel_err(loaded[name], getattr(theirs, name).detach().numpy()))
                for name, _ in tw.PARAMS]
        rep.check(v + " checkpoint", rows, tol=0.0, note="twin.ckpt loaded by P_load, exact")
    # NaN and infinities in the inputs, with the twin's weights.
    m = twin_weights(tw)
    pb = [torch.from_numpy(a) for a in poison(tw, make_data(tw, 1234))]
    with torch.no_grad():
        values = m.forward(*pb[:nfwd])
    rows = []
    for name, shape in tw.OUTPUTS:
        c = dump.f32(n * math.prod(shape))
        rows.append((name, *rel_err(c, values[name].numpy())))
    with torch.no_grad():
        rows.append(("loss(eval)", *rel_err(dump.f32(), m.loss(*pb, training=False).item())))
    m.set_rng(404)
    m.zero_grad()
    total = m.loss(*pb, training=True)
    total.backward()
    rows.append(("grads' loss", *rel_err(dump.f32(), total.item())))
    c_grads = split(tw, dump.f32(tw.PARAM_COUNT))
    for name, _ in tw.PARAMS:
        g = getattr(m, name).grad
        g = np.zeros(getattr(m, name).shape) if g is None else g.numpy()
        rows.append(("d " + name, *rel_err(c_grads[name], g)))
    rep.check(v + " non-finite inputs", rows, note="NaN, +-Inf in the same places")

    if dump.pos != len(dump.data):
        rep.fail(v + " dump", "%d bytes left over in dump.bin" % (len(dump.data) - dump.pos))


def twin_checkpoint_faults(d, rep):
    """The twin's save_checkpoint and load_checkpoint under the abuse P_save
    and P_load refuse (issue 5): a symlink planted at PATH.tmp is never
    followed, a checkpoint holding NaN (valid CRC) and files that are not
    regular are refused, and nothing hangs."""
    import stat
    import struct
    import zlib
    tw = load_twin(d)
    m = twin_weights(tw)
    why = []
    victim, path = os.path.join(d, "victim.txt"), os.path.join(d, "sym.ckpt")
    with open(victim, "w") as f:
        f.write("precious")
    if os.path.lexists(path + ".tmp"):
        os.remove(path + ".tmp")
    os.symlink("victim.txt", path + ".tmp")
    m.save_checkpoint(path)
    if open(victim).read() != "precious":
        why.append("save_checkpoint wrote through a symlink at PATH.tmp")
    if any(n.startswith("sym.ckpt.tmp") and n != "sym.ckpt.tmp" for n in os.listdir(d)):
        why.append("save_checkpoint left a temporary file")
    data = bytearray(open(path, "rb").read())
    # Format 2: the first value of the "params" section, after the header
    # (the section table and the layout, the first section) and its CRC.
    table = struct.unpack_from("<I", data, 20)[0]
    name_len = struct.unpack_from("<I", data, 24)[0]
    pos = 24 + table + struct.unpack_from("<Q", data, 24 + 4 + name_len + 4)[0] + 4
    struct.pack_into("<f" if struct.unpack_from("<I", data, 12)[0] == 4 else "<d", data, pos, float("nan"))
    struct.pack_into("<I", data, len(data) - 4, zlib.crc32(bytes(data[:-4])) & 0xFFFFFFFF)
    nan_path = os.path.join(d, "nan.ckpt")
    with open(nan_path, "wb") as f:
        f.write(bytes(data))
    fifo = os.path.join(d, "fifo.ckpt")
    if not os.path.exists(fifo):
        os.mkfifo(fifo)
    for bad_path, want in ((nan_path, "not finite"), (fifo, "not a regular file"),
                           ("/dev/zero", "not a regular file"), (d, "")):
        try:
            m.load_checkpoint(bad_path)
            why.append("load_checkpoint accepted %s" % bad_path)
        except (ValueError, OSError) as e:
            if want not in str(e):
                why.append("load_checkpoint(%s): %s" % (bad_path, e))
    with torch.no_grad():
        m.param_list()[0].view(-1)[0] = float("inf")
    try:
        m.save_checkpoint(os.path.join(d, "inf.ckpt"))
        why.append("save_checkpoint saved a network holding inf")
    except ValueError as e:
        if "not saved" not in str(e) or os.path.exists(os.path.join(d, "inf.ckpt")):
            why.append("save_checkpoint(inf): %s" % e)
    name = os.path.basename(d) + " twin checkpoint faults"
    if why:
        rep.fail(name, "; ".join(why))
    else:
        rep.passed += 1
        print("ok %s" % name)


def main():
    what, dirs = sys.argv[1], sys.argv[2:]
    if what == "prepare":
        for d in dirs:
            try:
                prepare(d)
            except Exception as e:  # report and let run.sh skip this variant
                print("FAIL %s prepare: %s: %s" % (d, type(e).__name__, e))
                with open(os.path.join(d, "prepare.failed"), "w") as f:
                    f.write(str(e))
        return 0
    rep = Report()
    first = True
    for d in dirs:
        try:
            compare(d, rep, check_rng=first)
            if first:
                twin_checkpoint_faults(d, rep)
            first = False
        except Exception as e:
            rep.fail(os.path.basename(d), "%s: %s" % (type(e).__name__, e))
    print("compare: %d passed, %d failed" % (rep.passed, rep.failed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
