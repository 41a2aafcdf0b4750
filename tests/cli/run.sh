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

# Every hyperparameter the issue names as a compile-time param, overridden
# by -D: batch, epochs, dropout rate, layer sizes, lr, weight decay,
# momentum, clip values (and validation, seed, a slope, betas, a loss
# section's optimizer and steps, warm-up epochs, conv and lstm sizes).
cat >"$T/hp.net" <<'HPEOF'
model hp
param hidden = 32
param rate = 0.1
param bs = 16
param ep = 2
param lr = 0.05
param wd = 1e-4
param mom = 0.9
param cn = 1.0
param cv = 0.5
param val = 0.2
param sd = 3
param slope = 0.02
param bnm = 0.1
input x : f32[8]
label y : class(3)
h = dropout(leaky_relu(dense(x, hidden, lr = lr, weight_decay = wd), slope), rate)
h2 = batchnorm(h, momentum = bnm)
logits = dense(h2, 3)
loss cross_entropy(logits, y)
train {
    optimizer momentum(lr = lr, momentum = mom, nesterov = true)
    batch bs
    epochs ep
    weight_decay wd
    clip_norm cn
    clip_value cv
    validation val
    seed sd
}
HPEOF
"$DLC" --explain --emit=none -D hidden=64 -D rate=0.3 -D bs=8 -D ep=3 -D lr=0.01 -D wd=0.002 \
    -D mom=0.5 -D cn=2 -D cv=0.25 -D val=0.3 -D sd=5 -D slope=0.2 -D bnm=0.3 "$T/hp.net" >"$T/hp.explain" 2>&1
for want in "hidden         64                 (command line: -D hidden)" \
            "lr             0.01               (.*/hp.net:22)" "momentum       0.5                (.*/hp.net:22)" \
            "batch          8                  (.*/hp.net:23)" "epochs         3                  (.*/hp.net:24)" \
            "seed           5                  (.*/hp.net:29)" "weight_decay   0.002              (.*/hp.net:25)" \
            "validation     0.3                (.*/hp.net:28)" "clip_norm      2                  (.*/hp.net:26)" \
            "clip_value     0.25               (.*/hp.net:27)" "h_w            \[64, 8\]" \
            "0.01 \*     0.002 \*" "dropout h                    rate 0.3" "alpha 0.2" "momentum 0.3, eps 1e-05"; do
    if grep -q -- "$want" "$T/hp.explain"; then ok "define-reaches: $want"
    else bad "define-reaches: $want" "$(head -c 600 "$T/hp.explain")"; fi
done
"$DLC" -D hidden=64 -D rate=0.3 -D bs=8 -D ep=3 -D lr=0.01 -D wd=0.002 -D mom=0.5 -D cn=2 \
    -D cv=0.25 "$T/hp.net" -o "$T/hp.c" 2>"$T/out"
for want in "define HP_BATCH 8 " "define HP_PARAM_COUNT 899 " ; do
    if grep -q -- "$want" "$T/hp.h"; then ok "define-in-header: $want"; else bad "define-in-header: $want" "$(grep define "$T/hp.h" | head -5)"; fi
done
# The learning rate and momentum are runtime values P_create sets.
for want in "n \* 64, 0.3, " "m->lr\[0\] = 0.01;" "0.002f" "m->momentum\[0\] = 0.5;" "0.25f" "2.0f\|2.f\|2f"; do
    if grep -q -- "$want" "$T/hp.c"; then ok "define-in-code: $want"; else bad "define-in-code: $want" "not in hp.c"; fi
done
"$DLC" --main -D ep=3 -D val=0.3 -D sd=5 "$T/hp.net" -o "$T/hpm.c" 2>"$T/out"
if grep -q "epochs.* 3\|3,.*epochs\|\.epochs = 3" "$T/hpm.c" && grep -q "0.3" "$T/hpm.c"; then ok define-reaches-trainer
else bad define-reaches-trainer "$(grep -n 'epochs\|validation' "$T/hpm.c" | head -5)"; fi
cat >"$T/hq.net" <<'HQEOF'
model hq
param f = 4
param k = 3
param hs = 8
param nl = 2
param d = 0.1
param b1 = 0.8
param b2 = 0.99
param st = 2
param lr2 = 0.1
param wu = 3
input x : f32[1, 8, 8]
input s : f32[5, 4]
label y : class(3)
c = relu(conv2d(x, f, k, padding = 1))
r = lstm(s, hs, num_layers = nl, dropout = d, return_sequences = false)
z = concat(flatten(c), r, axis = 0)
logits = dense(z, 3)
a2 = dense(z, 3)
loss one = cross_entropy(logits, y) + warmup(cross_entropy(a2, y), epochs = wu) updates logits
loss two = cross_entropy(a2, y)
train {
    optimizer adam(betas = (b1, b2))
    loss two { optimizer momentum(lr = lr2); steps st }
}
HQEOF
"$DLC" --explain --emit=none -D f=2 -D k=5 -D hs=6 -D nl=1 -D d=0 -D b1=0.5 -D b2=0.9 -D st=3 \
    -D lr2=0.2 -D wu=2 "$T/hq.net" >"$T/hq.explain" 2>&1
for want in "beta1          0.5" "beta2          0.9" "c_w            \[2, 1, 5, 5\]" \
            "r_weight_hh_l0 \[24, 6\]" "two          optimizer momentum(lr = 0.2), steps 3" "kernel 5"; do
    if grep -q -- "$want" "$T/hq.explain"; then ok "define-reaches: $want"
    else bad "define-reaches: $want" "$(head -c 600 "$T/hq.explain")"; fi
done
"$DLC" -D wu=2 "$T/hq.net" -o "$T/hq.c" 2>"$T/out"
"$DLC" -D wu=7 "$T/hq.net" -o "$T/hq7.c" 2>"$T/out"
if ! cmp -s "$T/hq.c" "$T/hq7.c" && grep -q "7" "$T/hq7.c"; then ok define-reaches-warmup-epochs
else bad define-reaches-warmup-epochs "same code for warm-up 2 and 7"; fi

# no_decay bias_and_norm: --explain marks the exempted tensors, the twin
# puts them in a group of weight decay 0, the C update adds no L2 for
# them; a loss section sets its group's own; nothing to decay: a warning.
cat >"$T/nd.net" <<'NDEOF'
model nd
input x : f32[8]
label y : class(3)
h = relu(layernorm(dense(x, 16)))
h2 = batchnorm(dense(h, 16, bias = false))
logits = dense(h2, 3, weight_decay = 0.02)
loss cross_entropy(logits, y)
train {
    optimizer momentum(lr = 0.1)
    weight_decay 5e-4
    no_decay bias_and_norm
}
NDEOF
"$DLC" --explain --emit=none "$T/nd.net" >"$T/nd.explain" 2>&1
for want in "no_decay       bias_and_norm      (.*nd.net:11)" "h_w            \[16, 8\] .* 0.0005 " \
            "h_b            \[16\] .* 0 no_decay " "h_2_w          \[16\] .* 0 no_decay " \
            "h2_2_b         \[16\] .* 0 no_decay " "logits_w       \[3, 16\] .* 0.02 \* " \
            "logits_b       \[3\] .* 0 no_decay "; do
    if grep -q -- "$want" "$T/nd.explain"; then ok "no-decay-explain: $want"
    else bad "no-decay-explain: $want" "$(cat "$T/nd.explain")"; fi
done
"$DLC" --emit=torch "$T/nd.net" -o "$T/nd.py" 2>"$T/out"
if grep -q '{"params": \[self.h_b, self.h_2_w, self.h_2_b, self.h2_2_w, self.h2_2_b, self.logits_b\], "weight_decay": 0.0},  # nd.net:11: no_decay bias_and_norm' "$T/nd.py"
then ok no-decay-twin-group; else bad no-decay-twin-group "$(grep -n params "$T/nd.py")"; fi
"$DLC" "$T/nd.net" -o "$T/nd.c" 2>"$T/out"
if grep -q "d_h_w\[i\] + 0.0005f \* h_w\[i\]" "$T/nd.c" && grep -q "const float g = d_h_b\[i\];" "$T/nd.c" &&
   grep -q "const float g = d_logits_b\[i\];" "$T/nd.c"; then ok no-decay-c-update
else bad no-decay-c-update "$(grep -n 'const float g' "$T/nd.c")"; fi
sed 's/    no_decay bias_and_norm/    no_decay none/' "$T/nd.net" >"$T/nd0.net"
"$DLC" --explain --emit=none "$T/nd0.net" >"$T/nd0.explain" 2>&1
if grep -q "h_b            \[16\] .* 0.0005 " "$T/nd0.explain" && ! grep -q "0 no_decay" "$T/nd0.explain"
then ok no-decay-none; else bad no-decay-none "$(cat "$T/nd0.explain")"; fi
sed 's/    weight_decay 5e-4//; s/, weight_decay = 0.02//' "$T/nd.net" >"$T/ndw.net"
expect no-decay-nothing-to-decay-warns 0 "warning: no_decay has no effect: no parameter has weight decay" -- "$DLC" --emit=none "$T/ndw.net"
cat >"$T/nds.net" <<'NDSEOF'
model nds
input x : f32[8]
label y : class(2)
a = dense(x, 4)
loss one = cross_entropy(dense(a, 2), y)
loss two = cross_entropy(dense(a, 2), y) updates a
train {
    weight_decay 1e-3
    loss two { no_decay bias_and_norm }
}
NDSEOF
"$DLC" --explain --emit=none "$T/nds.net" >"$T/nds.explain" 2>&1
if grep -q "two .* weight_decay 0.001, no_decay bias_and_norm" "$T/nds.explain" &&
   grep -q "a_b .* 0 no_decay " "$T/nds.explain" && grep -q "one_b .* 0.001 " "$T/nds.explain"
then ok no-decay-loss-section; else bad no-decay-loss-section "$(cat "$T/nds.explain")"; fi

# dlc-sweep (build/dlc-sweep, docs/optimizers.md section 6) on a tiny net
# and tiny CSV data: the grid's table, the best choice (the highest
# validation accuracy, the first trial among ties), the test line, a
# random search's determinism for one seed, and its usage errors.
SWEEP=${SWEEP:-build/dlc-sweep}
# -O0: the tiny trainers build in a fraction of the time -O3 takes.
sweep() { CFLAGS=-O0 "$SWEEP" "$@"; }
if [ -x /usr/bin/python3 ] && [ -x "$SWEEP" ]; then
cat >"$T/sw.net" <<'SWEOF'
model sw
param hidden = 8
param lr = 0.1
input x : f32[4]
label y : class(2)
h = relu(dense(x, hidden))
loss cross_entropy(dense(h, 2), y)
train {
    optimizer sgd(lr = lr)
    batch 16
    epochs 2
    validation 0.25
    seed 3
}
SWEOF
swdata() { awk -v n="$1" -v s="$2" 'BEGIN { srand(s); for (i = 0; i < n; i++) { a = rand()*2-1; b = rand()*2-1; c = rand()*2-1; d = rand()*2-1; y = (a + 0.5*b - 0.3*c > 0.1) ? 1 : 0; if (rand() < 0.1) y = 1 - y; printf "%.4f,%.4f,%.4f,%.4f,%d\n", a, b, c, d, y } }'; }
swdata 400 1 >"$T/sw_train.csv"; swdata 200 2 >"$T/sw_test.csv"
swdata_args="--train-csv $T/sw_train.csv --test-csv $T/sw_test.csv"
# shellcheck disable=SC2086
sweep -D hidden=2,8 -R epochs=1,3 --dir "$T/swg" "$T/sw.net" -- $swdata_args >"$T/swg.out" 2>&1
st=$?
rows=$(grep -c '^[0-9]' "$T/swg.out")
if [ "$st" = 0 ] && [ "$rows" = 4 ] && grep -q '^trial  -D hidden  --epochs  epoch  val loss  val acc  train s  seconds$' "$T/swg.out"
then ok sweep-grid-table; else bad sweep-grid-table "exit $st, $rows rows: $(cat "$T/swg.out")"; fi
# The row marked * has the highest val acc, the first among ties, and the
# best: line names it with its settings.
best=$(awk '/^[0-9]/ { t = $1; acc = $(NF - 2); if (acc > m) { m = acc; b = t } } END { print b }' "$T/swg.out")
marked=$(sed -n 's/^\([0-9]*\) \*.*/\1/p' "$T/swg.out")
if [ -n "$best" ] && [ "$best" = "$marked" ] && grep -q "^best: trial $best, -D hidden=[28], --epochs [13]: val acc " "$T/swg.out"
then ok sweep-picks-best; else bad sweep-picks-best "best $best, marked $marked: $(cat "$T/swg.out")"; fi
if grep -q "^test (trial $marked's checkpoint, .*trial-$marked.ckpt): test loss [0-9.]*, test accuracy [0-9.]*$" "$T/swg.out" &&
   [ -f "$T/swg/trial-$marked.ckpt" ] && [ "$(wc -l <"$T/swg/results.csv")" = 5 ]
then ok sweep-test-metric-of-best; else bad sweep-test-metric-of-best "$(tail -n 2 "$T/swg.out")"; fi
# A random search: the same seed draws the same trials and the same
# results (the seconds column aside); another seed other learning rates.
for run in a b; do
    # shellcheck disable=SC2086
    sweep --lr log:1e-3:1 -D hidden=int:2:8 --trials 3 --seed 7 --dir "$T/swr$run" "$T/sw.net" -- $swdata_args >"$T/swr$run.out" 2>&1
    sed '/^[0-9]/s/  *[0-9.]*  *[0-9.]*$//; s/, .*trial-[0-9]*.ckpt)/)/; s/swr[ab]/swr/g' "$T/swr$run.out" | grep -v '^dlc-sweep' >"$T/swr$run.cut"
done
# shellcheck disable=SC2086
sweep --lr log:1e-3:1 -D hidden=int:2:8 --trials 3 --seed 8 --dir "$T/swrc" "$T/sw.net" -- $swdata_args >"$T/swrc.out" 2>&1
if [ "$(grep -c '^[0-9]' "$T/swra.out")" = 3 ] && cmp -s "$T/swra.cut" "$T/swrb.cut" &&
   grep -q '^trial  -D hidden  -D lr ' "$T/swra.out"
then ok sweep-random-deterministic; else bad sweep-random-deterministic "$(diff "$T/swra.cut" "$T/swrb.cut" | head -5) $(cat "$T/swra.out")"; fi
lrs() { awk '/^[0-9]/ { print $(NF - 5) }' "$1"; }
if [ -n "$(lrs "$T/swra.out")" ] && [ "$(lrs "$T/swra.out")" != "$(lrs "$T/swrc.out")" ] &&
   lrs "$T/swra.out" | awk '{ if ($1 < 0.001 || $1 > 1) exit 1 }'
then ok sweep-random-seed-and-range; else bad sweep-random-seed-and-range "$(lrs "$T/swra.out") / $(lrs "$T/swrc.out")"; fi
# Train-block lines as an axis: two optimizers.
# shellcheck disable=SC2086
sweep -S 'optimizer=sgd(lr = 0.2)' -S 'optimizer=adam(lr = 0.01)' --dir "$T/sws" "$T/sw.net" -- $swdata_args >"$T/sws.out" 2>&1
if grep -q '^1 *.*sgd(lr = 0.2) ' "$T/sws.out" && grep -q '^2 *.*adam(lr = 0.01) ' "$T/sws.out" &&
   grep -q 'optimizer adam(lr = 0.01)' "$T/sws/build-1/sw.net"
then ok sweep-train-settings; else bad sweep-train-settings "$(cat "$T/sws.out")"; fi
# A trial that diverges is a row saying so; the others still rank.
# shellcheck disable=SC2086
sweep --lr 0.1,1e6 -D hidden=2 --dir "$T/swf" "$T/sw.net" -- $swdata_args >"$T/swf.out" 2>&1
if grep -q '^2      2          1e6    -      -         -        [0-9.]*      [0-9.]*  failed (exit 1): .*trial-2.log$' "$T/swf.out" &&
   grep -q '^best: trial 1,' "$T/swf.out"
then ok sweep-failed-trial; else bad sweep-failed-trial "$(cat "$T/swf.out")"; fi
# A combination dlc refuses is its trials' rows; none built: exit 1.
# shellcheck disable=SC2086
sweep -D hidden=0,4 --dir "$T/swb" "$T/sw.net" -- $swdata_args >"$T/swb.out" 2>&1
if grep -q '^1      0          -      -         -        0.0      0.0  build failed: dense needs a positive number of units, got 0$' "$T/swb.out" &&
   grep -q '^best: trial 2,' "$T/swb.out" && grep -q '^1,0,build,' "$T/swb/results.csv"
then ok sweep-build-failed-row; else bad sweep-build-failed-row "$(cat "$T/swb.out")"; fi
expect sweep-no-build 1 "no build succeeded; the first:" -- sweep -D hidden=0,-1 --dir "$T/swb2" "$T/sw.net"
# A regression net: ranked on the validation loss, lowest first.
sed 's/^label y : class(2)$/target t : f32[1]/; s/^loss cross_entropy(dense(h, 2), y)$/loss mse(dense(h, 1), t)/' "$T/sw.net" >"$T/swreg.net"
# shellcheck disable=SC2086
sweep -D hidden=2,4,8 --dir "$T/swreg" "$T/swreg.net" -- $swdata_args >"$T/swreg.out" 2>&1
best=$(awk '/^[0-9]/ { t = $1; l = $(NF - 3); if (b == "" || l < m) { m = l; b = t } } END { print b }' "$T/swreg.out")
if grep -q 'choosing on val_loss$' "$T/swreg.out" && [ -n "$best" ] && grep -q "^$best \*" "$T/swreg.out" &&
   grep -q "^best: trial $best, -D hidden=[248]: val loss " "$T/swreg.out"
then ok sweep-regression-val-loss; else bad sweep-regression-val-loss "best $best: $(cat "$T/swreg.out")"; fi
expect sweep-metric-needs-accuracy 1 "no trial printed a validation accuracy" -- sweep -D hidden=2 --metric val_acc --dir "$T/swreg2" "$T/swreg.net" -- $swdata_args
# --repeats 3: every setting with the trainer seeds 10, 11, 12 (from
# --seed 10 after --), ranked on the mean, with the standard deviation.
# shellcheck disable=SC2086
sweep -D hidden=2,8 --repeats 3 --dir "$T/swp" "$T/sw.net" -- $swdata_args --seed 10 >"$T/swp.out" 2>&1
if grep -q '^trial  -D hidden  epoch  val loss  val acc  sd      train s  seconds$' "$T/swp.out" &&
   [ "$(grep -c '^[0-9] .* 2/2/2 ' "$T/swp.out")" = 2 ] &&
   grep -q "^best: trial [12], -D hidden=[28]: val acc [0-9.]*, the mean of 3 runs (seeds 10 to 12; sd [0-9.]*)$" "$T/swp.out" &&
   grep -q -- '--seed 12 --checkpoint' "$T/swp/trial-2-seed12.log" && ! grep -q -- '--seed 10 .*--seed' "$T/swp/trial-1-seed10.log"
then ok sweep-repeats; else bad sweep-repeats "$(cat "$T/swp.out")"; fi
# The mean of the three runs' val acc is the row's.
m=$(for s in 10 11 12; do sed -n 's/^epoch [0-9/]* .*  val acc \([0-9.]*\) .* \*$/\1/p' "$T/swp/trial-1-seed$s.log" | tail -n 1; done |
    awk '{ s += $1 } END { printf "%.4f", s / NR }')
if grep -q "^1 .* $m " "$T/swp.out"; then ok sweep-repeats-mean; else bad sweep-repeats-mean "mean $m: $(cat "$T/swp.out")"; fi
expect sweep-repeats-with-seed-axis 2 "--repeats varies the trainer's seed" -- sweep -R seed=1,2 --repeats 2 "$T/sw.net"
expect sweep-help 0 "usage: dlc-sweep" -- sweep --help
expect sweep-range-needs-trials 2 "a random search needs --trials N" -- sweep --lr log:1e-3:1 "$T/sw.net"
expect sweep-unknown-param 2 "declares no param 'hiden' (its params: hidden, lr)" -- sweep -D hiden=2,3 "$T/sw.net"
expect sweep-bad-spec 2 "is no list of values" -- sweep -D hidden=2,,3 "$T/sw.net"
expect sweep-bad-log-range 2 "a log-uniform range needs LO > 0" -- sweep --lr log:0:1 --trials 2 "$T/sw.net"
expect sweep-grid-too-small 2 "the grid has only 2 combinations" -- sweep -D hidden=2,3 --trials 3 "$T/sw.net"
expect sweep-own-checkpoint 2 "--checkpoint is the sweep's own business" -- sweep -D hidden=2,3 "$T/sw.net" -- --checkpoint x.ckpt
expect sweep-nothing 2 "nothing to sweep" -- "$SWEEP" "$T/sw.net"
expect sweep-flag-twice 2 "--epochs is swept (1,2) and also given after --" -- sweep -R epochs=1,2 "$T/sw.net" -- --epochs 3
# --lr on a net without `param lr`: the trainer's --lr if it has one, else
# a usage error saying how to declare the param.
sweep --lr 0.1,0.2 --dir "$T/swx" "$T/ex.net" >"$T/swx.out" 2>&1
st=$?
if [ "$st" = 2 ] && grep -q "the trainer takes no --lr (declare \`param lr\`" "$T/swx.out"; then ok sweep-lr-without-param
elif "$T/swx/build-0/model" --help 2>&1 | grep -q -- '--lr'; then ok "sweep-lr-without-param (the trainer takes --lr)"
else bad sweep-lr-without-param "exit $st: $(cat "$T/swx.out")"; fi
else
    echo "skip sweep tests: /usr/bin/python3 or $SWEEP missing"
fi

echo "$pass passed, $fail failed"
