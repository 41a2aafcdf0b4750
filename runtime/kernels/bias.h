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
 * order; each db[c] adds its terms in the order o = 0, 1, ...
 */

static inline void KERNEL(bias_forward)(real *y, const real *b, int outer, int channels, int inner)
{
    for (int o = 0; o < outer; o++)
        for (int c = 0; c < channels; c++) {
            real *yc = y + ((size_t)o * channels + c) * inner;
            for (int i = 0; i < inner; i++)
                yc[i] += b[c];
        }
}

static inline void KERNEL(bias_backward)(real *db, const real *dy, int outer, int channels,
                                         int inner, int accumulate)
{
    if (!accumulate)
        for (int c = 0; c < channels; c++)
            db[c] = 0;
    for (int o = 0; o < outer; o++)
        for (int c = 0; c < channels; c++) {
            const real *dyc = dy + ((size_t)o * channels + c) * inner;
            for (int i = 0; i < inner; i++)
                db[c] += dyc[i];
        }
}
