/* kernels/norm.h: batch normalization and layer normalization.
 * (A template: dlrt_kernels.h includes it once per precision.)
 *
 * batchnorm: x [n, C, inner] (inner = H W for images, L for sequences, 1
 * for [C] features), statistics per channel over the n * inner values.
 *
 *   dlrt_batchnorm_forward_train_R(y, mean, rstd, running_mean, running_var,
 *                                  x, weight, bias, n, C, inner, eps, momentum, dist)
 *       mean[c], var[c] (biased) from the batch; rstd = 1 / sqrt(var + eps);
 *       y = (x - mean) rstd weight + bias; mean and rstd [C] are kept for
 *       backward; and, as torch.nn.BatchNorm (momentum 0.1 there),
 *         running_mean = (1 - momentum) running_mean + momentum mean
 *         running_var  = (1 - momentum) running_var
 *                        + momentum var M / (M - 1)        (M = n inner: unbiased)
 *       only when M > 1 (PyTorch refuses one value per channel).
 *   dlrt_batchnorm_forward_eval_R(y, x, weight, bias, running_mean, running_var,
 *                                 n, C, inner, eps)
 *       y = (x - running_mean) / sqrt(running_var + eps) weight + bias
 *   dlrt_batchnorm_backward_R(dx, dweight, dbias, dy, x, mean, rstd, weight,
 *                             n, C, inner, acc_x, acc_params, dist)
 *       train mode, from the saved mean and rstd (xh = (x - mean) rstd):
 *         dbias = sum dy   dweight = sum dy xh
 *         dx = weight rstd (dy - sum dy / M - xh sum(dy xh) / M)
 *
 * Synchronized batchnorm (data parallelism, dlrt_dist in dlrt.h): with
 * dist and dist->allreduce, the batch is the global one, dist->global_n
 * samples over all ranks, M = global_n inner. The forward pass sums each
 * channel's values, allreduce(v, C, 0), mean = sum / M; then the squared
 * deviations from that mean, allreduce(v, C, 0), var = sum / M; the
 * running statistics take these and M. The backward pass writes dweight and
 * dbias from the LOCAL sums (they are gradients of parameters: the runtime
 * combines them with the others), then allreduce(v, 2 C, 1) on the pairs
 * (sum dy, sum dy xh) and takes dx from the reduced sums and M. Channels
 * go in chunks of DLRT_NORM_CHUNK (a fixed array: no allocation), the same
 * calls on every rank. dist NULL, or without allreduce: the one-process
 * kernel, bit for bit.
 *
 * layernorm: x [rows, cols], statistics per row over its cols values (the
 * trailing dims of a [n, ...] tensor flattened: rows = n times the leading
 * dims, cols = the product of normalized_shape); weight and bias [cols].
 *
 *   dlrt_layernorm_forward_R(y, mean, rstd, x, weight, bias, rows, cols, eps)
 *   dlrt_layernorm_backward_R(dx, dweight, dbias, dy, x, mean, rstd, weight,
 *                             rows, cols, acc_x, acc_params)
 *       g = dy weight;  dx = rstd (g - mean(g) - xh mean(g xh))
 *       dweight[j] = sum over rows dy xh,  dbias[j] = sum over rows dy
 *
 * weight and bias may be NULL (affine=False: 1 and 0), running_mean and
 * running_var too (no running statistics), and dx, dweight, dbias (not
 * wanted). acc_x and acc_params (0 or 1): write or add to dx, and to
 * dweight and dbias. Sums run in double, as PyTorch's CPU kernels do for
 * float; the variance is the mean of (x - mean)^2 (two passes, no
 * cancellation). eps and momentum are doubles. The caller ensures M > 1 in
 * training (PyTorch refuses one value per channel).
 */

#ifndef DLRT_NORM_CHUNK
#define DLRT_NORM_CHUNK 128   /* channels per allreduce of synchronized batchnorm */
#endif

/* The mean and the biased variance of one channel's values:
 * x[o * stride + i] for o < outer, i < inner. */
static inline void KERNEL(norm_stats)(double *mean, double *var, const real *x, int outer,
                                      size_t stride, int inner)
{
    const double M = (double)outer * inner;
    double sum = 0, sq = 0;
    for (int o = 0; o < outer; o++)
        for (int i = 0; i < inner; i++)
            sum += x[o * stride + i];
    const double m = sum / M;
    for (int o = 0; o < outer; o++)
        for (int i = 0; i < inner; i++) {
            const double d = x[o * stride + i] - m;
            sq += d * d;
        }
    *mean = m;
    *var = sq / M;
}

/* y = x a + b over one channel's values (a = rstd weight, b = bias - mean a). */
static inline void KERNEL(norm_apply)(real *y, const real *x, int outer, size_t stride, int inner,
                                      real a, real b)
{
    for (int o = 0; o < outer; o++)
        for (int i = 0; i < inner; i++)
            y[o * stride + i] = x[o * stride + i] * a + b;
}

/* The synchronized forward pass (dist->allreduce set): see above. */
/* Channel c of a training pass, from its batch mean m and biased variance
 * var over M values: y, the saved mean and rstd, and the running
 * statistics (unbiased variance; not moved by a single value). */
static inline void KERNEL(batchnorm_channel)(real *y, real *mean, real *rstd, real *running_mean,
                                             real *running_var, const real *x, const real *weight,
                                             const real *bias, int c, double m, double var,
                                             double M, int n, size_t stride, int inner,
                                             double eps, double momentum)
{
    const double r = 1.0 / sqrt(var + eps);
    mean[c] = (real)m;
    rstd[c] = (real)r;
    const double a = r * (weight ? weight[c] : 1);
    const double b = (bias ? bias[c] : 0) - m * a;
    KERNEL(norm_apply)(y + (size_t)c * inner, x + (size_t)c * inner, n, stride, inner, (real)a,
                       (real)b);
    if (running_mean && M > 1)
        running_mean[c] = (real)((1 - momentum) * running_mean[c] + momentum * m);
    if (running_var && M > 1)
        running_var[c] = (real)((1 - momentum) * running_var[c] + momentum * var * M / (M - 1));
}

static inline void KERNEL(batchnorm_forward_sync)(real *y, real *mean, real *rstd,
                                                  real *running_mean, real *running_var,
                                                  const real *x, const real *weight,
                                                  const real *bias, int n, int C, int inner,
                                                  double eps, double momentum,
                                                  const dlrt_dist *dist)
{
    const size_t stride = (size_t)C * inner;
    const double M = (double)dist->global_n * inner;
    double v[DLRT_NORM_CHUNK], mu[DLRT_NORM_CHUNK];
    for (int c0 = 0; c0 < C; c0 += DLRT_NORM_CHUNK) {
        const int cn = C - c0 < DLRT_NORM_CHUNK ? C - c0 : DLRT_NORM_CHUNK;
        for (int j = 0; j < cn; j++) {   /* local sums, as norm_stats takes them */
            const real *xc = x + (size_t)(c0 + j) * inner;
            double sum = 0;
            for (int o = 0; o < n; o++)
                for (int i = 0; i < inner; i++)
                    sum += xc[o * stride + i];
            v[j] = sum;
        }
        dist->allreduce(dist->ctx, v, cn, 0);
        for (int j = 0; j < cn; j++) {   /* squared deviations from the global mean */
            const real *xc = x + (size_t)(c0 + j) * inner;
            const double m = v[j] / M;
            double sq = 0;
            for (int o = 0; o < n; o++)
                for (int i = 0; i < inner; i++) {
                    const double d = xc[o * stride + i] - m;
                    sq += d * d;
                }
            mu[j] = m;
            v[j] = sq;
        }
        dist->allreduce(dist->ctx, v, cn, 0);
        for (int j = 0; j < cn; j++) {
            KERNEL(batchnorm_channel)(y, mean, rstd, running_mean, running_var, x, weight, bias,
                                      c0 + j, mu[j], v[j] / M, M, n, stride, inner, eps, momentum);
        }
    }
}

static inline void KERNEL(batchnorm_forward_train)(real *y, real *mean, real *rstd,
                                                   real *running_mean, real *running_var,
                                                   const real *x, const real *weight,
                                                   const real *bias, int n, int C, int inner,
                                                   double eps, double momentum,
                                                   const dlrt_dist *dist)
{
    if (dist && dist->allreduce) {
        KERNEL(batchnorm_forward_sync)(y, mean, rstd, running_mean, running_var, x, weight, bias,
                                       n, C, inner, eps, momentum, dist);
        return;
    }
    const size_t stride = (size_t)C * inner;
    const double M = (double)n * inner;
    for (int c = 0; c < C; c++) {
        double m, var;
        KERNEL(norm_stats)(&m, &var, x + (size_t)c * inner, n, stride, inner);
        KERNEL(batchnorm_channel)(y, mean, rstd, running_mean, running_var, x, weight, bias, c, m,
                                  var, M, n, stride, inner, eps, momentum);
    }
}

static inline void KERNEL(batchnorm_forward_eval)(real *y, const real *x, const real *weight,
                                                  const real *bias, const real *running_mean,
                                                  const real *running_var, int n, int C,
                                                  int inner, double eps)
{
    const size_t stride = (size_t)C * inner;
    for (int c = 0; c < C; c++) {
        const double m = running_mean ? running_mean[c] : 0;
        const double a = (weight ? weight[c] : 1) / sqrt((running_var ? running_var[c] : 1) + eps);
        const double b = (bias ? bias[c] : 0) - m * a;
        KERNEL(norm_apply)(y + (size_t)c * inner, x + (size_t)c * inner, n, stride, inner,
                           (real)a, (real)b);
    }
}

/* dx of one channel from the sums of dy and dy xh over M values. */
static inline void KERNEL(batchnorm_dx)(real *dxc, const real *dyc, const real *xc, double m,
                                        double r, double k, double mdy, double mdyx, int n,
                                        size_t stride, int inner, int acc_x)
{
    for (int o = 0; o < n; o++)
        for (int i = 0; i < inner; i++) {
            const size_t at = o * stride + i;
            const double xh = (xc[at] - m) * r;
            const real g = (real)(k * (dyc[at] - mdy - xh * mdyx));
            if (acc_x)
                dxc[at] += g;
            else
                dxc[at] = g;
        }
}

/* Channel c's sum dy and sum dy xh (xh = (x - mean) rstd) over its n
 * inner values, into *sdy and *sdyx, and into (acc_params: added to)
 * dbias[c] and dweight[c] when they are wanted. */
static inline void KERNEL(batchnorm_param_sums)(double *sdy, double *sdyx, real *dweight,
                                                real *dbias, const real *dy, const real *x,
                                                const real *mean, const real *rstd, int n, int c,
                                                int inner, size_t stride, int acc_params)
{
    const real *xc = x + (size_t)c * inner, *dyc = dy + (size_t)c * inner;
    const double m = mean[c], r = rstd[c];
    double s = 0, sx = 0;
    for (int o = 0; o < n; o++)
        for (int i = 0; i < inner; i++) {
            const double g = dyc[o * stride + i];
            s += g;
            sx += g * (xc[o * stride + i] - m) * r;
        }
    if (dbias)
        dbias[c] = (real)((acc_params ? dbias[c] : 0) + s);
    if (dweight)
        dweight[c] = (real)((acc_params ? dweight[c] : 0) + sx);
    *sdy = s;
    *sdyx = sx;
}

static inline void KERNEL(batchnorm_backward)(real *dx, real *dweight, real *dbias,
                                              const real *dy, const real *x, const real *mean,
                                              const real *rstd, const real *weight, int n, int C,
                                              int inner, int acc_x, int acc_params,
                                              const dlrt_dist *dist)
{
    const size_t stride = (size_t)C * inner;
    if (dist && dist->allreduce) {
        /* Synchronized: local sums into dweight and dbias, the pairs reduced for dx. */
        const double M = (double)dist->global_n * inner;
        double v[2 * DLRT_NORM_CHUNK];
        for (int c0 = 0; c0 < C; c0 += DLRT_NORM_CHUNK) {
            const int cn = C - c0 < DLRT_NORM_CHUNK ? C - c0 : DLRT_NORM_CHUNK;
            for (int j = 0; j < cn; j++)
                KERNEL(batchnorm_param_sums)(&v[2 * j], &v[2 * j + 1], dweight, dbias, dy, x, mean,
                                             rstd, n, c0 + j, inner, stride, acc_params);
            if (!dx)
                continue;   /* the same on every rank: the network decides */
            dist->allreduce(dist->ctx, v, 2 * cn, 1);
            for (int j = 0; j < cn; j++) {
                const int c = c0 + j;
                const double r = rstd[c], k = (weight ? weight[c] : 1) * r;
                KERNEL(batchnorm_dx)(dx + (size_t)c * inner, dy + (size_t)c * inner,
                                     x + (size_t)c * inner, mean[c], r, k, v[2 * j] / M,
                                     v[2 * j + 1] / M, n, stride, inner, acc_x);
            }
        }
        return;
    }
    const double M = (double)n * inner;
    for (int c = 0; c < C; c++) {
        const real *xc = x + (size_t)c * inner, *dyc = dy + (size_t)c * inner;
        const double m = mean[c], r = rstd[c];
        double sdy, sdyx;
        KERNEL(batchnorm_param_sums)(&sdy, &sdyx, dweight, dbias, dy, x, mean, rstd, n, c, inner,
                                     stride, acc_params);
        if (!dx)
            continue;
        const double k = (weight ? weight[c] : 1) * r, mdy = sdy / M, mdyx = sdyx / M;
        KERNEL(batchnorm_dx)(dx + (size_t)c * inner, dyc, xc, m, r, k, mdy, mdyx, n, stride, inner,
                             acc_x);
    }
}

static inline void KERNEL(layernorm_forward)(real *y, real *mean, real *rstd, const real *x,
                                             const real *weight, const real *bias, int rows,
                                             int cols, double eps)
{
    for (int r = 0; r < rows; r++) {
        const real *xr = x + (size_t)r * cols;
        real *yr = y + (size_t)r * cols;
        double m, var;
        KERNEL(norm_stats)(&m, &var, xr, 1, 0, cols);
        const double s = 1.0 / sqrt(var + eps);
        mean[r] = (real)m;
        rstd[r] = (real)s;
        for (int j = 0; j < cols; j++)
            yr[j] = (real)((xr[j] - m) * s * (weight ? weight[j] : 1) + (bias ? bias[j] : 0));
    }
}

static inline void KERNEL(layernorm_backward)(real *dx, real *dweight, real *dbias, const real *dy,
                                              const real *x, const real *mean, const real *rstd,
                                              const real *weight, int rows, int cols, int acc_x,
                                              int acc_params)
{
    if (!acc_params)
        for (int j = 0; j < cols; j++) {
            if (dweight)
                dweight[j] = 0;
            if (dbias)
                dbias[j] = 0;
        }
    for (int r = 0; r < rows; r++) {
        const real *xr = x + (size_t)r * cols, *dyr = dy + (size_t)r * cols;
        const double m = mean[r], s = rstd[r];
        double sg = 0, sgx = 0;
        for (int j = 0; j < cols; j++) {
            const double xh = (xr[j] - m) * s, g = dyr[j] * (weight ? weight[j] : 1);
            sg += g;
            sgx += g * xh;
            if (dweight)
                dweight[j] += (real)(dyr[j] * xh);
            if (dbias)
                dbias[j] += dyr[j];
        }
        if (!dx)
            continue;
        real *dxr = dx + (size_t)r * cols;
        const double mg = sg / cols, mgx = sgx / cols;
        for (int j = 0; j < cols; j++) {
            const double xh = (xr[j] - m) * s, g = dyr[j] * (weight ? weight[j] : 1);
            const real v = (real)(s * (g - mg - xh * mgx));
            if (acc_x)
                dxr[j] += v;
            else
                dxr[j] = v;
        }
    }
}
