#!/bin/sh
# tests/e2e/resume.sh: exact --resume and early stopping, through generated
# trainers (run by tests/e2e/run.sh; alone: sh tests/e2e/resume.sh).
#
# 1. For every optimizer variant of tests/torch/optimizers.txt, on
#    tests/e2e/resume.net (dropout, random_hflip, gaussian_noise and a noise
#    input: the model's random stream and the trainer's noise stream are all
#    in use; 80 training samples in batches of 8, so an epoch is 10 steps):
#    3 epochs straight against 1 epoch, then --resume to 2 and to 3, each
#    in a new process. PATH.last (network, optimizer state, step counts,
#    both random streams, the permutation, best-so-far) and the best
#    checkpoint PATH must be byte-identical, and so must the epoch lines.
# 2. A warm start (PATH.last removed) differs: the test can fail.
# 3. Early stopping by flags and by the train block: the epoch it stops at,
#    the message, the best checkpoint by the metric, --resume after it.
# 4. Bad or mismatched resume state: another seed, --limit, --metric, a
#    corrupt or foreign PATH.last, an older PATH without PATH.last; a plain
#    load (--eval-only) of PATH.last.
set -u
DLC=${DLC:-build/dlc}
T=build/tmp/resume
rm -rf "$T"; mkdir -p "$T"
pass=0 fail=0
ok() { echo "ok $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
CFL="-std=c99 -Wall -Wextra -pedantic -Werror -O1 -Iruntime"
LIBS="build/libdlrt.a -lopenblas -lz -lm"
NET=tests/e2e/resume.net

# 100 samples of 16 values and a class, from a fixed generator.
awk 'BEGIN { s = 7; for (i = 0; i < 100; i++) { c = i % 3; line = "";
    for (j = 0; j < 16; j++) { s = (s * 1103515245 + 12345) % 2147483648;
        v = s / 2147483648 * 0.5 + (j % 3 == c ? 0.5 : 0); line = line sprintf("%.3f,", v) }
    print line c } }' >"$T/d.csv"
D="--train-csv $T/d.csv --test-csv $T/d.csv --no-progress"

# build NAME TRAIN-LINES: resume.net with its train block's optimizer lines
# replaced by TRAIN-LINES (';'-separated), compiled and built.
build() {
    name=$1 lines=$2
    { sed '/^train {/,$d' "$NET"
      echo "train {"
      echo "$lines" | tr ';' '\n' | sed 's/^ */    /'
      sed -n '/^train {/,$p' "$NET" | grep -v '^train {' | grep -v optimizer; } >"$T/$name.net"
    if ! "$DLC" --main "$T/$name.net" -o "$T/$name.c" 2>"$T/$name.dlc.err"; then
        bad "$name-compile" "$(head -c 400 "$T/$name.dlc.err")"; return 1; fi
    if ! cc $CFL -o "$T/$name" "$T/$name.c" $LIBS 2>"$T/$name.cc.err"; then
        bad "$name-build" "$(head -c 400 "$T/$name.cc.err")"; return 1; fi
}
epochs() { grep '^epoch' "$1" | sed 's/  (.*s)//; s/^epoch \([0-9]*\)\/[0-9]*/epoch \1/'; }

# 1. every optimizer variant, and every learning-rate schedule (per epoch,
#    per batch: onecycle; on the validation loss: plateau, its threshold
#    such that every epoch counts as bad): 10 steps + save + a new process
#    + 10 more == 20 steps, and once more to 30
SCHEDULES="sched_step: optimizer momentum(lr = 0.05, momentum = 0.9); schedule step(step_size = 1, gamma = 0.5)
sched_multistep: optimizer sgd(lr = 0.05); schedule multistep(milestones = (1, 2), gamma = 0.3)
sched_exponential: optimizer adam(lr = 0.01); schedule exponential(gamma = 0.7)
sched_cosine: optimizer sgd(lr = 0.05); schedule cosine(t_max = 3, eta_min = 0.001)
sched_cosine_restarts: optimizer adamw(lr = 0.01); schedule cosine_restarts(t_0 = 1, t_mult = 2)
sched_onecycle: optimizer momentum(lr = 0.05, momentum = 0.9); schedule onecycle(max_lr = 0.1)
sched_onecycle_adam: optimizer adam(lr = 0.01); schedule onecycle(max_lr = 0.02, anneal_strategy = linear)
sched_plateau: optimizer rmsprop(lr = 0.01); schedule plateau(factor = 0.5, patience = 0, threshold = 10, threshold_mode = abs)
sched_warmup: optimizer sgd(lr = 0.05); schedule cosine(t_max = 2); warmup_epochs 1"
variants=0
while IFS= read -r row; do
    case "$row" in ''|'#'*) continue ;; esac
    v=${row%%:*} lines=${row#*: }
    build "$v" "$lines" || continue
    variants=$((variants + 1))
    B="$T/$v"
    "$B" $D --epochs 3 --checkpoint "$B.a.ckpt" >"$B.a.out" 2>&1 || { bad "$v-straight" "$(tail -c 300 "$B.a.out")"; continue; }
    "$B" $D --epochs 2 --checkpoint "$B.c.ckpt" >"$B.c.out" 2>&1
    "$B" $D --epochs 1 --checkpoint "$B.b.ckpt" >"$B.b1.out" 2>&1
    "$B" $D --epochs 2 --checkpoint "$B.b.ckpt" --resume >"$B.b2.out" 2>&1
    if cmp -s "$B.b.ckpt.last" "$B.c.ckpt.last" && cmp -s "$B.b.ckpt" "$B.c.ckpt"; then
        ok "$v-resume-20-steps (10 steps, a new process, 10 more = 20 steps, bit for bit)"
    else bad "$v-resume-20-steps" "PATH.last or PATH differs after 1 + 1 epochs"; fi
    "$B" $D --epochs 3 --checkpoint "$B.b.ckpt" --resume >"$B.b3.out" 2>&1
    if cmp -s "$B.b.ckpt.last" "$B.a.ckpt.last" && cmp -s "$B.b.ckpt" "$B.a.ckpt"; then
        ok "$v-resume-30-steps (1 + 1 + 1 epochs = 3, bit for bit)"
    else bad "$v-resume-30-steps" "PATH.last or PATH differs after 1 + 1 + 1 epochs"; fi
    # in the middle of epochs: --max-steps 7, then to 17, then to the end
    "$B" $D --epochs 3 --checkpoint "$B.m.ckpt" --max-steps 7 >"$B.m1.out" 2>&1
    "$B" $D --epochs 3 --checkpoint "$B.m.ckpt" --max-steps 17 --resume >"$B.m2.out" 2>&1
    "$B" $D --epochs 3 --checkpoint "$B.m.ckpt" --resume >"$B.m3.out" 2>&1
    cat "$B.m1.out" "$B.m2.out" "$B.m3.out" | epochs /dev/stdin >"$B.m.ep"
    if cmp -s "$B.m.ckpt.last" "$B.a.ckpt.last" && cmp -s "$B.m.ckpt" "$B.a.ckpt" &&
       grep -q "^stopped after step 7 (--max-steps): batch 7 of 10 of epoch 1;" "$B.m1.out" &&
       grep -q "^resumed from .*: epoch 1 of 3 done, and batch 7 of 10 of epoch 2 (step 17)" "$B.m3.out" &&
       { epochs "$B.a.out" | cmp -s - "$B.m.ep"; }; then
        ok "$v-resume-mid-epoch (7 steps + 10 + 13 = 30, bit for bit, the epoch lines too)"
    else bad "$v-resume-mid-epoch" "$(tail -c 300 "$B.m3.out")"; fi
    # --save-every changes nothing in the run
    "$B" $D --epochs 3 --checkpoint "$B.s.ckpt" --save-every 3 >"$B.s.out" 2>&1
    if cmp -s "$B.s.ckpt.last" "$B.a.ckpt.last" && cmp -s "$B.s.ckpt" "$B.a.ckpt"; then ok "$v-save-every-neutral"
    else bad "$v-save-every-neutral" "checkpoints differ with --save-every 3"; fi
    cat "$B.b1.out" "$B.b2.out" "$B.b3.out" | epochs /dev/stdin >"$B.b.ep"
    epochs "$B.a.out" >"$B.a.ep"
    if cmp -s "$B.a.ep" "$B.b.ep" && [ "$(grep '^test' "$B.a.out")" = "$(grep '^test' "$B.b3.out")" ]; then
        ok "$v-resume-epoch-lines"
    else bad "$v-resume-epoch-lines" "$(diff "$B.a.ep" "$B.b.ep" | head -5)"; fi
done <<ROWS
$(cat tests/torch/optimizers.txt)
$SCHEDULES
ROWS
[ $variants -ge 10 ] && ok "resume-variants ($variants optimizer variants)" || bad resume-variants "only $variants variants built"

# A PATH.last trained under another schedule is refused.
if [ -x "$T/sched_multistep" ] && [ -x "$T/sched_cosine" ]; then
    cp "$T/sched_multistep.b.ckpt.last" "$T/x.ckpt.last"; cp "$T/sched_multistep.b.ckpt" "$T/x.ckpt"
    "$T/sched_cosine" $D --epochs 3 --checkpoint "$T/x.ckpt" --resume >"$T/x.out" 2>&1
    st=$?
    if [ $st -eq 1 ] && grep -q "cannot resume: .*x.ckpt.last was trained with another learning-rate schedule (multistep)" "$T/x.out"; then
        ok resume-refuses-another-schedule
    else bad resume-refuses-another-schedule "exit $st: $(tail -c 300 "$T/x.out")"; fi
fi

# onecycle spans the train block's 3 epochs: --epochs 4 is refused.
if [ -x "$T/sched_onecycle" ]; then
    "$T/sched_onecycle" $D --epochs 4 --checkpoint "$T/oc.ckpt" >"$T/oc.out" 2>&1
    st=$?
    if [ $st -eq 1 ] && grep -q "error: --epochs 4 goes past the onecycle schedule, which spans the train block's 3 epochs" "$T/oc.out"; then
        ok onecycle-refuses-longer-epochs
    else bad onecycle-refuses-longer-epochs "exit $st: $(tail -c 300 "$T/oc.out")"; fi
fi

# 2. without PATH.last: a warm start, which is not the same run
B="$T/sgd"
if [ -x "$B" ]; then
    "$B" $D --epochs 1 --checkpoint "$B.w.ckpt" >/dev/null 2>&1
    rm -f "$B.w.ckpt.last"
    "$B" $D --epochs 2 --checkpoint "$B.w.ckpt" --resume >"$B.w.out" 2>"$B.w.err"
    if grep -q "warning: no .*w.ckpt.last to resume from: a warm start" "$B.w.err" &&
       ! cmp -s "$B.w.ckpt.last" "$B.c.ckpt.last"; then ok warm-start-differs
    else bad warm-start-differs "$(cat "$B.w.err")"; fi

    # 4. bad or mismatched resume state
    "$B" $D --epochs 1 --checkpoint "$B.x.ckpt" >/dev/null 2>&1
    expect() { # NAME STATUS MESSAGE ARGS...
        n=$1 want=$2 msg=$3; shift 3
        "$@" >"$T/$n.out" 2>"$T/$n.err"; got=$?
        if [ $got -eq $want ] && grep -qF -- "$msg" "$T/$n.err"; then ok "$n"
        else bad "$n" "exit $got: $(head -c 400 "$T/$n.err")"; fi
    }
    expect resume-other-seed 1 "continues a run with --seed 0, but this run has --seed 5; give the same seed" \
        "$B" $D --epochs 2 --checkpoint "$B.x.ckpt" --resume --seed 5
    expect resume-other-data 1 "continues a run on 100 training samples (20 of them for validation), but this run has 90 (18)" \
        "$B" $D --epochs 2 --checkpoint "$B.x.ckpt" --resume --limit 90
    expect resume-other-metric 1 "chose its best checkpoint by the default rule, this run by val_loss" \
        "$B" $D --epochs 2 --checkpoint "$B.x.ckpt" --resume --metric val_loss
    cp "$B.x.ckpt.last" "$T/corrupt.ckpt.last"; cp "$B.x.ckpt" "$T/corrupt.ckpt"
    printf 'XXXX' | dd of="$T/corrupt.ckpt.last" bs=1 seek=900 conv=notrunc 2>/dev/null
    expect resume-corrupt-last 1 "cannot resume: $T/corrupt.ckpt.last: checksum mismatch" \
        "$B" $D --epochs 2 --checkpoint "$T/corrupt.ckpt" --resume
    # a PATH.last of another network (adam's state)
    cp "$T/adam.a.ckpt.last" "$T/foreign.ckpt.last" 2>/dev/null; cp "$B.x.ckpt" "$T/foreign.ckpt"
    expect resume-foreign-last 1 "checkpoint holds optimizer state exp_avg, exp_avg_sq but this network's optimizer uses none" \
        "$B" $D --epochs 2 --checkpoint "$T/foreign.ckpt" --resume
    # a plain model checkpoint where PATH.last should be: no trainer state
    cp "$B.x.ckpt" "$T/plain.ckpt"; cp "$B.x.ckpt" "$T/plain.ckpt.last"
    expect resume-no-trainer-state 1 "has no section 'trainer:state': it holds no trainer state to resume from" \
        "$B" $D --epochs 2 --checkpoint "$T/plain.ckpt" --resume
    # without --resume or --overwrite, an existing PATH.last is not replaced
    rm -f "$T/only.ckpt"; cp "$B.x.ckpt.last" "$T/only.ckpt.last"
    expect last-not-replaced 1 "already holds the state of a run (written after each epoch, for --resume)" \
        "$B" $D --epochs 1 --checkpoint "$T/only.ckpt"
    # --help says what --resume does now
    "$B" --help >"$T/help.out" 2>&1
    if grep -q "continue the run PATH.last holds, exactly" "$T/help.out" && grep -q -- "--patience N" "$T/help.out" &&
       grep -q -- "--max-steps N" "$T/help.out"; then ok help-resume-exact; else bad help-resume-exact "$(grep -A3 -- --resume "$T/help.out")"; fi
    # another batch size: the layout matches, the run would not
    sed 's/^    batch 8$/    batch 10/' "$T/sgd.net" >"$T/sgd10.net"
    if "$DLC" --main "$T/sgd10.net" -o "$T/sgd10.c" 2>/dev/null && cc $CFL -o "$T/sgd10" "$T/sgd10.c" $LIBS 2>/dev/null; then
        expect resume-other-batch 1 "continues a run with batch 8, but this network's batch is 10 (remove $B.x.ckpt.last for a warm start from $B.x.ckpt)" \
            "$T/sgd10" $D --epochs 2 --checkpoint "$B.x.ckpt" --resume
    else bad resume-other-batch "sgd10 did not build"; fi
    # --max-steps already reached: nothing to train
    "$B" $D --epochs 3 --max-steps 5 --checkpoint "$B.x.ckpt" --resume >"$T/maxdone.out" 2>&1
    grep -q "^nothing to train: the run has done 10 steps (--max-steps 5)" "$T/maxdone.out" &&
        ok resume-max-steps-reached || bad resume-max-steps-reached "$(tail -c 300 "$T/maxdone.out")"
    # PATH.last loads as a plain checkpoint: --eval-only skips the trainer's sections
    "$B" $D --eval-only --checkpoint "$B.c.ckpt.last" >"$T/evlast.out" 2>&1 &&
        grep -q "^test loss" "$T/evlast.out" && ok eval-only-on-last || bad eval-only-on-last "$(tail -c 300 "$T/evlast.out")"
    # resuming a finished run: nothing to train, the same test report
    "$B" $D --epochs 2 --checkpoint "$B.c.ckpt" --resume >"$T/done.out" 2>&1
    if grep -q "^nothing to train: the run has done its 2 epochs" "$T/done.out" &&
       [ "$(grep '^test' "$T/done.out")" = "$(grep '^test' "$B.c.out")" ]; then ok resume-finished-run
    else bad resume-finished-run "$(tail -c 300 "$T/done.out")"; fi
fi

# 3. early stopping
#    by flags: min_delta too large for any improvement: epoch 1 is the
#    watched best; patience 2 stops after epoch 3
if build es_flags "optimizer momentum(lr = 0.05, momentum = 0.9)"; then
    B="$T/es_flags"
    "$B" $D --epochs 20 --patience 2 --min-delta 100 --checkpoint "$B.ckpt" >"$B.out" 2>&1
    st=$?
    n=$(grep -c '^epoch' "$B.out")
    if [ $st -eq 0 ] && [ "$n" -eq 3 ] &&
       grep -q "^early stopping: val loss has not improved by more than 100 for 2 epochs (best [0-9.]*, epoch 1); stopped after epoch 3 of 20$" "$B.out"
    then ok early-stop-epoch; else bad early-stop-epoch "exit $st, $n epochs: $(tail -c 400 "$B.out")"; fi
    # the best checkpoint is the lowest val loss (metric val_loss, strictly lower)
    best=$(grep '^epoch' "$B.out" | awk '{for (i = 1; i < NF; i++) if ($i == "loss" && $(i-1) == "val") print $(i+1), $2}' |
           sort -n | head -1 | sed 's/ \([0-9]*\)\/.*/ \1/')
    k=$(sed -n 's/^best checkpoint: epoch \([0-9]*\),.*/\1/p' "$B.out")
    [ "${best#* }" = "$k" ] && ok "early-stop-best-by-val-loss (epoch $k)" || bad early-stop-best-by-val-loss "best '$best', checkpoint epoch '$k'"
    # resuming a stopped run trains nothing
    "$B" $D --epochs 20 --patience 2 --min-delta 100 --checkpoint "$B.ckpt" --resume >"$B.r.out" 2>&1
    if grep -q "^the run stopped early after epoch 3" "$B.r.out" &&
       [ "$(grep '^test' "$B.out")" = "$(grep '^test' "$B.r.out")" ]; then ok early-stop-resume
    else bad early-stop-resume "$(tail -c 300 "$B.r.out")"; fi
    # patience 0 without min_delta: stops at the first epoch that does not
    # lower the val loss, which is the first that the checkpoint skips
    "$B" $D --epochs 40 --patience 0 --checkpoint "$B.p0.ckpt" >"$B.p0.out" 2>&1
    last=$(grep '^epoch' "$B.p0.out" | tail -1)
    n=$(grep -c '^epoch' "$B.p0.out")
    starred=$(grep -c '^epoch.*\*$' "$B.p0.out")
    if case "$last" in *'*') false ;; *) true ;; esac && [ "$starred" -eq $((n - 1)) ] &&
       grep -q "^early stopping: val loss has not improved by more than 0 for 1 epoch " "$B.p0.out"
    then ok "early-stop-patience-0 (stopped after epoch $n)"; else bad early-stop-patience-0 "$(tail -c 400 "$B.p0.out")"; fi
    # a usage error
    "$B" $D --patience -1 >"$T/pat.out" 2>&1
    [ $? -eq 2 ] && grep -q "patience wants a whole number" "$T/pat.out" && ok patience-usage || bad patience-usage "$(cat "$T/pat.out")"
fi
#    by the train block: val_acc cannot improve by more than 1
if build es_block "optimizer momentum(lr = 0.05, momentum = 0.9);early_stopping(metric = val_acc, patience = 1, min_delta = 1)"; then
    B="$T/es_block"
    "$B" $D --epochs 20 --checkpoint "$B.ckpt" >"$B.out" 2>&1
    if [ "$(grep -c '^epoch' "$B.out")" -eq 2 ] &&
       grep -q "^early stopping: val acc has not improved by more than 1 for 1 epoch (best [0-9.]*, epoch 1); stopped after epoch 2 of 20$" "$B.out"
    then ok early-stop-block-val-acc; else bad early-stop-block-val-acc "$(tail -c 400 "$B.out")"; fi
    # the flags override the block
    "$B" $D --epochs 4 --patience 10 --checkpoint "$B.2.ckpt" >"$B.2.out" 2>&1
    [ "$(grep -c '^epoch' "$B.2.out")" -eq 4 ] && ok early-stop-flag-overrides || bad early-stop-flag-overrides "$(tail -c 300 "$B.2.out")"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
