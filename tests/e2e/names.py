"""names.py: any name a user may choose gives clean C (tests/e2e/run.sh runs it).

    names.py DLC OUTDIR

Candidate names: C keywords, names of the C library, libm and OpenBLAS, the
generated code's own locals, parameters and struct members, names built on
the model's prefix, gradient-like and underscore variants, and every
identifier that appears in generated code itself (a --main trainer in f32
and a model in f64 with --check-numerics, from a net of safe names). A
candidate the front end refuses (a keyword of the .net language, an op
name) is skipped.

The rest are used in every role at once, one net per role:

  input    all candidates as inputs, summed into a dense layer, each also
           through every elementwise op whose kernel declares locals
  label    all as labels, one cross_entropy term each
  target   all as targets, one mse or l1 term each
  binding  all as a chain of bindings through every op, with a stage of
           the forward pass on a pool among them (each binding's
           dense layer makes parameters NAME_w, NAME_b); every other one an
           output; also built with --main (the trainer), and in f64 with
           --check-numerics
  output   all as outputs

Each net is compiled, built with -std=c99 -Wall -Wextra -pedantic -Werror
and linked with a small program that creates the model and runs a training
step, evaluate and forward on it; the step's loss must be finite. Its
PyTorch twin must load and train a step too. Prints
ok/FAIL lines and "names: N passed, M failed".
"""
import concurrent.futures
import os
import re
import subprocess
import sys

MODEL = "nm"            # the model name, so prefix-built names are "nm_..."
CHUNK = 120            # names per net
SAFE = ("q9_in", "q9_y", "q9_out", "q9_sum", "q9_h")   # the nets' own names

C_KEYWORDS = """auto break case char const continue default do double else enum extern
float for goto if inline int long register restrict return short signed sizeof
static struct switch typedef union unsigned void volatile while _Bool _Complex
_Imaginary _Alignas _Atomic _Noreturn _Static_assert _Thread_local""".split()
LIBRARY = """exp expf log logf sqrt sqrtf tanh tanhf fabs fabsf pow powf fmax fmaxf fmin
fminf isnan isinf isfinite signbit nan nanf printf fprintf snprintf sprintf puts
malloc calloc realloc free abs labs exit abort memcpy memset memmove memcmp strcmp
strlen strcpy qsort rand srand atoi strtod errno assert NULL EOF NAN INFINITY
HUGE_VAL HUGE_VALF FILE stdin stdout stderr size_t ptrdiff_t int32_t uint64_t
uint8_t int64_t uintptr_t INT_MAX SIZE_MAX UINT64_C INT32_C M_PI bool true false
cblas_sgemm cblas_dgemm cblas_saxpy CblasRowMajor CblasColMajor CblasNoTrans
CblasTrans CBLAS_ORDER CBLAS_TRANSPOSE openblas_set_num_threads blasint
dlrt_rng dlrt_rng_uniform dlrt_train_main dlrt_ckpt div_t float_t double_t
va_list offsetof main I complex xdouble sched_priority BLASFUNC BLASLONG bfloat16
isunordered pid_t time_t clock_t SEEK_SET""".split()
# Names that collide with each other once mangled or derived (x and its
# gradient d_x, a dropout's mask, a parameter's optimizer state, n and n_):
# first, so that they share one net.
CLASHES = """n n_ n__ m m_ x d_x x_ h h_mask d_h h_w_avg q9_out_w_ d_q9_out_w loss_probs
t1 t2 d_t2 arena nm nm_ nm_forward_pass""".split()
LOCALS = """m x n i j k r s t b y z p w g c e ex arena params grads step rng error err
loss_sum total scale diff dp dot max sum lse shift xr yr zr pr dxr dyr row best
correct has_nan chunk start training accuracy seed block base values path api
argc argv bias1 bias2_sqrt step_size momentum_buffer exp_avg exp_avg_sq mask
probs scratch d d_x d_w x_ n_ m_ n__ _x __x _X tmp out result
v a xv xv2 th ez xp3 inner dl dr cdf pdf v2 first count part parts ctx job
x_at x_own x_here""".split()
PREFIXED = [MODEL, MODEL + "_", MODEL + "_w", MODEL + "_forward_pass", MODEL + "_loss_pass",
            MODEL + "_backward_pass", MODEL + "_labels_ok", MODEL + "_train_step",
            MODEL + "_create", MODEL + "_update", MODEL + "_checkpoint", MODEL + "_forward",
            MODEL + "_param_table", MODEL.upper() + "_BATCH", MODEL.upper() + "_PARAM_COUNT",
            MODEL.upper(), MODEL.upper() + "_H", "api_create", "api_train_step"]
HEADER = """#include "{h}"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
"""


def run(args, **kw):
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def identifiers(path):
    """Every identifier in a C file, outside comments and strings."""
    text = open(path).read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r'"(\\.|[^"\\])*"', " ", text)
    return set(re.findall(r"\b[A-Za-z_][A-Za-z0-9_]*\b", text))


# Bindings of 200 values: a stage of the forward pass on a pool
# (emit_passes.c), the named prologue {p} before a 200 x 200 layer and a
# chain after it. Never outputs (the test program's are of 3 values).
WIDE = ["tanh(dense({p}, 200))", "({p} - 0.5) * 2", "gelu(dense({p}, 200)) + {p}"]


# Elementwise ops whose kernels declare locals (xv, th, ...): every input
# goes through each, so that an input of that name would be shadowed.
ELEMENTWISE = ["gelu({x})", "gelu({x}, approximate = \"tanh\")", "mish({x})", "softplus({x})",
               "softplus({x}, beta = 2)", "hardsigmoid({x})", "silu({x})", "elu({x})",
               "selu({x})", "hardtanh({x})"]


def binding_net(names, trainer=False):
    """A chain of bindings named `names`, through every op (and a stage of
    the forward pass on a pool)."""
    ops = ["relu(dense({p}, 3))", "tanh(dense({p}, 3))", "sigmoid(dense({p}, 3))",
           "leaky_relu(dense({p}, 3), 0.1)", "softmax(dense({p}, 3))",
           "log_softmax(dense({p}, 3))", "dropout(dense({p}, 3), 0.25)",
           "dense({p}, 3) * {p} + 1", "dense({p}, 3) - {p}", "-dense({p}, 3) / 2",
           "flatten(dense({p}, 3, bias = false))",
           "gelu(dense({p}, 3))", "gelu(dense({p}, 3), approximate = \"tanh\")",
           "mish(dense({p}, 3))", "softplus(dense({p}, 3))", "hardsigmoid(dense({p}, 3))",
           "silu(dense({p}, 3))", "elu(dense({p}, 3))", "selu(dense({p}, 3))",
           "hardtanh(dense({p}, 3))",
           ] + WIDE + ["relu(dense({p}, 3))"]
    lines = ["model %s" % MODEL, "input q9_in : f32[3]", "label q9_y : class(3)"]
    lines += [] if trainer else ["target q9_t : f32[3]"]
    prev = "q9_in"
    for k, name in enumerate(names):
        op = ops[k % len(ops)]
        out = "output " if k % 2 and op not in WIDE else ""   # outputs: 3 values
        lines.append("%s%s = %s" % (out, name, op.format(p=prev)))
        prev = name
    lines += ["output q9_out = dense(%s, 3)" % prev,
              "loss cross_entropy(q9_out, q9_y)" if trainer else
              "loss cross_entropy(q9_out, q9_y) + 0.5 * mse(q9_out, q9_t) + 0.1 * l1(%s, q9_t)" % prev,
              "train {", "    optimizer adam(lr = 0.01)", "    batch 4", "}", ""]
    return "\n".join(lines)


def role_net(role, names):
    lines = ["model %s" % MODEL]
    if role == "input":
        lines += ["input %s : f32[3]" % nm for nm in names]
        # each input through every elementwise kernel with locals of its own
        lines += ["q9_e%d = %s" % (k, " + ".join(f.format(x=nm) for f in ELEMENTWISE))
                  for k, nm in enumerate(names)]
        lines += ["q9_s = " + " + ".join(names)]
        lines += ["label q9_y : class(3)",
                  "q9_sum = q9_s + " + " + ".join("q9_e%d" % k for k in range(len(names))),
                  "output q9_out = dense(q9_sum, 3)", "loss cross_entropy(q9_out, q9_y)"]
    elif role == "label":
        lines += ["input q9_in : f32[3]"] + ["label %s : class(3)" % nm for nm in names]
        lines += ["output q9_out = dense(q9_in, 3)",
                  "loss " + " + ".join("cross_entropy(q9_out, %s)" % nm for nm in names)]
    elif role == "target":
        lines += ["input q9_in : f32[3]"] + ["target %s : f32[3]" % nm for nm in names]
        lines += ["output q9_out = dense(q9_in, 3)",
                  "loss " + " + ".join("%s(q9_out, %s)" % ("mse" if k % 2 else "l1", nm)
                                       for k, nm in enumerate(names))]
    elif role == "output":
        lines += ["input q9_in : f32[3]", "target q9_t : f32[3]"]
        lines += ["output %s = tanh(dense(q9_in, 3))" % nm for nm in names]
        lines += ["q9_sum = " + " + ".join(names), "loss mse(q9_sum, q9_t)"]
    lines += ["train {", "    optimizer sgd(lr = 0.01)", "    batch 4", "}", ""]
    return "\n".join(lines)


def decls(net):
    """(inputs, labels, targets, outputs) in declaration order, with sizes."""
    ins, labels, targets, outs = [], [], [], []
    for line in net.split("\n"):
        m = re.match(r"(input|label|target)\s+(\w+)\s*:", line)
        if m:
            {"input": ins, "label": labels, "target": targets}[m.group(1)].append(m.group(2))
        m = re.match(r"output\s+(\w+)\s*=", line)
        if m:
            outs.append(m.group(1))
    return ins, labels, targets, outs


def harness(h, net, real):
    """A program that trains one step, evaluates and runs forward."""
    ins, labels, targets, outs = decls(net)
    P = MODEL
    c = [HEADER.format(h=h), "int main(void)", "{"]
    c.append("    %s *m = %s_create(1);" % (P, P))
    c.append("    if (!m) return 1;")
    args, fargs = [], []
    for k, nm in enumerate(ins):
        c.append("    static %s a%d[4 * 3];" % (real, k))
        c.append("    for (int i = 0; i < 12; i++) a%d[i] = (%s)(i %% 5) / 4;" % (k, real))
        args.append("a%d" % k)
        fargs.append("a%d" % k)
    truths = [nm for nm in re.findall(r"^(?:label|target)\s+(\w+)", net, re.M)]
    for k, nm in enumerate(truths):
        if nm in labels:
            c.append("    static int32_t l%d[4] = {0, 1, 2, 1};" % k)
        else:
            c.append("    static %s l%d[4 * 3];" % (real, k))
        args.append("l%d" % k)
    # All labels come first, then targets (docs/generated-api.md).
    args = args[:len(ins)] + ["l%d" % k for k, nm in enumerate(truths) if nm in labels] + \
        ["l%d" % k for k, nm in enumerate(truths) if nm not in labels]
    for k, nm in enumerate(outs):
        c.append("    static %s o%d[4 * 3];" % (real, k))
    a = ", ".join(args)
    c.append("    %s loss = %s_train_step(m, %s, 4);" % (real, P, a))
    c.append("    double acc;")
    c.append("    %s ev = %s_evaluate(m, %s, 4, &acc);" % (real, P, a))
    c.append("    %s_forward(m, %s, 4%s);" % (P, ", ".join(fargs), "".join(", o%d" % k for k in range(len(outs)))))
    c.append('    printf("loss %g evaluate %g\\n", (double)loss, (double)ev);')
    c.append("    %s_destroy(m);" % P)
    c.append("    return !(isfinite(loss) && isfinite(ev));")
    c.append("}")
    return "\n".join(c) + "\n"


CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", "-O0", "-Iruntime"]
LIBS = ["build/libdlrt.a", "-lopenblas", "-lz", "-lm"]


def check(dlc, d, name, net, flags=(), main=False):
    """Compiles, builds and runs one net; returns None or why it failed."""
    src = os.path.join(d, name + ".net")
    with open(src, "w") as f:
        f.write(net)
    c = os.path.join(d, name + ".c")
    r = run([dlc] + list(flags) + (["--main"] if main else []) + [src, "-o", c])
    if r.returncode != 0:
        return "dlc failed: " + r.stderr.strip()[:400]
    exe = os.path.join(d, name)
    srcs = [c]
    if not main:
        real = "double" if "--precision=f64" in flags else "float"
        hc = os.path.join(d, name + "_main.c")
        with open(hc, "w") as f:
            f.write(harness(name + ".h", net, real))
        srcs.append(hc)
    r = run(["cc"] + CFLAGS + ["-I" + d, "-o", exe] + srcs + LIBS)
    if r.returncode != 0:
        lines = [l for l in r.stderr.split("\n") if "error" in l]
        return "cc failed (%d errors): %s" % (len(lines), " | ".join(lines[:3])[:600])
    if main:
        r = run([exe, "--help"])
        return None if r.returncode == 0 else "trainer --help exited %d" % r.returncode
    r = run([exe])
    return None if r.returncode == 0 else "run: exit %d: %s" % (r.returncode, (r.stdout + r.stderr).strip()[:200])


def twin_check(dlc, d, name):
    """The net's PyTorch twin: loss, backward, forward and a step on zeros."""
    import importlib.util
    import torch
    path = os.path.join(d, name + "_twin.py")
    r = run([dlc, "--emit=torch", os.path.join(d, name + ".net"), "-o", path])
    if r.returncode != 0:
        return "dlc --emit=torch failed: " + r.stderr.strip()[:300]
    try:
        spec = importlib.util.spec_from_file_location("twin_" + name, path)
        tw = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(tw)
        m = tw.Model()
        args = [torch.zeros((4,) + tuple(shape)) for _, shape in tw.INPUTS]
        for _, kind, what in tw.LABELS:
            args.append(torch.zeros(4, dtype=torch.long) if kind == "label"
                        else torch.zeros((4,) + tuple(what)))
        m.forward(*args[:len(tw.INPUTS)])
        m.train_step(m.make_optimizer(), *args)
    except Exception as e:  # report it as the test's failure
        return "%s: %s" % (type(e).__name__, str(e)[:300])
    return None


def accepted(dlc, d, name, role):
    """Whether the front end takes `name` in this role (else the user cannot choose it)."""
    net = role_net(role, [name]) if role != "binding" else binding_net([name])
    net = net.replace("model %s" % MODEL, "model q9_model")   # only the name is on trial
    src = os.path.join(d, "probe-%s-%s.net" % (role, name))
    with open(src, "w") as f:
        f.write(net)
    return run([dlc, "--emit=none", src]).returncode == 0


def main():
    dlc, d = sys.argv[1], sys.argv[2]
    os.makedirs(d, exist_ok=True)
    passed = failed = 0

    def report(name, why):
        nonlocal passed, failed
        if why:
            print("FAIL names-%s: %s" % (name, why))
            failed += 1
        else:
            print("ok names-%s" % name)
            passed += 1

    # The generated code's own identifiers, from nets of safe names.
    seen = set()
    for tag, flags, main_ in (("main", [], True), ("f64", ["--precision=f64", "--check-numerics"], False)):
        base = binding_net(["q9_h%d" % k for k in range(11)], trainer=main_)
        why = check(dlc, d, "base_" + tag, base, flags, main_)
        report("baseline-" + tag, why)
        if not why:
            seen |= identifiers(os.path.join(d, "base_%s.c" % tag))
            seen |= identifiers(os.path.join(d, "base_%s.h" % tag))
    seen = {s for s in seen if not s.startswith("q9_")}
    candidates, upper = [], set()
    for s in CLASHES + C_KEYWORDS + LIBRARY + LOCALS + PREFIXED + sorted(seen):
        # Names that differ only in case make the same header macro, which
        # the front end refuses in one net: keep the first.
        if s not in candidates and s not in SAFE and s.upper() not in upper:
            candidates.append(s)
            upper.add(s.upper())

    # What the front end takes: declared names (input, label, target) follow
    # one rule, bound names (bindings, outputs) another.
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        takes = {role: set(s for s, ok in zip(candidates, pool.map(
                     lambda s: accepted(dlc, d, s, role), candidates)) if ok)
                 for role in ("input", "binding")}
    jobs = []
    for role in ("input", "label", "target", "binding", "output"):
        names = [s for s in candidates if s in takes["binding" if role in ("binding", "output") else "input"]]
        skipped = len(candidates) - len(names)
        # Chunks: one expression may nest only so deep.
        for k in range(0, len(names), CHUNK):
            part = names[k:k + CHUNK]
            tag = "%s-%d (%d names%s)" % (role, k // CHUNK + 1, len(part),
                                          ", %d refused by the front end" % skipped if k == 0 else "")
            if role == "binding":
                jobs.append((tag, ("binding%d" % k, binding_net(part))))
                jobs.append((tag.replace("binding", "binding-f64-check-numerics", 1),
                             ("binding_f64_%d" % k, binding_net(part),
                              ["--precision=f64", "--check-numerics"])))
                jobs.append((tag.replace("binding", "binding-main", 1),
                             ("binding_main%d" % k, binding_net(part, trainer=True), (), True)))
            else:
                jobs.append((tag, ("%s%d" % (role, k), role_net(role, part))))
    # Two builds at a time: cc dominates.
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda job: check(dlc, d, *job[1]), jobs))
    for (tag, _), why in zip(jobs, results):
        report(tag, why)
    # The PyTorch twin of each net (f32, no trainer) loads and trains a step.
    for tag, job in jobs:
        if len(job) == 2:
            report("twin-" + tag.split(" ")[0], twin_check(dlc, d, job[0]))
    print("names: %d passed, %d failed" % (passed, failed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
