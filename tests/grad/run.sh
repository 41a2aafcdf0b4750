#!/bin/sh
# tests/grad/run.sh: finite-difference gradient checks, in double precision.
#
# Each NAME.net here is compiled with `dlc --precision=f64 --prefix gc`, then
# built with the one generic harness gradcheck.c (which sees the net's header
# through -include) and run: it compares every parameter gradient (a sample
# of 200 per tensor) with central differences of the loss. The harness reads
# the net's inputs, labels and targets (names, sizes, class counts) and its
# losses from the generated descriptor, gc_model(): any net works as it is.
# NAME.flags, when present, holds extra dlc flags for NAME.net. A net with
# several losses (two_groups, gan_like) is checked loss by loss, each over
# its own parameter group.
set -u
cd "${DLC_ROOT:-$(dirname "$0")/../..}"
DLC=${DLC:-build/dlc}
CC=${CC:-cc}
tmp=build/tmp/grad
export OPENBLAS_NUM_THREADS=1   # tiny matrices: threads only add overhead
mkdir -p "$tmp"
pass=0 fail=0

for net in tests/grad/*.net; do
    name=$(basename "$net" .net)
    out="$tmp/$name"
    defs="-DNAME=\"$name\""
    flags=
    [ -f "tests/grad/$name.flags" ] && flags=$(cat "tests/grad/$name.flags")

    # shellcheck disable=SC2086  # flags is a list of flags
    if ! "$DLC" $flags --precision=f64 --prefix gc "$net" -o "$out.c" 2> "$out.err"; then
        echo "FAIL $name: dlc failed: $(head -n 1 "$out.err")"
        fail=$((fail + 1))
        continue
    fi
    # shellcheck disable=SC2086  # defs is a list of flags
    if ! $CC -std=c99 -O1 -Wall -Wextra -pedantic -D_POSIX_C_SOURCE=200809L $defs \
            -Iruntime -I/usr/include/openblas -include "$out.h" \
            -o "$out" tests/grad/gradcheck.c "$out.c" \
            build/libdlrt.a -lopenblas -lz -lm 2> "$out.err"; then
        echo "FAIL $name: build failed: $(grep -m 1 error "$out.err" || head -n 1 "$out.err")"
        fail=$((fail + 1))
        continue
    fi
    if [ -s "$out.err" ]; then
        echo "FAIL $name: warnings: $(head -n 1 "$out.err")"
        fail=$((fail + 1))
        continue
    fi
    result=$("$out" 2>&1)
    status=$?
    case "$result" in
        ok*) [ "$status" -eq 0 ] && { echo "$result"; pass=$((pass + 1)); continue; } ;;
    esac
    case "$result" in
        FAIL*) echo "$result" ;;
        *) echo "FAIL $name: exit status $status: $(echo "$result" | head -n 1)" ;;
    esac
    fail=$((fail + 1))
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
