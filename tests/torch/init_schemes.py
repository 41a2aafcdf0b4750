"""tests/torch/init_schemes.py DLC LIBDLRT TMPDIR: every init scheme against
formulas written here from torch.nn.init's definitions (calculate_gain,
fan_in/fan_out of a [out, in] weight), independently of the compiler's
table.

Per case: a small net whose first layer uses the scheme. dlc builds it in
float64 (C, create() then dump the flat parameters) and its twin; the check
replays the twin's own random stream (Rng) and applies the formula:
  - C weights == twin weights, bit for bit in float64 (orthogonal: within
    1e-12, two QR implementations);
  - twin weights == the formula on the replayed draws (1e-12 relative);
  - C weights == torch.nn.init's own function (xavier_uniform_,
    kaiming_normal_, orthogonal_, ...) with its Tensor.uniform_/normal_
    draws taken from the same stream (1e-12 relative);
  - orthogonality: W W^T or W^T W = gain^2 I.
Prints "ok NAME"/"FAIL NAME: why" and "init_schemes: N passed, N failed"."""
import importlib.util
import math
import os
import subprocess
import sys

import numpy as np
import torch

SEED = 1234
FAN_IN, UNITS = 12, 5   # the first layer's weight is [5, 12]

# (case name, init text in .net, reference(rng, rows, cols) -> numpy array)


def uniform_ref(bound):
    return lambda rng, r, c: np.array([-bound + 2 * bound * u for u in rng.uniforms(r * c)]).reshape(r, c)


def normal_ref(std):
    return lambda rng, r, c: np.array([std * rng.normal() for _ in range(r * c)]).reshape(r, c)


def orthogonal_ref(gain):
    def ref(rng, r, c):
        flat = np.array([rng.normal() for _ in range(r * c)]).reshape(r, c)
        a = flat.T if r < c else flat
        q, rr = np.linalg.qr(a)
        q = q * np.sign(np.diag(rr))
        return gain * (q.T if r < c else q)
    ref.gain = gain
    return ref


fi, fo = FAN_IN, UNITS
gain_relu = torch.nn.init.calculate_gain("relu")
CASES = [
    ("zeros", "zeros", lambda rng, r, c: np.zeros((r, c))),
    ("ones", "ones", lambda rng, r, c: np.ones((r, c))),
    ("uniform", "uniform(a = 0.3)", uniform_ref(0.3)),
    ("normal", "normal(std = 0.2)", normal_ref(0.2)),
    # torch.nn.init.xavier_uniform_: gain * sqrt(6 / (fan_in + fan_out))
    ("xavier_uniform", "xavier_uniform", uniform_ref(math.sqrt(6.0 / (fi + fo)))),
    ("glorot_normal", "glorot_normal", normal_ref(math.sqrt(2.0 / (fi + fo)))),
    # kaiming_uniform_(nonlinearity="relu"): gain * sqrt(3 / fan_in)
    ("he_uniform", "he_uniform", uniform_ref(gain_relu * math.sqrt(3.0 / fi))),
    ("kaiming_normal", "kaiming_normal", normal_ref(gain_relu / math.sqrt(fi))),
    # LeCun (no torch.nn.init.lecun_*): variance 1 / fan_in, times the gain;
    # a plain normal as kaiming_normal_(nonlinearity="linear") draws it.
    ("lecun_uniform", "lecun_uniform", uniform_ref(math.sqrt(3.0 / fi))),
    ("lecun_uniform_gain", "lecun_uniform(gain = 1.5)", uniform_ref(1.5 * math.sqrt(3.0 / fi))),
    ("lecun_normal", "lecun_normal",
     normal_ref(torch.nn.init.calculate_gain("linear") / math.sqrt(fi))),
    ("lecun_normal_gain", "lecun_normal(gain = %r)" % torch.nn.init.calculate_gain("tanh"),
     normal_ref(torch.nn.init.calculate_gain("tanh") / math.sqrt(fi))),
    # Gains: torch.nn.init.xavier_*_(gain=...), kaiming_*_(a=...) (the
    # leaky_relu gain), gain = NAME as torch.nn.init.calculate_gain(NAME).
    ("xavier_uniform_gain_tanh", "xavier_uniform(gain = tanh)",
     uniform_ref(torch.nn.init.calculate_gain("tanh") * math.sqrt(6.0 / (fi + fo)))),
    ("xavier_normal_gain", "xavier_normal(gain = 2)", normal_ref(2 * math.sqrt(2.0 / (fi + fo)))),
    ("kaiming_uniform_a", "kaiming_uniform(a = 0.2)",
     uniform_ref(torch.nn.init.calculate_gain("leaky_relu", 0.2) * math.sqrt(3.0 / fi))),
    ("he_normal_a", "he_normal(a = 0.1)",
     normal_ref(torch.nn.init.calculate_gain("leaky_relu", 0.1) / math.sqrt(fi))),
    ("lecun_normal_gain_selu", "lecun_normal(gain = selu)",
     normal_ref(torch.nn.init.calculate_gain("selu") / math.sqrt(fi))),
    ("lecun_uniform_gain_leaky", "lecun_uniform(gain = leaky_relu)",
     uniform_ref(torch.nn.init.calculate_gain("leaky_relu") * math.sqrt(3.0 / fi))),
    # torch.nn.init.orthogonal_'s steps with numpy's QR (LAPACK); wide
    # [5, 12] (orthonormal rows) and, with a 4th field, tall [20, 12].
    ("orthogonal", "orthogonal", orthogonal_ref(1.0)),
    ("orthogonal_gain_tall", "orthogonal(gain = 1.5)", orthogonal_ref(1.5), (20, 12)),
]

# The same schemes through torch.nn.init's own functions, their random
# draws (Tensor.uniform_ / normal_) replaced by dlc's stream: the C weights
# must equal them (1e-12 relative: torch and dlc round the bounds in their
# own order). Schemes torch lacks (lecun with a gain) are left out.
nni = torch.nn.init
TORCH = {
    "zeros": nni.zeros_,
    "ones": nni.ones_,
    "uniform": lambda w: nni.uniform_(w, -0.3, 0.3),
    "normal": lambda w: nni.normal_(w, 0.0, 0.2),
    "xavier_uniform": nni.xavier_uniform_,
    "glorot_normal": nni.xavier_normal_,
    "he_uniform": lambda w: nni.kaiming_uniform_(w, nonlinearity="relu"),
    "kaiming_normal": lambda w: nni.kaiming_normal_(w, nonlinearity="relu"),
    "lecun_uniform": lambda w: nni.kaiming_uniform_(w, nonlinearity="linear"),
    "lecun_normal": lambda w: nni.kaiming_normal_(w, nonlinearity="linear"),
    "xavier_uniform_gain_tanh": lambda w: nni.xavier_uniform_(w, gain=nni.calculate_gain("tanh")),
    "xavier_normal_gain": lambda w: nni.xavier_normal_(w, gain=2.0),
    "kaiming_uniform_a": lambda w: nni.kaiming_uniform_(w, a=0.2),
    "he_normal_a": lambda w: nni.kaiming_normal_(w, a=0.1),
    "orthogonal": nni.orthogonal_,
    "orthogonal_gain_tall": lambda w: nni.orthogonal_(w, gain=1.5),
}


def torch_init(name, rng, rows, cols):
    """TORCH[name] on a float64 [rows, cols] tensor, drawing from rng."""
    def uniform_(self, a=0.0, b=1.0):
        values = [a + (b - a) * u for u in rng.uniforms(self.numel())]
        return self.copy_(torch.tensor(values, dtype=torch.float64).reshape(self.shape))

    def normal_(self, mean=0.0, std=1.0):
        values = [mean + std * rng.normal() for _ in range(self.numel())]
        return self.copy_(torch.tensor(values, dtype=torch.float64).reshape(self.shape))

    saved = torch.Tensor.uniform_, torch.Tensor.normal_
    torch.Tensor.uniform_, torch.Tensor.normal_ = uniform_, normal_
    try:
        w = torch.empty(rows, cols, dtype=torch.float64)
        with torch.no_grad():
            TORCH[name](w)
        return w.numpy()
    finally:
        torch.Tensor.uniform_, torch.Tensor.normal_ = saved


DRIVER = r"""
#include <stdio.h>
#include "model.h"
int main(int argc, char **argv)
{
    model *m = model_create(%d);
    if (!m || argc < 2)
        return 1;
    FILE *f = fopen(argv[1], "wb");
    if (!f || fwrite(model_params(m), sizeof(double), MODEL_PARAM_COUNT, f) != MODEL_PARAM_COUNT)
        return 1;
    fclose(f);
    model_destroy(m);
    return 0;
}
"""


def run(dlc, lib, tmp, name, init, units, fan_in):
    d = os.path.join(tmp, "init-" + name)
    os.makedirs(d, exist_ok=True)
    net = os.path.join(d, "net.net")
    with open(net, "w") as f:
        f.write("model t\ninput x : f32[%d]\nlabel y : class(3)\n"
                "h = dense(x, %d, init = %s)\nloss cross_entropy(dense(h, 3), y)\n"
                % (fan_in, units, init))
    subprocess.run([dlc, "--precision=f64", "--prefix", "model", net, "-o",
                    os.path.join(d, "model.c")], check=True, capture_output=True)
    subprocess.run([dlc, "--emit=torch", net, "-o", os.path.join(d, "twin.py")],
                   check=True, capture_output=True)
    with open(os.path.join(d, "main.c"), "w") as f:
        f.write(DRIVER % SEED)
    exe = os.path.join(d, "dump")
    subprocess.run(["cc", "-std=c99", "-O0", "-Iruntime", "-I" + d, "-o", exe,
                    os.path.join(d, "main.c"), os.path.join(d, "model.c"), lib,
                    "-lopenblas", "-lz", "-lm"], check=True, capture_output=True)
    out = os.path.join(d, "params.bin")
    subprocess.run([exe, out], check=True)
    c = np.fromfile(out, dtype=np.float64)
    spec = importlib.util.spec_from_file_location("twin_" + name, os.path.join(d, "twin.py"))
    tw = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tw)
    return c, tw


def main():
    dlc, lib, tmp = sys.argv[1:4]
    only = sys.argv[4:]
    passed = failed = 0
    for case in CASES:
        name, init, ref = case[:3]
        units, fan_in = case[3] if len(case) > 3 else (UNITS, FAN_IN)
        if only and name not in only:
            continue
        try:
            c, tw = run(dlc, lib, tmp, name, init, units, fan_in)
            m = tw.Model(dtype=torch.float64, seed=SEED)
            twin = m.h_w.detach().numpy()
            want = ref(tw.Rng(SEED), units, fan_in)
            c_w = c[:units * fan_in].reshape(units, fan_in)
            why = []
            if hasattr(ref, "gain"):
                # W W^T (wide) or W^T W (tall) = gain^2 I, for the C weights.
                g = c_w @ c_w.T if units <= fan_in else c_w.T @ c_w
                err = np.max(np.abs(g - ref.gain ** 2 * np.eye(g.shape[0])))
                if not err <= 1e-5:
                    why.append("C weights not orthogonal: |W W^T - gain^2 I| = %.3g" % err)
            # Bit for bit, but for orthogonal: C's Householder QR and LAPACK's
            # (torch.linalg.qr) round differently, so within 1e-12.
            c_twin = np.max(np.abs(c_w - twin))
            if not (c_twin <= 1e-12 if hasattr(ref, "gain") else np.array_equal(c_w, twin)):
                why.append("C and twin differ by %.3g" % c_twin)
            scale = max(np.max(np.abs(want)), 1e-300)
            err = np.max(np.abs(twin - want)) / scale
            if not err <= 1e-12:
                why.append("twin differs from the formula by %.3g relative" % err)
            if name in TORCH:
                ref_t = torch_init(name, tw.Rng(SEED), units, fan_in)
                err = np.max(np.abs(c_w - ref_t)) / max(np.max(np.abs(ref_t)), 1e-300)
                if not err <= 1e-12:
                    why.append("C differs from torch.nn.init's own function by %.3g relative" % err)
            if why:
                print("FAIL init %s: %s" % (name, "; ".join(why)))
                failed += 1
            else:
                print("ok init %s" % name)
                passed += 1
        except (subprocess.CalledProcessError, OSError, AttributeError) as e:
            detail = getattr(e, "stderr", b"") or b""
            print("FAIL init %s: %s %s" % (name, e, detail.decode(errors="replace")[:300]))
            failed += 1
    print("init_schemes: %d passed, %d failed" % (passed, failed))


if __name__ == "__main__":
    main()
