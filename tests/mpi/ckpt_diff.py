#!/usr/bin/python3
"""ckpt_diff.py A B [ATOL RTOL]: compares two dlc checkpoints (format
version 2, runtime/dlrt.h) of the same network section by section: the
parameters, the optimizer's state and the STATE tensors (every real
section), and the step. Prints the largest differences; exits 1 when a
value differs by more than ATOL + RTOL |b| (default 0: bit for bit), or
the sections or the step differ."""
import struct
import sys
import zlib

import numpy as np


def read(path):
    data = open(path, "rb").read()
    if data[:8] != b"DLCCKPT\0":
        sys.exit(f"{path}: not a dlc checkpoint")
    version, vsize, nsec, _table = struct.unpack_from("<4I", data, 8)
    if version != 2:
        sys.exit(f"{path}: checkpoint version {version}, not 2")
    at, table = 24, []
    for _ in range(nsec):
        (n,) = struct.unpack_from("<I", data, at)
        name = data[at + 4:at + 4 + n].decode()
        kind, count = struct.unpack_from("<IQ", data, at + 4 + n)
        table.append((name, kind, count))
        at += 4 + n + 12
    sections = {}
    for i, (name, kind, count) in enumerate(table):
        size = {1: vsize, 2: 8, 3: 1}[kind] * count
        raw = data[at:at + size]
        at += size
        if i == 0:
            at += 4   # the header's CRC, after the layout
        if kind == 1:
            sections[name] = np.frombuffer(raw, "<f4" if vsize == 4 else "<f8").astype(np.float64)
        elif kind == 2:
            sections[name] = np.frombuffer(raw, "<u8")
        else:
            sections[name] = raw
    if zlib.crc32(data[:at]) != struct.unpack_from("<I", data, at)[0]:
        sys.exit(f"{path}: bad CRC")
    return sections


def main():
    a, b = read(sys.argv[1]), read(sys.argv[2])
    atol = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    rtol = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    bad = sorted(set(a) ^ set(b))
    if bad:
        print("sections in one file only:", ", ".join(bad))
        return 1
    worst, status = 0.0, 0
    for name in a:
        if name.startswith("trainer:") or name == "rng":
            continue   # the trainer's bookkeeping and the dropout stream
        x, y = a[name], b[name]
        if isinstance(x, bytes) or x.dtype == np.uint64:
            if len(x) != len(y) or (bytes(x) if isinstance(x, bytes) else x.tobytes()) != \
                    (bytes(y) if isinstance(y, bytes) else y.tobytes()):
                print(f"{name}: differs")
                status = 1
            continue
        d = np.abs(x - y)
        excess = d - (atol + rtol * np.abs(y))
        if len(d):
            i = int(np.argmax(excess))
            print(f"{name}: {len(d)} values, max |a - b| {d.max():.3g}, worst at {i}: "
                  f"{x[i]!r} vs {y[i]!r}")
            worst = max(worst, float(excess.max()))
            if excess.max() > 0:
                status = 1
    print("within tolerance" if status == 0 else "OUT OF TOLERANCE",
          f"(atol {atol:g}, rtol {rtol:g})")
    return status


if __name__ == "__main__":
    sys.exit(main())
