"""mutate.py: the deterministic mutation fuzzer behind tests/fuzz/run.sh.

mutate.py DLC CORPUS_DIR WORK_DIR COUNT SEED

Makes COUNT inputs from the corpus by bit flips, byte edits, truncations,
line shuffles, token insertions and splices of two files (a fixed seed:
every run tries the same inputs), and compiles each with DLC under a 5 s
timeout. Exit status 0 or 1 is fine; a signal, a timeout or anything else
is a failure: the input is kept in WORK_DIR/failures/. Prints one line:
"ok NAME" or "FAIL NAME: ...".
"""
import os
import random
import subprocess
import sys

WORDS = [b"model", b"param", b"input", b"label", b"target", b"output", b"loss",
         b"train", b"{", b"}", b"(", b")", b"[", b"]", b"=", b":", b",", b";",
         b"\n", b"#", b'"', b"f32", b"class", b"dense", b"relu", b"softmax",
         b"dropout", b"flatten", b"cross_entropy", b"mse", b"l1", b"adam",
         b"sgd", b"momentum", b"batch", b"epochs", b"init", b"-", b"*", b"+",
         b"/", b"0", b"1e-3", b"0x", b"1_0", b".5", b"99999999999999999999",
         b"\x00", b"\xff", b"\xc3\xa9", b"x", b"h1"]

EMITS = [["--emit=c"], ["--emit=torch"], ["--emit=ast"], ["--emit=ir"],
         ["--main"], ["--precision=f64"], ["--explain", "--emit=none"],
         ["--stats", "--emit=none"], ["-D", "hidden=3"]]


def mutate(rng, data, corpus):
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(8)
        pos = rng.randint(0, len(data))
        if kind == 0 and data:                      # flip a bit
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        elif kind == 1 and data:                    # replace a byte
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif kind == 2:                             # truncate
            del data[pos:]
        elif kind == 3 and data:                    # delete a span
            del data[pos:pos + rng.randint(1, 16)]
        elif kind == 4:                             # insert a word
            data[pos:pos] = rng.choice(WORDS)
        elif kind == 5:                             # splice another file in
            other = rng.choice(corpus)
            a = rng.randint(0, len(other))
            data[pos:pos] = other[a:a + rng.randint(1, 200)]
        elif kind == 6:                             # swap two lines
            lines = bytes(data).split(b"\n")
            if len(lines) > 1:
                i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
                lines[i], lines[j] = lines[j], lines[i]
                data = bytearray(b"\n".join(lines))
        else:                                       # repeat a span
            span = data[pos:pos + rng.randint(1, 40)]
            data[pos:pos] = span * rng.randint(1, 50)
    return bytes(data)


def main():
    dlc, corpus_dir, work, count, seed = sys.argv[1:6]
    count, name = int(count), "fuzz-mutations-%s" % count
    rng = random.Random(int(seed))
    corpus = [open(os.path.join(corpus_dir, f), "rb").read()
              for f in sorted(os.listdir(corpus_dir))]
    failures = os.path.join(work, "failures")
    os.makedirs(failures, exist_ok=True)
    path = os.path.join(work, "input.net")
    bad = []
    for i in range(count):
        data = mutate(rng, rng.choice(corpus), corpus)
        with open(path, "wb") as f:
            f.write(data)
        args = [dlc] + EMITS[i % len(EMITS)] + [path, "-o", os.path.join(work, "out.c")]
        if "--emit=ir" in args or "--emit=ast" in args:
            args[-2:] = ["-o", os.path.join(work, "out.txt")]
        try:
            status = subprocess.run(args, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, timeout=5).returncode
        except subprocess.TimeoutExpired:
            status = "timeout"
        except OSError as e:
            print("FAIL %s: cannot run %s: %s" % (name, dlc, e))
            return 1
        # 2 is a bad command line: -D naming a param the mutated file lacks.
        allowed = (0, 1, 2) if "-D" in args else (0, 1)
        if status not in allowed:
            kept = os.path.join(failures, "case%d.net" % i)
            with open(kept, "wb") as f:
                f.write(data)
            bad.append("%s (%s, %s)" % (kept, status, " ".join(args[1:-3])))
    if bad:
        print("FAIL %s: %d of %d inputs crashed or hung, e.g. %s"
              % (name, len(bad), count, "; ".join(bad[:3])))
        return 1
    print("ok %s" % name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
