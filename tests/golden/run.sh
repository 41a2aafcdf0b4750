#!/bin/sh
# tests/golden: the C that dlc emits, byte for byte.
#
# For each tests/golden/NAME.net, dlc writes NAME.c and NAME.h under
# build/tmp/golden/, and its IR dump NAME.ir (--emit=ir); each must equal
# tests/golden/NAME.c, NAME.h and NAME.ir. A first
# line `# dlc-args: ...` adds command-line options for that file. Each
# generated source must also compile cleanly as C99 with every warning an
# error. DLC_UPDATE=1 rewrites the expected files instead (review the change
# with git diff).
set -u
cd "${DLC_ROOT:-.}"
DLC=${DLC:-build/dlc}
OUT=build/tmp/golden
rm -rf "$OUT"
mkdir -p "$OUT"
pass=0 fail=0
ok() { echo "ok $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

for net in tests/golden/*.net; do
    name=$(basename "$net" .net)
    args=$(sed -n '1s/^# dlc-args://p' "$net")
    # shellcheck disable=SC2086
    if ! "$DLC" $args "$net" -o "$OUT/$name.c" 2>"$OUT/$name.err"; then
        bad "$name" "dlc failed: $(head -c 300 "$OUT/$name.err")"
        continue
    fi
    # The IR after shape checking and autodiff: a review sees graph changes
    # apart from the C they cause.
    # shellcheck disable=SC2086
    "$DLC" $args --emit=ir "$net" -o "$OUT/$name.ir" 2>>"$OUT/$name.err"
    for ext in ir c h; do
        expected="tests/golden/$name.$ext"
        if [ "${DLC_UPDATE:-0}" = 1 ]; then
            cp "$OUT/$name.$ext" "$expected"
            ok "$name.$ext (updated)"
        elif [ ! -f "$expected" ]; then
            bad "$name.$ext" "no expected file $expected (run with DLC_UPDATE=1)"
        elif cmp -s "$OUT/$name.$ext" "$expected"; then
            ok "$name.$ext"
        else
            bad "$name.$ext" "differs from $expected: $(diff "$expected" "$OUT/$name.$ext" | head -n 6 | tr '\n' ' ')"
        fi
    done
    if cc -std=c99 -Wall -Wextra -pedantic -Werror -Iruntime -c "$OUT/$name.c" \
          -o "$OUT/$name.o" 2>"$OUT/$name.cc.err"; then
        ok "$name.c compiles (-std=c99 -Wall -Wextra -pedantic -Werror)"
    else
        bad "$name.c compiles" "$(head -c 400 "$OUT/$name.cc.err")"
    fi
done

# Scoped names: in the IR of every network the tests hold, no two
# parameter or state tensors share a path (h.weight) or a C name (h_w).
dups=""
for net in tests/golden/*.net tests/grad/*.net tests/torch/*.net; do
    args=$(sed -n '1s/^# dlc-args://p' "$net")
    # shellcheck disable=SC2086
    "$DLC" $args --emit=ir "$net" -o "$OUT/names.ir" 2>/dev/null || continue
    d=$(awk '/^(parameters|state):$/ { on = 1; next } /^$/ { on = 0 }
             on { print "path " $NF; print "cname " $1 }' "$OUT/names.ir" | sort | uniq -d)
    [ -n "$d" ] && dups="$dups $net: $d;"
done
if [ -z "$dups" ]; then
    ok "paths-and-cnames-unique"
else
    bad "paths-and-cnames-unique" "$dups"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
