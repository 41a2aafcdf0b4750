#!/bin/sh
# tests/sanitize: the compiler built with AddressSanitizer and
# UndefinedBehaviorSanitizer runs clean over every .net file in the tree
# (good and bad ones); a generated model built the same way trains a few
# batches clean; and valgrind finds no leak in the compiler.
set -u
T=build/tmp/sanitize
rm -rf "$T"; mkdir -p "$T"
pass=0 fail=0
ok() { echo "ok $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
if ! make --no-print-directory -s BUILD=build/asan SAN="$SAN" CFLAGS="-O1 -g" build/asan/dlc build/asan/libdlrt.a >"$T/build.log" 2>&1; then
    bad asan-build "$(tail -c 600 "$T/build.log")"
    echo "$pass passed, $fail failed"; exit 0
fi
ok asan-build
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=99
n=0 dirty=""
for f in examples/*.net tests/*/*.net tests/fuzz/corpus/*; do
    [ -f "$f" ] || continue
    n=$((n + 1))
    args=$(sed -n '1s/^# dlc-args: //p' "$f")
    # shellcheck disable=SC2086
    build/asan/dlc $args "$f" -o "$T/out.c" >/dev/null 2>"$T/err"
    st=$?
    # 2: a bad command line (tests/errors/cli_*.net set -D values on purpose)
    if [ $st -gt 2 ]; then dirty="$dirty $f(exit $st)"; fi
    build/asan/dlc --emit=torch "$f" -o "$T/out.py" >/dev/null 2>&1
    st=$?
    if [ $st -ne 0 ] && [ $st -ne 1 ]; then dirty="$dirty $f(torch, exit $st)"; fi
done
[ -z "$dirty" ] && ok "asan-compiler-over-$n-inputs" || bad asan-compiler "sanitizer report on:$dirty"

# A generated model under the sanitizers: a few hundred samples of training.
if build/asan/dlc --main examples/fashion_mlp.net -o "$T/fm.c" 2>"$T/err" &&
   cc -std=c99 -O1 -g $SAN -Iruntime -o "$T/fm" "$T/fm.c" build/asan/libdlrt.a -lopenblas -lz -lm 2>"$T/err"; then
    if "$T/fm" --limit 640 --test-limit 200 --checkpoint "$T/fm.ckpt" >"$T/fm.out" 2>&1; then
        ok asan-generated-model
    else bad asan-generated-model "$(tail -c 600 "$T/fm.out")"; fi
else bad asan-generated-model "$(tail -c 600 "$T/err")"; fi

# The text trainer under the sanitizers: examples/char_lm.net (a stateful
# LSTM) on two GPL texts, a few batches, a sample with a prompt.
if build/asan/dlc --main examples/char_lm.net -o "$T/cl.c" 2>"$T/err" &&
   cc -std=c99 -O1 -g $SAN -Iruntime -o "$T/cl" "$T/cl.c" build/asan/libdlrt.a -lopenblas -lz -lm 2>"$T/err"; then
    if "$T/cl" --text /usr/share/common-licenses/GPL-2 --text /usr/share/common-licenses/GPL-3 \
        --limit 64 --test-limit 32 --epochs 1 --sample 40 --prompt=The --top-k 5 \
        --checkpoint "$T/cl.ckpt" >"$T/cl.out" 2>&1 && grep -q '^test bpc: ' "$T/cl.out"; then
        ok asan-text-model-trains-and-samples
    else bad asan-text-model-trains-and-samples "$(tail -c 600 "$T/cl.out")"; fi
else bad asan-text-model-trains-and-samples "$(tail -c 600 "$T/err")"; fi

if command -v valgrind >/dev/null 2>&1; then
    if valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite,indirect \
        build/dlc examples/fashion_mlp.net -o "$T/vg.c" >"$T/vg.out" 2>&1; then ok valgrind-compiler-no-leaks
    else bad valgrind-compiler-no-leaks "$(tail -c 600 "$T/vg.out")"; fi
    valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite,indirect \
        build/dlc "$(ls tests/errors/*.net | head -n 1)" -o "$T/vg2.c" >"$T/vg2.out" 2>&1
    [ $? -ne 9 ] && ok valgrind-compiler-errors-no-leaks || bad valgrind-compiler-errors-no-leaks "$(tail -c 600 "$T/vg2.out")"
fi

# The thread team (runtime/team.c): tests/e2e/team.sh under ASan and UBSan
# (its threads, barriers and buffers), then its float MLP under valgrind.
T="$T/team" SAN="$SAN" LIB=build/asan/libdlrt.a TEAM_ONLY="mlp bn" sh tests/e2e/team.sh >"$T/team.out" 2>&1 &&
    ok asan-thread-team || bad asan-thread-team "$(tail -c 600 "$T/team.out")"
if command -v valgrind >/dev/null 2>&1; then
    # valgrind runs no AVX-512: libdlrt.a with its dense.o built for any x86-64.
    mkdir -p "$T/vg_lib" && cp build/libdlrt.a "$T/vg_lib/libdlrt.a" &&
        cc -std=c99 -O2 -D_POSIX_C_SOURCE=200809L -Iruntime -c -o "$T/vg_lib/dense.o" runtime/dense.c &&
        ar r "$T/vg_lib/libdlrt.a" "$T/vg_lib/dense.o"
    LIB="$T/vg_lib/libdlrt.a" T="$T/team_vg" TEAM_ONLY=mlp sh tests/e2e/team.sh >"$T/team_vg.out" 2>&1
    if OPENBLAS_NUM_THREADS=1 valgrind -q --error-exitcode=9 --leak-check=full \
        --errors-for-leak-kinds=definite,indirect "$T/team_vg/mlp" >"$T/vg3.out" 2>&1; then
        ok valgrind-thread-team
    else bad valgrind-thread-team "$(tail -c 600 "$T/vg3.out")"; fi
fi
# The thread pool (runtime/thread_pool.c): tests/e2e/thread_pool.sh under
# ASan and UBSan, its pools made, attached, detached and destroyed again
# and again.
T="$T/pool" SAN="$SAN" LIB=build/asan/libdlrt.a POOL_ONLY="mlp residual" sh tests/e2e/thread_pool.sh \
    >"$T/pool.out" 2>&1 && ok asan-pool || bad asan-pool "$(tail -c 600 "$T/pool.out")"
echo "$pass passed, $fail failed"
