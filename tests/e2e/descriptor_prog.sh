# tests/e2e/descriptor_prog.sh: what team.sh and thread_pool.sh share. They
# set T (their folder) and CFL (cc flags), and `only` (the names of theirs
# to run), then source this: DLC, LIB and SAN get their defaults, T is
# made, and ok, bad, wanted and descriptor_prog are defined.
DLC=${DLC:-build/dlc}
LIB=${LIB:-build/libdlrt.a}
SAN=${SAN:-}
mkdir -p "$T"
pass=0 fail=0
ok() { echo "ok $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
# wanted NAME: whether NAME is in $only
wanted() { case " $only " in *" $1 "*) return 0 ;; esac; return 1; }
#
# descriptor_prog NAME NET PROGRAM [dlc flags]: compiles NET (with the
# flags) to $T/NAME.c, builds tests/e2e/PROGRAM.c against it through its
# descriptor (-include the header, -DMODEL_API=<prefix>_model), runs it
# with one BLAS thread into $T/NAME.out, and succeeds when its last line is
# "ok". On failure, $T/NAME.err and $T/NAME.out say why.
descriptor_prog() {
    dp_name=$1 dp_net=$2 dp_prog=$3
    shift 3
    dp_prefix=$(sed -n 's/^model[[:space:]]*\([A-Za-z_0-9]*\).*/\1/p' "$dp_net" | head -n 1)
    # shellcheck disable=SC2086
    "$DLC" "$@" "$dp_net" -o "$T/$dp_name.c" 2>"$T/$dp_name.err" &&
        cc $CFL $SAN -include "$T/$dp_name.h" -DMODEL_API="${dp_prefix}_model" -o "$T/$dp_name" \
            "tests/e2e/$dp_prog.c" "$T/$dp_name.c" "$LIB" -lopenblas -lz -lm 2>>"$T/$dp_name.err" &&
        OPENBLAS_NUM_THREADS=1 "$T/$dp_name" >"$T/$dp_name.out" 2>&1 &&
        tail -n 1 "$T/$dp_name.out" | grep -qx ok
}
