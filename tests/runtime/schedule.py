"""schedule.py: runtime/schedule.c's learning rates against torch.optim.lr_scheduler.

    schedule.py SCHED_SEQ      (tests/runtime/run.sh runs it)

For each case below, SCHED_SEQ (tests/runtime/sched_seq.c) prints the
learning rate (and momentum) of two param groups for every step of a short
run; torch.optim.lr_scheduler steps the same schedule over a torch.optim
optimizer with the same two groups (per epoch, per batch for OneCycleLR;
ReduceLROnPlateau on the same validation losses). Every value must agree
within 1e-12 relative. Prints ok/FAIL per case and "schedule: N passed, M failed".
"""
import math
import subprocess
import sys
import warnings

import torch

warnings.simplefilter("ignore")
S = torch.optim.lr_scheduler

KINDS = ["constant", "step", "multistep", "exponential", "cosine", "cosine_restarts",
         "onecycle", "plateau"]
# Each kind's arguments in runtime/schedule.c's order, with defaults.
ARGS = {
    "constant": [],
    "step": [("step_size", None), ("gamma", 0.1)],
    "multistep": [("milestones", None), ("gamma", 0.1)],
    "exponential": [("gamma", None)],
    "cosine": [("t_max", None), ("eta_min", 0.0)],
    "cosine_restarts": [("t_0", None), ("t_mult", 1), ("eta_min", 0.0)],
    "onecycle": [("max_lr", None), ("pct_start", 0.3), ("div_factor", 25.0),
                 ("final_div_factor", 1e4), ("anneal_strategy", "cos"), ("three_phase", False),
                 ("cycle_momentum", True), ("base_momentum", 0.85), ("max_momentum", 0.95)],
    "plateau": [("factor", 0.1), ("patience", 10), ("threshold", 1e-4), ("mode", "min"),
                ("threshold_mode", "rel"), ("cooldown", 0), ("min_lr", 0.0), ("eps", 1e-8)],
}
CHOICES = {"anneal_strategy": ["cos", "linear"], "mode": ["min", "max"],
           "threshold_mode": ["rel", "abs"]}
LOSSES = [1.0, 0.9, 0.95, 0.94, 0.8, 0.85, 0.86, 0.87, 0.7, 0.71, 0.72, 0.73, 0.74, 0.6]
BASE = [0.1, 0.03]

# name, kind, arguments, epochs, steps per epoch, warm-up epochs, optimizer
CASES = [
    ("constant", "constant", {}, 6, 2, 0, "sgd"),
    ("step", "step", {"step_size": 3, "gamma": 0.5}, 12, 2, 0, "sgd"),
    ("multistep", "multistep", {"milestones": (2, 5, 7), "gamma": 0.3}, 10, 2, 0, "sgd"),
    ("exponential", "exponential", {"gamma": 0.8}, 10, 2, 0, "sgd"),
    ("cosine", "cosine", {"t_max": 4, "eta_min": 0.001}, 14, 2, 0, "sgd"),
    ("cosine_t1", "cosine", {"t_max": 1}, 5, 2, 0, "sgd"),
    ("cosine_restarts", "cosine_restarts", {"t_0": 3, "t_mult": 2, "eta_min": 0.01}, 14, 2, 0, "sgd"),
    ("cosine_restarts_1", "cosine_restarts", {"t_0": 4}, 10, 2, 0, "sgd"),
    ("onecycle_momentum", "onecycle", {"max_lr": 0.5}, 4, 5, 0, "momentum"),
    ("onecycle_adam", "onecycle", {"max_lr": 0.01, "three_phase": True, "anneal_strategy": "linear",
                                   "pct_start": 0.25}, 4, 5, 0, "adam"),
    ("onecycle_sgd", "onecycle", {"max_lr": 0.2, "cycle_momentum": False, "div_factor": 10.0,
                                  "final_div_factor": 100.0}, 3, 7, 0, "sgd"),
    ("plateau", "plateau", {"factor": 0.5, "patience": 1, "threshold": 0.01, "cooldown": 1,
                            "min_lr": 0.01}, 14, 2, 0, "sgd"),
    ("plateau_max_abs", "plateau", {"mode": "max", "threshold_mode": "abs", "patience": 0,
                                    "threshold": 0.05}, 14, 2, 0, "sgd"),
    ("warmup_constant", "constant", {}, 6, 2, 3, "sgd"),
    ("warmup_step", "step", {"step_size": 2, "gamma": 0.5}, 10, 2, 2, "sgd"),
    ("warmup_multistep", "multistep", {"milestones": (1, 4), "gamma": 0.2}, 9, 2, 2, "sgd"),
    ("warmup_exponential", "exponential", {"gamma": 0.7}, 9, 2, 3, "sgd"),
    ("warmup_cosine", "cosine", {"t_max": 5, "eta_min": 0.002}, 12, 2, 3, "sgd"),
    ("warmup_cosine_restarts", "cosine_restarts", {"t_0": 2, "t_mult": 2}, 12, 2, 2, "sgd"),
    ("warmup_plateau", "plateau", {"factor": 0.5, "patience": 1}, 14, 2, 3, "sgd"),
]
WARMUP_START = 0.25


def full_args(kind, given):
    out = {}
    for name, default in ARGS[kind]:
        out[name] = given.get(name, default)
    if kind == "onecycle" and "cycle_momentum" not in given:
        out["cycle_momentum"] = True
    return out


def c_sequence(seq, kind, args, epochs, spe, warmup, momentum):
    words = [KINDS.index(kind), epochs, spe, warmup, WARMUP_START, len(BASE)] + BASE + [momentum] * len(BASE)
    ms = args.get("milestones") or ()
    words += [len(ms)] + list(ms)
    vals = []
    for name, _ in ARGS[kind]:
        v = args[name]
        if name == "milestones":
            v = 0
        elif name in CHOICES:
            v = CHOICES[name].index(v)
        vals.append(float(v))
    words += [len(vals)] + vals + [len(LOSSES)] + LOSSES
    r = subprocess.run([seq], input=" ".join(repr(w) for w in words), stdout=subprocess.PIPE,
                       text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stdout.strip())
    rows = []
    for line in r.stdout.split("\n"):
        if line.strip():
            f = [float(x) for x in line.split()]
            rows.append((f[2:2 + len(BASE)], f[2 + len(BASE):]))
    return rows


def torch_sequence(kind, args, epochs, spe, warmup, opt):
    p = [torch.zeros(1, requires_grad=True) for _ in BASE]
    groups = [{"params": [q], "lr": lr} for q, lr in zip(p, BASE)]
    if opt == "adam":
        o = torch.optim.Adam(groups, betas=(0.9, 0.999))
    elif opt == "momentum":
        o = torch.optim.SGD(groups, momentum=0.9)
    else:
        o = torch.optim.SGD(groups)
    warm = main = plateau = None
    if warmup:
        warm = S.LinearLR(o, start_factor=WARMUP_START, end_factor=1.0, total_iters=warmup)
    a = args
    if kind == "step":
        main = S.StepLR(o, step_size=a["step_size"], gamma=a["gamma"])
    elif kind == "multistep":
        main = S.MultiStepLR(o, milestones=list(a["milestones"]), gamma=a["gamma"])
    elif kind == "exponential":
        main = S.ExponentialLR(o, gamma=a["gamma"])
    elif kind == "cosine":
        main = S.CosineAnnealingLR(o, T_max=a["t_max"], eta_min=a["eta_min"])
    elif kind == "cosine_restarts":
        main = S.CosineAnnealingWarmRestarts(o, T_0=a["t_0"], T_mult=a["t_mult"], eta_min=a["eta_min"])
    elif kind == "onecycle":
        main = S.OneCycleLR(o, max_lr=a["max_lr"], epochs=epochs, steps_per_epoch=spe,
                            pct_start=a["pct_start"], anneal_strategy=a["anneal_strategy"],
                            div_factor=a["div_factor"], final_div_factor=a["final_div_factor"],
                            three_phase=a["three_phase"], cycle_momentum=a["cycle_momentum"],
                            base_momentum=a["base_momentum"], max_momentum=a["max_momentum"])
    elif kind == "plateau":
        plateau = S.ReduceLROnPlateau(o, mode=a["mode"], factor=a["factor"], patience=a["patience"],
                                      threshold=a["threshold"], threshold_mode=a["threshold_mode"],
                                      cooldown=a["cooldown"], min_lr=a["min_lr"], eps=a["eps"])
    elif warm is not None:
        main = S.LambdaLR(o, lambda e: 1.0)
    sched = main
    if warm is not None and main is not None:
        sched = S.SequentialLR(o, [warm, main], milestones=[warmup])
    rows = []
    for e in range(epochs):
        for b in range(spe):
            lrs = [g["lr"] for g in o.param_groups]
            moms = [g["betas"][0] if opt == "adam" else g.get("momentum", 0.9) for g in o.param_groups]
            if opt == "sgd":
                moms = [0.9] * len(BASE)
            rows.append((lrs, moms))
            o.step()
            if kind == "onecycle":
                sched.step()
        if kind == "plateau":
            if e + 1 <= warmup:
                warm.step()
            else:
                plateau.step(LOSSES[e])
        elif kind != "onecycle" and sched is not None:
            sched.step()
    return rows


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


def main():
    seq = sys.argv[1]
    passed = failed = 0
    for name, kind, given, epochs, spe, warmup, opt in CASES:
        args = full_args(kind, given)
        if opt == "sgd" and kind == "onecycle":
            args["cycle_momentum"] = False
        try:
            c = c_sequence(seq, kind, args, epochs, spe, warmup, 0.9)
            t = torch_sequence(kind, args, epochs, spe, warmup, opt)
        except Exception as ex:  # one case's trouble is its own FAIL
            print("FAIL schedule %s: %s: %s" % (name, type(ex).__name__, ex))
            failed += 1
            continue
        worst, changes = 0.0, len({tuple(r[0]) for r in t})
        for (cl, cm), (tl, tm) in zip(c, t):
            for x, y in zip(cl + cm, tl + tm):
                worst = max(worst, rel(x, y))
        if len(c) != len(t):
            worst = math.inf
        if worst <= 1e-12 and (changes > 1 or kind == "constant" and not warmup):
            print("ok schedule %s: %d steps, %d distinct lrs, max rel err %.1e" % (name, len(t), changes, worst))
            passed += 1
        else:
            print("FAIL schedule %s: max rel err %.1e, %d distinct lrs" % (name, worst, changes))
            for k, ((cl, cm), (tl, tm)) in enumerate(zip(c, t)):
                print("   step %d: C %s %s  torch %s %s" % (k, cl, cm, tl, tm))
            failed += 1
    print("schedule: %d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
