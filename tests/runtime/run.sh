#!/bin/bash
# tests/runtime/run.sh: the runtime's tests.
#
# 1. test_runtime.c: unit tests of libdlrt (rng, init, IDX and CSV loading,
#    checkpoints), also run under valgrind when it is installed.
# 2. The training driver, through fake_model.c (a hand-written softmax or
#    linear regression behind dlrt_model_api), on small generated CSV files
#    and on Fashion-MNIST: output lines, checkpoints, flags and errors.
# Prints "ok NAME" / "FAIL NAME: why" per test and "N passed, N failed".
set -u
cd "${DLC_ROOT:-$(dirname "$0")/../..}"
ROOT=$PWD
T=$ROOT/build/tmp/runtime
rm -rf "$T"
mkdir -p "$T"
CC=${CC:-cc}
CFLAGS="-std=c99 -Wall -Wextra -pedantic -D_POSIX_C_SOURCE=200809L -O2 -g -Iruntime -Itests"
LIBS="build/libdlrt.a -lz -lm"
pass=0 fail=0

ok() { echo "ok $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
summary() { echo "$pass passed, $fail failed"; exit $(( fail > 0 )); }

# ---- build -----------------------------------------------------------------
if ! make --no-print-directory -s build/libdlrt.a >"$T/make.log" 2>&1; then
    bad build_libdlrt "$(tail -n 5 "$T/make.log" | tr '\n' ' ')"
    summary
fi
build() {   # build NAME OUTPUT SOURCE [FLAGS...]
    local name=$1 out=$2 src=$3
    shift 3
    if $CC $CFLAGS "$@" -o "$out" "$src" $LIBS >"$T/$name.log" 2>&1 && [ ! -s "$T/$name.log" ]; then
        ok "$name"
    else
        bad "$name" "does not compile warning-free: $(head -n 5 "$T/$name.log" | tr '\n' ' ')"
        return 1
    fi
}
build build_unit_tests "$T/test_runtime" tests/runtime/test_runtime.c || summary
build build_fake_model "$T/fake" tests/runtime/fake_model.c || summary
build build_fake_regression "$T/fake_reg" tests/runtime/fake_model.c -DFAKE_REGRESSION -DFAKE_NAME='"fake_reg"' || summary
build build_fake_diverging "$T/fake_nan" tests/runtime/fake_model.c -DFAKE_LR=1e300 -DFAKE_NAME='"fake_nan"' || summary
# Training does nothing (the resumed network cannot be beaten), or
# oscillates so that the running train loss misleads.
build build_fake_frozen "$T/fake_frozen" tests/runtime/fake_model.c -DFAKE_LR=0 -DFAKE_NAME='"fake_frozen"' || summary
build build_fake_hot "$T/fake_hot" tests/runtime/fake_model.c -DFAKE_REGRESSION -DFAKE_LR=2.4 -DFAKE_NAME='"fake_hot"' || summary
build build_fake_two_losses "$T/fake_two" tests/runtime/fake_model.c -DFAKE_TWO_LOSSES -DFAKE_NAME='"fake_two"' || summary
build build_fake_alternating "$T/fake_alt" tests/runtime/fake_model.c -DFAKE_TWO_LOSSES -DFAKE_STEPS_W=3 -DFAKE_NAME='"fake_alt"' || summary
build build_fake_fashion "$T/fake784" tests/runtime/fake_model.c -DFAKE_D=784 -DFAKE_K=10 -DFAKE_NAME='"fake784"' || summary
build build_fake_text "$T/fake_text" tests/runtime/fake_text.c || summary
build build_fake_text_probs "$T/fake_probs" tests/runtime/fake_text.c -DFAKE_PROBS -DFAKE_NAME='"fake_probs"' || summary
build build_fake_tbptt "$T/fake_tbptt" tests/runtime/fake_text.c -DFAKE_STATEFUL -DFAKE_NAME='"fake_tbptt"' || summary

# ---- unit tests -------------------------------------------------------------
mkdir -p "$T/unit"
"$T/test_runtime" "$T/unit" >"$T/unit.out" 2>&1
unit_status=$?
cat "$T/unit.out"
pass=$((pass + $(grep -c '^ok ' "$T/unit.out")))
fail=$((fail + $(grep -c '^FAIL ' "$T/unit.out")))
if [ $unit_status -ne 0 ] && ! grep -q '^FAIL ' "$T/unit.out"; then
    bad unit_tests_exit "test_runtime exited with $unit_status"
fi

if command -v valgrind >/dev/null 2>&1; then
    rm -rf "$T/unit"; mkdir -p "$T/unit"
    if valgrind -q --error-exitcode=9 --leak-check=full "$T/test_runtime" "$T/unit" \
            >"$T/valgrind.out" 2>&1; then
        ok valgrind_unit_tests
    else
        bad valgrind_unit_tests "$(grep -v '^ok ' "$T/valgrind.out" | head -n 8 | tr '\n' ' ')"
    fi
fi

# ---- PNG files, decoded by another implementation ------------------------------
# The unit tests left gray.png (5x3) and rgb.png (300x200) in $T/unit: a PNG
# reader in Python (zlib for the CRCs and inflate) must find the pixels the
# test wrote, byte i = (i * 37 + 11) mod 256.
png_check() {   # png_check NAME FILE W H CHANNELS
    if ! command -v python3 >/dev/null 2>&1; then ok "$1 (skipped: no python3)"; return; fi
    if why=$(python3 - "$2" "$3" "$4" "$5" <<'PY' 2>&1
import struct, sys, zlib
path, w, h, c = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
data = open(path, "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "signature"
at, idat, ihdr = 8, b"", None
while at < len(data):
    n, kind = struct.unpack(">I4s", data[at:at + 8])
    body = data[at + 8:at + 8 + n]
    assert struct.unpack(">I", data[at + 8 + n:at + 12 + n])[0] == zlib.crc32(kind + body), kind
    if kind == b"IHDR":
        ihdr = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat += body
    at += 12 + n
assert ihdr == (w, h, 8, 0 if c == 1 else 2, 0, 0, 0), ihdr
raw = zlib.decompress(idat)
stride = w * c
assert len(raw) == h * (stride + 1)
pixels = b"".join(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)] for y in range(h))
assert all(raw[y * (stride + 1)] == 0 for y in range(h))
assert pixels == bytes((i * 37 + 11) % 256 for i in range(w * h * c)), "pixels differ"
PY
    ); then ok "$1"; else bad "$1" "$(echo "$why" | tail -n 2 | tr '\n' ' ')"; fi
}
png_check png_gray_decodes_in_python "$T/unit/gray.png" 5 3 1
png_check png_rgb_decodes_in_python "$T/unit/rgb.png" 300 200 3

# ---- the driver ---------------------------------------------------------------
cd "$T"
# gen N SEED: 3 noisy, overlapping classes over 4 features, with a header.
gen() {
    awk -v n="$1" -v seed="$2" 'BEGIN { srand(seed); print "f1,f2,f3,f4,label"
        for (i = 0; i < n; i++) { c = i % 3
            printf "%.4f,%.4f,%.4f,%.4f,%d\n", (c == 0) + 2 * rand() - 1,
                (c == 1) + 2 * rand() - 1, (c == 2) + 2 * rand() - 1, rand(), c } }'
}
# genreg N SEED: 3 targets that are linear in 4 features.
genreg() {
    awk -v n="$1" -v seed="$2" 'BEGIN { srand(seed)
        for (i = 0; i < n; i++) { a = rand(); b = rand(); c = rand(); d = rand()
            printf "%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f\n", a, b, c, d,
                a + b, 2 * c - d, 0.5 } }'
}
gen 600 1 >train.csv
gen 300 2 >test.csv
genreg 400 3 >rtrain.csv
genreg 100 4 >rtest.csv
DATA="--train-csv train.csv --test-csv test.csv"

# run NAME ARGS...: runs a program, stdout in NAME.out, stderr in NAME.err,
# status in $status.
run() {
    local name=$1
    shift
    "$@" >"$name.out" 2>"$name.err" </dev/null
    status=$?
}
# Drops the timing part of epoch lines so runs can be compared.
untimed() { sed -e 's/  ([0-9.]* s, [0-9]* samples\/s)//' "$1"; }

run train ./fake $DATA --checkpoint best.ckpt
epoch_re='^epoch [1-3]/3  train loss [0-9]+\.[0-9]{4}  val loss [0-9]+\.[0-9]{4}  val acc [01]\.[0-9]{4}  \([0-9]+\.[0-9] s, [0-9]+ samples/s\)( \*)?$'
acc=$(sed -n 's/^test accuracy: \([01]\.[0-9][0-9][0-9][0-9]\)$/\1/p' train.out)
if [ $status -ne 0 ]; then
    bad driver_trains_on_csv "exit $status: $(cat train.err)"
elif [ "$(grep -cE "$epoch_re" train.out)" -ne 3 ]; then
    bad driver_trains_on_csv "epoch lines not as expected: $(cat train.out)"
elif ! head -n 1 train.out | grep -q '^fake: 480 training samples, 120 for validation, 300 test; batch 16, 3 epochs, seed 7$'; then
    bad driver_trains_on_csv "summary line: $(head -n 1 train.out)"
elif [ -z "$acc" ] || ! awk -v a="$acc" 'BEGIN { exit !(a > 0.6 && a < 1) }'; then
    bad driver_trains_on_csv "test accuracy '$acc' missing or implausible: $(tail -n 3 train.out)"
elif ! grep -qE '^test loss: [0-9]+\.[0-9]{4}$' train.out || [ "$(tail -n 1 train.out)" != "test accuracy: $acc" ]; then
    bad driver_trains_on_csv "final lines: $(tail -n 2 train.out)"
elif [ -s train.err ]; then
    bad driver_trains_on_csv "stderr not quiet without a terminal: $(cat train.err)"
else
    ok driver_trains_on_csv
fi

if [ ! -f best.ckpt ] || ls best.ckpt.tmp* >/dev/null 2>&1; then
    bad driver_saves_checkpoint "best.ckpt missing or a best.ckpt.tmp* file left"
elif ! grep -q ' \*$' train.out || ! grep -q '^best checkpoint: epoch [1-3], saved in best.ckpt$' train.out; then
    bad driver_saves_checkpoint "no '*' or 'best checkpoint' line: $(cat train.out)"
elif [ "$(head -c 8 best.ckpt | tr -d '\0')" != DLCCKPT ]; then
    bad driver_saves_checkpoint "bad magic"
else
    ok driver_saves_checkpoint
fi

run train2 ./fake $DATA --checkpoint best2.ckpt
if [ $status -eq 0 ] && [ "$(untimed train.out)" = "$(untimed train2.out | sed 's/best2.ckpt/best.ckpt/')" ] &&
        cmp -s best.ckpt best2.ckpt; then
    ok driver_deterministic
else
    bad driver_deterministic "two runs with one seed differ"
fi

run seed ./fake $DATA --checkpoint seed.ckpt --seed 8
if [ $status -eq 0 ] && grep -q 'seed 8$' seed.out && [ "$(untimed train.out)" != "$(untimed seed.out)" ]; then
    ok driver_seed_flag
else
    bad driver_seed_flag "--seed 8 changed nothing (status $status)"
fi

run eval ./fake $DATA --checkpoint best.ckpt --eval-only
if [ $status -eq 0 ] && [ "$(tail -n 1 eval.out)" = "test accuracy: $acc" ] && ! grep -q '^epoch' eval.out; then
    ok driver_eval_only
else
    bad driver_eval_only "status $status: $(cat eval.out eval.err)"
fi

run resume ./fake $DATA --checkpoint best.ckpt --resume --epochs 2
if [ $status -eq 0 ] && grep -qE '^resumed from best.ckpt: val loss [0-9.]+  val acc [0-9.]+$' resume.out &&
        grep -q '^epoch 2/2' resume.out && grep -q '^test accuracy: ' resume.out; then
    ok driver_resume
else
    bad driver_resume "status $status: $(cat resume.out resume.err)"
fi

# Without a validation set the network that would be saved is measured on
# the training set after each epoch. Testing on the training data too, the
# reloaded best checkpoint must score exactly what its epoch line said.
run vzero ./fake --train-csv train.csv --test-csv train.csv --checkpoint vzero.ckpt --validation 0 --epochs 2
vzero_re='^epoch [12]/2  train loss [0-9]+\.[0-9]{4}  end-of-epoch train loss [0-9]+\.[0-9]{4}  train acc [01]\.[0-9]{4}  \([0-9]+\.[0-9] s, [0-9]+ samples/s\)( \*)?$'
best_line=$(grep ' \*$' vzero.out | tail -n 1)
if [ $status -eq 0 ] && grep -q '600 training samples, 0 for validation' vzero.out &&
        [ "$(grep -cE "$vzero_re" vzero.out)" -eq 2 ] && grep -q '^epoch 1/2 .* \*$' vzero.out &&
        ! grep -q 'val ' vzero.out && [ -f vzero.ckpt ] &&
        [ "$(echo "$best_line" | awk '{ print $9 }')" = "$(sed -n 's/^test loss: //p' vzero.out)" ] &&
        [ "$(echo "$best_line" | awk '{ print $12 }')" = "$(sed -n 's/^test accuracy: //p' vzero.out)" ]; then
    ok driver_no_validation
else
    bad driver_no_validation "status $status: $(cat vzero.out vzero.err)"
fi

# The audit's case: a learning rate so high that the loss train_step reports
# (taken before each update) says little about the network after the epoch.
# The checkpoint must be the epoch with the lowest end-of-epoch loss, and
# the reloaded network must score just that.
run hot ./fake_hot --train-csv rtrain.csv --test-csv rtrain.csv --checkpoint hot.ckpt --validation 0 --epochs 6
hot_best=$(awk '/^epoch/ { if (best == "" || $9 + 0 < best + 0) { best = $9; e = $2 } }
    END { sub("/.*", "", e); print e, best }' hot.out)
if [ $status -eq 0 ] && [ "$(grep -c '^epoch' hot.out)" -eq 6 ] &&
        grep -q "^best checkpoint: epoch ${hot_best% *}, saved in hot.ckpt$" hot.out &&
        awk -v want="${hot_best#* }" '/^test loss: / { exit !($3 - want < 0.00005 && want - $3 < 0.00005) }' hot.out; then
    ok driver_no_validation_best_is_measured
else
    bad driver_no_validation_best_is_measured "status $status, best by end-of-epoch loss: $hot_best: $(cat hot.out hot.err)"
fi

# --resume without a validation set: the loaded network, measured on the
# training set, is the one to beat. Training with lr 0 cannot beat it, so
# the checkpoint must stay as it is.
run frozen ./fake_frozen $DATA --checkpoint frozen.ckpt --validation 0 --epochs 1
cp frozen.ckpt frozen-before.ckpt 2>/dev/null
run frozen2 ./fake_frozen $DATA --checkpoint frozen.ckpt --validation 0 --epochs 2 --resume
frozen_was=$(awk '/^epoch/ { print $9 "  train acc " $12 }' frozen.out)
if [ $status -eq 0 ] && grep -qx "resumed from frozen.ckpt: train loss $frozen_was" frozen2.out &&
        [ "$(grep -c '^epoch .* \*$' frozen2.out)" -eq 0 ] &&
        grep -q '^no epoch beat the resumed checkpoint frozen.ckpt; keeping it$' frozen2.out &&
        cmp -s frozen.ckpt frozen-before.ckpt; then
    ok driver_resume_no_validation_baseline
else
    bad driver_resume_no_validation_baseline "status $status, first run '$frozen_was': $(cat frozen2.out frozen2.err)"
fi

run limit ./fake $DATA --checkpoint limit.ckpt --limit 100 --test-limit 30 --epochs 1 --validation=0.25
if [ $status -eq 0 ] && grep -q '^fake: 75 training samples, 25 for validation, 30 test; batch 16, 1 epoch,' limit.out; then
    ok driver_limit_flags
else
    bad driver_limit_flags "status $status: $(head -n 1 limit.out) $(cat limit.err)"
fi

run progress ./fake $DATA --checkpoint progress.ckpt --progress --epochs 1
if [ $status -eq 0 ] && grep -q 'batch 30/30' progress.err && grep -q "$(printf '\r')" progress.err &&
        grep -qE "$epoch_re" <(sed 's/1\/1/1\/3/' progress.out); then
    ok driver_progress_bar
else
    bad driver_progress_bar "status $status: $(cat progress.err | tr '\r' '|')"
fi

run help ./fake --help
missing=""
for flag in --train-images --train-labels --test-images --test-labels --train-csv --test-csv \
        --epochs --seed --validation --limit --test-limit --checkpoint --resume --eval-only \
        --progress --no-progress --help --text --test-text --vocab --sample --temperature --top-k \
        --sample-seed --prompt; do
    grep -q -- "^  $flag" help.out || missing="$missing $flag"
done
if [ $status -eq 0 ] && [ -z "$missing" ] && grep -q '^Usage: fake ' help.out && [ ! -s help.err ]; then
    ok driver_help
else
    bad driver_help "status $status, undocumented:$missing"
fi
resume_help=$(grep -A4 -- '^  --resume' help.out | tr -s ' \n' ' ')
if echo "$resume_help" | grep -q 'warm start' && echo "$resume_help" | grep -q "best epoch's network, not the last"; then
    ok driver_help_resume_is_warm_start
else
    bad driver_help_resume_is_warm_start "--help does not say what --resume restores: $(grep -A4 -- '--resume' help.out)"
fi

# usage NAME ARGS...: a bad command line exits 2 with "fake: error: ...".
usage() {
    local name=$1
    shift
    run "$name" ./fake "$@"
    if [ $status -eq 2 ] && grep -q '^fake: error: ' "$name.err" && [ ! -s "$name.out" ]; then
        ok "$name"
    else
        bad "$name" "status $status, stderr: $(cat "$name.err")"
    fi
}
usage usage_unknown_flag --bogus
usage usage_positional_argument data.csv
usage usage_epochs_not_a_number --epochs abc
usage usage_epochs_negative --epochs -1
usage usage_epochs_missing_value --epochs
usage usage_validation_out_of_range --validation 1.5
usage usage_validation_not_a_number --validation 0.1x
usage usage_limit_zero --limit 0
usage usage_threads_zero --threads 0
usage usage_threads_not_a_number --threads many
usage usage_seed_negative --seed -3
usage usage_value_on_switch --resume=yes
usage usage_csv_without_test --train-csv train.csv
usage usage_images_without_labels --train-images x.gz
usage usage_csv_and_idx --train-csv train.csv --train-images a --train-labels b --test-csv test.csv
usage usage_resume_with_eval_only $DATA --resume --eval-only
if grep -qx 'fake: error: --resume and --eval-only do not go together' usage_resume_with_eval_only.err; then
    ok usage_resume_with_eval_only_message
else
    bad usage_resume_with_eval_only_message "$(cat usage_resume_with_eval_only.err)"
fi

# data_error NAME WANT PROGRAM ARGS...: exits 1 and stderr contains WANT.
data_error() {
    local name=$1 want=$2
    shift 2
    run "$name" "$@"
    if [ $status -eq 1 ] && grep -qF -- "$want" "$name.err"; then
        ok "$name"
    else
        bad "$name" "status $status, stderr: $(cat "$name.err")"
    fi
}
data_error data_missing_file "fake: error: nope.csv: cannot open: No such file or directory" \
    ./fake --train-csv nope.csv --test-csv test.csv
printf '1,2,3,4,5,0\n' >wide.csv
data_error data_wrong_field_count "wide.csv:1:11: expected 5 comma-separated fields (4 features and a label), got 6" \
    ./fake --train-csv wide.csv --test-csv test.csv
printf '1,2,3,4,0\n1,2,3,4,3\n' >label3.csv
data_error data_label_out_of_range "label3.csv:2:9: sample 2 has label 3, but the network has only 3 classes (0..2)" \
    ./fake --train-csv label3.csv --test-csv test.csv
data_error data_idx_feature_mismatch "train-images-idx3-ubyte.gz: images are 28x28 (784 values per sample) but the network's input takes 4" \
    ./fake --test-limit 10
run data_default_for_regression ./fake_reg
if [ $status -eq 2 ] && grep -qF "fake_reg: error: no training data for target 't': the default Fashion-MNIST files hold only images and class labels; give --train t=FILE or --train-csv FILE" data_default_for_regression.err; then
    ok data_default_for_regression
else
    bad data_default_for_regression "status $status, stderr: $(cat data_default_for_regression.err)"
fi
run usage_idx_labels_for_regression ./fake_reg --train-labels x.gz --train-images y.gz
if [ $status -eq 2 ] && grep -qF "fake_reg: error: --train-labels: IDX label files hold class labels, but fake_reg learns real-valued targets" usage_idx_labels_for_regression.err; then
    ok usage_idx_labels_for_regression
else
    bad usage_idx_labels_for_regression "status $status, stderr: $(cat usage_idx_labels_for_regression.err)"
fi
data_error data_eval_without_checkpoint "cannot open checkpoint" \
    ./fake $DATA --checkpoint none.ckpt --eval-only
data_error data_resume_without_checkpoint "cannot resume: none.ckpt: cannot open checkpoint" \
    ./fake $DATA --checkpoint none.ckpt --resume
cp best.ckpt flipped.ckpt
printf 'X' | dd of=flipped.ckpt bs=1 seek=60 conv=notrunc 2>/dev/null
data_error data_corrupt_checkpoint "checksum mismatch (file corrupt)" \
    ./fake $DATA --checkpoint flipped.ckpt --eval-only
data_error data_checkpoint_of_other_network "checkpoint does not match this network: it holds layout 'w:3x4;...' but the network is 'w:10x784;...'; first difference: tensor 'w' is 3x4 in the file but 10x784 in the network" \
    ./fake784 --checkpoint best.ckpt --eval-only --test-limit 10
# An unwritable checkpoint is found before any data is loaded (nope.csv
# does not exist) or any epoch is trained, and nothing is left behind.
data_error data_unwritable_checkpoint "fake: error: cannot write checkpoint 'no-such-dir/x.ckpt': No such file or directory" \
    ./fake --train-csv nope.csv --test-csv test.csv --checkpoint no-such-dir/x.ckpt
data_error data_unwritable_checkpoint_abs "fake: error: cannot write checkpoint '/nonexistent/x.ckpt': No such file or directory" \
    ./fake $DATA --checkpoint /nonexistent/x.ckpt
if [ -s data_unwritable_checkpoint_abs.out ]; then
    bad data_unwritable_checkpoint_before_training "printed before failing: $(cat data_unwritable_checkpoint_abs.out)"
else
    ok data_unwritable_checkpoint_before_training
fi
mkdir -p ckptdir
data_error data_checkpoint_is_directory "fake: error: cannot write checkpoint 'ckptdir': it is a directory" \
    ./fake $DATA --checkpoint ckptdir
if [ "$(id -u)" != 0 ]; then
    mkdir -p rodir && chmod 555 rodir
    data_error data_checkpoint_in_readonly_dir "fake: error: cannot write checkpoint 'rodir/x.ckpt': Permission denied" \
        ./fake $DATA --checkpoint rodir/x.ckpt
    chmod 755 rodir
fi
# A file at the old fixed temporary name PATH.tmp is someone else's: saving
# uses fresh names (PATH.tmp-XXXXXXXX), leaves it alone, and leaves none of
# its own behind after a successful run.
cp best.ckpt stale.ckpt && printf 'old' >stale.ckpt.tmp
run stale ./fake $DATA --checkpoint stale.ckpt --epochs 1 --overwrite
if [ $status -eq 0 ] && [ "$(cat stale.ckpt.tmp)" = old ] && ! ls stale.ckpt.tmp-* >/dev/null 2>&1 &&
        grep -q '^test accuracy: ' stale.out; then
    ok driver_checkpoint_stale_tmp
else
    bad driver_checkpoint_stale_tmp "status $status: $(cat stale.err)"
fi
# --eval-only only reads: no write check (the error is about reading).
run evalro ./fake $DATA --checkpoint /nonexistent/x.ckpt --eval-only
if [ $status -eq 1 ] && grep -q 'cannot open checkpoint' evalro.err && ! grep -q 'cannot write' evalro.err; then
    ok driver_eval_only_no_write_check
else
    bad driver_eval_only_no_write_check "status $status: $(cat evalro.err)"
fi
data_error data_training_diverges "fake_nan: error: training diverged: the loss is nan in epoch 1" \
    ./fake_nan $DATA --checkpoint nan.ckpt
# A network ruined by the epoch's last update is divergence, even
# though every loss train_step reported was finite (one batch: 16 samples).
data_error data_training_diverges_after_epoch \
    "fake_nan: error: training diverged: the end-of-epoch train loss is nan in epoch 1" \
    ./fake_nan $DATA --checkpoint nan0.ckpt --validation 0 --limit 16
if [ -e nan0.ckpt ]; then
    bad driver_diverged_network_not_saved "nan0.ckpt was written"
else
    ok driver_diverged_network_not_saved
fi

# A first line with the wrong separator is data, not a header: an error
# naming line 1, not a silently dropped sample.
printf '0.1;0.2;0.3;0.4;1\n0.5;0.6;0.7;0.8;2\n' >semi.csv
data_error data_csv_semicolons "semi.csv:1:18: expected 5 comma-separated fields (4 features and a label), got 1; fields are separated by commas, but this line contains ';'" \
    ./fake --train-csv semi.csv --test-csv test.csv

# Singular and plural in the summary lines.
run one ./fake $DATA --checkpoint one.ckpt --limit 2 --validation 0.5 --epochs 1
if [ $status -eq 0 ] && grep -q '^fake: 1 training sample, 1 for validation, 300 test; batch 16, 1 epoch, seed 7$' one.out; then
    ok driver_singular_sample
else
    bad driver_singular_sample "status $status: $(head -n 1 one.out) $(cat one.err)"
fi
run onetest ./fake $DATA --checkpoint one.ckpt --eval-only --test-limit 1
if [ $status -eq 0 ] && grep -q '^fake: evaluating one.ckpt on 1 test sample$' onetest.out; then
    ok driver_singular_test_sample
else
    bad driver_singular_test_sample "status $status: $(head -n 1 onetest.out) $(cat onetest.err)"
fi

run regression ./fake_reg --train-csv rtrain.csv --test-csv rtest.csv --checkpoint reg.ckpt --epochs 5
if [ $status -eq 0 ] && grep -qE '^epoch 5/5  train loss [0-9.]+  val loss [0-9.]+  \(' regression.out &&
        ! grep -q 'acc' regression.out && [ "$(tail -n 1 regression.out | cut -c1-11)" = "test loss: " ] &&
        awk '/^test loss: / { exit !($3 < 0.05) }' regression.out; then
    ok driver_regression
else
    bad driver_regression "status $status: $(cat regression.out regression.err)"
fi

# Several losses (a GAN's shape): each trains its parameter group in turn
# on every batch, and the epoch line reports each one's running loss.
run two ./fake_two $DATA --checkpoint two.ckpt --epochs 2
two_re='^epoch [12]/2  train loss_w [0-9]+\.[0-9]{4} train loss_b [0-9]+\.[0-9]{4}  val loss [0-9]+\.[0-9]{4}  val acc [01]\.[0-9]{4}  \('
if [ $status -eq 0 ] && [ "$(grep -cE "$two_re" two.out)" -eq 2 ] && grep -q '^test accuracy: ' two.out; then
    ok driver_two_losses
else
    bad driver_two_losses "status $status: $(cat two.out two.err)"
fi

# Alternation: loss_w has steps 3, loss_b 1, so each epoch goes in rounds
# of 3 batches, loss_w on every batch and loss_b after it on the third
# (wwwb wwwb ... then the epoch's 0 to 2 leftover batches: w or ww).
run alt ./fake_alt $DATA --checkpoint alt.ckpt --epochs 2
seq=$(sed -n 's/^steps: //p' alt.err | head -n 1)
if [ $status -eq 0 ] && [ -n "$seq" ] &&
   echo "$seq" | grep -qE '^((wwwb)+w{0,2}){2}$' && grep -q '^test accuracy: ' alt.out; then
    ok "driver_alternation (steps 3 and 1: ${#seq} steps, $(echo "$seq" | tr -cd b | wc -c) of loss_b)"
else
    bad driver_alternation "status $status: ${seq:-no steps line}: $(cat alt.out alt.err | head -c 400)"
fi

# Data per tensor by name (the fake model's tensors are x and y): a CSV per
# tensor trains exactly as the one CSV with both; names are checked.
cut -d, -f1-4 train.csv >train_x.csv; cut -d, -f5 train.csv >train_y.csv
cut -d, -f1-4 test.csv >test_x.csv; cut -d, -f5 test.csv >test_y.csv
run named ./fake --train x=train_x.csv --train y=train_y.csv --test x=test_x.csv --test=y=test_y.csv --checkpoint named.ckpt
if [ $status -eq 0 ] && [ "$(untimed train.out)" = "$(untimed named.out | sed 's/named.ckpt/best.ckpt/')" ] &&
        cmp -s best.ckpt named.ckpt; then
    ok driver_data_by_name
else
    bad driver_data_by_name "status $status: $(diff train.out named.out | head -c 300) $(cat named.err)"
fi
# An IDX label file alone (no images), recognized by its magic number.
python3 -c '
import struct, sys
labels = [int(l.rsplit(",", 1)[1]) for l in open("train.csv").read().split("\n")[1:] if l]
open("train_y.idx", "wb").write(struct.pack(">II", 0x801, len(labels)) + bytes(labels))'
run named_idx ./fake --train x=train_x.csv --train y=train_y.idx --test x=test_x.csv --test=y=test_y.csv --checkpoint named_idx.ckpt
if [ $status -eq 0 ] && cmp -s best.ckpt named_idx.ckpt; then
    ok driver_data_idx_labels_alone
else
    bad driver_data_idx_labels_alone "status $status: $(cat named_idx.err)"
fi
run named_eval ./fake --test-csv test.csv --train x=train_x.csv --train y=train_y.csv --checkpoint best.ckpt --eval-only
if [ $status -eq 0 ] && [ "$(grep -c 'warning: --train has no effect with --eval-only' named_eval.err)" -eq 1 ] &&
        [ "$(tail -n 1 named_eval.out)" = "test accuracy: $acc" ]; then
    ok driver_data_by_name_eval_only
else
    bad driver_data_by_name_eval_only "status $status: $(cat named_eval.err)"
fi
usage usage_data_unknown_name --train z=train_x.csv --test-csv test.csv
usage usage_data_no_equals --train train_x.csv --test-csv test.csv
usage usage_data_twice --train x=train_x.csv --train x=train_x.csv --test-csv test.csv
usage usage_target_on_label --target y=x $DATA
usage usage_named_without_test --train x=train_x.csv --train y=train_y.csv
usage usage_named_missing_tensor --train x=train_x.csv --test-csv test.csv
if grep -qx "fake: error: no training data for label 'y': give --train y=FILE or --train-csv FILE" usage_named_missing_tensor.err &&
        grep -qx "fake: error: --train z=train_x.csv: fake has no input, label or target named 'z' (it has x and y)" usage_data_unknown_name.err; then
    ok usage_data_messages
else
    bad usage_data_messages "$(cat usage_named_missing_tensor.err usage_data_unknown_name.err)"
fi
data_error data_named_wrong_file "label3.csv:1:3: expected 1 comma-separated fields (a label), got 5" \
    ./fake --train x=train_x.csv --train y=label3.csv --test-csv test.csv --checkpoint l3.ckpt
printf '1\n0\n3\n' >labels3.csv
data_error data_named_label_out_of_range "labels3.csv:3:1: sample 3 has label 3, but the network has only 3 classes (0..2)" \
    ./fake --train x=train_x.csv --train y=labels3.csv --test-csv test.csv --checkpoint l3.ckpt
printf '1\n0\n2\n' >labels_ok.csv
data_error data_named_counts_differ "fake: error: labels_ok.csv holds 3 samples but train_x.csv holds 600: the files of one data set must hold the same samples" \
    ./fake --train x=train_x.csv --train y=labels_ok.csv --test-csv test.csv --checkpoint l3.ckpt

# The real data set, through the default paths: IDX, gzip-compressed.
if [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    run fashion ./fake784 --limit 3000 --test-limit 2000 --epochs 1 --checkpoint fashion.ckpt
    facc=$(sed -n 's/^test accuracy: //p' fashion.out)
    if [ $status -eq 0 ] && grep -q '2400 training samples, 600 for validation, 2000 test' fashion.out &&
            awk -v a="$facc" 'BEGIN { exit !(a > 0.6) }'; then
        ok driver_fashion_mnist_idx
    else
        bad driver_fashion_mnist_idx "status $status: $(cat fashion.out fashion.err)"
    fi
    # The same files named per tensor: recognized as IDX by their content.
    FM=/usr/share/datasets/fashion-mnist
    run fashion_named ./fake784 --train x=$FM/train-images-idx3-ubyte.gz --train y=$FM/train-labels-idx1-ubyte.gz \
        --test x=$FM/t10k-images-idx3-ubyte.gz --test y=$FM/t10k-labels-idx1-ubyte.gz \
        --limit 3000 --test-limit 2000 --epochs 1 --checkpoint fashion_named.ckpt
    if [ $status -eq 0 ] && [ "$(untimed fashion.out | sed 's/ saved in .*//')" = "$(untimed fashion_named.out | sed 's/ saved in .*//')" ]; then
        ok driver_fashion_mnist_idx_by_name
    else
        bad driver_fashion_mnist_idx_by_name "status $status: $(cat fashion_named.out fashion_named.err)"
    fi
fi

# The audit's case: the real training images with byte 5000 flipped (gzip -t
# reports a CRC error) must be refused, not trained on.
FM=/usr/share/datasets/fashion-mnist
if [ -f $FM/train-images-idx3-ubyte.gz ]; then
    cp $FM/train-images-idx3-ubyte.gz flipped-images.gz
    b=$(od -An -tu1 -j 5000 -N 1 flipped-images.gz | tr -d ' ')
    printf "\\$(printf '%03o' $(( (b + 1) % 256 )))" | dd of=flipped-images.gz bs=1 seek=5000 conv=notrunc 2>/dev/null
    data_error data_fashion_corrupt_gzip "fake784: error: flipped-images.gz: corrupt gzip data (" \
        ./fake784 --train-images flipped-images.gz --train-labels $FM/train-labels-idx1-ubyte.gz \
        --limit 100 --test-limit 100 --epochs 1 --checkpoint flipped-gz.ckpt
    rm -f flipped-images.gz
fi

# Hostile and damaged data files (bounded memory, no hangs).
. "$ROOT/tests/runtime/data_files.sh"

# Text: --text, the stream layout of a stateful model, bpc, sampling.
. "$ROOT/tests/runtime/text.sh"

if command -v valgrind >/dev/null 2>&1; then
    run vg valgrind -q --error-exitcode=9 --leak-check=full ./fake $DATA --checkpoint vg.ckpt --epochs 1 --progress
    if [ $status -eq 0 ] && grep -q '^test accuracy: ' vg.out; then
        ok valgrind_driver
    else
        bad valgrind_driver "status $status: $(grep -v 'epoch' vg.err | head -n 8 | tr '\n' ' ')"
    fi
fi

# Learning-rate schedules: runtime/schedule.c's sequences against
# torch.optim.lr_scheduler (every schedule, warm-up, one-cycle momentum,
# plateau on fixed losses; the plateau state through save/restore).
if $CC -std=c99 -Wall -Wextra -pedantic -Werror -I"$ROOT/runtime" -o "$T/sched_seq" "$ROOT/tests/runtime/sched_seq.c" "$ROOT/build/libdlrt.a" -lz -lm >"$T/sched_seq.log" 2>&1; then
    /usr/bin/python3 "$ROOT/tests/runtime/schedule.py" "$T/sched_seq" >"$T/schedule.out" 2>&1
    cat "$T/schedule.out"
    pass=$((pass + $(grep -c '^ok ' "$T/schedule.out")))
    fail=$((fail + $(grep -c '^FAIL ' "$T/schedule.out")))
    grep -q '^schedule: [0-9]* passed, 0 failed' "$T/schedule.out" || bad schedule_sequences "see $T/schedule.out"
else
    bad build_sched_seq "$(head -n 5 "$T/sched_seq.log" | tr '\n' ' ')"
fi

summary
