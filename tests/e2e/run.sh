#!/bin/sh
# tests/e2e: compile examples to C, build the trainers, train on real data
# (a subset of Fashion-MNIST; a generated CSV for regression) and check the
# metrics, the best checkpoint, and that a mismatched checkpoint is refused.
set -u
DLC=${DLC:-build/dlc}
T=build/tmp/e2e
rm -rf "$T"; mkdir -p "$T"
pass=0 fail=0
ok() { echo "ok $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
# sub_counts NAME SCRIPT OUT [LABEL]: prints a sub-script's ok/FAIL lines
# from OUT and adds its "[LABEL: ]N passed, N failed" counts; none: the
# script crashed, one failure.
sub_counts() {
    grep -E '^(ok|FAIL) ' "$3"
    sc=$(sed -n "s/^${4:+$4: }\([0-9]*\) passed, \([0-9]*\) failed\$/\1 \2/p" "$3")
    if [ -z "$sc" ]; then bad "$1" "$2 crashed: $(tail -n 3 "$3")"
    else pass=$((pass + ${sc% *})) fail=$((fail + ${sc#* })); fi
}
CFL="-std=c99 -Wall -Wextra -pedantic -Werror -O1 -Iruntime"   # -O1: some 60 builds; tests/kernels checks -O3
LIBS="build/libdlrt.a -lopenblas -lz -lm"

build() { # NAME NETFILE [dlc flags]: compile and build a trainer
    name=$1 net=$2; shift 2
    if ! "$DLC" --main "$@" "$net" -o "$T/$name.c" 2>"$T/$name.dlc.err"; then
        bad "$name-compile" "$(head -c 400 "$T/$name.dlc.err")"; return 1; fi
    # A net's "# e2e-cflags: ..." line adds flags (the conv examples that
    # train on thousands of images: -O2 -march=native builds in 1-2 s more
    # and trains 2-3 times as fast as -O1).
    extra=$(sed -n 's/^# e2e-cflags: //p' "$net" | head -n 1)
    # shellcheck disable=SC2086
    if ! cc $CFL $extra -o "$T/$name" "$T/$name.c" $LIBS 2>"$T/$name.cc.err"; then
        bad "$name-build" "$(head -c 400 "$T/$name.cc.err")"; return 1; fi
    ok "$name-build"
}

# 1. The showcase MLP, exactly as `make demo` trains it: one epoch over the
#    60,000 Fashion-MNIST images (10% held out), tested on all 10,000.
#    Its peak RSS (tests/e2e/peak_rss.c: getrusage of the child) must stay
#    within 100 MB, the dataset included (the pixels are kept as bytes).
cc -std=c99 -Wall -Wextra -pedantic -Werror -O2 -o "$T/peak_rss" tests/e2e/peak_rss.c ||
    bad peak-rss-build "cannot build tests/e2e/peak_rss.c"
if build fashion examples/fashion_mlp.net; then
    OPENBLAS_NUM_THREADS=1 "$T/peak_rss" "$T/fashion.rss" "$T/fashion" --checkpoint "$T/fashion.ckpt" >"$T/fashion.out" 2>&1
    st=$?
    acc=$(sed -n 's/^test accuracy: \([0-9.]*\)$/\1/p' "$T/fashion.out")
    if [ $st -ne 0 ] || [ -z "$acc" ]; then bad fashion-train "exit $st: $(tail -c 400 "$T/fashion.out")"
    elif awk "BEGIN{exit !($acc >= 0.84)}"; then ok "fashion-train (one epoch, test accuracy $acc >= 0.84)"
    else bad fashion-train "test accuracy $acc < 0.84"; fi
    rss=$(cat "$T/fashion.rss" 2>/dev/null)
    if [ -n "$rss" ] && [ "$rss" -le 102400 ]; then ok "fashion-peak-rss ($rss KiB <= 100 MiB, the 60,000 images included)"
    else bad fashion-peak-rss "peak RSS '$rss' KiB > 100 MiB (102400 KiB)"; fi
    # Memory follows --limit: the loader keeps only the samples asked for
    # (it still reads and checks every one), as bytes, so 20,000 more
    # training samples cost about 784 bytes each (floats: 3,136).
    for l in 5000 25000; do
        OPENBLAS_NUM_THREADS=1 "$T/peak_rss" "$T/limit$l.rss" "$T/fashion" --limit $l --test-limit 2000 \
            --checkpoint "$T/limit.ckpt" --overwrite >"$T/limit$l.out" 2>&1 ||
            bad "fashion-limit-$l" "exit $?: $(tail -c 300 "$T/limit$l.out")"
    done
    r1=$(cat "$T/limit5000.rss" 2>/dev/null) r2=$(cat "$T/limit25000.rss" 2>/dev/null)
    if [ -n "$r1" ] && [ -n "$r2" ] && [ "$r1" -le 40960 ] && [ $((r2 - r1)) -le $((20000 * 784 * 16 / 10 / 1024)) ]; then
        ok "fashion-rss-follows-limit (--limit 5000: $r1 KiB, 25000: $r2 KiB)"
    else bad fashion-rss-follows-limit "--limit 5000: '$r1' KiB (at most 40960), 25000: '$r2' KiB (at most 1.6 bytes a pixel more)"; fi
    grep -q "val acc" "$T/fashion.out" && ok fashion-reports-validation || bad fashion-reports-validation "no 'val acc' line"
    [ -s "$T/fashion.ckpt" ] && ok fashion-best-checkpoint || bad fashion-best-checkpoint "no checkpoint written"
    ls "$T"/*.tmp* >/dev/null 2>&1 && bad fashion-no-temp "temporary checkpoint left" || ok fashion-no-temp
    # evaluating the saved checkpoint gives the same accuracy
    "$T/fashion" --eval-only --checkpoint "$T/fashion.ckpt" >"$T/eval.out" 2>&1
    acc2=$(sed -n 's/^test accuracy: \([0-9.]*\)$/\1/p' "$T/eval.out")
    [ "$acc2" = "$acc" ] && ok fashion-eval-only-matches || bad fashion-eval-only-matches "'$acc2' vs '$acc'"
    # a checkpoint of a different network is refused, with a clear error
    if build fashion_wide examples/fashion_mlp.net -D hidden=64; then
        "$T/fashion_wide" --eval-only --checkpoint "$T/fashion.ckpt" >"$T/wide.out" 2>&1
        st=$?
        if [ $st -ne 0 ] && grep -q "does not match" "$T/wide.out"; then ok mismatched-checkpoint-refused
        else bad mismatched-checkpoint-refused "exit $st: $(tail -c 300 "$T/wide.out")"; fi
    fi
    # a corrupt checkpoint is refused
    cp "$T/fashion.ckpt" "$T/corrupt.ckpt"
    printf 'XXXX' | dd of="$T/corrupt.ckpt" bs=1 seek=5000 conv=notrunc 2>/dev/null
    "$T/fashion" --eval-only --checkpoint "$T/corrupt.ckpt" >"$T/corrupt.out" 2>&1
    st=$?
    if [ $st -ne 0 ] && grep -qi "checksum\|corrupt" "$T/corrupt.out"; then ok corrupt-checkpoint-refused
    else bad corrupt-checkpoint-refused "exit $st: $(tail -c 300 "$T/corrupt.out")"; fi
    # data of the wrong shape is refused
    "$T/fashion" --train-csv examples/data/xor.csv --test-csv examples/data/xor.csv >"$T/shape.out" 2>&1
    [ $? -ne 0 ] && ok wrong-data-shape-refused || bad wrong-data-shape-refused "$(tail -c 300 "$T/shape.out")"
fi

# 2. Every example compiles, builds and trains a little.
for net in examples/*.net; do
    name=$(basename "$net" .net)
    [ "$name" = fashion_mlp ] && continue
    first=$(head -n 1 "$net")
    case "$first" in *"e2e: skip"*) continue ;; esac
    if build "$name" "$net"; then
        args=$(sed -n 's/^# e2e-args: //p' "$net" | head -n 1)
        [ -n "$args" ] || args="--limit 2000 --test-limit 500 --epochs 1"
        # shellcheck disable=SC2086
        "$T/$name" $args --checkpoint "$T/$name.ckpt" >"$T/$name.out" 2>&1
        st=$?
        want=$(sed -n 's/^# e2e-expect: //p' "$net" | head -n 1)
        if [ $st -ne 0 ]; then bad "$name-train" "exit $st: $(tail -c 400 "$T/$name.out")"
        elif [ -n "$want" ] && ! awk -v w="$want" 'BEGIN{split(w,a," ")} $0 ~ "^test "a[1] {v=$NF} END{exit !(a[2]==">=" ? v+0>=a[3]+0 : v+0<=a[3]+0)}' "$T/$name.out"; then
            bad "$name-train" "expected '$want': $(tail -n 3 "$T/$name.out")"
        else ok "$name-train"; fi
    fi
done
# 2b. Every network the language allows, through the model descriptor.
untimed() { sed -e 's/  ([0-9.]* s, [0-9]* samples\/s)//' -e 's/saved in .*//' "$1"; }
#     The autoencoder learns from the images alone: its validation loss
#     falls epoch after epoch.
if [ -f "$T/fashion_autoencoder.out" ]; then
    if awk '/^epoch/ { for (i = 1; i <= NF; i++) if ($i == "val") v[++n] = $(i + 2) }
            END { if (n < 3) exit 1; for (i = 2; i <= n; i++) if (!(v[i] < v[i - 1])) exit 1 }' \
            "$T/fashion_autoencoder.out"; then
        ok "autoencoder-loss-decreases ($(grep -c '^epoch' "$T/fashion_autoencoder.out") epochs, images only)"
    else bad autoencoder-loss-decreases "$(cat "$T/fashion_autoencoder.out")"; fi
fi
#     Recurrent layers through the trainer: an lstm over the images' rows
#     learns the classes; a gru's [T, D] output trains against a target.
if build lstm_rows tests/e2e/lstm_rows.net; then
    "$T/lstm_rows" --limit 2000 --test-limit 500 --checkpoint "$T/lstm_rows.ckpt" >"$T/lstm_rows.out" 2>&1
    st=$?
    acc=$(sed -n 's/^test accuracy: //p' "$T/lstm_rows.out")
    if [ $st -eq 0 ] && [ -n "$acc" ] && awk -v a="$acc" 'BEGIN { exit !(a > 0.3) }'; then
        ok "lstm-over-rows (test accuracy $acc after 2000 images)"
    else bad lstm-over-rows "exit $st: $(tail -c 400 "$T/lstm_rows.out")"; fi
fi
if build lstm_target tests/e2e/lstm_target.net; then
    "$T/lstm_target" --target t=x --limit 1000 --test-limit 200 --epochs 2 \
        --checkpoint "$T/lstm_target.ckpt" >"$T/lstm_target.out" 2>&1
    st=$?
    if [ $st -eq 0 ] && grep -q '^test loss: ' "$T/lstm_target.out" &&
        awk '/^epoch/ { for (i = 1; i < NF; i++) if ($i == "val" && $(i + 1) == "loss") v[++n] = $(i + 2) }
            END { exit !(n == 2 && v[2] < v[1]) }' "$T/lstm_target.out"; then
        ok "gru-sequence-target (validation loss falls)"
    else bad gru-sequence-target "exit $st: $(tail -c 400 "$T/lstm_target.out")"; fi
fi
#     A target declared in the .net and tied to the input on the command line.
if build ae_target tests/e2e/ae_target.net; then
    "$T/ae_target" --target t=x --limit 1000 --test-limit 200 --epochs 2 \
        --checkpoint "$T/ae_target.ckpt" >"$T/ae_target.out" 2>&1
    st=$?
    if [ $st -eq 0 ] && grep -q '^test loss: ' "$T/ae_target.out" && ! grep -q acc "$T/ae_target.out"; then
        ok "target-tied-to-input (--target t=x)"
    else bad target-tied-to-input "exit $st: $(tail -c 400 "$T/ae_target.out")"; fi
    "$T/ae_target" --limit 10 --checkpoint "$T/ae_none.ckpt" >"$T/ae_none.out" 2>&1
    st=$?
    if [ $st -eq 2 ] && grep -q "no training data for target 't'.*--target NAME=INPUT" "$T/ae_none.out"; then
        ok "target-without-data-refused"
    else bad target-without-data-refused "exit $st: $(cat "$T/ae_none.out")"; fi
    "$T/ae_target" --target x=x --limit 10 --checkpoint "$T/ae_none.ckpt" >"$T/ae_bad.out" 2>&1
    st=$?
    if [ $st -eq 2 ] && grep -q "ae_target: error: --target x=x: 'x' is an input, not a target" "$T/ae_bad.out"; then
        ok "target-flag-checked"
    else bad target-flag-checked "exit $st: $(cat "$T/ae_bad.out")"; fi
fi
#     Two inputs, a label and a target: one CSV with every column, a file per
#     tensor, or a mix, train the same network bit for bit.
if [ -x "$T/two_heads" ]; then
    d=examples/data
    for s in train test; do
        f=$d/two_heads.csv; [ $s = test ] && f=$d/two_heads_test.csv
        cut -d, -f1-2 "$f" >"$T/th_$s.a.csv"; cut -d, -f3-4 "$f" >"$T/th_$s.b.csv"
        cut -d, -f5 "$f" >"$T/th_$s.y.csv"; cut -d, -f6-7 "$f" >"$T/th_$s.t.csv"
        cut -d, -f3-7 "$f" >"$T/th_$s.byt.csv"
    done
    "$T/two_heads" --train-csv $d/two_heads.csv --test-csv $d/two_heads_test.csv --epochs 3 \
        --checkpoint "$T/th1.ckpt" >"$T/th1.out" 2>&1
    "$T/two_heads" --train a="$T/th_train.a.csv" --train b="$T/th_train.b.csv" \
        --train y="$T/th_train.y.csv" --train t="$T/th_train.t.csv" --test a="$T/th_test.a.csv" \
        --test b="$T/th_test.b.csv" --test y="$T/th_test.y.csv" --test t="$T/th_test.t.csv" \
        --epochs 3 --checkpoint "$T/th2.ckpt" >"$T/th2.out" 2>&1
    st=$?
    if [ $st -eq 0 ] && grep -q '^test accuracy: ' "$T/th1.out" && [ "$(untimed "$T/th1.out")" = "$(untimed "$T/th2.out")" ] &&
            cmp -s "$T/th1.ckpt" "$T/th2.ckpt"; then
        ok "data-per-tensor-equals-one-csv"
    else bad data-per-tensor-equals-one-csv "exit $st: $(diff "$T/th1.out" "$T/th2.out" | head -c 400)"; fi
    "$T/two_heads" --train a="$T/th_train.a.csv" --train-csv "$T/th_train.byt.csv" \
        --test=a="$T/th_test.a.csv" --test-csv "$T/th_test.byt.csv" --epochs 3 \
        --checkpoint "$T/th3.ckpt" >"$T/th3.out" 2>&1
    st=$?
    if [ $st -eq 0 ] && [ "$(untimed "$T/th1.out")" = "$(untimed "$T/th3.out")" ]; then
        ok "data-file-and-csv-mixed"
    else bad data-file-and-csv-mixed "exit $st: $(diff "$T/th1.out" "$T/th3.out" | head -c 400)"; fi
    head -n 101 "$T/th_train.b.csv" >"$T/th_short.b.csv"
    "$T/two_heads" --train a="$T/th_train.a.csv" --train b="$T/th_short.b.csv" \
        --train y="$T/th_train.y.csv" --train t="$T/th_train.t.csv" --test-csv $d/two_heads_test.csv \
        --checkpoint "$T/th4.ckpt" >"$T/th4.out" 2>&1
    st=$?
    if [ $st -eq 1 ] && grep -q "two_heads: error: .*th_short.b.csv holds 100 samples but .*th_train.a.csv holds 1000" "$T/th4.out"; then
        ok "data-files-disagree-refused"
    else bad data-files-disagree-refused "exit $st: $(cat "$T/th4.out")"; fi
    sed '3s/,[0-9],/,7,/' $d/two_heads.csv >"$T/th_badlabel.csv"
    "$T/two_heads" --train-csv "$T/th_badlabel.csv" --test-csv $d/two_heads_test.csv \
        --checkpoint "$T/th5.ckpt" >"$T/th5.out" 2>&1
    st=$?
    if [ $st -eq 1 ] && grep -q "th_badlabel.csv: sample 2 has 7 for label 'y' (column 5), but the network's classes are 0..2" "$T/th5.out"; then
        ok "csv-label-column-checked"
    else bad csv-label-column-checked "exit $st: $(cat "$T/th5.out")"; fi
    "$T/two_heads" --train q=x.csv >"$T/th6.out" 2>&1
    st=$?
    if [ $st -eq 2 ] && grep -q "two_heads: error: --train q=x.csv: two_heads has no input, label or target named 'q' (it has a, b, y and t)" "$T/th6.out"; then
        ok "data-unknown-name-refused"
    else bad data-unknown-name-refused "exit $st: $(cat "$T/th6.out")"; fi
    "$T/two_heads" --help >"$T/th_help.out" 2>&1
    if grep -q '^  input  a  *2 values$' "$T/th_help.out" && grep -q '^  label  y  *a class 0..2$' "$T/th_help.out" &&
            grep -q '^  target t  *2 values$' "$T/th_help.out" && grep -q -- '--train NAME=FILE' "$T/th_help.out"; then
        ok "help-lists-the-data"
    else bad help-lists-the-data "$(head -n 20 "$T/th_help.out")"; fi
fi

#     The character LSTM (examples/char_lm.net, stateful: truncated BPTT)
#     on Debian's licence texts, as its e2e-args train it: bits per byte
#     each epoch and at the end, a sample that continues the prompt; the
#     checkpoint evaluated again (the same streams from a zero state) gives
#     the same test bpc, and one sample seed the same sample.
if [ -f "$T/char_lm.out" ]; then
    o="$T/char_lm.out"
    if grep -q 'stateful: one stream per batch row$' "$o" && grep -qE '^epoch 1/1 .* val bpc [0-9]+\.[0-9]{4} ' "$o" &&
       grep -qE '^test bpc: [0-9]+\.[0-9]{4}$' "$o" && sed -n '/^sample (100 bytes/{n;p}' "$o" | grep -q '^GNU'; then
        ok "char-lm-bpc-and-sample"
    else bad char-lm-bpc-and-sample "$(tail -c 600 "$o")"; fi
    for k in 1 2; do
        "$T/char_lm" --eval-only --text /usr/share/common-licenses --test-limit 128 --sample 60 \
            --sample-seed 3 --temperature 0.8 --top-k 10 --checkpoint "$T/char_lm.ckpt" >"$T/char_lm_eval$k.out" 2>&1
    done
    if [ "$(grep '^test bpc' "$T/char_lm_eval1.out")" = "$(grep '^test bpc' "$o")" ] &&
       cmp -s "$T/char_lm_eval1.out" "$T/char_lm_eval2.out" && grep -q '^sample (60 bytes, temperature 0.8, top-k 10, seed 3):$' "$T/char_lm_eval1.out"; then
        ok "char-lm-checkpoint-evaluates-and-samples-again"
    else bad char-lm-checkpoint-evaluates-and-samples-again "$(cat "$T/char_lm_eval1.out" "$T/char_lm_eval2.out" | tail -c 600)"; fi
fi

# 2b. Several losses (two named loss statements, docs/language.md): the
#     trainer steps each loss's group in turn, reports each loss and each
#     term, and a checkpoint (with every group's step count) reloads.
if build groups tests/e2e/two_losses.net; then
    d=examples/data
    "$T/groups" --train-csv $d/two_heads.csv --test-csv $d/two_heads_test.csv --epochs 3 \
        --checkpoint "$T/groups.ckpt" >"$T/groups.out" 2>&1
    st=$?
    acc=$(sed -n 's/^test accuracy: \([0-9.]*\)$/\1/p' "$T/groups.out")
    if [ $st -eq 0 ] && grep -q 'train loss1 [0-9.]*  *train loss2 [0-9.]* (cross_entropy [0-9.]* mse [0-9.]*)  val loss [0-9.]* (cross_entropy [0-9.]* mse [0-9.]*)' "$T/groups.out" && [ -n "$acc" ]; then
        ok "groups-train-each-loss (test accuracy $acc)"
    else bad groups-train-each-loss "exit $st: $(tail -c 400 "$T/groups.out")"; fi
    "$T/groups" --eval-only --test-csv $d/two_heads_test.csv --checkpoint "$T/groups.ckpt" >"$T/groups_eval.out" 2>&1
    acc2=$(sed -n 's/^test accuracy: \([0-9.]*\)$/\1/p' "$T/groups_eval.out")
    [ -n "$acc2" ] && [ "$acc2" = "$acc" ] && ok groups-checkpoint-reloads ||
        bad groups-checkpoint-reloads "'$acc2' vs '$acc': $(tail -c 300 "$T/groups_eval.out")"
fi

#     warmup(term, epochs = 3): the trainer sets the term's factor to
#     min(1, epoch / 3), so loss2 = 0.5 * mse * epoch / 3 in epochs 1 and 2
#     and 0.5 * mse from epoch 3 on (each printed to 4 places).
sed 's/loss loss2 = 0.5 \* mse(pred, t)/loss loss2 = warmup(0.5 * mse(pred, t), epochs = 3)/' \
    tests/e2e/two_losses.net >"$T/warmup.net"
if build warmup "$T/warmup.net"; then
    "$T/warmup" --train-csv examples/data/two_heads.csv --test-csv examples/data/two_heads_test.csv \
        --epochs 4 --checkpoint "$T/warmup.ckpt" >"$T/warmup.out" 2>&1
    if awk '/^epoch/ { e = $2 + 0; l2 = $8; m = $12; sub(/\)/, "", m); f = e < 3 ? e / 3 : 1;
                       d = l2 - 0.5 * m * f; if (d < -0.0002 || d > 0.0002) bad = 1; n++ }
            END { exit !(n == 4 && !bad) }' "$T/warmup.out"; then ok "warmup-term-ramps-per-epoch"
    else bad warmup-term-ramps-per-epoch "$(head -c 600 "$T/warmup.out")"; fi
fi

#     Its descriptor, per loss: gradients + update == train_step bit for bit,
#     and a loss's step moves only its own group.
if "$DLC" --prefix gd tests/e2e/two_losses.net -o "$T/gd_api.c" 2>"$T/gd.err" &&
   cc $CFL -I"$T" -o "$T/groups_descriptor" tests/e2e/groups_descriptor.c "$T/gd_api.c" $LIBS 2>>"$T/gd.err" &&
   "$T/groups_descriptor" >"$T/groups_descriptor.out" 2>&1; then ok "groups-descriptor-per-loss"
else bad "groups-descriptor-per-loss" "$(cat "$T/gd.err" "$T/groups_descriptor.out" 2>/dev/null | head -c 600)"; fi

#     STATE tensors (x_running_mean, test only): updated by the forward
#     pass alone, saved and loaded as a section of their own.
if "$DLC" --prefix x_state tests/golden/x_state.net -o "$T/state_api.c" 2>"$T/state.err" &&
   cc $CFL -I"$T" -o "$T/state" tests/e2e/state.c $LIBS 2>>"$T/state.err" &&
   "$T/state" "$T/state.ckpt" >"$T/state.out" 2>&1; then ok "state-tensor-updated-saved-loaded"
else bad "state-tensor-updated-saved-loaded" "$(cat "$T/state.err" "$T/state.out" 2>/dev/null | head -c 600)"; fi

#     batchnorm's running statistics (STATE): PyTorch's update rule,
#     read by evaluate, saved and loaded.
if "$DLC" --prefix norm tests/torch/norm.net -o "$T/norm_api.c" 2>"$T/norm_state.err" &&
   cc $CFL -I"$T" -o "$T/norm_state" tests/e2e/norm_state.c $LIBS 2>>"$T/norm_state.err" &&
   "$T/norm_state" "$T/norm_state.ckpt" >"$T/norm_state.out" 2>&1; then ok "batchnorm-running-stats-updated-saved-loaded"
else bad "batchnorm-running-stats-updated-saved-loaded" "$(cat "$T/norm_state.err" "$T/norm_state.out" 2>/dev/null | head -c 600)"; fi

#     Threads share one network, a workspace each: two shares' gradients,
#     weighted, equal the whole batch's; forward_with agrees with forward.
if "$DLC" --prefix threads_api examples/two_heads.net -o "$T/threads_api.c" 2>"$T/threads.err" &&
   cc $CFL -pthread -I"$T" -o "$T/threads" tests/e2e/threads.c "$T/threads_api.c" $LIBS 2>>"$T/threads.err" &&
   OPENBLAS_NUM_THREADS=1 "$T/threads" >"$T/threads.out" 2>&1; then ok "threads-share-a-network-workspace-each"
else bad "threads-share-a-network-workspace-each" "$(cat "$T/threads.err" "$T/threads.out" 2>/dev/null | head -c 600)"; fi

#     The thread team (runtime/team.c): its steps equal train_step's, float
#     and double, uneven shares, batchnorm when the C code has set_dist;
#     deterministic run to run (tests/e2e/team.sh).
fm="$T/fashion" team_dir="$T/team"
T="$team_dir" FM="$fm" sh tests/e2e/team.sh >"$T/team.out" 2>&1
while IFS= read -r line; do
    case "$line" in
        "ok "*) ok "${line#ok }" ;;
        "FAIL "*) rest=${line#FAIL }; bad "${rest%%:*}" "${rest#*: }" ;;
    esac
done <"$T/team.out"
grep -q '^ok \|^FAIL ' "$T/team.out" || bad team "$(tail -c 400 "$T/team.out")"

#     make bench runs: a tiny setting (one round of 3 steps, a net and a
#     layer, no showcase epoch, one compile time, no deep net, no memory
#     epoch, inference at n = 1 with its memory floor, the MPI lines on
#     640 samples; the net at 1 and 2 threads, with their comparison)
#     prints its lines in the documented format, and every bench line has
#     its fields.
if BENCH_ROUNDS=1 BENCH_STEPS=3 BENCH_NETS=examples/xor.net BENCH_LAYERS=examples/xor.net \
   BENCH_SHOWCASE=0 BENCH_COMPILE=examples/xor.net BENCH_DEEP= BENCH_RSS=0 \
   BENCH_INFER_NETS=examples/xor.net BENCH_INFER_N=1 BENCH_INFER_STEPS=10 \
   BENCH_MPI_NETS=examples/fashion_mlp.net BENCH_MPI_LIMIT=640 sh bench/run.sh >"$T/bench.out" 2>&1 &&
   grep -qE '^bench infer_xor_n1 threads=1 dlc_ms=' "$T/bench.out" &&
   grep -qE '^#   infer_xor_n1 threads=1: dlc [0-9.]+ us, torch [0-9.]+ us per call \(medians\); reading the weights alone [0-9.]+ us \(dlc at [0-9.]+x that floor\)$' "$T/bench.out" &&
   grep -qE '^bench xor threads=2 dlc_ms=[0-9.]+ ' "$T/bench.out" &&
   grep -qE '^#   xor threads=2 vs 1: dlc [0-9.]+x as fast \(alternating: [0-9.e+-]+ ms, [0-9.e+-]+ ms\)$' "$T/bench.out" &&
   grep -qE '^bench mpi_fashion_mlp ranks=2 step_ms=[0-9.]+ ' "$T/bench.out" &&
   [ "$(grep -cE '^bench (xor|xor\.forward|xor\.forward_backward) threads=1 dlc_ms=[0-9.]+ torch_ms=[0-9.]+ ratio=[0-9.]+ gemm_bound_ms=[0-9.]+ bound_ratio=[0-9.]+( |$)' "$T/bench.out")" = 3 ] &&
   grep -qE '^bench compile_xor cc_s=[0-9.]+ cpu_s=[0-9.]+$' "$T/bench.out" &&
   ! grep '^bench ' "$T/bench.out" | grep -vE '^bench [A-Za-z0-9_.]+ ([a-z_0-9]+=[0-9.]+( |$))+$' | grep -q .
then ok "bench-runs-tiny"
else bad "bench-runs-tiny" "$(tail -c 400 "$T/bench.out")"; fi

# 3. The API refuses a batch whose labels are not classes of the network.
if "$DLC" examples/xor.net -o "$T/xor_api.c" 2>"$T/api.err" &&
   cc $CFL -I"$T" -o "$T/bad_labels" tests/e2e/bad_labels.c "$T/xor_api.c" $LIBS 2>>"$T/api.err" &&
   "$T/bad_labels" >"$T/bad_labels.out" 2>&1; then ok "api-refuses-bad-labels"
else bad "api-refuses-bad-labels" "$(cat "$T/api.err" "$T/bad_labels.out" 2>/dev/null | head -c 400)"; fi

# 3b. The model descriptor drives a network as its direct API does
#     (gradients + update == train_step, bit for bit; forward, evaluate).
if "$DLC" examples/two_heads.net -o "$T/two_heads_api.c" 2>"$T/desc.err" &&
   cc $CFL -I"$T" -o "$T/descriptor" tests/e2e/descriptor.c "$T/two_heads_api.c" $LIBS 2>>"$T/desc.err" &&
   "$T/descriptor" >"$T/descriptor.out" 2>&1; then ok "descriptor-drives-the-network"
else bad "descriptor-drives-the-network" "$(cat "$T/desc.err" "$T/descriptor.out" 2>/dev/null | head -c 600)"; fi

# 4. The embedding example of docs/generated-api.md, taken from the doc
#    itself, builds and learns xor: the doc stays true.
/usr/bin/python3 - "$T" <<'PY'
import re, sys
doc = open("docs/generated-api.md").read()
blocks = re.findall(r"```[a-z]*\n(.*?)```", doc, re.S)
net = next(b for b in blocks if "model xor_net" in b)
main = next(b for b in blocks if "int main(void)" in b and "xor_net" in b)
open(sys.argv[1] + "/xor_net.net", "w").write(net)
open(sys.argv[1] + "/main.c", "w").write(main)
PY
if "$DLC" "$T/xor_net.net" -o "$T/xor_net.c" 2>"$T/doc.err" &&
   cc $CFL -o "$T/doc_xor" "$T/main.c" "$T/xor_net.c" $LIBS 2>>"$T/doc.err"; then
    (cd "$T" && ./doc_xor >doc_xor.out 2>&1)
    if awk '{split($0, a, "= "); v[NR] = a[2]} END {exit !(NR == 4 && v[1] < 0.5 && v[2] > 0.5 && v[3] > 0.5 && v[4] < 0.5)}' "$T/doc_xor.out"; then
        ok "docs-embedding-example"
    else bad "docs-embedding-example" "$(cat "$T/doc_xor.out")"; fi
else bad "docs-embedding-example" "$(head -c 400 "$T/doc.err")"; fi

# 4b. --check-numerics: the model stops at the first NaN or infinity and
#     says where (step, op, .net line, element); built with the sanitizers,
#     which watch the index arithmetic of its message.
if "$DLC" --check-numerics tests/e2e/numerics.net -o "$T/numerics.c" 2>"$T/numerics.err" &&
   cc $CFL -fsanitize=address,undefined -fno-sanitize-recover=all -I"$T" -o "$T/numerics" \
      tests/e2e/numerics.c "$T/numerics.c" $LIBS 2>>"$T/numerics.err" &&
   "$T/numerics" >"$T/numerics.out" 2>&1; then ok "check-numerics-stops-and-says-where"
else bad "check-numerics-stops-and-says-where" "$(cat "$T/numerics.err" "$T/numerics.out" 2>/dev/null | grep -v '^ok' | head -c 600)"; fi

#     The trainer of such a model, when training blows up, stops with the
#     model's own account (sine.net with a learning rate of 1000).
sed -E 's/^( *)optimizer .*/\1optimizer sgd(lr = 1e3)/' examples/sine.net >"$T/sine_div.net"
if build sine_div "$T/sine_div.net" --check-numerics; then
    "$T/sine_div" --train-csv examples/data/sine.csv --test-csv examples/data/sine.csv \
        --checkpoint "$T/sine_div.ckpt" --epochs 3 --no-progress >"$T/sine_div.out" 2>&1
    st=$?
    if [ $st -eq 1 ] && grep -q "training stopped in epoch 1, batch [0-9]* of [0-9]*: step [0-9]*: non-finite value in .* (sine_div.net:[0-9]*): " "$T/sine_div.out"; then
        ok "check-numerics-trainer-says-where"
    else bad "check-numerics-trainer-says-where" "exit $st: $(tail -c 400 "$T/sine_div.out")"; fi
fi

# 5. Any name a user may choose (C keywords, library and BLAS names, the
#    generated code's own locals, names on the model's prefix) as an input,
#    label, target, binding or output gives C that builds with -Werror and
#    trains a step (names.py).
/usr/bin/python3 tests/e2e/names.py "$DLC" "$T/names" >"$T/names.out" 2>&1
sub_counts names names.py "$T/names.out" names

# 6. Noise inputs and --image-grid (noise_grid.sh, on tests/e2e/noise.net).
tests/e2e/noise_grid.sh >"$T/noise_grid.out" 2>&1
sub_counts noise_grid noise_grid.sh "$T/noise_grid.out"
# 6. Connectivity masks (density < 1): under every optimizer variant of
#    tests/torch/optimizers.txt (weight decay, clipping), 200 steps of
#    tests/torch/sparse.net leave every masked weight, its gradient exactly
#    0, and a checkpoint's nonzero masked weights load as 0 (sparse_zero.c).
for opt in $(sed -n 's/^\([a-z0-9_]*\):.*/\1/p' tests/torch/optimizers.txt); do
    row=$(sed -n "s/^$opt:[[:space:]]*//p" tests/torch/optimizers.txt)
    { sed -e '/^[[:space:]]*optimizer[[:space:]]/d' -e '/^[[:space:]]*weight_decay[[:space:]]/d' \
          -e '/^train[[:space:]]*{/,$d' tests/torch/sparse.net
      echo "train {"; echo "$row" | tr ';' '\n' | sed 's/^[[:space:]]*/    /'
      echo "    batch 8"; echo "}"; } >"$T/sparse_$opt.net"
    if "$DLC" --prefix sp "$T/sparse_$opt.net" -o "$T/sparse_$opt.c" 2>"$T/sparse_$opt.err" &&
       cc $CFL -include "$T/sparse_$opt.h" -o "$T/sparse_$opt" tests/e2e/sparse_zero.c \
           "$T/sparse_$opt.c" $LIBS 2>>"$T/sparse_$opt.err" &&
       "$T/sparse_$opt" "$T" >"$T/sparse_$opt.out" 2>>"$T/sparse_$opt.err"; then
        ok "masked-weights-stay-zero-$opt"
    else bad "masked-weights-stay-zero-$opt" "$(head -c 400 "$T/sparse_$opt.err")"; fi
done

# 7. Exact --resume under every optimizer variant, early stopping, and bad
#    resume state (resume.sh, on tests/e2e/resume.net).
sh tests/e2e/resume.sh >"$T/resume.out" 2>&1
sub_counts resume resume.sh "$T/resume.out"
# 8. Learning-rate schedules in the trainer: each epoch line prints the lr it
#    trained with, stepped per epoch (step), per batch (onecycle: the line
#    shows the last batch's, which ends near max_lr / 25 / 1e4), and on the
#    validation loss (plateau with a threshold no epoch can meet: halved
#    after every epoch past the first); examples/regression.net's data.
sched_run() { # NAME SCHEDULE-LINES: build and train 4 epochs on regression.csv
    name=$1; shift
    sed -e '/^train[[:space:]]*{/,$d' examples/regression.net >"$T/$name.net"
    { echo "train {"; echo "    optimizer adam(lr = 3e-3)"; echo "    batch 100"; echo "    epochs 4"
      for l in "$@"; do echo "    $l"; done; echo "}"; } >>"$T/$name.net"
    build "$name" "$T/$name.net" || return 1
    "$T/$name" --train-csv examples/data/regression.csv --test-csv examples/data/regression_test.csv \
        --epochs 4 --checkpoint "$T/$name.ckpt" >"$T/$name.out" 2>&1 ||
        { bad "$name-train" "$(tail -c 300 "$T/$name.out")"; return 1; }
}
lrs() { sed -n 's/^epoch [0-9]*\/4 .*  lr \([0-9.e+-]*\)  (.*/\1/p' "$T/$1.out" | tr '\n' ' '; }
if sched_run sched_step "schedule step(step_size = 1, gamma = 0.5)"; then
    got=$(lrs sched_step)
    [ "$got" = "0.003 0.0015 0.00075 0.000375 " ] && ok "schedule-step-lr-per-epoch ($got)" ||
        bad schedule-step-lr-per-epoch "lrs '$got': $(tail -c 300 "$T/sched_step.out")"
fi
if sched_run sched_warmup "schedule cosine(t_max = 2)" "warmup_epochs 2" "warmup_start_factor 0.5"; then
    got=$(lrs sched_warmup)
    [ "$got" = "0.0015 0.00225 0.003 0.0015 " ] && ok "schedule-warmup-then-cosine ($got)" ||
        bad schedule-warmup-then-cosine "lrs '$got': $(tail -c 300 "$T/sched_warmup.out")"
fi
if sched_run sched_onecycle "schedule onecycle(max_lr = 0.01)"; then
    got=$(lrs sched_onecycle)
    last=$(echo "$got" | awk '{print $4}')
    if [ "$(echo "$got" | wc -w)" = 4 ] && awk "BEGIN{exit !($last < 1e-6)}"; then
        ok "schedule-onecycle-per-batch ($got)"
    else bad schedule-onecycle-per-batch "lrs '$got': $(tail -c 300 "$T/sched_onecycle.out")"; fi
fi
if sched_run sched_plateau "schedule plateau(factor = 0.5, patience = 0, threshold = 10, threshold_mode = abs)"; then
    got=$(lrs sched_plateau)
    [ "$got" = "0.003 0.003 0.0015 0.00075 " ] && ok "schedule-plateau-on-val-loss ($got)" ||
        bad schedule-plateau-on-val-loss "lrs '$got': $(tail -c 300 "$T/sched_plateau.out")"
fi

# 9. Data-parallel hooks (dlrt_dist): grad_ready after each gradient's last
#    writer, synchronized batchnorm across two in-process ranks (dist.sh).
sh tests/e2e/dist.sh >"$T/dist.out" 2>&1
sub_counts dist dist.sh "$T/dist.out"

# 10. A dlrt_pool on a workspace (runtime/thread_pool.c: dense's rows over threads
#     for inference on few samples) changes no bit (thread_pool.sh).
T="$T/pool" sh tests/e2e/thread_pool.sh >"$T/pool.out" 2>&1
sub_counts pool thread_pool.sh "$T/pool.out"

echo "$pass passed, $fail failed"
