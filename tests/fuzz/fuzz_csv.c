/* fuzz_csv.c: libFuzzer target for dlrt_load_csv (runtime/data.c).
 *
 * Input: byte 0 chooses the shape (bits 0-2: x_size 1..8; bits 3-4: label
 * kind class, real, none or class; bits 5-6: y_size 1..4), byte 1 the class
 * count (byte % 5; 0 means any), the rest is the CSV file. The loader must
 * never crash or leak, and what loads must be consistent. Then the
 * trainer's way, dlrt_load_csv_with keeping bytes where exact and the
 * first `keep` samples (byte 1 / 5 % 4: keep 0 (all), 1, 2 or 5), must
 * agree with it: the same verdict and message, the same values.
 */
#include "dlrt.h"
#include "fuzz_loaders.h"

#include <math.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static const int kinds[4] = {DLRT_Y_CLASS, DLRT_Y_REAL, DLRT_Y_NONE, DLRT_Y_CLASS};
    static const size_t keeps[4] = {0, 1, 2, 5};
    const char *path;
    dlrt_dataset d, b;
    dlrt_load_options lo;
    char *err = NULL, *err_b = NULL;
    size_t x_size, y_size, i;
    int kind, k, rc;

    if (size < 2)
        return 0;
    x_size = 1 + (data[0] & 7);
    kind = kinds[data[0] >> 3 & 3];
    y_size = 1 + (data[0] >> 5 & 3);
    k = data[1] % 5;
    path = fuzz_write(0, data + 2, size - 2, 0);
    rc = dlrt_load_csv(path, x_size, kind, y_size, k, &d, &err);
    memset(&lo, 0, sizeof lo);
    lo.bytes = 1;
    lo.keep = keeps[data[1] / 5 % 4];
    if (dlrt_load_csv_with(path, x_size, kind, y_size, k, &lo, &b, &err_b) != rc)
        abort();
    if (rc == 0) {
        size_t kept = lo.keep && lo.keep < d.n ? lo.keep : d.n;
        if (b.n != kept || b.n_file != d.n || (!b.x) == (!b.x_u8) || b.num_classes != d.num_classes ||
            (kind == DLRT_Y_CLASS && memcmp(b.labels, d.labels, kept * sizeof *d.labels)) ||
            (kind == DLRT_Y_REAL && memcmp(b.targets, d.targets, kept * y_size * sizeof *d.targets)))
            abort();
        for (i = 0; i < kept * x_size; i++) {
            float v = b.x_u8 ? (float)b.x_u8[i] * b.x_scale : b.x[i];
            if (memcmp(&v, &d.x[i], sizeof v))
                abort();
        }
        dlrt_dataset_free(&b);
    } else if (b.n || b.x || b.x_u8 || !err_b || strcmp(err, err_b)) {
        abort();
    }
    free(err_b);
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
    } else if (d.n || d.x || !err) {
        abort();
    }
    free(err);
    return 0;
}
