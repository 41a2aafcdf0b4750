#!/usr/bin/python3
"""schedule_plots.py: docs/figures/schedule-*.svg, the learning rate of each
schedule as the runtime computes it (runtime/schedule.c through
tests/runtime/sched_seq.c), drawn as small hand-written SVG.

    scripts/schedule_plots.py        (from the repository root, after make)

Each plot: 20 epochs of 10 batches, base lr 0.1, the lr of every batch
(epoch-based schedules are steps; onecycle also shows its momentum).
"""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "docs", "figures")
KINDS = ["constant", "step", "multistep", "exponential", "cosine", "cosine_restarts",
         "onecycle", "plateau"]
EPOCHS, SPE, BASE = 20, 10, 0.1
# A validation loss that improves, then stalls (for plateau).
LOSSES = [1.0 / (1 + e) if e < 6 else 0.15 + 0.001 * (e % 3) for e in range(EPOCHS)]

# file, title, kind, args (runtime order; milestones apart), milestones, warm-up epochs
PLOTS = [
    ("constant", "constant", "constant", [], [], 0),
    ("step", "step(step_size = 5, gamma = 0.5)", "step", [5, 0.5], [], 0),
    ("multistep", "multistep(milestones = (6, 12, 16), gamma = 0.3)", "multistep", [0, 0.3],
     [6, 12, 16], 0),
    ("exponential", "exponential(gamma = 0.85)", "exponential", [0.85], [], 0),
    ("cosine", "cosine(t_max = 20, eta_min = 0.005)", "cosine", [20, 0.005], [], 0),
    ("cosine_restarts", "cosine_restarts(t_0 = 4, t_mult = 2, eta_min = 0.005)",
     "cosine_restarts", [4, 2, 0.005], [], 0),
    ("onecycle", "onecycle(max_lr = 0.1): lr, and momentum (dashed, right axis)", "onecycle",
     [0.1, 0.3, 25, 1e4, 0, 0, 1, 0.85, 0.95], [], 0),
    ("plateau", "plateau(factor = 0.5, patience = 2) on a loss that stalls at epoch 6",
     "plateau", [0.5, 2, 1e-4, 0, 0, 0, 0, 1e-8], [], 0),
    ("warmup_cosine", "warmup_epochs 5 (start factor 0.1), then cosine(t_max = 15)", "cosine",
     [15, 0], [], 5),
]


def sequence(seq, kind, args, milestones, warmup):
    words = [KINDS.index(kind), EPOCHS, SPE, warmup, 0.1, 1, BASE, 0.9, len(milestones)]
    words += milestones + [len(args)] + args + [len(LOSSES)] + LOSSES
    r = subprocess.run([seq], input=" ".join(str(w) for w in words), stdout=subprocess.PIPE,
                       text=True, check=True)
    rows = [line.split() for line in r.stdout.strip().split("\n")]
    return [float(x[2]) for x in rows], [float(x[3]) for x in rows]


def svg(title, lr, mom=None):
    w, h, left, right, top, bottom = 480, 220, 56, 44 if mom else 16, 28, 36
    pw, ph = w - left - right, h - top - bottom
    top_lr = max(lr) * 1.1
    n = len(lr)

    def x(i):
        return left + pw * i / (n - 1)

    def y(v, hi=top_lr, lo=0.0):
        return top + ph * (1 - (v - lo) / (hi - lo))

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
           'font-family="sans-serif" font-size="11">' % (w, h, w, h),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="16" font-size="12">%s</text>' % (left, title.replace("&", "&amp;")),
           '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (left, top + ph, left + pw, top + ph),
           '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (left, top, left, top + ph)]
    for k in range(5):   # lr ticks
        v = top_lr * k / 4
        out.append('<text x="%d" y="%.1f" text-anchor="end">%.3g</text>' % (left - 4, y(v) + 4, v))
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' % (left, y(v), left + pw, y(v)))
    for e in range(0, EPOCHS + 1, 5):   # epoch ticks
        xe = left + pw * e * SPE / (n - 1) if e < EPOCHS else left + pw
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>' % (xe, top + ph + 14, e))
    out.append('<text x="%d" y="%d" text-anchor="middle">epoch</text>' % (left + pw // 2, h - 6))
    out.append('<text x="12" y="%d" transform="rotate(-90 12 %d)" text-anchor="middle">lr</text>'
               % (top + ph // 2, top + ph // 2))
    pts = " ".join("%.1f,%.1f" % (x(i), y(v)) for i, v in enumerate(lr))
    out.append('<polyline fill="none" stroke="#1f5fbf" stroke-width="1.8" points="%s"/>' % pts)
    if mom:
        lo, hi = 0.8, 1.0
        pts = " ".join("%.1f,%.1f" % (x(i), y(v, hi, lo)) for i, v in enumerate(mom))
        out.append('<polyline fill="none" stroke="#c0392b" stroke-width="1.4" stroke-dasharray="4 3" '
                   'points="%s"/>' % pts)
        for v in (0.8, 0.85, 0.9, 0.95, 1.0):
            out.append('<text x="%d" y="%.1f">%.2f</text>' % (left + pw + 4, y(v, hi, lo) + 4, v))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    seq = os.path.join(ROOT, "build", "sched_seq")
    subprocess.run(["cc", "-std=c99", "-O2", "-I" + os.path.join(ROOT, "runtime"), "-o", seq,
                    os.path.join(ROOT, "tests", "runtime", "sched_seq.c"),
                    os.path.join(ROOT, "build", "libdlrt.a"), "-lz", "-lm"], check=True)
    os.makedirs(OUT, exist_ok=True)
    for name, title, kind, args, milestones, warmup in PLOTS:
        lr, mom = sequence(seq, kind, args, milestones, warmup)
        path = os.path.join(OUT, "schedule-%s.svg" % name)
        with open(path, "w") as f:
            f.write(svg(title, lr, mom if kind == "onecycle" else None))
        print("wrote", os.path.relpath(path, ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
