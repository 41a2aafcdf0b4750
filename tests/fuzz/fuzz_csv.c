/* fuzz_csv.c: libFuzzer target for dlrt_load_csv (runtime/data.c).
 *
 * Input: byte 0 chooses the shape (bits 0-2: x_size 1..8; bits 3-4: label
 * kind class, real, none or class; bits 5-6: y_size 1..4), byte 1 the class
 * count (byte % 5; 0 means any), the rest is the CSV file. The loader must
 * never crash or leak, and what loads must be consistent.
 */
#include "dlrt.h"
#include "fuzz_loaders.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static const int kinds[4] = {DLRT_Y_CLASS, DLRT_Y_REAL, DLRT_Y_NONE, DLRT_Y_CLASS};
    const char *path;
    dlrt_dataset d;
    char err[512];
    size_t x_size, y_size, i;
    int kind, k, rc;

    if (size < 2)
        return 0;
    x_size = 1 + (data[0] & 7);
    kind = kinds[data[0] >> 3 & 3];
    y_size = 1 + (data[0] >> 5 & 3);
    k = data[1] % 5;
    path = fuzz_write(0, data + 2, size - 2, 0);
    rc = dlrt_load_csv(path, x_size, kind, y_size, k, &d, err, sizeof err);
    if (rc == 0) {
        if (d.n == 0 || d.x_size != x_size || !d.x || d.y_kind != kind)
            abort();
        for (i = 0; i < d.n * d.x_size; i++)
            if (!isfinite(d.x[i]))
                abort();
        if (kind == DLRT_Y_CLASS) {
            if (!d.labels || d.y_size != 1)
                abort();
            for (i = 0; i < d.n; i++)
                if (d.labels[i] < 0 || d.labels[i] >= d.num_classes || (k && d.labels[i] >= k))
                    abort();
        } else if (kind == DLRT_Y_REAL) {
            if (!d.targets || d.y_size != y_size)
                abort();
            for (i = 0; i < d.n * y_size; i++)
                if (!isfinite(d.targets[i]))
                    abort();
        }
        dlrt_dataset_free(&d);
    } else if (d.n || d.x || !err[0]) {
        abort();
    }
    return 0;
}
