#!/bin/bash
# tests/faults/run.sh: checkpoints and the trainer under faults and abuse.
#
# 1. test_faults.c: hostile checkpoint files (every header field, cut,
#    padded, NaN with a valid CRC, FIFO, /dev/zero, 4 GiB sparse files),
#    what may be at the checkpoint path, long-path messages, concurrent
#    savers.
# 2. killsave.c: kill -9 during saves (200 trials; 2000 with DLC_LONG=1),
#    a full disk (RLIMIT_FSIZE) and a read-only directory.
# 3. The trainer (fake_model.c and a generated one): which checkpoint paths
#    it refuses, --resume/--overwrite, NaN networks, usage errors, memory.
# Prints "ok NAME" / "FAIL NAME: why" per test and "N passed, N failed".
set -u
cd "${DLC_ROOT:-$(dirname "$0")/../..}"
ROOT=$PWD
T=$ROOT/build/tmp/faults
rm -rf "$T"
mkdir -p "$T"
CC=${CC:-cc}
DLC=${DLC:-$ROOT/build/dlc}
CFLAGS="-std=c99 -Wall -Wextra -pedantic -D_POSIX_C_SOURCE=200809L -O2 -g -Iruntime -Itests"
LIBS="build/libdlrt.a -lz -lm"
KILL_TRIALS=200
[ "${DLC_LONG:-0}" = 1 ] && KILL_TRIALS=2000
pass=0 fail=0

ok() { echo "ok $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
summary() { echo "$pass passed, $fail failed"; exit $(( fail > 0 )); }
# Counts a program's own "ok"/"FAIL" lines.
tally() {
    cat "$1"
    pass=$((pass + $(grep -c '^ok ' "$1")))
    fail=$((fail + $(grep -c '^FAIL ' "$1")))
}

if ! make --no-print-directory -s build/libdlrt.a build/dlc >"$T/make.log" 2>&1; then
    bad build "$(tail -n 5 "$T/make.log" | tr '\n' ' ')"
    summary
fi
build() {   # build NAME OUTPUT SOURCE [FLAGS...]
    local name=$1 out=$2 src=$3
    shift 3
    if $CC $CFLAGS "$@" -o "$out" "$src" $LIBS >"$T/$name.log" 2>&1 && [ ! -s "$T/$name.log" ]; then
        return 0
    fi
    bad "$name" "does not compile warning-free: $(head -n 5 "$T/$name.log" | tr '\n' ' ')"
    return 1
}
build build_test_faults "$T/test_faults" tests/faults/test_faults.c || summary
build build_killsave "$T/killsave" tests/faults/killsave.c || summary
build build_fake "$T/fake" tests/runtime/fake_model.c || summary
build build_fake_nan "$T/fake_nan" tests/runtime/fake_model.c -DFAKE_LR=1e300 -DFAKE_NAME='"fake_nan"' || summary
build build_fake_hidden_nan "$T/fake_hidden" tests/runtime/fake_model.c -DFAKE_NAN_AFTER=3 -DFAKE_NAME='"fake_hidden"' || summary
build build_fake_huge "$T/fake_huge" tests/runtime/fake_model.c '-DFAKE_ARENA=((size_t)1 << 62)' -DFAKE_NAME='"fake_huge"' || summary

# ---- 1. hostile checkpoint files --------------------------------------------
mkdir -p "$T/unit"
"$T/test_faults" "$T/unit" >"$T/unit.out" 2>&1
st=$?
tally "$T/unit.out"
[ $st -eq 0 ] || grep -q '^FAIL ' "$T/unit.out" || bad unit_exit "test_faults exited with $st"

if command -v valgrind >/dev/null 2>&1; then
    rm -rf "$T/unit"; mkdir -p "$T/unit"
    if FAULTS_NO_TIMING=1 valgrind -q --error-exitcode=9 --leak-check=full "$T/test_faults" "$T/unit" \
            >"$T/valgrind.out" 2>&1; then
        ok valgrind_test_faults
    else
        bad valgrind_test_faults "$(grep -v '^ok ' "$T/valgrind.out" | head -n 8 | tr '\n' ' ')"
    fi
fi

# ---- 2. kill -9, full disk, read-only directory -------------------------------
mkdir -p "$T/kill"
"$T/killsave" kill "$T/kill" "$KILL_TRIALS" >"$T/kill.out" 2>&1
tally "$T/kill.out"
"$T/killsave" fsize "$T/kill" >"$T/fsize.out" 2>&1
tally "$T/fsize.out"
# Under /tmp: user nobody (for a root run) must reach it.
RO=$(mktemp -d /tmp/dlc-faults.XXXXXX) && chmod 755 "$RO"
"$T/killsave" rodir "$RO" >"$T/rodir.out" 2>&1
tally "$T/rodir.out"
chmod 755 "$RO" 2>/dev/null; rm -rf "$RO"

# ---- 3. the trainer -------------------------------------------------------------
cd "$T"
awk 'BEGIN { srand(1); print "f1,f2,f3,f4,label"
    for (i = 0; i < 600; i++) { c = i % 3
        printf "%.4f,%.4f,%.4f,%.4f,%d\n", (c == 0) + 2 * rand() - 1,
            (c == 1) + 2 * rand() - 1, (c == 2) + 2 * rand() - 1, rand(), c } }' >train.csv
head -n 301 train.csv >test.csv
DATA="--train-csv train.csv --test-csv test.csv"

run() {   # run NAME ARGS...: stdout in NAME.out, stderr in NAME.err, $status
    local name=$1
    shift
    timeout 60 "$@" >"$name.out" 2>"$name.err" </dev/null
    status=$?
}
# expect NAME STATUS WANT ARGS...: exits STATUS and stderr contains WANT.
expect() {
    local name=$1 want_status=$2 want=$3
    shift 3
    run "$name" "$@"
    if [ $status -eq "$want_status" ] && grep -qF -- "$want" "$name.err"; then
        ok "$name"
    else
        bad "$name" "status $status (want $want_status), stderr: $(head -c 600 "$name.err")"
    fi
}

# Bug 3: --checkpoint replaced whatever was there.
printf 'my notes\n' >notes.txt
expect ckpt_refuses_notes_txt 1 "fake: error: cannot write checkpoint 'notes.txt': a file that is not a dlc checkpoint is there; refusing to replace it" \
    ./fake $DATA --checkpoint notes.txt
[ "$(cat notes.txt)" = "my notes" ] && ok ckpt_notes_txt_unchanged || bad ckpt_notes_txt_unchanged "notes.txt changed"
cp train.csv train-copy.csv
expect ckpt_refuses_training_data 1 "fake: error: cannot write checkpoint 'train.csv': it is the file given to --train-csv; saving would destroy it" \
    ./fake $DATA --checkpoint train.csv
ln -f test.csv alias.csv
expect ckpt_refuses_input_by_inode 1 "fake: error: cannot write checkpoint 'alias.csv': it is the file given to --test-csv as test.csv" \
    ./fake $DATA --checkpoint alias.csv
cmp -s train.csv train-copy.csv && ok ckpt_training_data_unchanged || bad ckpt_training_data_unchanged "train.csv changed"

# A quick run must not silently replace a good model at the default path.
run first ./fake $DATA --epochs 2
cp fake.ckpt good.ckpt 2>/dev/null
[ $status -eq 0 ] && [ -f fake.ckpt ] && ok ckpt_default_path_first_run || bad ckpt_default_path_first_run "status $status: $(cat first.err)"
expect ckpt_smoke_run_refused 1 "fake: error: 'fake.ckpt' already holds a checkpoint and this run would replace it: give --resume to train on from it, or --overwrite to replace it" \
    ./fake $DATA --limit 200 --epochs 1
if cmp -s fake.ckpt good.ckpt && [ ! -s ckpt_smoke_run_refused.out ]; then
    ok ckpt_smoke_run_kept_good_model
else
    bad ckpt_smoke_run_kept_good_model "fake.ckpt changed or training started: $(cat ckpt_smoke_run_refused.out)"
fi
run overwrite ./fake $DATA --limit 200 --epochs 1 --overwrite
if [ $status -eq 0 ] && ! cmp -s fake.ckpt good.ckpt; then ok ckpt_overwrite_replaces; else bad ckpt_overwrite_replaces "status $status: $(cat overwrite.err)"; fi
cp good.ckpt fake.ckpt
run resume ./fake $DATA --epochs 1 --resume
if [ $status -eq 0 ] && grep -q '^resumed from fake.ckpt' resume.out; then ok ckpt_resume_allowed; else bad ckpt_resume_allowed "status $status: $(cat resume.err)"; fi

# Bug 2: a symlink planted at the old fixed temporary name.
printf 'precious\n' >victim.txt
ln -sf victim.txt sym.ckpt.tmp
run symlink ./fake $DATA --checkpoint sym.ckpt --epochs 1
if [ $status -eq 0 ] && [ "$(cat victim.txt)" = precious ] && [ -L sym.ckpt.tmp ] &&
        [ "$(head -c 7 sym.ckpt)" = DLCCKPT ]; then
    ok ckpt_symlink_at_tmp_not_followed
else
    bad ckpt_symlink_at_tmp_not_followed "status $status, victim: $(head -c 20 victim.txt | od -c | head -n 1)"
fi
# FIFOs and devices: an error naming them, never a hang (timeout 60 says 124).
mkfifo pipe.ckpt
expect ckpt_fifo_save_refused 1 "cannot write checkpoint 'pipe.ckpt': it is a FIFO" ./fake $DATA --checkpoint pipe.ckpt
expect ckpt_fifo_load_refused 1 "pipe.ckpt: not a checkpoint: it is a FIFO" ./fake $DATA --checkpoint pipe.ckpt --eval-only
expect ckpt_dev_zero_load_refused 1 "/dev/zero: not a checkpoint: it is a character device" ./fake $DATA --checkpoint /dev/zero --eval-only
expect ckpt_dev_zero_resume_refused 1 "it is a character device" ./fake $DATA --checkpoint /dev/zero --resume
mkdir -p adir
expect ckpt_directory_refused 1 "cannot write checkpoint 'adir': it is a directory" ./fake $DATA --checkpoint adir

# Two trainers saving to one path at once (a -D sweep): both succeed.
./fake $DATA --checkpoint shared.ckpt --epochs 6 >shared1.out 2>&1 &
p1=$!
./fake $DATA --checkpoint shared.ckpt --epochs 6 --overwrite --seed 9 >shared2.out 2>&1 &
p2=$!
wait $p1; s1=$?
wait $p2; s2=$?
# The first may find the second's checkpoint already there: then it is refused up front.
if [ $s2 -eq 0 ] && { [ $s1 -eq 0 ] || grep -q 'already holds a checkpoint' shared1.out; } &&
        ! ls shared.ckpt.tmp* >/dev/null 2>&1; then
    ok ckpt_concurrent_trainers
else
    bad ckpt_concurrent_trainers "status $s1/$s2: $(cat shared1.out shared2.out | grep error)"
fi
./fake $DATA --checkpoint shared2.ckpt --epochs 6 --overwrite >shared3.out 2>&1 &
p1=$!
./fake $DATA --checkpoint shared2.ckpt --epochs 6 --overwrite --seed 9 >shared4.out 2>&1 &
p2=$!
wait $p1; s1=$?
wait $p2; s2=$?
if [ $s1 -eq 0 ] && [ $s2 -eq 0 ]; then ok ckpt_concurrent_trainers_overwrite; else
    bad ckpt_concurrent_trainers_overwrite "status $s1/$s2: $(cat shared3.out shared4.out | grep error)"; fi

# Bug 1, the trainer's part: a checkpoint with NaN weights and a valid CRC.
nan_ckpt() {   # nan_ckpt IN OUT: value 6 of the parameters made NaN, CRC fixed
    /usr/bin/python3 - "$1" "$2" <<'EOF'
import struct, sys, zlib
b = bytearray(open(sys.argv[1], 'rb').read())
# Format 2: "params" starts after the table, the layout (the first
# section) and the header's CRC.
T = struct.unpack_from('<I', b, 20)[0]
n = struct.unpack_from('<I', b, 24)[0]
v0 = 24 + T + struct.unpack_from('<Q', b, 24 + 4 + n + 4)[0] + 4
struct.pack_into('<f', b, v0 + 4 * 6, float('nan'))
struct.pack_into('<I', b, len(b) - 4, zlib.crc32(bytes(b[:-4])) & 0xffffffff)
open(sys.argv[2], 'wb').write(b)
EOF
}
nan_ckpt good.ckpt nan.ckpt
cp nan.ckpt nan-before.ckpt
expect nan_ckpt_eval_only_refused 1 "nan.ckpt: the parameter w[1][2] (tensor w, 3x4) is nan in this checkpoint" \
    ./fake $DATA --checkpoint nan.ckpt --eval-only
grep -q 'test accuracy' nan_ckpt_eval_only_refused.out && bad nan_ckpt_no_accuracy "reported: $(cat nan_ckpt_eval_only_refused.out)" || ok nan_ckpt_no_accuracy
expect nan_ckpt_resume_refused 1 "fake: error: cannot resume: nan.ckpt: the parameter w[1][2]" \
    ./fake $DATA --checkpoint nan.ckpt --resume
cmp -s nan.ckpt nan-before.ckpt && ok nan_ckpt_not_resaved || bad nan_ckpt_not_resaved "nan.ckpt was rewritten"
# A NaN weight that the loss does not show (a ReLU that hid it): not saved.
expect nan_network_not_saved 1 "fake_hidden: error: epoch 1: cannot write checkpoint 'hidden.ckpt': the parameter w[1][2] (tensor w, 3x4) is nan; a network that is not finite is never saved" \
    ./fake_hidden $DATA --checkpoint hidden.ckpt
[ -e hidden.ckpt ] && bad nan_network_no_file "hidden.ckpt written" || ok nan_network_no_file
# The end-of-step check names the step and the option that finds the op.
expect divergence_names_step 1 "fake_nan: error: training diverged: the loss is nan in epoch 1, batch 2 of 30 (step 2 of this run); try a smaller learning rate, or rebuild the trainer with 'dlc --check-numerics'" \
    ./fake_nan $DATA --checkpoint div.ckpt

# Resource limits: a network that cannot be allocated, before any data.
expect create_fails_with_bytes 1 "fake_huge: error: cannot allocate the network: it needs 4611686018427" \
    ./fake_huge --train-csv nope.csv --test-csv nope.csv --checkpoint huge.ckpt
# --limit beyond the data: a warning, and all of it is used.
run limit_beyond ./fake $DATA --checkpoint lb.ckpt --limit 100000 --test-limit 100000 --epochs 1
if [ $status -eq 0 ] && grep -qx 'fake: warning: --limit 100000 is more than the 600 samples in train.csv; using all of them' limit_beyond.err &&
        grep -qx 'fake: warning: --test-limit 100000 is more than the 300 samples in test.csv; using all of them' limit_beyond.err &&
        grep -q '^fake: 480 training samples, 120 for validation, 300 test' limit_beyond.out; then
    ok limit_beyond_data_warns
else
    bad limit_beyond_data_warns "status $status: $(cat limit_beyond.err)"
fi

# Usage errors: exit 2, as --help says.
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
usage usage_repeated_option $DATA --epochs 1 --epochs 2
usage usage_repeated_checkpoint $DATA --checkpoint a.ckpt --checkpoint=b.ckpt
usage usage_overwrite_with_eval_only $DATA --overwrite --eval-only
usage usage_progress_and_no_progress $DATA --progress --no-progress
usage usage_seed_hex_empty $DATA --seed 0x
usage usage_seed_hex_negative $DATA --seed 0x-1
usage usage_seed_too_big $DATA --seed 18446744073709551616
usage usage_epochs_plus $DATA --epochs +3
usage usage_epochs_space "--epochs= 3" $DATA
usage usage_limit_huge $DATA --limit 99999999999
usage usage_validation_nan $DATA --validation nan
usage usage_overwrite_value $DATA --overwrite=yes
usage usage_checkpoint_empty $DATA --checkpoint ''
run help ./fake --help
if grep -q '^  --overwrite' help.out && grep -q '2 for a bad command line' help.out &&
        grep -q 'never replaces a checkpoint without being asked' help.out; then
    ok help_documents_overwrite_and_status
else
    bad help_documents_overwrite_and_status "$(grep -A3 -- '--overwrite\|Exit status' help.out)"
fi
run evalwarn ./fake --test-csv test.csv --checkpoint good.ckpt --eval-only --epochs 3 --limit 5
if [ $status -eq 0 ] && grep -qx 'fake: warning: --epochs has no effect with --eval-only' evalwarn.err &&
        grep -qx 'fake: warning: --limit has no effect with --eval-only' evalwarn.err; then
    ok eval_only_warns_about_training_options
else
    bad eval_only_warns_about_training_options "status $status: $(cat evalwarn.err)"
fi
run seed10 ./fake $DATA --checkpoint s10.ckpt --seed 010 --epochs 1
run seed10b ./fake $DATA --checkpoint s10b.ckpt --seed 10 --epochs 1
if [ $status -eq 0 ] && cmp -s s10.ckpt s10b.ckpt; then ok seed_leading_zero_is_decimal; else bad seed_leading_zero_is_decimal "--seed 010 is not --seed 10"; fi

# The refusals leak nothing.
if command -v valgrind >/dev/null 2>&1; then
    vg_fail=""
    for args in "--checkpoint notes.txt" "--checkpoint nan.ckpt --eval-only" "--checkpoint nan.ckpt --resume" \
            "--checkpoint fake.ckpt --epochs 1" "--checkpoint pipe.ckpt --eval-only" "--checkpoint vg.ckpt --epochs 1"; do
        # shellcheck disable=SC2086
        valgrind -q --error-exitcode=9 --leak-check=full ./fake $DATA $args >vg.out 2>&1
        [ $? -eq 9 ] && vg_fail="$vg_fail [$args]: $(grep '==' vg.out | head -n 3)"
    done
    [ -z "$vg_fail" ] && ok valgrind_trainer_refusals || bad valgrind_trainer_refusals "$vg_fail"
fi

# ---- 4. a generated trainer --------------------------------------------------
cd "$ROOT"
XOR=examples/xor.net
G=$T/gen
mkdir -p "$G"
MODEL_CFLAGS="-std=c99 -Wall -Wextra -pedantic -Werror -O2 -Iruntime"
MODEL_LIBS="build/libdlrt.a -lopenblas -lz -lm"
gen_build() {   # gen_build NAME NETFILE
    "$DLC" --main "$2" -o "$G/$1.c" >"$G/$1.log" 2>&1 &&
        $CC $MODEL_CFLAGS -o "$G/$1" "$G/$1.c" $MODEL_LIBS >>"$G/$1.log" 2>&1
}
sed 's/dense(x, 16,/dense(x, 24,/' $XOR >"$G/xor24.net"
# 10M units: gigabytes of activations for a batch of 32.
sed 's/dense(x, 16,/dense(x, 10000000,/' $XOR >"$G/xorhuge.net"
if gen_build xor $XOR && gen_build xor24 "$G/xor24.net"; then
    ok gen_build
    XD="--train-csv examples/data/xor.csv --test-csv examples/data/xor.csv"
    LONG="$G/a-long-directory-name-for-the-runs-of-one-experiment-with-many-settings-and-seeds-and-variants/another-level-of-directories-named-after-the-date-and-the-hyperparameters-of-the-run"
    mkdir -p "$LONG"
    "$G/xor" $XD --epochs 2 --checkpoint "$LONG/xor.ckpt" >"$G/xor.out" 2>&1
    "$G/xor24" $XD --eval-only --checkpoint "$LONG/xor.ckpt" >"$G/long.out" 2>"$G/long.err"
    st=$?
    want="first difference: tensor 'h_w' is 16x2 in the file but 24x2 in the network"
    if [ $st -eq 1 ] && [ ${#LONG} -ge 200 ] && grep -qF "$LONG/xor.ckpt: checkpoint does not match this network" "$G/long.err" &&
            grep -qF "$want" "$G/long.err"; then
        ok gen_long_path_message_whole
    else
        bad gen_long_path_message_whole "status $st: $(cat "$G/long.err")"
    fi
    nan_ckpt "$LONG/xor.ckpt" "$G/nan.ckpt"
    "$G/xor" $XD --eval-only --checkpoint "$G/nan.ckpt" >"$G/nan.out" 2>"$G/nan.err"
    st=$?
    if [ $st -eq 1 ] && grep -qF "nan.ckpt: the parameter h_w[3][0] (tensor h_w, 16x2) is nan in this checkpoint" "$G/nan.err" &&
            ! grep -q 'accuracy' "$G/nan.out"; then
        ok gen_nan_checkpoint_refused
    else
        bad gen_nan_checkpoint_refused "status $st: $(cat "$G/nan.out" "$G/nan.err")"
    fi
    "$G/xor" $XD --resume --checkpoint "$G/nan.ckpt" >"$G/nanr.out" 2>"$G/nanr.err"
    st=$?
    if [ $st -eq 1 ] && grep -qF "cannot resume: $G/nan.ckpt: the parameter h_w[3][0]" "$G/nanr.err"; then
        ok gen_nan_checkpoint_resume_refused
    else
        bad gen_nan_checkpoint_resume_refused "status $st: $(cat "$G/nanr.err")"
    fi
    # Arena too big: an error with the bytes, before any data is read.
    if gen_build xorhuge "$G/xorhuge.net"; then
        (ulimit -v 2000000; "$G/xorhuge" --train-csv nope.csv --test-csv nope.csv --checkpoint "$G/h.ckpt") >"$G/huge.out" 2>"$G/huge.err"
        st=$?
        if [ $st -eq 1 ] && grep -qE '^xor: error: cannot allocate the network: it needs [0-9]{10,} bytes \([0-9.]+ MiB\)' "$G/huge.err"; then
            ok gen_arena_too_big_says_bytes
        else
            bad gen_arena_too_big_says_bytes "status $st: $(cat "$G/huge.err")"
        fi
    else
        bad gen_arena_too_big_says_bytes "does not build: $(head -c 400 "$G/xorhuge.log")"
    fi
else
    bad gen_build "$(head -c 600 "$G/xor.log" "$G/xor24.log")"
fi

summary
