#!/bin/sh
# tests/errors: programs dlc must reject, with the exact messages a user sees.
#
# For each tests/errors/NAME.net: `dlc NAME.net -o build/tmp/errors/NAME.c`
# run from the repo root must exit 1, write no output file, and print to
# stderr exactly tests/errors/NAME.err. With DLC_UPDATE=1 the .err files are
# rewritten instead (review them with git diff: they are user-facing text).
# syntax_*.net cover the parser, sema_*.net the semantic checks, cli_*.net
# command-line mistakes about the file (-D values), which exit with status 2:
# a line "# dlc-exit: 2" among the first two sets the status wanted.
# Arguments, if any, are shell patterns selecting cases: run.sh 'syntax_*'
set -u
cd "${DLC_ROOT:-$(dirname "$0")/../..}"
DLC=${DLC:-build/dlc}
UPDATE=${DLC_UPDATE:-0}
T=build/tmp/errors
rm -rf "$T"; mkdir -p "$T"
pass=0 fail=0
ok() { echo "ok $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

for net in tests/errors/*.net; do
    [ -e "$net" ] || continue
    name=$(basename "$net" .net)
    if [ $# -gt 0 ]; then
        selected=0
        for pattern in "$@"; do
            case "$name" in $pattern) selected=1 ;; esac
        done
        [ "$selected" = 1 ] || continue
    fi
    expected=tests/errors/$name.err
    out=$T/$name.c
    # A first line "# dlc-args: -D foo=3" adds command-line options.
    args=$(sed -n '1s/^# dlc-args: *//p' "$net")
    want=$(sed -n '1,2s/^# dlc-exit: *//p' "$net")
    want=${want:-1}
    # shellcheck disable=SC2086
    "$DLC" $args "$net" -o "$out" 2>"$T/$name.stderr" >"$T/$name.stdout"
    status=$?
    if [ "$status" -ne "$want" ]; then
        bad "$name" "exit status $status, want $want: $(head -c 300 "$T/$name.stderr")"
        continue
    fi
    if [ -e "$out" ] || [ -e "$T/$name.h" ]; then
        bad "$name" "a failed compile wrote $out or its header"
        continue
    fi
    if [ "$UPDATE" = 1 ]; then
        cp "$T/$name.stderr" "$expected"
        ok "$name (updated)"
    elif [ ! -f "$expected" ]; then
        bad "$name" "$expected is missing (make golden writes it)"
    elif cmp -s "$T/$name.stderr" "$expected"; then
        ok "$name"
    else
        bad "$name" "stderr differs from $expected:
$(diff "$expected" "$T/$name.stderr" | head -n 20)"
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
