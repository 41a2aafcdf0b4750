#!/bin/sh
# tests/run.sh [--update] [--long] [SUITE...]: runs the test suites.
#
# Each suite is tests/SUITE/run.sh. It prints "ok NAME" or "FAIL NAME: why"
# per test and ends with the line "N passed, N failed". This script sums
# them and ends with the same line; the exit status is 0 only when nothing
# failed. --update asks suites that compare against expected files to
# rewrite them instead (review with git diff). --long adds slow tests.
#
# The fuzz and mpi suites run alongside the others on a machine with more
# than one core, their lines printed at the end; DLC_SERIAL=1 runs them in
# turn.
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

# summarize SUITE OUTPUT START: adds the suite's summary line to the totals.
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
    echo "== $1: $p passed, $f failed ($(( $(date +%s) - $3 ))s)"
}

# fuzz (fixed times on one core) and mpi (mostly waiting: mpirun's start,
# the fault tests' pauses) run alongside the others.
background="" bg_start=$(date +%s)
if [ "${DLC_SERIAL:-0}" != 1 ] && [ "$(nproc 2>/dev/null || echo 1)" -gt 1 ]; then
    for b in fuzz mpi; do
        case " $suites " in
            *" $b "*) [ "$(echo $suites)" = "$b" ] || background="$background $b" ;;
        esac
    done
fi
bg_dir=$(mktemp -d)
for b in $background; do
    suites=$(echo " $suites " | sed "s/ $b / /")
    tests/$b/run.sh >"$bg_dir/$b.out" 2>&1 &
    echo $! >"$bg_dir/$b.pid"
    echo "== $b: started alongside the others (its lines at the end)"
done

for s in $suites; do
    if [ ! -x "tests/$s/run.sh" ]; then
        echo "FAIL suite $s: tests/$s/run.sh is missing"
        total_fail=$((total_fail + 1)); failed_suites="$failed_suites $s"
        continue
    fi
    echo "== $s"
    start=$(date +%s)
    out=$(mktemp)
    tests/$s/run.sh 2>&1 | tee "$out"
    summarize "$s" "$out" "$start"
    rm -f "$out"
done
for b in $background; do
    wait "$(cat "$bg_dir/$b.pid")"
    echo "== $b"
    cat "$bg_dir/$b.out"
    summarize "$b" "$bg_dir/$b.out" "$bg_start"
done
rm -rf "$bg_dir"
[ -z "$failed_suites" ] || echo "failed suites:$failed_suites"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
