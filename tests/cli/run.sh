#!/bin/sh
# tests/cli: the dlc command line: help, bad flags, missing files, and that a
# failed compile never clobbers an existing output file.
set -u
DLC=${DLC:-build/dlc}
T=build/tmp/cli
rm -rf "$T"; mkdir -p "$T"
pass=0 fail=0
ok() { echo "ok $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
# expect NAME STATUS GREP-PATTERN -- command...: exit status and stderr+stdout
expect() {
    name=$1 want=$2 pat=$3; shift 4
    "$@" >"$T/out" 2>&1; got=$?
    if [ "$got" != "$want" ]; then bad "$name" "exit $got, want $want: $(head -c 300 "$T/out")"
    elif [ -n "$pat" ] && ! grep -q -- "$pat" "$T/out"; then bad "$name" "output lacks '$pat': $(head -c 300 "$T/out")"
    else ok "$name"; fi
}
good=examples/fashion_mlp.net
expect help 0 "usage: dlc" -- "$DLC" --help
expect help-documents-every-flag 0 "--max-errors" -- "$DLC" -h
# The man page documents every flag --help does.
missing=""
for flag in $("$DLC" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
    grep -q -- "$(echo "$flag" | sed 's/-/\\\\-/g')" docs/dlc.1 || missing="$missing $flag"
done
[ -z "$missing" ] && ok man-page-documents-every-flag || bad man-page-documents-every-flag "missing:$missing"
expect version 0 "^dlc [0-9]" -- "$DLC" --version
expect no-input 2 "no input file" -- "$DLC"
expect unknown-option 2 "did you mean '--emit'" -- "$DLC" --emt=c $good
expect bad-emit 2 "unknown --emit kind" -- "$DLC" --emit=java $good
expect bad-precision 2 "unknown --precision" -- "$DLC" --precision=f16 $good
expect bad-prefix 2 "not a C identifier" -- "$DLC" --prefix 9lives $good
expect bad-define 2 "NAME=VALUE" -- "$DLC" -D hidden $good
expect two-inputs 2 "second" -- "$DLC" $good $good
expect missing-file 1 "cannot open 'no/such.net'" -- "$DLC" no/such.net -o "$T/x.c"
expect directory-input 1 "cannot" -- "$DLC" examples -o "$T/x.c"
expect unwritable-output 1 "cannot write" -- "$DLC" $good -o "$T/no/such/dir/x.c"
expect define-override 0 "" -- "$DLC" -D hidden=32 $good -o "$T/d.c"
if grep -q "32" "$T/d.c" 2>/dev/null; then ok define-changes-output; else bad define-changes-output "no 32 in output"; fi
# A -D that names no param, or whose value is no number, is a bad command
# line: exit status 2, as --help says (tests/errors/cli_*.net: the messages).
expect unknown-define 2 "hiden" -- "$DLC" -D hiden=32 $good -o "$T/u.c"
expect define-not-a-number 2 "'abc' is not a number" -- "$DLC" -D hidden=abc $good -o "$T/u.c"
expect define-empty-value 2 "'' is not a number" -- "$DLC" -D hidden= $good -o "$T/u.c"
expect define-twice 2 "already set by -D hidden=3" -- "$DLC" -D hidden=3 -D hidden=4 $good -o "$T/u.c"
expect define-missing-value 2 "needs NAME=VALUE" -- "$DLC" $good -D
expect define-bad-name 2 "not an identifier" -- "$DLC" -D 9x=3 $good
expect empty-output-name 2 "-o needs a file name" -- "$DLC" $good -o ""
expect missing-output-name 2 "-o needs a file name" -- "$DLC" $good -o
expect empty-input-name 2 "input file name is empty" -- "$DLC" ""
expect explain-with-ast 2 "--emit=ast stops after parsing" -- "$DLC" --explain --emit=ast $good
expect main-with-ast 2 "--emit=ast stops after parsing" -- "$DLC" --main --emit=ast $good
expect bad-max-errors 2 "whole number" -- "$DLC" --max-errors=-1 $good
expect max-errors-missing 2 "whole number" -- "$DLC" $good --max-errors
expect emit-missing 2 "unknown --emit kind ''" -- "$DLC" $good --emit
expect prefix-missing 2 "not a C identifier" -- "$DLC" $good --prefix
expect option-with-value 2 "--main takes no value" -- "$DLC" --main=yes $good
# A good -D value that fails a later check is the file's error (exit 1),
# with a note saying the command line set it.
expect define-fails-check 1 "note: 'hidden' is 2.5, set by -D hidden=2.5 on the command line" -- "$DLC" -D hidden=2.5 $good -o "$T/u.c"
expect explain 0 "batch" -- "$DLC" --explain --emit=none $good
expect explain-marks-defaults 0 "eps            1e-08              (default)" -- "$DLC" --explain --emit=none $good
expect explain-lists-dropout 0 "dropout h2                   rate 0.1" -- "$DLC" --explain --emit=none $good
expect explain-marks-layer-settings 0 "he_normal \*" -- "$DLC" --explain --emit=none $good
printf 'model ex\ninput x : f32[4]\nlabel y : class(2)\nh = leaky_relu(dense(x, 4, init = he_uniform))\nloss cross_entropy(dense(h, 2), y)\ntrain {\n    init he_uniform\n}\n' >"$T/ex.net"
expect explain-leaky-alpha-default 0 "leaky_relu h                 alpha 0.01         (default)" -- "$DLC" --explain --emit=none "$T/ex.net"
expect explain-explicit-init-same-as-default 0 "he_uniform \*" -- "$DLC" --explain --emit=none "$T/ex.net"
printf 'model ui\ninput x : f32[4]\nlabel y : class(2)\nloss cross_entropy(dense(x, 2, init = xavier), y)\n' >"$T/ui.net"
expect unknown-init-lists-schemes 1 "unknown init scheme 'xavier' (known: zeros, ones, uniform, normal, xavier_uniform, xavier_normal, he_uniform, he_normal" -- "$DLC" --emit=none "$T/ui.net"
printf 'model gx\ninput x : f32[4]\nlabel y : class(2)\nh = tanh(dense(x, 4, init = orthogonal(gain = tanh)))\nloss cross_entropy(dense(h, 2, init = lecun_normal), y)\ntrain {\n    init xavier_uniform(gain = 2)\n}\n' >"$T/gx.net"
expect explain-shows-init-gain 0 "h_w            \[4, 4\]                 16  orthogonal(gain = 1.66667) \*" -- "$DLC" --explain --emit=none "$T/gx.net"
expect explain-hides-default-gain 0 "loss_w         \[2, 4\]                  8  lecun_normal \*" -- "$DLC" --explain --emit=none "$T/gx.net"
expect explain-train-init-gain 0 "init           xavier_uniform(gain = 2)" -- "$DLC" --explain --emit=none "$T/gx.net"
expect stats 0 "param" -- "$DLC" --stats --emit=none $good
expect stats-per-layer 0 "^  13    dense            \[256\]                 200,960        401,408       16,384$" -- "$DLC" --stats --emit=none $good
expect emit-ir 0 "dense" -- "$DLC" --emit=ir $good
expect emit-ast 0 "dense" -- "$DLC" --emit=ast $good
expect emit-torch 0 "" -- "$DLC" --emit=torch $good -o "$T/m.py"
expect emit-stdout 0 "fashion_mlp_train_step" -- "$DLC" $good -o -
expect f64-main-rejected 1 "precision" -- "$DLC" --main --precision=f64 $good -o "$T/f.c"

printf 'model kw\ninput x : f32[2]\nlabel y : class(2)\ntarget t : f32[2]\nh = dense(x, 2)\nloss cross_entropy(logits = h, label = y) + mse(pred = h, target = t)\n' >"$T/kw.net"
expect label-and-target-as-argument-names 0 "" -- "$DLC" "$T/kw.net" -o "$T/kw.c"
printf 'model cont\ninput x : f32[2]\nlabel y : class(2)\nh = dense(x, 2) +\n    dense(x, 2)\nloss cross_entropy(h, y) +\n     0.5 * cross_entropy(h, y)\n' >"$T/cont.net"
expect line-ending-operator-continues 0 "" -- "$DLC" "$T/cont.net" -o "$T/cont.c"
printf 'model uu\ninput x : f32[2]\ninput z : f32[3]\nlabel y : class(2)\nh = dense(x, 2)\nh3 = relu(h)\nloss cross_entropy(h, y)\n' >"$T/unused.net"
expect warns-unused-binding 0 "6:1: warning: 'h3' is computed but never used" -- "$DLC" "$T/unused.net" -o "$T/unused.c"
expect warns-unused-input 0 "3:7: warning: input 'z' is never used" -- "$DLC" "$T/unused.net" -o "$T/unused.c"
# Parameter names: innermost dense first; a name already taken is renamed,
# with a warning since the name is part of the API.
printf 'model pn\ninput x : f32[4]\nlabel y : class(2)\nh = dense(relu(dense(x, 5)), 3) + dense(x, 3)\nh_2 = dense(x, 3)\nloss cross_entropy(dense(h + h_2, 2), y)\n' >"$T/pn.net"
expect warns-renamed-param 0 "5:7: warning: 'h_2_w' is already a parameter, so this layer's weight is named 'h_2_w_2'" -- "$DLC" --emit=none "$T/pn.net"
expect param-names-inner-first 0 "h_w            \[5, 4\]" -- "$DLC" --explain --emit=none "$T/pn.net"
expect param-names-left-to-right 0 "h_3_w          \[3, 4\]" -- "$DLC" --explain --emit=none "$T/pn.net"
# A layer no loss reaches is never trained (the update skips it, weight
# decay included, as torch.optim does): warned, once per layer.
printf 'model dec\ninput x : f32[4]\nlabel y : class(2)\nh = relu(dense(x, 8))\noutput side = softmax(dense(h, 3))\nloss cross_entropy(dense(h, 2), y)\ntrain {\n    weight_decay 1e-4\n}\n' >"$T/dec.net"
expect warns-untrained-layer 0 "5:23: warning: no loss depends on this layer, so training never changes 'side.weight': it keeps its initial values" -- "$DLC" --emit=none "$T/dec.net"
"$DLC" "$T/dec.net" -o "$T/dec.c" 2>/dev/null
if grep -q "side_w\[i\] -=" "$T/dec.c" || ! grep -q "side_w \[3, 8\]: no loss depends on it" "$T/dec.c"; then
    bad untrained-layer-not-updated "the update touches side_w"
else ok untrained-layer-not-updated; fi
expect output-must-end-in-c 1 "needs a name ending in .c" -- "$DLC" $good -o "$T/out.h"
printf 'model n\ninput x : f32[2]\nlabel y : class(2)\nh = dense(x, 2)\nloss cross_entropy(h, y)\n' >"$T/n.net"
expect check-only-rejects-what-emission-rejects 1 "clashes" -- "$DLC" --emit=none "$T/n.net"
# Outputs get the mode a plain fopen would give (umask 022: rw-r--r--).
(umask 022 && "$DLC" $good -o "$T/mode.c")
if [ "$(stat -c %a "$T/mode.c")" = 644 ] && [ "$(stat -c %a "$T/mode.h")" = 644 ]; then ok output-mode-follows-umask
else bad output-mode-follows-umask "$(stat -c %a "$T/mode.c") $(stat -c %a "$T/mode.h")"; fi

# A failed compile leaves existing outputs exactly as they were, and
# leaves no temporary files behind.
printf 'keep me\n' >"$T/keep.c"; printf 'keep me too\n' >"$T/keep.h"
printf 'model m\ninput x : f32[3]\nh = rleu(x)\n' >"$T/broken.net"
"$DLC" "$T/broken.net" -o "$T/keep.c" 2>/dev/null
if [ "$(cat "$T/keep.c")" = "keep me" ] && [ "$(cat "$T/keep.h")" = "keep me too" ]; then
    ok failed-compile-keeps-output
else bad failed-compile-keeps-output "output was overwritten"; fi
if ls "$T"/*.tmp-* >/dev/null 2>&1; then bad no-temp-files "left $(ls "$T"/*.tmp-*)"; else ok no-temp-files; fi
# An output that is the input file itself is refused, never written over:
# `dlc model.c` (default output model.c), -o naming the input or a link to it.
cp $good "$T/self.c"; cp $good "$T/self.net"; ln -sf self.net "$T/link.net"; cp $good "$T/self.h"
expect output-is-input-default 1 "is the input file; refusing" -- "$DLC" "$T/self.c"
expect output-is-input-torch 1 "is the input file; refusing" -- "$DLC" --emit=torch "$T/self.net" -o "$T/self.net"
expect output-is-input-link 1 "is the input file; refusing" -- "$DLC" --emit=ir "$T/self.net" -o "$T/link.net"
expect output-header-is-input 1 "is the input file; refusing" -- "$DLC" "$T/self.h" -o "$T/self.c"
if cmp -s $good "$T/self.c" && cmp -s $good "$T/self.net" && cmp -s $good "$T/self.h"; then ok input-never-overwritten
else bad input-never-overwritten "an input was changed"; fi
# Nor does a usage error or a -D that fails a check.
"$DLC" -D hidden=abc $good -o "$T/keep.c" 2>/dev/null
"$DLC" -D hidden=0 $good -o "$T/keep.c" 2>/dev/null
if [ "$(cat "$T/keep.c")" = "keep me" ] && [ "$(cat "$T/keep.h")" = "keep me too" ]; then
    ok bad-define-keeps-output
else bad bad-define-keeps-output "output was overwritten"; fi
# A good compile replaces them.
if "$DLC" $good -o "$T/keep.c" 2>/dev/null && grep -q fashion_mlp "$T/keep.c" && grep -q fashion_mlp "$T/keep.h"; then
    ok good-compile-replaces-output
else bad good-compile-replaces-output "not replaced"; fi
# Op names as binding names: accepted, and the C is clean in both precisions.
expect op-names-as-names 0 "" -- "$DLC" tests/cli/op_names.net -o "$T/opn.c"
expect op-names-as-names-f64 0 "" -- "$DLC" --precision=f64 tests/cli/op_names.net -o "$T/opn64.c"
# --explain's parameter columns widen for long names and inits with arguments.
printf 'model wide\ninput x : f32[4]\nlabel y : class(2)\na_rather_long_binding_name = dense(x, 3, init = orthogonal(gain = 2))\nloss cross_entropy(dense(a_rather_long_binding_name, 2), y)\n' >"$T/wide.net"
expect explain-columns-widen 0 "a_rather_long_binding_name_w \[3, 4\] .* orthogonal(gain = 2) \* 0.01 " -- "$DLC" --explain --emit=none "$T/wide.net"
# trainable = false shows in the parameter lists of --explain and --emit=ir.
expect explain-frozen 0 "h2_w .*frozen \*" -- "$DLC" --explain --emit=none tests/torch/frozen.net
expect ir-frozen 0 "h2_w .* frozen" -- "$DLC" --emit=ir tests/torch/frozen.net
printf 'model af\ninput x : f32[4]\nlabel y : class(2)\nloss cross_entropy(dense(x, 2, trainable = false), y)\n' >"$T/frozen.net"
expect all-frozen-warns 0 "every parameter is frozen" -- "$DLC" --emit=none "$T/frozen.net"
expect ir-op-attributes 0 "softplus %[0-9]* beta=3 threshold=2" -- "$DLC" --emit=ir tests/torch/softplus.net
for c in opn opn64; do
    if cc -std=c99 -Wall -Wextra -pedantic -Werror -Iruntime -c "$T/$c.c" -o "$T/$c.o" 2>"$T/cc.err"; then
        ok "op-names-clean-c-$c"
    else bad "op-names-clean-c-$c" "$(head -c 300 "$T/cc.err")"; fi
done
# Empty input and binary garbage: diagnostics, exit 1, no crash.
: >"$T/empty.net"
expect empty-file 1 "error" -- "$DLC" "$T/empty.net" -o "$T/e.c"
head -c 3000 /bin/sh >"$T/garbage.net"
expect binary-garbage 1 "error" -- "$DLC" "$T/garbage.net" -o "$T/g.c"
# Inputs built to exhaust the compiler: refused with one clear error, fast
# (each under 20 s even on a loaded machine; about 1 s alone).
limited() { name=$1 want=$2 pat=$3; shift 3; expect "$name" "$want" "$pat" -- timeout 20 "$@"; }
awk 'BEGIN { print "model big"; print "input x : f32[2]"; for (i = 0; i < 10001; i++) print "param p" i " = 1" }' >"$T/many.net"
limited too-many-statements 1 "too many statements: a .net file may have at most 10000" "$DLC" --emit=none "$T/many.net"
awk 'BEGIN { print "model big"; print "input x : f32[2]"; print "label y : class(2)"; print "h0 = dense(x, 2)"
             for (i = 1; i < 2100; i++) print "h" i " = relu(relu(h" i - 1 "))"; print "loss cross_entropy(h2099, y)" }' >"$T/nodes.net"
limited too-many-nodes 1 "too large: more than 4096 operations" "$DLC" --emit=none "$T/nodes.net"
awk 'BEGIN { printf "model m\nh = "; for (i = 0; i < 100000; i++) printf "("; printf "x"; for (i = 0; i < 100000; i++) printf ")"; print "" }' >"$T/parens.net"
limited deep-parentheses 1 "expression nested too deeply" "$DLC" --emit=none "$T/parens.net"
awk 'BEGIN { printf "model m\nh = x"; for (i = 0; i < 100000; i++) printf " + x"; print "" }' >"$T/wide.net"
limited long-expression 1 "expression nested too deeply (more than 256 levels)" "$DLC" --emit=none "$T/wide.net"
# The source line of a 400 KB line is shown as a window: the output stays small.
if [ "$(wc -c <"$T/out")" -lt 2000 ]; then ok long-line-short-message; else bad long-line-short-message "$(wc -c <"$T/out") bytes"; fi
# Sources are at most 1 MiB (docs/language.md: bounds the compiler's memory).
{ cat $good; awk 'BEGIN { for (i = 0; i < 16384; i++) printf "%63s\n", "#" }'; } | head -c 1048576 >"$T/1mib.net"
expect source-of-1-mib 0 "" -- "$DLC" --emit=none "$T/1mib.net"
{ cat "$T/1mib.net"; echo; } >"$T/big.net"
expect source-over-1-mib 1 "larger than 1 MiB" -- "$DLC" --emit=none "$T/big.net"
expect source-endless 1 "larger than 1 MiB" -- timeout 20 "$DLC" --emit=none /dev/zero
# Thousands of unknown names: suggestions cost neither quadratic memory nor
# time once errors stop being printed (main took 420 MB here).
awk 'BEGIN { print "model big"; print "input x : f32[4]"; print "label y : class(2)"
             for (i = 0; i < 4995; i++) print "h" i " = x"; for (i = 0; i < 4995; i++) print "g" i " = relu(hh" i ")" }' >"$T/unknown.net"
expect many-unknown-names 1 "too many errors" -- sh -c "ulimit -v 300000; timeout 20 $DLC --emit=none $T/unknown.net"
if grep -q "out of memory" "$T/out"; then bad many-unknown-names-memory "ran out of 300 MB"; else ok many-unknown-names-memory; fi
# Several named losses: per-loss entry points instead of the single ones,
# and a twin with one optimizer per loss (docs/language.md, loss).
expect several-losses 0 "" -- "$DLC" tests/e2e/two_losses.net -o "$T/g.c"
if grep -q 'two_heads_train_step_loss2' "$T/g.h" && ! grep -q 'two_heads_train_step(' "$T/g.h" &&
   grep -q 'TWO_HEADS_LOSS_TERMS 2' "$T/g.h"; then ok several-losses-per-loss-api
else bad several-losses-per-loss-api "no two_heads_train_step_loss2 in $T/g.h"; fi
expect several-losses-twin 0 "" -- "$DLC" --emit=torch tests/e2e/two_losses.net -o "$T/g.py"
if grep -q 'def train_step_loss2' "$T/g.py" && grep -q 'LOSSES = \["loss1", "loss2"\]' "$T/g.py"; then
    ok several-losses-twin-per-loss
else bad several-losses-twin-per-loss "no train_step_loss2 in $T/g.py"; fi
expect x-groups-gone 2 "unknown option" -- "$DLC" --x-groups examples/two_heads.net -o "$T/g.c"
# randwire: the wiring comes from the seed alone. The same seed gives the
# same network (byte-identical IR, C and twin), another seed another wiring,
# for each graph model; --explain prints the wiring and --emit=dot draws it.
for g in 'graph = "ws", k = 4, p = 0.75' 'graph = "er", p = 0.4' 'graph = "ba", m = 2'; do
    name=$(echo "$g" | sed 's/graph = "\([a-z]*\)".*/\1/')
    for seed in 1 2; do
        printf 'model rw\ninput x : f32[1, 8, 8]\nlabel y : class(2)\nr = randwire(x, 4, nodes = 10, %s, seed = %s)\nlogits = dense(global_avgpool(r), 2)\nloss cross_entropy(logits, y)\n' \
            "$g" "$seed" >"$T/rw_$name$seed.net"
    done
    cp "$T/rw_${name}1.net" "$T/rw_${name}1b.net"
    for v in 1 1b 2; do
        "$DLC" --emit=ir "$T/rw_$name$v.net" -o "$T/rw_$name$v.ir" 2>/dev/null
        "$DLC" "$T/rw_$name$v.net" -o "$T/rw_$name$v.c" 2>/dev/null
    done
    # the file's own name aside
    sed -i "s/rw_${name}1b/rw_${name}1/g" "$T/rw_${name}1b.ir" "$T/rw_${name}1b.c"
    if [ -s "$T/rw_${name}1.ir" ] && cmp -s "$T/rw_${name}1.ir" "$T/rw_${name}1b.ir" &&
       cmp -s "$T/rw_${name}1.c" "$T/rw_${name}1b.c"; then ok "randwire-$name-same-seed-same-network"
    else bad "randwire-$name-same-seed-same-network" "the IR or C differ for seed 1"; fi
    w1=$(grep -o 'wiring=\[[^]]*\]' "$T/rw_${name}1.ir") w2=$(grep -o 'wiring=\[[^]]*\]' "$T/rw_${name}2.ir")
    if [ -n "$w1" ] && [ -n "$w2" ] && [ "$w1" != "$w2" ]; then ok "randwire-$name-other-seed-other-wiring"
    else bad "randwire-$name-other-seed-other-wiring" "seed 1: '$w1', seed 2: '$w2'"; fi
done
expect randwire-explain-prints-wiring 0 "wiring 0->" -- "$DLC" --explain --emit=none "$T/rw_ws1.net"
expect randwire-emit-dot 0 "" -- "$DLC" --emit=dot "$T/rw_ws1.net" -o "$T/rw.dot"
if grep -q '^digraph "rw"' "$T/rw.dot" && grep -q 'label="r.node9"' "$T/rw.dot"; then ok randwire-dot-boxes-graph-nodes
else bad randwire-dot-boxes-graph-nodes "$(head -c 300 "$T/rw.dot")"; fi
if command -v dot >/dev/null 2>&1; then
    if dot -Tpng "$T/rw.dot" -o "$T/rw.png" 2>"$T/out" && [ -s "$T/rw.png" ]; then ok dot-draws-png
    else bad dot-draws-png "$(head -c 300 "$T/out")"; fi
fi

# Connectivity masks in the reports: --stats the kept count and the
# effective parameters, --explain the density per layer.
expect masks-stats 0 "effective parameters: 334 " -- "$DLC" --stats --emit=none tests/torch/sparse.net
expect masks-stats-per-weight 0 "density 0.2: 288 effective" -- "$DLC" --stats --emit=none tests/torch/sparse.net
expect masks-explain 0 "density 0.2 (288 of 1440 weights, mask_seed 3)" -- "$DLC" --explain --emit=none tests/torch/sparse.net
expect masks-explain-effective 0 "334 effective (1189 masked weights, always zero)" -- "$DLC" --explain --emit=none tests/torch/sparse.net

echo "$pass passed, $fail failed"
