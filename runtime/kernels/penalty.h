/* kernels/penalty.h: l1_penalty, l2_penalty and mean, each one number.
 * (A template: dlrt_kernels.h includes it once per precision.)
 *
 *   kind 1 (l1_penalty)  L = 1/D sum |x|      dx = sign(x) dL / D
 *   kind 2 (l2_penalty)  L = 1/D sum x^2      dx = 2 x dL / D
 *   kind 0 (mean)        L = 1/D sum x        dx = dL / D
 *
 * over `count` values; D is 1 for a penalty on a parameter (its sum), n
 * for one on a batch (the per-sample sum averaged over the batch), count
 * for mean. Sums run in double. sign(0) = 0 and sign(NaN) = 0 (the loss
 * is NaN then). `dloss` points at dL, the term's weight; acc: add (1) or
 * write (0).
 */

static inline void KERNEL(penalty_forward)(real *loss, const real *x, long count, int kind,
                                           double divisor)
{
    double total = 0;
    for (long i = 0; i < count; i++) {
        const double v = x[i];
        total += kind == 1 ? (v < 0 ? -v : v) : kind == 2 ? v * v : v;
    }
    loss[0] = (real)(total / divisor);
}

static inline void KERNEL(penalty_backward)(real *dx, const real *x, const real *dloss,
                                            long count, int kind, double divisor, int acc)
{
    const real scale = (real)(dloss[0] / divisor);
    for (long i = 0; i < count; i++) {
        const real v = x[i];
        const real g = kind == 1 ? (real)((v > 0) - (v < 0)) * scale
                     : kind == 2 ? 2 * v * scale : scale;
        dx[i] = acc ? dx[i] + g : g;
    }
}
