/* kernels/bias.h: adding a per-channel bias, and its gradient.
 * (A template: dlrt_kernels.h includes it once per precision.)
 *
 * y is [outer, channels, inner]: dense's output is [n, units] (inner 1);
 * a convolution's is [n, C, H*W] (inner H*W). b is [channels].
 *
 *   forward    y[o, c, i] += b[c]
 *   backward   db[c] = sum over o, i of dy[o, c, i]     (or +=: accumulate)
 *
 * The backward sums row by row (o outermost), which reads dy in memory
 * order; each db[c] adds its terms in the order o = 0, 1, ... When inner
 * is a plane (>= 16 values) it keeps 16 partial sums per channel instead,
 * position i in sum i mod 16, added up at the end.
 *
 * Both are DLRT_NOINLINE: dense calls them once per layer, and inlined
 * copies made an 80-layer network's C take seconds longer to compile, for
 * no speed (inner 1, dense's case, has its own loop over the channels).
 */

DLRT_NOINLINE void KERNEL(bias_forward)(real *y, const real *b, int outer, int channels, int inner)
{
    if (inner == 1) {
        for (int o = 0; o < outer; o++) {
            real *yo = y + (size_t)o * channels;
            for (int c = 0; c < channels; c++)
                yo[c] += b[c];
        }
        return;
    }
    for (int o = 0; o < outer; o++)
        for (int c = 0; c < channels; c++) {
            real *yc = y + ((size_t)o * channels + c) * inner;
            for (int i = 0; i < inner; i++)
                yc[i] += b[c];
        }
}

DLRT_NOINLINE void KERNEL(bias_backward)(real *db, const real *dy, int outer, int channels,
                                         int inner, int accumulate)
{
    enum { LANES = 16 };
    if (!accumulate)
        for (int c = 0; c < channels; c++)
            db[c] = 0;
    if (inner == 1) {   /* dense: row by row, db[c] in the order o = 0, 1, ... */
        for (int o = 0; o < outer; o++) {
            const real *dyo = dy + (size_t)o * channels;
            for (int c = 0; c < channels; c++)
                db[c] += dyo[c];
        }
        return;
    }
    if (inner >= LANES) {
        /* a convolution's planes: LANES partial sums per channel, which the
         * compiler vectorizes (one running sum is a chain of dependent
         * adds: 0.25 ms of LeNet's step at 64 x 6 x 784) */
        for (int c = 0; c < channels; c++) {
            real lane[LANES] = {0};
            for (int o = 0; o < outer; o++) {
                const real *dyc = dy + ((size_t)o * channels + c) * inner;
                int i = 0;
                for (; i + LANES <= inner; i += LANES)
                    for (int l = 0; l < LANES; l++)
                        lane[l] += dyc[i + l];
                for (int l = 0; i + l < inner; l++)
                    lane[l] += dyc[i + l];
            }
            real sum = 0;
            for (int l = 0; l < LANES; l++)
                sum += lane[l];
            db[c] += sum;
        }
        return;
    }
    for (int o = 0; o < outer; o++)
        for (int c = 0; c < channels; c++) {
            const real *dyc = dy + ((size_t)o * channels + c) * inner;
            for (int i = 0; i < inner; i++)
                db[c] += dyc[i];
        }
}
