#!/bin/sh
# tests/e2e/noise_grid.sh: noise inputs and --image-grid through a trainer
# built from tests/e2e/noise.net (and examples/regression.net for a network
# with no image output). Run by tests/e2e/run.sh, or alone from the repo
# root. Prints "ok NAME" / "FAIL NAME: why" and "N passed, N failed".
set -u
cd "${DLC_ROOT:-$(dirname "$0")/../..}"
DLC=${DLC:-build/dlc}
T=build/tmp/e2e/noise_grid
rm -rf "$T"; mkdir -p "$T"
pass=0 fail=0
ok() { echo "ok $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
CFL="-std=c99 -Wall -Wextra -pedantic -Werror -O1 -Iruntime"
LIBS="build/libdlrt.a -lopenblas -lz -lm"
untimed() { sed -e 's/  ([0-9.]* s, [0-9]* samples\/s)//' "$1"; }

if ! "$DLC" --main tests/e2e/noise.net -o "$T/noise.c" 2>"$T/dlc.err" ||
   ! cc $CFL -o "$T/noise" "$T/noise.c" $LIBS 2>"$T/cc.err"; then
    bad noise-build "$(cat "$T/dlc.err" "$T/cc.err" | head -c 400)"
    echo "$pass passed, $fail failed"; exit 1
fi
ok noise-build
# x, then t = x (the noise z has no column)
awk 'BEGIN { srand(5); print "x0,x1,x2,x3,t0,t1,t2,t3"
     for (i = 0; i < 400; i++) { a = rand(); b = rand(); c = rand(); d = rand()
         printf "%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f\n", a, b, c, d, a, b, c, d } }' >"$T/train.csv"
head -n 101 "$T/train.csv" >"$T/test.csv"
D="--train-csv $T/train.csv --test-csv $T/test.csv"

# 1. No data for the noise: the trainer draws it; the same seed gives the
#    same run, another seed another one.
"$T/noise" $D --checkpoint "$T/a.ckpt" --no-progress >"$T/a.out" 2>&1; st=$?
"$T/noise" $D --checkpoint "$T/b.ckpt" --no-progress >"$T/b.out" 2>&1
"$T/noise" $D --checkpoint "$T/c.ckpt" --no-progress --seed 9 >"$T/c.out" 2>&1
if [ $st -eq 0 ] && grep -q '^test loss: ' "$T/a.out"; then ok noise-drawn-without-data
else bad noise-drawn-without-data "exit $st: $(tail -c 300 "$T/a.out")"; fi
untimed "$T/a.out" | sed 's/[ab]\.ckpt//' >"$T/a.u"; untimed "$T/b.out" | sed 's/[ab]\.ckpt//' >"$T/b.u"
if cmp -s "$T/a.u" "$T/b.u"; then ok noise-same-seed-same-run
else bad noise-same-seed-same-run "$(diff "$T/a.u" "$T/b.u" | head -n 4)"; fi
if [ "$(tail -n 1 "$T/a.out")" != "$(tail -n 1 "$T/c.out")" ]; then ok noise-other-seed-other-draws
else bad noise-other-seed-other-draws "both: $(tail -n 1 "$T/a.out")"; fi
#    The loss measures the noise: its variance 0.25 per value stays in the
#    test loss (mse of y = dense(x) + z against t = x), about 0.25.
tl=$(sed -n 's/^test loss: //p' "$T/a.out")
if [ -n "$tl" ] && awk -v v="$tl" 'BEGIN { exit !(v > 0.15 && v < 0.4) }'; then ok "noise-enters-the-loss (test loss $tl, about 0.25)"
else bad noise-enters-the-loss "test loss '$tl', wanted about 0.25"; fi
#    Fresh draws every training batch: on one training sample, a fixed draw
#    would be learnt by the bias (the train loss would go to 0); fresh ones
#    keep it near the noise's variance (0.25), on average.
"$T/noise" $D --limit 2 --validation 0.5 --epochs 300 --checkpoint "$T/one.ckpt" --no-progress >"$T/one.out" 2>&1
last=$(sed -n 's/^epoch \([0-9]*\)\/300  train loss \([0-9.]*\).*/\1 \2/p' "$T/one.out" |
      awk '$1 > 200 { s += $2; n++ } END { if (n == 100) printf "%.4f", s / n }')
if [ -n "$last" ] && awk -v v="$last" 'BEGIN { exit !(v > 0.1) }'; then ok "noise-fresh-each-batch (mean train loss $last over the last 100 epochs on one sample)"
else bad noise-fresh-each-batch "mean train loss '$last' over the last 100 epochs: $(tail -n 3 "$T/one.out")"; fi
# 2. Evaluation draws are fixed: --eval-only gives the run's test loss.
"$T/noise" $D --checkpoint "$T/a.ckpt" --eval-only >"$T/eval.out" 2>&1
if [ "$(tail -n 1 "$T/eval.out")" = "$(tail -n 1 "$T/a.out")" ]; then ok noise-evaluation-draw-fixed
else bad noise-evaluation-draw-fixed "'$(tail -n 1 "$T/eval.out")' vs '$(tail -n 1 "$T/a.out")'"; fi
# 3. Data given for the noise is used instead: zeros make the test loss
#    small (the network learns t = x).
awk 'BEGIN { print "z0,z1,z2,z3"; for (i = 0; i < 400; i++) print "0,0,0,0" }' >"$T/zeros.csv"
head -n 101 "$T/zeros.csv" >"$T/zeros_test.csv"
"$T/noise" $D --train z="$T/zeros.csv" --test z="$T/zeros_test.csv" --epochs 20 \
    --checkpoint "$T/z.ckpt" --no-progress >"$T/z.out" 2>&1; st=$?
zl=$(sed -n 's/^test loss: //p' "$T/z.out")
if [ $st -eq 0 ] && [ -n "$zl" ] && awk -v v="$zl" 'BEGIN { exit !(v < 0.05) }'; then ok "noise-data-given-is-used (test loss $zl)"
else bad noise-data-given-is-used "exit $st: $(tail -c 300 "$T/z.out")"; fi
# 4. --help says what it draws.
"$T/noise" --help >"$T/help.out" 2>&1
if grep -q '^  z  *normal(mean 0, std 0.5)$' "$T/help.out" && grep -q 'input  z .*noise' "$T/help.out"; then ok noise-in-help
else bad noise-in-help "$(grep -n -i noise "$T/help.out" | head -n 3)"; fi

# 5. --image-grid: a PNG of the image-shaped output [1, 4, 4] for the first
#    8 validation samples (no image input: one row): 8 * 5 + 1 by 1 * 5 + 1
#    pixels, grayscale; replaced after every epoch, no temporary file left.
"$T/noise" $D --checkpoint "$T/g.ckpt" --image-grid "$T/grid.png" --no-progress >"$T/g.out" 2>&1; st=$?
if [ $st -eq 0 ] && file "$T/grid.png" | grep -q 'PNG image data, 41 x 6, 8-bit grayscale'; then ok image-grid-written
else bad image-grid-written "exit $st: $(file "$T/grid.png") $(tail -c 300 "$T/g.out")"; fi
if ls "$T"/grid.png.tmp* >/dev/null 2>&1; then bad image-grid-no-temp "$(ls "$T"/grid.png.tmp*)"
else ok image-grid-no-temp; fi
untimed "$T/g.out" | sed 's/[ag]\.ckpt//' >"$T/g.u"
if cmp -s "$T/a.u" "$T/g.u"; then ok image-grid-leaves-training-alone
else bad image-grid-leaves-training-alone "$(diff "$T/a.u" "$T/g.u" | head -n 4)"; fi
#    The pixels: python3 decodes the file; the border is gray (128), the
#    cells hold the sigmoid's values (strictly between 0 and 255).
if python3 - "$T/grid.png" >"$T/py.out" 2>&1 <<'PY'
import struct, sys, zlib
d = open(sys.argv[1], "rb").read()
at, idat = 8, b""
while at < len(d):
    n, kind = struct.unpack(">I4s", d[at:at + 8])
    if kind == b"IDAT":
        idat += d[at + 8:at + 8 + n]
    at += 12 + n
raw = zlib.decompress(idat)
rows = [raw[y * 42 + 1:(y + 1) * 42] for y in range(6)]
assert all(v == 128 for v in rows[0]) and all(v == 128 for v in rows[5]), "border"
cells = [rows[y][1 + s * 5 + x] for s in range(8) for y in range(1, 5) for x in range(4)]
assert all(0 < v < 255 for v in cells), cells
assert len(set(cells)) > 8, "all cells alike"
PY
then ok image-grid-pixels; else bad image-grid-pixels "$(tail -n 2 "$T/py.out")"; fi
#    With --eval-only: the checkpoint's picture on the first test samples.
"$T/noise" $D --checkpoint "$T/a.ckpt" --eval-only --image-grid "$T/eval.png" >"$T/ge.out" 2>&1; st=$?
if [ $st -eq 0 ] && file "$T/eval.png" | grep -q 'PNG image data, 41 x 6'; then ok image-grid-eval-only
else bad image-grid-eval-only "exit $st: $(tail -c 300 "$T/ge.out")"; fi
#    A directory in the way: the run stops before training, exit 1.
mkdir -p "$T/dir.png"
"$T/noise" $D --checkpoint "$T/d.ckpt" --image-grid "$T/dir.png" >"$T/d.out" 2>&1; st=$?
if [ $st -eq 1 ] && grep -q "error: --image-grid: cannot write image '.*dir.png': it exists and is not a regular file" "$T/d.out" &&
   ! grep -q '^epoch' "$T/d.out"; then ok image-grid-bad-path-refused
else bad image-grid-bad-path-refused "exit $st: $(tail -c 300 "$T/d.out")"; fi
#    A %d in the name: a file per epoch, 0 before training, "eval" with
#    --eval-only; any other '%' is a usage error.
"$T/noise" $D --epochs 2 --checkpoint "$T/e.ckpt" --image-grid "$T/ep-%d.png" >"$T/e.out" 2>&1; st=$?
"$T/noise" $D --eval-only --checkpoint "$T/e.ckpt" --image-grid "$T/ep-%d.png" >>"$T/e.out" 2>&1
"$T/noise" $D --checkpoint "$T/e2.ckpt" --image-grid "$T/ep-%s.png" >"$T/e2.out" 2>&1; st2=$?
if [ $st -eq 0 ] && [ "$(cd "$T" && echo ep-*.png)" = "ep-0.png ep-1.png ep-2.png ep-eval.png" ] &&
   [ $st2 -eq 2 ] && grep -q "a '%' may only be one %d" "$T/e2.out"; then ok image-grid-per-epoch-files
else bad image-grid-per-epoch-files "exit $st/$st2: $(cd "$T" && echo ep-*) $(tail -c 200 "$T/e2.out")"; fi
#    A mistyped path never eats a file that is not a PNG (here the test CSV).
cp "$T/test.csv" "$T/keep.csv"
"$T/noise" $D --checkpoint "$T/k.ckpt" --image-grid "$T/test.csv" >"$T/k.out" 2>&1; st=$?
if [ $st -eq 1 ] && grep -q "is not a PNG image; not replacing it" "$T/k.out" && cmp -s "$T/test.csv" "$T/keep.csv"; then
    ok image-grid-keeps-other-files
else bad image-grid-keeps-other-files "exit $st: $(tail -c 300 "$T/k.out")"; fi
#    A network with no image-shaped output: said, exit 1.
if "$DLC" --main examples/regression.net -o "$T/reg.c" 2>/dev/null && cc $CFL -o "$T/reg" "$T/reg.c" $LIBS 2>/dev/null; then
    "$T/reg" --train-csv examples/data/regression.csv --test-csv examples/data/regression_test.csv \
        --epochs 1 --checkpoint "$T/r.ckpt" --image-grid "$T/r.png" >"$T/r.out" 2>&1; st=$?
    if [ $st -eq 1 ] && grep -q "error: --image-grid: regression has no image-shaped output" "$T/r.out"; then ok image-grid-needs-an-image
    else bad image-grid-needs-an-image "exit $st: $(tail -c 300 "$T/r.out")"; fi
else bad image-grid-needs-an-image "regression.net does not build"; fi

# 6. A generator's shape: an image input and a noise code. The default
#    Fashion-MNIST images go to the image (the noise is not a data input);
#    the grid shows 8 real images above 8 generated ones: 8 * 29 + 1 by
#    2 * 29 + 1 pixels.
if "$DLC" --main tests/e2e/noise_image.net -o "$T/img.c" 2>"$T/img.err" &&
   cc $CFL -o "$T/img" "$T/img.c" $LIBS 2>>"$T/img.err"; then
    "$T/img" --limit 1000 --test-limit 100 --checkpoint "$T/img.ckpt" --image-grid "$T/img.png" \
        --no-progress >"$T/img.out" 2>&1; st=$?
    if [ $st -eq 0 ] && grep -q '^noise_image: 900 training samples, 100 for validation, 100 test' "$T/img.out" &&
       file "$T/img.png" | grep -q 'PNG image data, 233 x 59, 8-bit grayscale'; then ok image-grid-real-above-generated
    else bad image-grid-real-above-generated "exit $st: $(file "$T/img.png") $(tail -c 300 "$T/img.out")"; fi
else bad image-grid-real-above-generated "$(head -c 300 "$T/img.err")"; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
