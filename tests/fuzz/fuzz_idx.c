/* fuzz_idx.c: libFuzzer target for dlrt_load_idx (runtime/data.c).
 *
 * Input: byte 0 chooses the checks and the wrapping (bits 0-1: x_size 0,
 * 6, 784 or 1; bits 2-3: num_classes 0, 10, 4 or 1; bit 4: gzip the image
 * bytes; bit 5: gzip the label bytes), bytes 1-2 the length L of the label
 * file (big-endian, cut to what is there), then L label-file bytes, then
 * the image file. Raw bytes that start with 1f 8b are gzip to the loader
 * too, so damaged gzip streams are fuzzed as well. The loader must never
 * crash, leak, or return success with an inconsistent data set. Then the
 * trainer's way, dlrt_load_idx_with keeping bytes and the first `keep`
 * samples (bits 6-7: keep 0 (all), 1, 2 or 5), must agree with it: the
 * same verdict and message, and the same values (bytes * x_scale) and
 * labels for the samples kept.
 */
#include "dlrt.h"
#include "fuzz_loaders.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static const size_t x_sizes[4] = {0, 6, 784, 1};
    static const int classes[4] = {0, 10, 4, 1};
    static const size_t keeps[4] = {0, 1, 2, 5};
    const char *images, *labels;
    dlrt_dataset d, b;
    dlrt_load_options lo;
    char *err = NULL, *err_b = NULL;
    size_t label_len, i;
    int rc;

    if (size < 3)
        return 0;
    label_len = (size_t)data[1] << 8 | data[2];
    if (label_len > size - 3)
        label_len = size - 3;
    labels = fuzz_write(0, data + 3, label_len, data[0] & 0x20);
    images = fuzz_write(1, data + 3 + label_len, size - 3 - label_len, data[0] & 0x10);
    rc = dlrt_load_idx(images, labels, x_sizes[data[0] & 3], classes[data[0] >> 2 & 3], &d, &err);
    memset(&lo, 0, sizeof lo);
    lo.bytes = 1;
    lo.keep = keeps[data[0] >> 6];
    if (dlrt_load_idx_with(images, labels, x_sizes[data[0] & 3], classes[data[0] >> 2 & 3], &lo, &b,
                           &err_b) != rc)
        abort();
    if (rc == 0) {
        size_t kept = lo.keep && lo.keep < d.n ? lo.keep : d.n;
        if (b.n != kept || b.n_file != d.n || b.x || !b.x_u8 || b.x_size != d.x_size ||
            b.num_classes != d.num_classes || memcmp(b.labels, d.labels, kept * sizeof *d.labels))
            abort();
        for (i = 0; i < kept * d.x_size; i++) {
            float v = (float)b.x_u8[i] * b.x_scale;
            if (memcmp(&v, &d.x[i], sizeof v))
                abort();
        }
        dlrt_dataset_free(&b);
    } else if (b.n || b.x_u8 || !err_b || strcmp(err, err_b)) {
        abort();   /* the same failure, with the same message */
    }
    free(err_b);
    if (rc == 0) {
        /* Whatever loads is consistent: every pixel in [0, 1], every label
         * within the class count. */
        if (d.n == 0 || d.x_size == 0 || !d.x || !d.labels || d.num_classes < 1)
            abort();
        if (x_sizes[data[0] & 3] && d.x_size != x_sizes[data[0] & 3])
            abort();
        for (i = 0; i < d.n * d.x_size; i++)
            if (!(d.x[i] >= 0.0f && d.x[i] <= 1.0f))
                abort();
        for (i = 0; i < d.n; i++)
            if (d.labels[i] < 0 || d.labels[i] >= d.num_classes ||
                (classes[data[0] >> 2 & 3] && d.labels[i] >= classes[data[0] >> 2 & 3]))
                abort();
        dlrt_dataset_free(&d);
    } else if (d.n || d.x || d.labels || !err) {
        abort();   /* a failure leaves nothing behind, and says why */
    }
    free(err);
    return 0;
}
