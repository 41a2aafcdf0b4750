#!/bin/sh
# tests/mpi: data-parallel training under mpirun (Open MPI; make MPI=1 builds
# build/libdlrt_mpi.a). docs/scaling.md states what is checked here:
#  - 2 and 3 ranks (3 oversubscribed on 2 cores) end with the parameters and
#    optimizer state of one process on the same global batches, within
#    float tolerance, for an MLP (Adam), a CNN with batchnorm (momentum,
#    weight decay; statistics synchronized) and an LSTM (momentum, clip_norm);
#    the last batch of 2 samples leaves a rank of 3 without rows;
#  - one rank under mpirun is the plain trainer bit for bit; the same run
#    twice gives the same bits;
#  - a run stopped on 2 ranks resumes on 3;
#  - faults: a rank killed mid-training, a rank that hangs (--mpi-timeout),
#    a rank that cannot read its data: the job ends with a message, no hang.
set -u
T=build/tmp/mpi
rm -rf "$T"; mkdir -p "$T"
pass=0 fail=0
ok() { echo "ok $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
summary() { echo "$pass passed, $fail failed"; exit 0; }

if ! command -v mpirun >/dev/null 2>&1 || ! command -v mpicc >/dev/null 2>&1; then
    bad mpi-installed "no mpirun or mpicc: install openmpi-bin and libopenmpi-dev (make deps-test does)"
    summary
fi
# Rebuilt when stale: a libdlrt_mpi.a older than libdlrt.a computes other
# bits (np1-bit-identical fails for no reason).
make --no-print-directory -s build/libdlrt_mpi.a >/dev/null
# Open MPI refuses root unless told; CI containers run as root.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# No BLAS threads: ranks share 2 cores.
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
MPIRUN="mpirun --oversubscribe"
DIFF="/usr/bin/python3 tests/mpi/ckpt_diff.py"
# float32 after one epoch (21 steps): measured differences are around 1e-7
# to 1e-6 (the sums run in another order); the tolerance leaves room.
ATOL=1e-5 RTOL=1e-4
CFL="-std=c99 -Wall -Wextra -pedantic -Werror -O2 -Iruntime"
# 713 samples: 642 train (20 batches of 32 and one of 2), 71 validation.
RUN="--limit 713 --test-limit 300 --no-progress"

build() { # NAME: tests/mpi/NAME.net into $T/NAME (one process) and $T/NAME.mpi
    if ! "$DLC" --main "tests/mpi/$1.net" -o "$T/$1.c" 2>"$T/$1.err" ||
        ! cc $CFL -o "$T/$1" "$T/$1.c" build/libdlrt.a -lopenblas -lz -lm 2>>"$T/$1.err" ||
        ! mpicc $CFL -o "$T/$1.mpi" "$T/$1.c" build/libdlrt_mpi.a -lopenblas -lz -lm 2>>"$T/$1.err"; then
        bad "$1-build" "$(head -c 400 "$T/$1.err")"
        return 1
    fi
    ok "$1-build"
}

# train NAME RANKS CKPT [flags]: one epoch; RANKS 0 is the plain trainer.
train() {
    name=$1 ranks=$2 ckpt=$3; shift 3
    if [ "$ranks" = 0 ]; then
        timeout 120 "$T/$name" $RUN --checkpoint "$ckpt" "$@" >"$ckpt.out" 2>&1
    else
        timeout 120 $MPIRUN -np "$ranks" "$T/$name.mpi" $RUN --checkpoint "$ckpt" "$@" >"$ckpt.out" 2>&1
    fi
}

for net in mlp cnn_bn lstm; do
    build $net || continue
    if ! train $net 0 "$T/$net.1.ckpt"; then
        bad "$net-one-process" "$(tail -c 300 "$T/$net.1.ckpt.out")"; continue
    fi
    for ranks in 2 3; do
        if ! train $net $ranks "$T/$net.$ranks.ckpt"; then
            bad "$net-np$ranks" "$(tail -c 400 "$T/$net.$ranks.ckpt.out")"; continue
        fi
        if $DIFF "$T/$net.1.ckpt" "$T/$net.$ranks.ckpt" $ATOL $RTOL >"$T/$net.$ranks.diff"; then
            ok "$net-np$ranks-equals-one-process ($(grep -o 'max |a - b| [^,]*' "$T/$net.$ranks.diff" | sed -n 1p))"
        else
            bad "$net-np$ranks-equals-one-process" "$(cat "$T/$net.$ranks.diff")"
        fi
    done
    # The data-parallel trainer reports its steps.
    grep -q "^data parallel: 2 ranks, 21 steps" "$T/$net.2.ckpt.out" && ok "$net-comm-report" ||
        bad "$net-comm-report" "$(grep 'data parallel' "$T/$net.2.ckpt.out")"
done

# One rank under mpirun is the plain trainer, bit for bit; two ranks twice
# give the same bits.
if [ -x "$T/cnn_bn.mpi" ]; then
    train cnn_bn 1 "$T/one.ckpt"
    cmp -s "$T/one.ckpt" "$T/cnn_bn.1.ckpt" && ok np1-bit-identical || bad np1-bit-identical "checkpoints differ"
    train cnn_bn 2 "$T/again.ckpt"
    cmp -s "$T/again.ckpt" "$T/cnn_bn.2.ckpt" && ok np2-deterministic || bad np2-deterministic "two runs differ"
    # Validation and test metrics are reduced over the ranks: rank 0 prints
    # what one process prints (the last digit may move).
    grep -q "^test accuracy" "$T/again.ckpt.out" && ok np2-test-accuracy || bad np2-test-accuracy "no test line"
fi

# Stopped on 2 ranks after 8 steps, resumed on 3: one process's epoch.
if [ -x "$T/mlp.mpi" ]; then
    train mlp 2 "$T/resume.ckpt" --max-steps 8
    if train mlp 3 "$T/resume.ckpt" --resume && grep -q "resumed from" "$T/resume.ckpt.out" &&
        $DIFF "$T/mlp.1.ckpt" "$T/resume.ckpt" $ATOL $RTOL >"$T/resume.diff"; then
        ok "resume-2-then-3-ranks"
    else
        bad "resume-2-then-3-ranks" "$(tail -c 300 "$T/resume.ckpt.out") $(cat "$T/resume.diff" 2>/dev/null)"
    fi
fi

# ---- faults -------------------------------------------------------------

# pid_of_rank K: the trainer process of rank K (Open MPI puts the rank in
# each process's environment).
pid_of_rank() {
    for p in $(pgrep -f "$T/mlp.mpi"); do
        tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$1" && echo "$p"
    done | head -n 1
}

# wait_rank K: waits (up to 10 s) until rank K runs, then 1.5 s more
# (it is training by then), and prints its pid.
wait_rank() {
    i=0
    while [ $i -lt 100 ]; do
        p=$(pid_of_rank "$1")
        if [ -n "$p" ]; then sleep 1.5; echo "$p"; return; fi
        sleep 0.1; i=$((i + 1))
    done
}

if [ -x "$T/mlp.mpi" ]; then
    # A rank killed mid-training: the job ends (mpirun ends the others),
    # with a message, exit status not 0, and well before any timeout.
    start=$(date +%s)
    timeout 60 $MPIRUN -np 2 "$T/mlp.mpi" --limit 20000 --epochs 20 --test-limit 100 --no-progress \
        --checkpoint "$T/long.ckpt" >"$T/long.out" 2>&1 &
    job=$!
    victim=$(wait_rank 1)
    [ -n "$victim" ] && kill -9 "$victim"
    wait $job
    st=$? took=$(( $(date +%s) - start ))
    if [ -n "$victim" ] && [ $st -ne 0 ] && [ $st -ne 124 ] && [ $took -lt 30 ] &&
        grep -qi "rank 1.*signal 9\|signal 9.*rank 1\|exited on signal 9" "$T/long.out"; then
        ok "rank-killed-ends-job (exit $st after ${took}s)"
    else
        bad rank-killed-ends-job "pid '$victim', exit $st after ${took}s: $(tail -c 400 "$T/long.out")"
    fi

    # A rank that hangs (stopped): the others give up after --mpi-timeout
    # and say why.
    start=$(date +%s)
    timeout 60 $MPIRUN -np 2 "$T/mlp.mpi" --limit 20000 --epochs 20 --test-limit 100 --no-progress \
        --mpi-timeout 2 --checkpoint "$T/hang.ckpt" >"$T/long.out" 2>&1 &
    job=$!
    victim=$(wait_rank 1)
    [ -n "$victim" ] && kill -STOP "$victim"
    wait $job
    st=$? took=$(( $(date +%s) - start ))
    [ -n "$victim" ] && kill -9 "$victim" 2>/dev/null
    if [ -n "$victim" ] && [ $st -ne 0 ] && [ $st -ne 124 ] &&
        grep -q "no answer from the other ranks for 2 s" "$T/long.out"; then
        ok "rank-hangs-timeout (exit $st after ${took}s)"
    else
        bad rank-hangs-timeout "pid '$victim', exit $st after ${took}s: $(tail -c 400 "$T/long.out")"
    fi

    # A rank that cannot read its data (MPMD: rank 1 is given another
    # file, as on a machine without it): the job fails at the start, the
    # file named.
    img=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
    lab=/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz
    timeout 60 mpirun -np 1 "$T/mlp.mpi" --limit 500 --train-images "$img" --train-labels "$lab" \
        --checkpoint "$T/shard.ckpt" : -np 1 "$T/mlp.mpi" --limit 500 --train-images "$T/missing-images.gz" \
        --train-labels "$lab" --checkpoint "$T/shard.ckpt" >"$T/shard.out" 2>&1
    st=$?
    if [ $st -ne 0 ] && [ $st -ne 124 ] && grep -q "missing-images.gz" "$T/shard.out" &&
        grep -q "1 of 2 ranks could not start (rank 1" "$T/shard.out"; then
        ok "rank-without-data-fails-at-start"
    else
        bad rank-without-data-fails-at-start "exit $st: $(tail -c 400 "$T/shard.out")"
    fi
    [ ! -e "$T/shard.ckpt" ] && ok "failed-start-writes-nothing" || bad failed-start-writes-nothing "a checkpoint was written"

    # The flags: documented, and checked.
    "$T/mlp.mpi" --help 2>&1 | grep -q "mpirun -np N" && ok help-mentions-mpirun || bad help-mentions-mpirun "no mpirun in --help"
    "$T/mlp" --mpi-timeout 0 >"$T/flag.out" 2>&1
    [ $? -eq 2 ] && grep -q "mpi-timeout wants" "$T/flag.out" && ok bad-mpi-timeout-refused ||
        bad bad-mpi-timeout-refused "$(cat "$T/flag.out")"
fi
summary
