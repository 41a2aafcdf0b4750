/* kernels/dropout.h: inverted dropout while training.
 * (A template: dlrt_kernels.h includes it once per precision.)
 *
 * One draw u = dlrt_rng_uniform(rng) per element, in order; the element is
 * kept when u >= rate and then scaled by 1/(1 - rate). The mask (0 or
 * 1/(1 - rate) per element) is kept for backward: dx = dy * mask. The
 * PyTorch twin replays this draw order, so its masks equal these bit for
 * bit. rate stays a double: u is one, and the twin compares the same way.
 */

/* y = x * mask over `count` values, drawing mask from rng. */
static inline void KERNEL(dropout_forward)(real *y, real *mask, const real *x, int count,
                                           double rate, dlrt_rng *rng)
{
    const real scale = (real)(1.0 / (1.0 - rate));
    for (int i = 0; i < count; i++) {
        mask[i] = dlrt_rng_uniform(rng) >= rate ? scale : 0;
        y[i] = x[i] * mask[i];
    }
}

/* dx = dy * mask (or dx += that). */
static inline void KERNEL(dropout_backward)(real *dx, const real *dy, const real *mask, int count,
                                            int accumulate)
{
    for (int i = 0; i < count; i++) {
        if (accumulate)
            dx[i] += dy[i] * mask[i];
        else
            dx[i] = dy[i] * mask[i];
    }
}
