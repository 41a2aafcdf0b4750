#!/bin/sh
# tests/run.sh [--update] [--long] [SUITE...]: runs the test suites.
#
# Each suite is tests/SUITE/run.sh. It prints "ok NAME" or "FAIL NAME: why"
# per test and ends with the line "N passed, N failed". This script sums
# them and ends with the same line; the exit status is 0 only when nothing
# failed. --update asks suites that compare against expected files to
# rewrite them instead (review with git diff). --long adds slow tests.
#
# On a machine with more than one core the suites run at once: fuzz (fixed
# times on one core) and mpi (mostly waiting: mpirun's start, the fault
# tests' pauses) each on their own, the others in DLC_JOBS lanes (default
# 2) balanced by their usual times. Each suite's lines are printed whole
# when it ends, with "== SUITE: N passed, N failed (S s)". DLC_SERIAL=1 (or
# one core, or one suite) runs them in turn, printing as they go.
set -u
cd "$(dirname "$0")/.."
export DLC="$PWD/build/dlc" DLC_ROOT="$PWD"
export DLC_UPDATE=0 DLC_LONG=0
suites=""
for a in "$@"; do
    case "$a" in
        --update) DLC_UPDATE=1 ;;
        --long) DLC_LONG=1 ;;
        *) suites="$suites $a" ;;
    esac
done
[ -n "$suites" ] || suites="errors golden cli runtime kernels faults grad torch e2e mpi sanitize fuzz"
total_pass=0 total_fail=0 failed_suites=""
run_start=$(date +%s)

# summarize SUITE OUTPUT SECONDS: adds the suite's summary line to the totals.
summarize() {
    last=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$2" | tail -n 1)
    p=$(echo "$last" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
    f=$(echo "$last" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
    if [ -z "$p" ]; then
        echo "FAIL suite $1: no summary line"
        p=0; f=1
    fi
    total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
    [ "$f" -eq 0 ] || failed_suites="$failed_suites $1"
    echo "== $1: $p passed, $f failed ($3s)"
}

missing() { # SUITE: true (after saying so) when tests/SUITE/run.sh is missing
    [ -x "tests/$1/run.sh" ] && return 1
    echo "FAIL suite $1: tests/$1/run.sh is missing"
    total_fail=$((total_fail + 1)); failed_suites="$failed_suites $1"
}

finish() {
    [ -z "$failed_suites" ] || echo "failed suites:$failed_suites"
    echo "$total_pass passed, $total_fail failed ($(( $(date +%s) - run_start ))s)"
    [ "$total_fail" -eq 0 ]
    exit $?
}

jobs=${DLC_JOBS:-2}
[ "$(nproc 2>/dev/null || echo 1)" -gt 1 ] || jobs=1
[ "${DLC_SERIAL:-0}" != 1 ] || jobs=1
set -- $suites
if [ "$jobs" -le 1 ] || [ $# -le 1 ]; then
    for s in $suites; do
        missing "$s" && continue
        echo "== $s"
        start=$(date +%s)
        out=$(mktemp)
        tests/$s/run.sh 2>&1 | tee "$out"
        summarize "$s" "$out" "$(( $(date +%s) - start ))"
        rm -f "$out"
    done
    finish
fi

# The usual seconds of each suite alone on this 2-core machine (make test,
# 2026-12-03); a suite not listed counts 30.
weight() {
    case "$1" in
        torch) echo 250 ;; e2e) echo 246 ;; grad) echo 76 ;; kernels) echo 67 ;;
        golden) echo 43 ;; sanitize) echo 46 ;; runtime) echo 24 ;; cli) echo 15 ;;
        faults) echo 12 ;; errors) echo 6 ;; *) echo 30 ;;
    esac
}

# Lanes: fuzz and mpi alone, then the rest, heaviest first, each to the
# lane with the least so far. A lane runs its suites in turn; each suite
# leaves D/SUITE.out, D/SUITE.secs and last D/SUITE.done.
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
pids=""
trap 'kill $pids 2>/dev/null; exit 130' INT TERM
lane_list=""
i=0
while [ $i -lt "$jobs" ]; do
    eval "lane_$i=''; load_$i=0"
    lane_list="$lane_list $i"
    i=$((i + 1))
done
sorted=$(for s in $suites; do echo "$(weight "$s") $s"; done | sort -rn | awk '{print $2}')
special=""
for s in $sorted; do
    missing "$s" && continue
    case "$s" in
        fuzz | mpi) special="$special $s"; continue ;;
    esac
    best=0
    for i in $lane_list; do
        [ "$(eval echo \$load_$i)" -lt "$(eval echo \$load_$best)" ] && best=$i
    done
    eval "lane_$best=\"\$lane_$best $s\"; load_$best=\$((load_$best + $(weight "$s")))"
done

run_lane() { # SUITE...: one after the other, each into D
    for s in "$@"; do
        start=$(date +%s)
        tests/$s/run.sh >"$D/$s.out" 2>&1
        echo $(( $(date +%s) - start )) >"$D/$s.secs"
        : >"$D/$s.done"
    done
}
for s in $special; do
    run_lane "$s" &
    pids="$pids $!"
done
for i in $lane_list; do
    l=$(eval echo \$lane_$i)
    [ -n "$l" ] || continue
    echo "== lane $((i + 1)):$l"
    # shellcheck disable=SC2086
    run_lane $l &
    pids="$pids $!"
done
[ -z "$special" ] || echo "== alongside:$special"

# Print each suite as it ends.
left=$special
for s in $sorted; do
    case " $special " in *" $s "*) continue ;; esac
    [ -x "tests/$s/run.sh" ] && left="$left $s"
done
while [ -n "$left" ]; do
    still=""
    for s in $left; do
        if [ -f "$D/$s.done" ]; then
            echo "== $s"
            cat "$D/$s.out"
            summarize "$s" "$D/$s.out" "$(cat "$D/$s.secs")"
        else
            still="$still $s"
        fi
    done
    left=$still
    [ -n "$left" ] || break
    alive=0
    for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
    if [ "$alive" = 0 ] && sleep 1 && [ "$left" = "$still" ]; then
        # A lane died without marking its suites done.
        for s in $left; do
            [ -f "$D/$s.done" ] && continue
            echo "== $s"
            cat "$D/$s.out" 2>/dev/null
            echo "FAIL suite $s: its lane ended without finishing it"
            total_fail=$((total_fail + 1)); failed_suites="$failed_suites $s"
            left=$(echo " $left " | sed "s/ $s / /")
        done
        left=$(echo $left)
        continue
    fi
    sleep 1
done
# shellcheck disable=SC2086
wait $pids
finish
