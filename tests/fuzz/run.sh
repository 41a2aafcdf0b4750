#!/bin/sh
# tests/fuzz: dlc must never crash or hang, whatever bytes it is given.
#
# 1. fuzz-30s: the libFuzzer target fuzz_frontend.c (parse, sema, autodiff,
#    plan, every emitter) built with clang -fsanitize=fuzzer,address,undefined
#    runs for 30 s over a copy of corpus/ (10 min with DLC_LONG=1). A crash
#    leaves its input in build/tmp/fuzz/ and fails the test.
# 2. fuzz-idx-10s, fuzz-csv-10s: the data loaders (runtime/data.c) through
#    fuzz_idx.c and fuzz_csv.c, built the same way, 10 s each over copies of
#    corpus_idx/ and corpus_csv/ (5 min each with DLC_LONG=1); the ok line
#    gives the number of inputs run.
# 3. fuzz-mutations-N: a deterministic mutation loop (mutate.py) compiles
#    1000 mutated corpus files (more with DLC_LONG=1) with build/dlc under a 5 s timeout; exit
#    status 0 or 1 only. Cheap and needs no clang, so it always runs; when
#    libFuzzer is missing it runs a second, longer round in place of test 1.
set -u
cd "${DLC_ROOT:-$(dirname "$0")/../..}"
DLC=${DLC:-build/dlc}
case "$DLC" in /*) ;; *) DLC=$PWD/$DLC ;; esac
LONG=${DLC_LONG:-0}
PY=/usr/bin/python3
T=build/tmp/fuzz
rm -rf "$T"; mkdir -p "$T"
pass=0 fail=0
ok() { echo "ok $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
# mutations COUNT SEED: one line from mutate.py, counted. It runs a copy of
# dlc, so a rebuild during the loop cannot get in its way.
mutations() {
    cp "$DLC" "$T/dlc" 2>/dev/null || { bad "fuzz-mutations-$1" "cannot copy $DLC"; return; }
    line=$("$PY" tests/fuzz/mutate.py "$PWD/$T/dlc" tests/fuzz/corpus "$T/mutations-$2" "$1" "$2" 2>&1 | tail -n 1)
    case "$line" in
        "ok "*) ok "${line#ok }" ;;
        "FAIL "*) line=${line#FAIL }; bad "${line%%:*}" "${line#*: }" ;;
        *) bad "fuzz-mutations-$1" "mutate.py failed: $line" ;;
    esac
}

seconds=30
[ "$LONG" = 1 ] && seconds=600
name=fuzz-${seconds}s

# The target links every compiler source except main.c, plus the generated
# scanner and parser (make all has produced them).
CLANG=$(command -v clang || true)
built=0
if [ -n "$CLANG" ] && [ -f build/gen/parser.c ] && [ -f build/gen/lexer.c ]; then
    # Every compiler source, whatever folder a plug-in lives in.
    srcs=$(find compiler -name '*.c' ! -path compiler/main.c | sort)
    # shellcheck disable=SC2086
    if "$CLANG" -g -O1 -std=c99 -D_POSIX_C_SOURCE=200809L \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -Icompiler -Ibuild/gen -o "$T/fuzz_frontend" \
        tests/fuzz/fuzz_frontend.c $srcs build/gen/parser.c build/gen/lexer.c -lm \
        >"$T/build.log" 2>&1; then
        built=1
    elif "$CLANG" -fsanitize=fuzzer -x c -o "$T/probe" - >/dev/null 2>&1 <<'PROBE'
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }
PROBE
    then
        # libFuzzer works, so the target itself is broken: that is a failure,
        # not a reason to fall back quietly.
        bad fuzz-frontend-build "$(grep -m 1 'error' "$T/build.log")"
    fi
fi

if [ "$built" = 1 ]; then
    cp -r tests/fuzz/corpus "$T/corpus"
    mkdir -p "$T/artifacts"
    # A fixed seed in make test, so CI explores the same inputs each run;
    # --long draws a new one each time.
    seed=1
    [ "$LONG" = 1 ] && seed=0
    "$T/fuzz_frontend" "$T/corpus" -dict=tests/fuzz/dlc.dict -seed="$seed" \
        -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
        -artifact_prefix="$T/artifacts/" -print_final_stats=1 >"$T/fuzz.log" 2>&1
    status=$?
    crash=$(ls "$T"/artifacts/* 2>/dev/null | head -n 1)
    if [ "$status" -eq 0 ] && [ -z "$crash" ]; then
        ok "$name"
    else
        bad "$name" "exit $status, input ${crash:-?} (log $T/fuzz.log; replay: $T/fuzz_frontend ${crash:-FILE}): $(grep -m 1 'ERROR\|SUMMARY\|runtime error' "$T/fuzz.log")"
    fi
else
    echo "note: clang with libFuzzer is unavailable (see $T/build.log); mutation loop instead"
    mutations 2000 1
fi

# loader_fuzz NAME SECONDS: builds tests/fuzz/fuzz_NAME.c with runtime/data.c
# and runs it over a copy of corpus_NAME/.
loader_fuzz() {
    lname=fuzz-$1-${2}s
    if ! "$CLANG" -g -O1 -std=c99 -D_POSIX_C_SOURCE=200809L \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -Iruntime -o "$T/fuzz_$1" tests/fuzz/fuzz_$1.c runtime/data.c -lz -lm \
        >"$T/build_$1.log" 2>&1; then
        bad "$lname" "does not build: $(head -n 5 "$T/build_$1.log" | tr '\n' ' ')"
        return
    fi
    cp -r "tests/fuzz/corpus_$1" "$T/corpus_$1"
    mkdir -p "$T/artifacts_$1"
    "$T/fuzz_$1" "$T/corpus_$1" -seed="$seed" -max_total_time="$2" -timeout=5 \
        -rss_limit_mb=2048 -artifact_prefix="$T/artifacts_$1/" -print_final_stats=1 \
        >"$T/fuzz_$1.log" 2>&1
    lstatus=$?
    lcrash=$(ls "$T/artifacts_$1"/* 2>/dev/null | head -n 1)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$T/fuzz_$1.log")
    if [ "$lstatus" -eq 0 ] && [ -z "$lcrash" ] && [ -n "$runs" ]; then
        ok "$lname ($runs inputs)"
    else
        bad "$lname" "exit $lstatus, input ${lcrash:-?} (log $T/fuzz_$1.log; replay: $T/fuzz_$1 ${lcrash:-FILE}): $(grep -m 1 'ERROR\|SUMMARY\|runtime error' "$T/fuzz_$1.log")"
    fi
}
if [ -n "$CLANG" ]; then
    seed=1
    loader_seconds=10
    [ "$LONG" = 1 ] && seed=0 && loader_seconds=300
    loader_fuzz idx "$loader_seconds"
    loader_fuzz csv "$loader_seconds"
fi

if [ "$LONG" = 1 ]; then
    mutations 20000 42
else
    mutations 1000 42
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
