#!/bin/sh
# tests/e2e/team.sh: the thread team (runtime/team.c) against one thread's
# train_step, tests/e2e/team.c over tests/e2e/team_mlp.net (float and
# --precision=f64) and tests/e2e/team_bn.net (batchnorm: tested when the
# generated C has set_dist, else the team must refuse it: "skip" noted).
# Run by tests/e2e/run.sh; alone: sh tests/e2e/team.sh (after make).
# SAN="-fsanitize=..." LIB=build/asan/libdlrt.a: the same under sanitizers.
# TEAM_ONLY="mlp bn": only those of mlp, mlp_f64, bn, adam and trainer.
# FM=PATH: an examples/fashion_mlp.net trainer already built (else built here).
set -u
T=${T:-build/tmp/team}
CFL="-std=c99 -Wall -Wextra -pedantic -Werror -O2 -D_POSIX_C_SOURCE=200809L -Iruntime"
. tests/e2e/descriptor_prog.sh
only=${TEAM_ONLY:-mlp mlp_f64 bn adam trainer}

# team NAME NET [dlc flags]
team() {
    name=$1 net=$2; shift 2
    wanted "$name" || return 0
    if descriptor_prog "$name" "$net" team "$@"; then
        if grep -q '^skip' "$T/$name.out"; then
            ok "team-$name (refused, not compared: $(sed -n 's/^skip: //p' "$T/$name.out" | head -c 160))"
        else ok "team-$name-equals-train-step"; fi
    else bad "team-$name" "$(cat "$T/$name.err" "$T/$name.out" 2>/dev/null | head -c 800)"; fi
}
team mlp tests/e2e/team_mlp.net
team mlp_f64 tests/e2e/team_mlp.net --precision=f64
team bn tests/e2e/team_bn.net
team adam tests/e2e/team_adam.net

# The trainer with --threads 2 (examples/fashion_mlp.net: dropout, a few
# hundred samples): a forced team trains, says so, and gives the same epoch
# lines twice; a forced single thread gives --threads 1's lines.
FM=${FM:-$T/fm}
if ! wanted trainer; then :
elif [ -x "$FM" ] && [ "$FM" != "$T/fm" ] ||
   { "$DLC" --main examples/fashion_mlp.net -o "$T/fm.c" 2>"$T/fm.err" &&
     cc $CFL $SAN -o "$T/fm" "$T/fm.c" "$LIB" -lopenblas -lz -lm 2>>"$T/fm.err"; }; then
    run() { # SCHEME THREADS OUT
        DLRT_THREADS_SCHEME=$1 "$FM" --threads "$2" --limit 320 --test-limit 100 --epochs 1 \
            --no-progress --checkpoint "$T/fm.ckpt" --overwrite 2>&1 |
            sed 's/ ([0-9.]* s, [0-9]* samples\/s)//' >"$T/$3"
    }
    run team 2 team_a.out; run team 2 team_b.out; run one 2 one.out; run "" 1 single.out
    if grep -q '^threads: a team of 2' "$T/team_a.out" && grep -q '^test accuracy' "$T/team_a.out" &&
       cmp -s "$T/team_a.out" "$T/team_b.out"; then ok "team-trainer-deterministic"
    else bad "team-trainer-deterministic" "$(diff "$T/team_a.out" "$T/team_b.out" | head -c 600; tail -c 300 "$T/team_a.out")"; fi
    if grep -q '^threads: one thread' "$T/one.out" &&
       [ "$(grep -v '^threads:' "$T/one.out")" = "$(cat "$T/single.out")" ]; then ok "team-trainer-one-thread-as-threads-1"
    else bad "team-trainer-one-thread-as-threads-1" "$(diff "$T/one.out" "$T/single.out" | head -c 600)"; fi
    # The choice made again at each epoch (DLRT_THREADS_RECHECK=every; the
    # trainer does it when that costs under 2% of an epoch): the team goes
    # and a new one comes each epoch, a run repeats itself, the threads
    # line is printed once (the choice never changes), and a single thread
    # chosen again and again trains exactly as --threads 1.
    run3() { # SCHEME THREADS OUT
        DLRT_THREADS_RECHECK=every DLRT_THREADS_SCHEME=$1 "$FM" --threads "$2" --limit 320 \
            --test-limit 100 --epochs 3 --no-progress --checkpoint "$T/fm.ckpt" --overwrite 2>&1 |
            sed 's/ ([0-9.]* s, [0-9]* samples\/s)//' >"$T/$3"
    }
    run3 team 2 re_a.out; run3 team 2 re_b.out; run3 one 2 re_one.out; run3 "" 1 re_single.out
    if [ "$(grep -c 'threads:' "$T/re_a.out")" = 1 ] && grep -q '^epoch 3/3' "$T/re_a.out" &&
       grep -q '^test accuracy' "$T/re_a.out" && cmp -s "$T/re_a.out" "$T/re_b.out"; then
        ok "team-trainer-rechecked-each-epoch"
    else bad "team-trainer-rechecked-each-epoch" "$(diff "$T/re_a.out" "$T/re_b.out" | head -c 600; tail -c 300 "$T/re_a.out")"; fi
    if [ "$(grep -v '^threads:' "$T/re_one.out")" = "$(cat "$T/re_single.out")" ] &&
       grep -q '^epoch 3/3' "$T/re_one.out"; then ok "team-trainer-rechecked-one-thread-as-threads-1"
    else bad "team-trainer-rechecked-one-thread-as-threads-1" "$(diff "$T/re_one.out" "$T/re_single.out" | head -c 600)"; fi
else bad team-trainer-build "$(head -c 400 "$T/fm.err")"; fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
