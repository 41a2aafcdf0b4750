#!/bin/sh
# tests/kernels/run.sh: unit tests of the runtime's kernels (runtime/kernels/,
# through runtime/dlrt_kernels.h), built the way generated code is built
# (-O3 -march=native -fno-math-errno, -Werror) and again at -O0 under
# AddressSanitizer and UndefinedBehaviorSanitizer when the compiler has them.
# Prints "ok NAME" / "FAIL NAME: why" per test and "N passed, N failed".
set -u
cd "${DLC_ROOT:-$(dirname "$0")/../..}"
T=build/tmp/kernels
rm -rf "$T"
mkdir -p "$T"
CC=${CC:-cc}
WARN="-std=c99 -Wall -Wextra -pedantic -Werror -D_POSIX_C_SOURCE=200809L -Iruntime"
pass=0 fail=0
ok() { echo "ok $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

if ! make --no-print-directory -s build/libdlrt.a >"$T/make.log" 2>&1; then
    bad build_libdlrt "$(tail -n 5 "$T/make.log" | tr '\n' ' ')"
    echo "$pass passed, $fail failed"
    exit 1
fi

# run NAME SOURCE FLAGS: builds tests/kernels/SOURCE.c with FLAGS, runs it
# (with the argument $ARG if set) and counts its lines. The convolutions call OpenBLAS (one thread: the suite shares
# the machine).
export OPENBLAS_NUM_THREADS=1
run() {
    name=$1
    src=$2
    shift 2
    if ! $CC $WARN "$@" -o "$T/$name" "tests/kernels/$src.c" build/libdlrt.a -lopenblas -lm \
            >"$T/$name.log" 2>&1; then
        bad "build_$name" "$(head -n 5 "$T/$name.log" | tr '\n' ' ')"
        return
    fi
    ok "build_$name"
    "$T/$name" ${ARG:+"$ARG"} >"$T/$name.out" 2>&1
    status=$?
    sed "s/^\(ok\|FAIL\) /\1 $name: /" "$T/$name.out"
    pass=$((pass + $(grep -c '^ok ' "$T/$name.out")))
    fail=$((fail + $(grep -c '^FAIL ' "$T/$name.out")))
    if [ $status -ne 0 ] && ! grep -q '^FAIL ' "$T/$name.out"; then
        bad "$name" "exited with status $status: $(tail -n 3 "$T/$name.out" | tr '\n' ' ')"
    fi
}
ARG=
SAN=
if echo 'int main(void){return 0;}' | $CC -x c -fsanitize=address,undefined -o "$T/probe" - \
        >/dev/null 2>&1; then
    SAN=1
fi
for src in test_kernels test_conv test_layers test_sequence; do
    short=${src#test_}
    run "o3_$short" "$src" -O3 -march=native -fno-math-errno
    [ -n "$SAN" ] && run "sanitized_$short" "$src" -O0 -g -fsanitize=address,undefined \
        -fno-sanitize-recover=all
done
# SAMPLE's and SHIFT's convolutions in chunks of one or two output rows
# (normally a whole small test plane is one chunk)
if [ -n "$SAN" ]; then
    run chunked_conv test_conv -O0 -DDLRT_CONV_CHUNK=40 -DDLRT_CONV_SHIFT_CHUNK=10 \
        -fsanitize=address,undefined \
        -fno-sanitize-recover=all
else
    run chunked_conv test_conv -O0 -DDLRT_CONV_CHUNK=40 -DDLRT_CONV_SHIFT_CHUNK=10
fi

# The recurrent kernels (test_rnn), with PyTorch's nn.LSTM/nn.GRU/nn.RNN
# values from rnn_ref.py as its argument when torch is there.
RNNREF=
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import torch' >/dev/null 2>&1; then
    if /usr/bin/python3 tests/kernels/rnn_ref.py >"$T/rnn_ref.txt" 2>"$T/rnn_ref.log"; then
        RNNREF="$T/rnn_ref.txt"
    else
        bad rnn_ref "$(tail -n 3 "$T/rnn_ref.log" | tr '\n' ' ')"
    fi
else
    echo "ok rnn_torch_values # skipped: no /usr/bin/python3 with torch"
    pass=$((pass + 1))
fi
ARG=$RNNREF
run o3_rnn test_rnn -O3 -march=native -fno-math-errno
[ -n "$SAN" ] && run sanitized_rnn test_rnn -O0 -g -fsanitize=address,undefined \
    -fno-sanitize-recover=all
ARG=

# Against PyTorch: torch_ref.py writes float64 reference values for fixed
# inputs, test_torch runs the same inputs through both precisions. Needs
# /usr/bin/python3 with torch (Debian's python3-torch), as tests/torch does.
PY=/usr/bin/python3
if [ -x "$PY" ] && "$PY" -c 'import torch' >/dev/null 2>&1; then
    if "$PY" tests/kernels/torch_ref.py >"$T/torch_ref.txt" 2>"$T/torch_ref.log"; then
        ARG="$T/torch_ref.txt"
        # -O1: the comparison does not need -O3's 5 s build of two copies of
        # every kernel; -march=native keeps generated code's FMA contraction
        run o1_torch test_torch -O1 -march=native -fno-math-errno
        ARG=
    else
        bad torch_ref "$(tail -n 3 "$T/torch_ref.log" | tr '\n' ' ')"
    fi
else
    echo "ok torch_values # skipped: no /usr/bin/python3 with torch"
    pass=$((pass + 1))
fi

# Every kernel header is listed in kernels/all.h (else it is never compiled).
for h in runtime/kernels/*.h; do
    b=$(basename "$h")
    [ "$b" = all.h ] && continue
    if grep -q "#include \"kernels/$b\"" runtime/kernels/all.h; then
        ok "listed_$b"
    else
        bad "listed_$b" "runtime/kernels/$b is not included by runtime/kernels/all.h"
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
