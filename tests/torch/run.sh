#!/bin/sh
# tests/torch/run.sh: the generated C against its PyTorch twin.
#
# Nets: examples/fashion_mlp.net and every tests/torch/*.net (--long adds the
# other examples/*.net), each under the optimizer variants of
# tests/torch/optimizers.txt (all of them with --long; see below): the train block's `optimizer` line replaced by
# the variant's (a net keeps its own line for its own optimizer). Per
# variant, in build/tmp/torch/run-PID/NET-OPT/:
#   dlc --prefix model        -> model.c, model.h   (built with driver.c)
#   dlc --emit=torch          -> twin.py
#   compare.py prepare        -> shim.h, data.bin, twin.ckpt
#   driver                    -> init.ckpt, trained.ckpt, dump.bin (forward,
#                                losses, gradients, 10 steps, twin.ckpt loaded)
#   compare.py compare        -> ok/FAIL per variant: init, forward, loss,
#                                grads, steps, optimizer state, checkpoint
# Everything in float32, within 1e-4 relative error (see compare.py); the
# forward pass and the gradients also on batches holding NaN and +-Inf.
# Then init_schemes.py: every init scheme against torch.nn.init's formulas.
# Then probe.py: each kernel alone on NaN, +-Inf and extreme logits, in
# float32 and float64 (tests/torch/probe/*.net); and optim.py: every
# optimizer variant's 20 steps and state against torch.optim, in float32
# (1e-4) and float64 (1e-6). Then groups.py: two named losses with their
# own parameter groups (`updates`, loss sections, steps K), alternating
# steps against one torch.optim optimizer per group.
set -u
cd "${DLC_ROOT:-$(dirname "$0")/../..}" || exit 1
DLC=${DLC:-$PWD/build/dlc}
PY=/usr/bin/python3
CC=${CC:-cc}
# One directory per run: two runs at once (make test while a suite runs
# alone) must not delete each other's files. Kept only when something fails.
TMP=build/tmp/torch/run-$$
pass=0 fail=0

say_fail() { echo "FAIL $1"; fail=$((fail + 1)); }

rm -rf "$TMP"
mkdir -p "$TMP"
if [ ! -x "$DLC" ] || [ ! -f build/libdlrt.a ]; then
    say_fail "torch: build/dlc or build/libdlrt.a missing (run make all)"
    echo "$pass passed, $fail failed"
    exit 1
fi
# Snapshots: a `make` running meanwhile cannot swap them under our feet.
if ! cp "$DLC" "$TMP/dlc" || ! cp build/libdlrt.a "$TMP/libdlrt.a"; then
    say_fail "torch: cannot copy build/dlc and build/libdlrt.a to $TMP"
    echo "$pass passed, $fail failed"
    exit 1
fi
DLC=$TMP/dlc

# The optimizer variants: tests/torch/optimizers.txt, "NAME: optimizer
# line; other train lines" (only the optimizer line and clip_ settings
# are used here: the nets keep their own weight decay).
OPTS=tests/torch/optimizers.txt
variants=$(sed -n 's/^\([a-z0-9_]*\):.*/\1/p' "$OPTS")
opt_line() {
    echo "    $(sed -n "s/^$1:[[:space:]]*\([^;]*\).*/\1/p" "$OPTS")"
}

# variant NET_FILE VARIANT: writes $TMP/NAME-VARIANT/net.net; keeps the net's
# own optimizer line when it already uses the variant's optimizer (and the
# variant is named after it).
make_variant() {
    src=$1 opt=$2
    name=$(basename "$src" .net)
    dir=$TMP/$name-$opt
    mkdir -p "$dir"
    line=$(opt_line "$opt")
    if grep -Eq "^[[:space:]]*optimizer[[:space:]]+${opt}[[:space:]]*\\(" "$src"; then
        cp "$src" "$dir/net.net"
    elif grep -Eq '^[[:space:]]*optimizer[[:space:]]' "$src"; then
        sed "s/^[[:space:]]*optimizer[[:space:]].*/$line/" "$src" >"$dir/net.net"
    else
        sed "s/^[[:space:]]*train[[:space:]]*{.*/&\\
$line/" "$src" >"$dir/net.net"
    fi
    grep -q "optimizer" "$dir/net.net" || printf 'train {\n%s\n}\n' "$line" >>"$dir/net.net"
    # The row's gradient clipping settings, after the optimizer line.
    sed -n "s/^$opt:[^;]*//p" "$OPTS" | tr ';' '\n' | sed -n 's/^[[:space:]]*\(clip_.*\)/\1/p' |
        while read -r clip; do
            sed -i "/^[[:space:]]*optimizer[[:space:]]/a\\    $clip" "$dir/net.net"
        done
    # adamw's weight decay is its own argument, and any optimizer may take
    # weight_decay as one: the block's would be a second one, refused.
    case "$line" in
        *"optimizer adamw"* | *weight_decay*) sed -i '/^[[:space:]]*weight_decay[[:space:]]/d' "$dir/net.net" ;;
    esac
    echo "$dir"
}

# --long (DLC_LONG=1) adds every other example.
# DLC_TORCH_NETS="tests/torch/a.net ..." runs those nets alone (while working on one).
nets=${DLC_TORCH_NETS:-"examples/fashion_mlp.net tests/torch/*.net"}
if [ "${DLC_LONG:-0}" = 1 ] && [ -z "${DLC_TORCH_NETS:-}" ]; then
    for net in examples/*.net; do
        [ "$net" = examples/fashion_mlp.net ] || nets="$nets $net"
    done
fi
# Every net under every variant is the --long matrix (make check-long).
# make test keeps fashion_mlp under all of them and each other net under
# every tenth variant, shifted by one per net, so each variant still runs
# on a tenth of the nets (optim.py checks every variant's steps anyway).
dirs=""
i=0
for net in $nets; do
    i=$((i + 1)) j=0
    for opt in $variants; do
        j=$((j + 1))
        if [ "${DLC_LONG:-0}" != 1 ] && [ "$net" != examples/fashion_mlp.net ] &&
            [ $(((i + j) % 10)) -ne 0 ]; then
            continue
        fi
        dir=$(make_variant "$net" "$opt")
        v=$(basename "$dir")
        if ! "$DLC" --prefix model "$dir/net.net" -o "$dir/model.c" 2>"$dir/dlc.err"; then
            say_fail "$v: dlc failed: $(head -n 1 "$dir/dlc.err")"
            continue
        fi
        if ! "$DLC" --emit=torch "$dir/net.net" -o "$dir/twin.py" 2>"$dir/dlc.err"; then
            say_fail "$v: dlc --emit=torch failed: $(head -n 1 "$dir/dlc.err")"
            continue
        fi
        dirs="$dirs $dir"
    done
done

# shellcheck disable=SC2086
[ -z "$dirs" ] || $PY tests/torch/compare.py prepare $dirs | tee "$TMP/prepare.out"
fail=$((fail + $(grep -c '^FAIL' "$TMP/prepare.out" 2>/dev/null || true)))

# Build and run the drivers, two at a time.
build_and_run() {
    d=$1
    [ -f "$d/shim.h" ] && [ ! -f "$d/prepare.failed" ] || return 0
    # -O0: some 90 drivers of small nets, 10 steps each: compiling is the
    # cost (-O1 takes 2.5 times as long); tests/kernels builds at -O3.
    if ! $CC -std=c99 -O0 -Wall -Wextra -pedantic -D_POSIX_C_SOURCE=200809L -Iruntime \
            -I/usr/include/openblas -I"$d" -o "$d/driver" tests/torch/driver.c "$d/model.c" \
            "$TMP/libdlrt.a" -lopenblas -lz -lm 2>"$d/cc.err"; then
        echo "cc failed" >"$d/driver.failed"
        return 0
    fi
    "$d/driver" "$d" 2>"$d/driver.err"
    status=$?
    [ "$status" -eq 0 ] || echo "driver failed (exit status $status)" >"$d/driver.failed"
}
ready=""
# shellcheck disable=SC2086
set -- $dirs
while [ $# -gt 0 ]; do
    build_and_run "$1" &
    if [ $# -gt 1 ]; then build_and_run "$2"; shift; fi
    wait
    shift
done
for d in $dirs; do
    v=$(basename "$d")
    if [ -f "$d/prepare.failed" ]; then
        continue
    elif [ -f "$d/driver.failed" ]; then
        say_fail "$v: $(cat "$d/driver.failed"): $(cat "$d/cc.err" "$d/driver.err" 2>/dev/null | head -n 3 | tr '\n' ' ' | cut -c1-300)"
    else
        ready="$ready $d"
    fi
done

# shellcheck disable=SC2086
if [ -n "$ready" ]; then
    $PY tests/torch/compare.py compare $ready >"$TMP/compare.out" 2>&1
    cat "$TMP/compare.out"
    p=$(sed -n 's/^compare: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$TMP/compare.out")
    f=$(sed -n 's/^compare: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$TMP/compare.out")
    if [ -z "$p" ]; then
        say_fail "compare.py crashed: $(tail -n 1 "$TMP/compare.out")"
    else
        pass=$((pass + p)) fail=$((fail + f))
    fi
fi
# script NAME ARGS...: runs tests/torch/NAME.py, which prints its ok/FAIL
# lines and ends with "NAME: N passed, N failed"; adds those counts.
script() {
    [ -z "${DLC_TORCH_NETS:-}" ] || return 0     # only the nets asked for
    local name=$1
    shift
    $PY "tests/torch/$name.py" "$DLC" "$TMP/libdlrt.a" "$TMP" "$@" >"$TMP/$name.out" 2>&1
    cat "$TMP/$name.out"
    local counts
    counts=$(sed -n "s/^$name: \([0-9]*\) passed, \([0-9]*\) failed\$/\1 \2/p" "$TMP/$name.out")
    if [ -z "$counts" ]; then
        say_fail "$name.py crashed: $(tail -n 1 "$TMP/$name.out")"
    else
        pass=$((pass + ${counts% *})) fail=$((fail + ${counts#* }))
    fi
}
# Every init scheme against torch.nn.init's formulas, C == twin in float64.
script init_schemes
# Every kernel on NaN, infinities and extreme logits, f32 and f64.
script probe tests/torch/probe/*.net
# Every optimizer variant, f32 and f64, against torch.optim.
script optim
# Two losses, two parameter groups, alternating steps.
script groups
# STATE tensors: the twin's registered buffer against the C.
script state
# Scoped paths are PyTorch state_dict keys (twin and C header).
script paths
# batchnorm's running statistics: the twin's buffers against the C.
script norm_state
# The augmentations: C and twin make the same batches from one seed.
script augment_batches
# rnn, lstm, gru in C against real torch.nn modules loaded from the twin's
# state_dict; stateful calls with the state carried and detached.
script recurrent
# Noise inputs: the twin's sample_noise draws what dlrt_noise_fill draws.
script noise
# L-BFGS against torch.optim.LBFGS: step by step, free-running, state,
# checkpoints; logistic regression on Fashion-MNIST (skipped without it).
script lbfgs
# Every learning-rate schedule (and warm-up, one-cycle momentum on momentum,
# Adam, AdamW, RMSprop), 20 steps in f32 and f64, against torch.optim.lr_scheduler.
script schedule

if [ "$fail" -eq 0 ]; then
    rm -rf "$TMP"
else
    echo "(files kept in $TMP)"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
