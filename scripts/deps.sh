#!/bin/sh
# deps.sh build|test|mpi: make sure the Debian packages dlc needs are installed.
# As root, installs what is missing with apt-get; otherwise names it and fails.
set -e
what=${1:-build}
pkgs="gcc make flex bison libopenblas-dev zlib1g-dev dataset-fashion-mnist"
if [ "$what" = mpi ]; then
    pkgs="$pkgs openmpi-bin libopenmpi-dev"
fi
if [ "$what" = test ]; then
    # clang + libclang-rt-14-dev: libFuzzer for tests/fuzz
    # openmpi-bin + libopenmpi-dev: the MPI trainers' tests (tests/mpi)
    pkgs="$pkgs python3-torch python3-numpy valgrind clang libclang-rt-14-dev openmpi-bin libopenmpi-dev"
fi
missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
    echo "deps: installed$missing"
else
    echo "deps: missing Debian packages:$missing" >&2
    echo "deps: install them with: sudo apt-get install$missing" >&2
    exit 1
fi
