#!/usr/bin/python3
"""dlc-sweep: train a .net file over a grid or a random search of its
compile-time params (-D) and trainer settings, pick the best setting on the
validation split, and report its test metric.

    dlc-sweep [OPTION]... NET [-- TRAINER-OPTION...]

`make` builds it as build/dlc-sweep (a copy of scripts/dlc-sweep.py); it
needs Python 3's standard library, build/dlc, build/libdlrt.a, runtime/ and
a C compiler. docs/optimizers.md section 6 describes it; --help below is
the reference.
"""
import concurrent.futures
import itertools
import math
import os
import random
import re
import shlex
import subprocess
import sys
import time

USAGE = """usage: dlc-sweep [OPTION]... NET [-- TRAINER-OPTION...]

Trains NET (a .net file) once per setting of a grid or a random search over
its compile-time params and its trainer's run-time settings, each trial on
the training data with the validation split held out; prints a table of
the validation results, the best setting, and that setting's test metric.

What varies (each option repeatable, any mix):
  -D NAME=SPEC      a param of NET (`param NAME = ...`), compiled in with
                    `dlc -D NAME=VALUE`
  -R NAME=SPEC      a run-time setting, passed to the trainer as --NAME VALUE
                    (epochs, validation, seed, limit, or any flag the
                    trainer's --help lists)
  -S KEY=VALUE      a line of NET's train block, `KEY VALUE`, in place of
                    the file's (or added to it); each -S with the same KEY
                    adds one value: -S 'optimizer=adam(lr = 1e-3)'
                    -S 'optimizer=sgd(lr = 0.1)' compares two optimizers
                    (also no_decay, weight_decay, init, clip_norm, ...)
  --lr SPEC         the learning rate: -D lr=SPEC when NET declares
                    `param lr` (write `optimizer adam(lr = lr)`), else
                    -R lr=SPEC when the trainer takes --lr
SPEC is a list of values, V1,V2,... (a grid axis), or a range:
  log:LO:HI         log-uniform in [LO, HI] (learning rates, weight decay)
  lin:LO:HI         uniform in [LO, HI]
  int:LO:HI         a whole number from LO to HI, each equally likely
Ranges need --trials (a random search).

Search:
  --trials N        random search: N trials, each drawing every range and
                    picking one value of every list (without --trials: the
                    full grid of the lists, every combination once; with it
                    and lists only: N distinct combinations of the grid)
  --seed S          the search's random seed (default 1): the same seed
                    draws the same trials
  --jobs J          trials (and compiles) at once (default 2: both cores;
                    each trainer uses one thread)
  --metric M        val_acc (highest wins; the default when NET's loss has
                    a cross_entropy term) or val_loss (lowest wins)
  --repeats K       train every setting K times, with the trainer seeds S,
                    S+1, ..., S+K-1 (S: the net's seed, or --seed S after
                    --), and rank on the mean; the table adds the standard
                    deviation (default 1)

Files:
  --dir DIR         where the builds, checkpoints, logs and results.csv go
                    (default build/sweep/NAME, NAME the file's base name)
  --dlc PATH        the compiler (default: dlc next to this program)
  --lib PATH        libdlrt.a (default: next to this program)
  --include DIR     the runtime headers (default: ../runtime from this
                    program, the source tree's runtime/)
  CC and CFLAGS in the environment choose the C compiler and its flags
  (default cc, -O3 -march=native -fno-math-errno as the Makefile builds
  the examples)

TRAINER-OPTIONs after `--` go to every trial as they are: the data
(--train-csv ..., --limit N), --epochs, --validation, --seed. Each trial
writes its own checkpoint; the trainer evaluates it on the test set as
always, but the sweep chooses on the validation metric alone and shows the
test metric of the chosen trial only.

  -h, --help        this text

A trial that fails (a NaN loss) or whose combination dlc refuses is a row
saying so. Exit status: 0 with a best trial, 1 when no trial finished (or
no build succeeded), 2 for a bad command line.

Examples:
  dlc-sweep -D hidden=64,128,256 -R epochs=1,2 examples/fashion_mlp.net \\
      -- --limit 20000
  dlc-sweep --lr log:1e-4:1e-2 -D hidden=int:32:256 --trials 6 --seed 1 NET
      (NET declares `param lr` and `param hidden` and uses them)
"""


class Usage(Exception):
    pass


class Axis:
    """One thing a sweep varies: a -D param or a trainer flag."""

    def __init__(self, kind, name, spec):
        self.kind = kind          # "D" or "R"
        self.name = name
        self.spec = spec
        self.values = None        # a list of strings (grid axis)
        self.range = None         # (how, lo, hi)
        m = re.match(r"^(log|lin|int):([^:]+):([^:]+)$", spec)
        if m:
            how = m.group(1)
            try:
                lo, hi = float(m.group(2)), float(m.group(3))
            except ValueError:
                raise Usage("%s: %s: LO and HI must be numbers" % (self.label(), spec))
            if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
                raise Usage("%s: %s: needs LO <= HI" % (self.label(), spec))
            if how == "log" and lo <= 0:
                raise Usage("%s: %s: a log-uniform range needs LO > 0" % (self.label(), spec))
            if how == "int" and (lo != int(lo) or hi != int(hi)):
                raise Usage("%s: %s: an int range needs whole LO and HI" % (self.label(), spec))
            self.range = (how, lo, hi)
        else:
            values = [v.strip() for v in spec.split(",")]
            if not spec or any(not v for v in values):
                raise Usage("%s: '%s' is no list of values (V1,V2,...) and no range "
                            "(log:LO:HI, lin:LO:HI, int:LO:HI)" % (self.label(), spec))
            self.values = values

    def label(self):
        return {"D": "-D %s", "R": "--%s", "S": "%s"}[self.kind] % self.name

    def draw(self, rng):
        how, lo, hi = self.range
        if how == "log":
            return number(math.exp(rng.uniform(math.log(lo), math.log(hi))))
        if how == "lin":
            return number(rng.uniform(lo, hi))
        return str(rng.randint(int(lo), int(hi)))


def number(x):
    """A float as dlc and the trainer read it: 4 significant digits."""
    s = "%.4g" % x
    return re.sub(r"e([+-])0*(\d)", lambda m: "e" + ("-" if m.group(1) == "-" else "") + m.group(2), s)


def parse_args(argv):
    if "--" in argv:
        k = argv.index("--")
        argv, passthrough = argv[:k], argv[k + 1:]
    else:
        passthrough = []
    opts = {"axes": [], "lr": None, "trials": None, "seed": 1, "jobs": 2, "metric": None,
            "repeats": 1,
            "dir": None, "dlc": None, "lib": None, "include": None, "net": None}
    i = 0

    def value(name):
        nonlocal i
        if "=" in argv[i] and argv[i].startswith("--"):
            return argv[i].split("=", 1)[1]
        if i + 1 >= len(argv):
            raise Usage("%s needs a value" % name)
        i += 1
        return argv[i]

    def whole(name, text, lo):
        try:
            n = int(text, 10)
        except ValueError:
            raise Usage("%s needs a whole number, not '%s'" % (name, text))
        if n < lo:
            raise Usage("%s must be at least %d, not %d" % (name, lo, n))
        return n

    while i < len(argv):
        a = argv[i]
        key = a.split("=", 1)[0] if a.startswith("--") else a
        if a in ("-h", "--help"):
            sys.stdout.write(USAGE)
            sys.exit(0)
        elif a.startswith("-D") or a.startswith("-R"):
            kind = a[1]
            body = a[2:]
            if not body:
                if i + 1 >= len(argv):
                    raise Usage("-%s needs NAME=SPEC" % kind)
                i += 1
                body = argv[i]
            if "=" not in body:
                raise Usage("-%s needs NAME=SPEC, not '%s'" % (kind, body))
            name, spec = body.split("=", 1)
            if kind == "R":
                name = name.lstrip("-")
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_-]*$", name):
                raise Usage("-%s %s: '%s' is not a name" % (kind, body, name))
            if any(x.kind == kind and x.name == name for x in opts["axes"]):
                raise Usage("-%s %s: %s is already swept" % (kind, body, name))
            opts["axes"].append(Axis(kind, name, spec))
        elif a.startswith("-S"):
            body = a[2:]
            if not body:
                if i + 1 >= len(argv):
                    raise Usage("-S needs KEY=VALUE")
                i += 1
                body = argv[i]
            if "=" not in body:
                raise Usage("-S needs KEY=VALUE, not '%s'" % body)
            name, v = body.split("=", 1)
            name, v = name.strip(), v.strip()
            if not re.match(r"^[a-z_][a-z0-9_]*$", name) or not v:
                raise Usage("-S %s: needs a train setting KEY and a VALUE" % body)
            axis = next((x for x in opts["axes"] if x.kind == "S" and x.name == name), None)
            if axis is None:
                axis = Axis("S", name, "-")
                axis.values = []
                opts["axes"].append(axis)
            if v in axis.values:
                raise Usage("-S %s: given twice" % body)
            axis.values.append(v)
        elif key == "--lr":
            opts["lr"] = value("--lr")
        elif key == "--trials":
            opts["trials"] = whole("--trials", value("--trials"), 1)
        elif key == "--seed":
            opts["seed"] = whole("--seed", value("--seed"), 0)
        elif key == "--repeats":
            opts["repeats"] = whole("--repeats", value("--repeats"), 1)
        elif key == "--jobs":
            opts["jobs"] = whole("--jobs", value("--jobs"), 1)
        elif key == "--metric":
            m = value("--metric")
            if m not in ("val_acc", "val_loss"):
                raise Usage("--metric is val_acc or val_loss, not '%s'" % m)
            opts["metric"] = m
        elif key in ("--dir", "--dlc", "--lib", "--include"):
            opts[key[2:]] = value(key)
        elif a.startswith("-") and a != "-":
            raise Usage("unknown option '%s' (trainer options go after --)" % a)
        elif opts["net"] is None:
            opts["net"] = a
        else:
            raise Usage("a second NET '%s' (trainer options go after --)" % a)
        i += 1
    if opts["net"] is None:
        raise Usage("no NET given")
    for bad in ("--checkpoint", "--resume", "--eval-only", "--overwrite"):
        if any(p == bad or p.startswith(bad + "=") for p in passthrough):
            raise Usage("%s is the sweep's own business: each trial has its checkpoint" % bad)
    return opts, passthrough


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def net_params(dlc, net):
    """The params NET declares (dlc --explain's params: section)."""
    r = run([dlc, "--explain", "--emit=none", net])
    if r.returncode != 0:
        sys.stderr.write(r.stdout)
        raise SystemExit(1)
    names, inside = [], False
    m = re.search(r"^  seed +(\d+) ", r.stdout, re.M)
    seed = int(m.group(1)) if m else 0
    for line in r.stdout.splitlines():
        if line == "params:":
            inside = True
        elif inside and line.startswith("  "):
            names.append(line.split()[0])
        elif inside:
            break
    return names, "cross_entropy" in open(net).read(), seed


def trials_of(axes, count, seed):
    """The settings, one dict name -> value string per trial, in order."""
    rng = random.Random(seed)
    grid = [a for a in axes if a.values is not None]
    ranged = [a for a in axes if a.range is not None]
    if ranged and count is None:
        raise Usage("%s is a range: a random search needs --trials N" % ranged[0].label())
    combos = list(itertools.product(*[a.values for a in grid]))
    if count is None:
        return [dict(zip([a.label() for a in grid], c)) for c in combos]
    if not ranged:
        if count > len(combos):
            raise Usage("--trials %d: the grid has only %d combinations" % (count, len(combos)))
        rng.shuffle(combos)
        return [dict(zip([a.label() for a in grid], c)) for c in combos[:count]]
    out = []
    for _ in range(count):
        t = {}
        for a in axes:
            t[a.label()] = rng.choice(a.values) if a.values is not None else a.draw(rng)
        out.append(t)
    return out


def first_error(text):
    """dlc's first `error:` line, without the file name, for a table row."""
    for line in text.splitlines():
        if ": error: " in line:
            return line.split(": error: ", 1)[1]
    return text.strip().split("\n")[-1][:200]


def with_settings(src, settings):
    """NET's text with its train block's `KEY ...` lines replaced by
    `KEY VALUE` (added after `train {` when the block has none; a train
    block added when the file has none)."""
    lines = src.split("\n")
    start = next((k for k, l in enumerate(lines) if re.match(r"^\s*train\s*\{\s*(#.*)?$", l)), None)
    if start is None:
        return src.rstrip("\n") + "\ntrain {\n" + "".join(
            "    %s %s\n" % kv for kv in settings.items()) + "}\n"
    end = next((k for k in range(start + 1, len(lines)) if re.match(r"^\s*\}", lines[k])), len(lines))
    for key, v in settings.items():
        pat = re.compile(r"^(\s*)%s(\s|$)" % re.escape(key))
        hit = [k for k in range(start + 1, end) if pat.match(lines[k])]
        if hit:
            lines[hit[0]] = pat.match(lines[hit[0]]).group(1) + "%s %s" % (key, v)
        else:
            lines.insert(start + 1, "    %s %s" % (key, v))
            end += 1
    return "\n".join(lines)


EPOCH = re.compile(r"^epoch (\d+)/\d+ .*")
VAL_LOSS = re.compile(r"  val loss (\S+)")
VAL_ACC = re.compile(r"  val acc (\S+)")


def parse_trial(text):
    """(best epoch, val loss, val acc or None), test loss, test acc and the
    training seconds from a trainer's output: the values of the epoch its
    checkpoint keeps (the last line marked *); the seconds summed over the
    epoch lines' own (training and validation, not loading or testing)."""
    best = None
    train_s = 0.0
    for line in text.splitlines():
        m = EPOCH.match(line)
        sec = re.search(r"  \((\S+) s, \S+ samples/s\)", line) if m else None
        if sec:
            train_s += float(sec.group(1))
        if m and line.rstrip().endswith("*"):
            vl = VAL_LOSS.search(line)
            va = VAL_ACC.search(line)
            if vl:
                best = (int(m.group(1)), float(vl.group(1)), float(va.group(1)) if va else None)
    tl = re.search(r"^test loss: (\S+)$", text, re.M)
    ta = re.search(r"^test accuracy: (\S+)$", text, re.M)
    return (best, float(tl.group(1)) if tl else None, float(ta.group(1)) if ta else None,
            train_s)


def main(argv):
    try:
        opts, passthrough = parse_args(argv)
    except Usage as e:
        sys.stderr.write("dlc-sweep: %s\n(dlc-sweep --help for the usage)\n" % e)
        return 2
    here = os.path.dirname(os.path.realpath(sys.argv[0]))
    dlc = opts["dlc"] or os.path.join(here, "dlc")
    lib = opts["lib"] or os.path.join(here, "libdlrt.a")
    include = opts["include"] or os.path.join(os.path.dirname(here), "runtime")
    net = opts["net"]
    for path, what in ((net, "NET"), (dlc, "dlc (--dlc)"), (lib, "libdlrt.a (--lib)"),
                       (include, "the runtime headers (--include)")):
        if not os.path.exists(path):
            sys.stderr.write("dlc-sweep: %s: no such file for %s\n" % (path, what))
            return 2
    base = os.path.splitext(os.path.basename(net))[0]
    work = opts["dir"] or os.path.join("build", "sweep", base)
    os.makedirs(work, exist_ok=True)
    params, has_acc, net_seed = net_params(dlc, net)

    axes = opts["axes"]
    try:
        for a in axes:
            if a.kind == "D" and a.name not in params:
                raise Usage("-D %s: %s declares no param '%s'%s" % (
                    a.name, net, a.name, " (its params: %s)" % ", ".join(params) if params else ""))
        if opts["lr"] is not None:
            if any(a.name == "lr" for a in axes):
                raise Usage("--lr: lr is already swept")
            if "lr" in params:
                axes.append(Axis("D", "lr", opts["lr"]))
            else:
                axes.append(Axis("R", "lr", opts["lr"]))   # checked against the trainer below
        if not axes:
            raise Usage("nothing to sweep: give -D NAME=SPEC, -R NAME=SPEC or --lr SPEC")
        for a in axes:
            if a.kind == "R" and any(p == "--" + a.name or p.startswith("--%s=" % a.name)
                                     for p in passthrough):
                raise Usage("--%s is swept (%s) and also given after --" % (a.name, a.spec))
        trials = trials_of(axes, opts["trials"], opts["seed"])
        repeats = opts["repeats"]
        seeds = [None]
        if repeats > 1:
            if any(a.kind == "R" and a.name == "seed" for a in axes):
                raise Usage("--repeats varies the trainer's seed: not with -R seed=...")
            base = net_seed
            for j, p in enumerate(passthrough):
                if p == "--seed" or p.startswith("--seed="):
                    v = p.split("=", 1)[1] if "=" in p else (
                        passthrough[j + 1] if j + 1 < len(passthrough) else "")
                    try:
                        base = int(v, 16) if v.lower().startswith("0x") else int(v, 10)
                    except ValueError:
                        raise Usage("--seed %s after --: not a whole number" % v)
                    del passthrough[j:j + (1 if "=" in p else 2)]
                    break
            seeds = [base + r for r in range(repeats)]
    except Usage as e:
        sys.stderr.write("dlc-sweep: %s\n(dlc-sweep --help for the usage)\n" % e)
        return 2
    metric = opts["metric"] or ("val_acc" if has_acc else "val_loss")
    dl = [a.label() for a in axes if a.kind == "D"]
    sl = [a.label() for a in axes if a.kind == "S"]
    rl = [a for a in axes if a.kind == "R"]

    # One build per distinct -D combination.
    cc = os.environ.get("CC", "cc")
    cflags = shlex.split(os.environ.get("CFLAGS", "-O3 -march=native -fno-math-errno"))
    builds = {}
    for t in trials:
        key = tuple(t[x] for x in dl + sl)
        if key not in builds:
            builds[key] = os.path.join(work, "build-%d" % len(builds))

    def build(key):
        d = builds[key]
        os.makedirs(d, exist_ok=True)
        defs = []
        for name, v in zip(dl, key):
            defs += ["-D", "%s=%s" % (name[3:], v)]
        source = net
        if sl:   # the train block's lines: a copy of NET with them
            source = os.path.join(d, os.path.basename(net))
            with open(source, "w") as f:
                f.write(with_settings(open(net).read(), dict(zip(sl, key[len(dl):]))))
            defs += ["(%s)" % ", ".join("%s %s" % kv for kv in zip(sl, key[len(dl):]))]
        r = run([dlc, "--main"] + [x for x in defs if not x.startswith("(")] +
                [source, "-o", os.path.join(d, "model.c")])
        if r.returncode != 0:
            return "dlc %s: %s" % (" ".join(defs), r.stdout.strip())
        r = run([cc, "-std=c99", "-D_POSIX_C_SOURCE=200809L"] + cflags +
                ["-I" + include, "-I/usr/include/openblas", "-o", os.path.join(d, "model"),
                 os.path.join(d, "model.c"), lib, "-lopenblas", "-lz", "-lm"])
        if r.returncode != 0:
            return "cc: %s" % r.stdout.strip()[:2000]
        return None

    jobs = opts["jobs"]
    print("dlc-sweep: %s, %d trial%s (%s), %d build%s, %d at a time, choosing on %s" % (
        net, len(trials), "" if len(trials) == 1 else "s",
        "random search, seed %d" % opts["seed"] if opts["trials"] else "grid",
        len(builds), "" if len(builds) == 1 else "s", jobs, metric), flush=True)
    tty = sys.stderr.isatty()
    counter = {"built": 0, "trained": 0}

    def progress(what, total):
        counter[what] += 1
        if tty:   # a line that the next one overwrites; the table follows
            sys.stderr.write("\r%s %d/%d " % (what, counter[what], total))
            sys.stderr.flush()

    def build_one(key):
        e = build(key)
        progress("built", len(builds))
        return e

    # A combination dlc refuses (a -D value out of range, adamw with the
    # block's weight_decay) is its trials' failed rows; all of them: exit 1.
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        failed = dict(zip(builds, pool.map(build_one, list(builds))))
    failed = {k: e for k, e in failed.items() if e}
    if len(failed) == len(builds):
        sys.stderr.write("%sdlc-sweep: no build succeeded; the first:\n%s\n" % (
            "\r\033[K" if tty else "", next(iter(failed.values()))))
        return 1
    if rl:
        good = next(d for k, d in builds.items() if k not in failed)
        r = run([os.path.join(good, "model"), "--help"])
        for a in rl:
            if "--%s" % a.name not in r.stdout:
                hint = (" (declare `param lr` in the net and use it in the optimizer, then "
                        "sweep it with -D lr=SPEC or --lr)" if a.name == "lr" else "")
                sys.stderr.write("dlc-sweep: --%s: the trainer takes no --%s%s\n" % (
                    a.name, a.name, hint))
                return 2

    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")

    def name(k, seed):
        """trial-K, or trial-K-seedS with --repeats."""
        return "trial-%d" % (k + 1) + ("" if seed is None else "-seed%d" % seed)

    def trial(run_id):
        k, seed = run_id
        t = trials[k]
        key = tuple(t[x] for x in dl + sl)
        log = os.path.join(work, name(k, seed) + ".log")
        if key in failed:
            with open(log, "w") as f:
                f.write("build failed: %s\n" % failed[key])
            progress("trained", len(runs))
            return None, failed[key], 0.0
        binary = os.path.join(builds[key], "model")
        cmd = [binary] + passthrough
        for a in rl:
            cmd += ["--" + a.name, t[a.label()]]
        if seed is not None:
            cmd += ["--seed", str(seed)]
        cmd += ["--checkpoint", os.path.join(work, name(k, seed) + ".ckpt"), "--overwrite",
                "--no-progress"]
        start = time.time()
        r = run(cmd, env=env)
        seconds = time.time() - start
        with open(log, "w") as f:
            f.write("$ %s\n%s" % (" ".join(shlex.quote(c) for c in cmd), r.stdout))
        progress("trained", len(runs))
        return r.returncode, r.stdout, seconds

    runs = [(k, seed) for k in range(len(trials)) for seed in seeds]
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        results = dict(zip(runs, pool.map(trial, runs)))

    if tty:
        sys.stderr.write("\r\033[K")
    rows = []
    for k in range(len(trials)):
        parsed = []
        for seed in seeds:
            status, out, seconds = results[(k, seed)]
            best, test_loss, test_acc, train_s = parse_trial(out)
            if status == 0 and best is None and re.search(r", 0 for validation,", out):
                sys.stderr.write("dlc-sweep: trial %d has no validation split: the sweep chooses "
                                 "on it; give the net `validation` > 0 or -- --validation 0.1\n"
                                 % (k + 1))
                return 2
            parsed.append((seed, status, out, seconds, best, test_loss, test_acc, train_s))
        bad = next((p for p in parsed if p[1] != 0 or p[4] is None), None)
        row = {"trial": k + 1, "status": bad[1] if bad else 0,
               "log": name(k, bad[0] if bad else seeds[0]) + ".log",
               "best": None, "sd": None,
               "seconds": sum(p[3] for p in parsed) / len(parsed),
               "train_s": sum(p[7] for p in parsed) / len(parsed),
               "test": (None, None), "ckpt": name(k, seeds[0]) + ".ckpt",
               "build_error": first_error(bad[2]) if bad and bad[1] is None else None}
        if not bad:
            mean = lambda xs: sum(xs) / len(xs)   # noqa: E731
            epochs = "/".join(str(p[4][0]) for p in parsed)
            vls = [p[4][1] for p in parsed]
            vas = [p[4][2] for p in parsed]
            row["best"] = (epochs if len(parsed) > 1 else parsed[0][4][0], mean(vls),
                           mean(vas) if None not in vas else None)
            xs = vas if metric == "val_acc" and None not in vas else vls
            if len(xs) > 1:
                row["sd"] = math.sqrt(sum((x - mean(xs)) ** 2 for x in xs) / (len(xs) - 1))
            tls = [p[5] for p in parsed]
            tas = [p[6] for p in parsed]
            row["test"] = (mean(tls) if None not in tls else None,
                           mean(tas) if None not in tas else None)
        rows.append(row)

    def score(row):
        _, vl, va = row["best"]
        return -va if metric == "val_acc" else vl

    done = [r for r in rows if r["status"] == 0 and r["best"] is not None
            and (metric == "val_loss" or r["best"][2] is not None)]
    winner = min(done, key=lambda r: (score(r), r["trial"])) if done else None

    # The table.
    head = ["trial"] + [a.label() for a in axes] + ["epoch", "val loss", "val acc"] + (
        ["sd"] if repeats > 1 else []) + ["train s", "seconds"]
    table, notes = [], []
    for r in rows:
        t = trials[r["trial"] - 1]
        cells = ["%d%s" % (r["trial"], " *" if r is winner else "")] + [t[a.label()] for a in axes]
        note = ""
        if r["best"] is None:
            cells += ["-", "-", "-"] + (["-"] if repeats > 1 else [])
            note = "  failed (exit %d): %s" % (r["status"], os.path.join(
                work, r["log"])) if r["status"] is not None else \
                "  build failed: %s" % r["build_error"]
        else:
            e, vl, va = r["best"]
            cells += [str(e), "%.4f" % vl, "%.4f" % va if va is not None else "-"]
            if repeats > 1:
                cells.append("%.4f" % r["sd"] if r["sd"] is not None else "-")
        cells += ["%.1f" % r["train_s"], "%.1f" % r["seconds"]]
        table.append(cells)
        notes.append(note)
    width = [max(len(h), *(len(c[j]) for c in table)) for j, h in enumerate(head)]
    print("  ".join(h.ljust(width[j]) for j, h in enumerate(head)).rstrip())
    for c, note in zip(table, notes):
        print(("  ".join(x.ljust(width[j]) for j, x in enumerate(c)).rstrip()) + note)
    with open(os.path.join(work, "results.csv"), "w") as f:
        f.write(",".join(["trial"] + [a.label() for a in axes] +
                         ["status", "best_epoch", "val_loss", "val_acc", "sd", "train_seconds",
                          "seconds"]) + "\n")
        for r in rows:
            t = trials[r["trial"] - 1]
            e, vl, va = r["best"] if r["best"] else ("", "", "")
            f.write(",".join(str(x) for x in [r["trial"]] + [t[a.label()] for a in axes] +
                             ["build" if r["status"] is None else r["status"], e, vl,
                              "" if va is None else va, "" if r["sd"] is None else r["sd"],
                              "%.2f" % r["train_s"], "%.2f" % r["seconds"]]) + "\n")
    if winner is None:
        if any(r["status"] == 0 and r["best"] is not None for r in rows):
            print("no trial printed a validation accuracy (the loss has no cross_entropy term): "
                  "rank with --metric val_loss")
        else:
            print("no trial finished (logs in %s)" % work)
        return 1
    t = trials[winner["trial"] - 1]
    setting = ", ".join("%s=%s" % (a.label(), t[a.label()]) if a.kind == "D"
                        else "%s %s" % (a.label(), t[a.label()]) for a in axes)
    e, vl, va = winner["best"]
    if repeats > 1:
        print("best: trial %d, %s: %s %.4f, the mean of %d runs (seeds %d to %d; sd %.4f)" % (
            winner["trial"], setting, metric.replace("_", " "),
            -score(winner) if metric == "val_acc" else vl, repeats, seeds[0], seeds[-1],
            winner["sd"]))
    else:
        print("best: trial %d, %s: %s %.4f (epoch %d)" % (
            winner["trial"], setting, metric.replace("_", " "),
            -score(winner) if metric == "val_acc" else vl, e))
    key = tuple(t[x] for x in dl + sl)
    built = " ".join(["dlc --main"] + ["-D %s=%s" % (x[3:], t[x]) for x in dl] + [shlex.quote(
        os.path.join(builds[key], os.path.basename(net)) if sl else net)])
    flags = " ".join("--%s %s" % (a.name, t[a.label()]) for a in rl)
    print("its trainer: %s (%s)%s" % (os.path.join(builds[key], "model"), built,
                                      ", run with " + flags if flags else ""))
    test_loss, test_acc = winner["test"]
    if test_loss is not None and repeats > 1:
        print("test (the mean over trial %d's %d checkpoints, %s ...): test loss %.4f%s" % (
            winner["trial"], repeats, os.path.join(work, winner["ckpt"]), test_loss,
            ", test accuracy %.4f" % test_acc if test_acc is not None else ""))
    elif test_loss is not None:
        print("test (trial %d's checkpoint, %s): test loss %.4f%s" % (
            winner["trial"], os.path.join(work, winner["ckpt"]), test_loss,
            ", test accuracy %.4f" % test_acc if test_acc is not None else ""))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
