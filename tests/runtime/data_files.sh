# tests/runtime/data_files.sh: hostile and damaged data files through the
# trainer. Sourced by tests/runtime/run.sh (in its scratch directory, with
# its run/ok/bad/data_error helpers and the fake models built).

FM=/usr/share/datasets/fashion-mnist

# The issue's memory amplification: a 2^28-image header of 1x1 pixels whose
# data is all there (multi-member gzip of zeros, ~520 KB for the pair). The
# shape is refused from the header, before any data is read: it must fail
# fast under a 256 MiB address-space limit (it took 2.1 GB of RSS before).
python3 - <<'PY'
import gzip, struct
zeros = gzip.compress(bytes(1 << 20), 9)   # one 1 MiB member of zeros
for name, head in (("lie-images.gz", struct.pack(">IIII", 0x803, 1 << 28, 1, 1)),
                   ("lie-labels.gz", struct.pack(">II", 0x801, 1 << 28))):
    with open(name, "wb") as f:
        f.write(gzip.compress(head))
        f.write(zeros * 256)
PY
run lie bash -c 'ulimit -v 262144; exec timeout 20 ./fake784 --train-images lie-images.gz \
    --train-labels lie-labels.gz --test-images lie-images.gz --test-labels lie-labels.gz \
    --checkpoint lie.ckpt'
if [ $status -eq 1 ] && grep -qx "fake784: error: lie-images.gz: images are 1x1 (1 value per sample) but the network's input takes 784" lie.err; then
    ok data_lying_header_refused_before_reading
else
    bad data_lying_header_refused_before_reading "status $status: $(cat lie.err)"
fi

# Bug 4 through the trainer: the real test images with a byte flipped in the
# middle and the gzip trailer (CRC and length) cut off.
if [ -f $FM/t10k-images-idx3-ubyte.gz ]; then
    size=$(stat -c %s $FM/t10k-images-idx3-ubyte.gz)
    head -c $((size - 8)) $FM/t10k-images-idx3-ubyte.gz >t10k-cut.gz
    mid=$((size / 2))
    b=$(od -An -tu1 -j $mid -N 1 t10k-cut.gz | tr -d ' ')
    printf "\\$(printf '%03o' $(( b ^ 16 )))" | dd of=t10k-cut.gz bs=1 seek=$mid conv=notrunc 2>/dev/null
    data_error data_fashion_flipped_trailer_cut \
        "fake784: error: t10k-cut.gz: corrupt gzip data (unexpected end of file: the compressed stream is truncated)" \
        ./fake784 --train-images t10k-cut.gz --train-labels $FM/t10k-labels-idx1-ubyte.gz \
        --test-images t10k-cut.gz --test-labels $FM/t10k-labels-idx1-ubyte.gz --checkpoint cut.ckpt
    rm -f t10k-cut.gz
fi

# A FIFO with no writer must be an error, not a hang; so is a directory.
rm -f data.fifo
if mkfifo data.fifo 2>/dev/null; then
    data_error data_csv_fifo "fake: error: data.fifo: not a data file: it is a FIFO (named pipe), not a regular file" \
        timeout 20 ./fake --train-csv data.fifo --test-csv test.csv --checkpoint fifo.ckpt
    data_error data_idx_fifo "fake784: error: data.fifo: not a data file: it is a FIFO (named pipe), not a regular file" \
        timeout 20 ./fake784 --train-images data.fifo --train-labels data.fifo --checkpoint fifo.ckpt
fi
mkdir -p datadir
data_error data_csv_directory "fake: error: datadir: not a data file: it is a directory, not a regular file" \
    ./fake --train-csv datadir --test-csv test.csv --checkpoint dir.ckpt
