/* kernels/likelihood.h: maximum-likelihood losses, each one number for the
 * batch. (A template: dlrt_kernels.h includes it once per precision.)
 *
 *   bce(z, t)            z logits, t targets in [0, 1], N = n * size values:
 *        L = 1/N sum (1 - t) z + max(-z, 0) + log(1 + e^-|z|)
 *        dz = (sigmoid(z) - t) dL / N          dt = -z dL / N
 *        (bce_const: one number t for every element, no dt)
 *   nll(lp, y)           lp [n, K] log-probabilities, y [n] labels:
 *        L = -1/n sum_s lp_s,y_s               dlp_s,y_s = -dL / n
 *   poisson_nll(r, t)    r log-rates, t counts:
 *        L = 1/N sum e^r - t r                  dr = (e^r - t) dL / N,  dt = -r dL / N
 *   gaussian_nll(mu, lv, t)   mu means, lv log-variances, t targets:
 *        v = max(e^lv, 1e-6)
 *        L = 1/N sum (lv' + (mu - t)^2 / v) / 2     lv' = log v
 *        dmu = (mu - t) / v dL / N,  dt = -dmu
 *        dlv = (1/v - (mu - t)^2 / v^2) / 2 e^lv dL / N
 *
 * PyTorch's binary_cross_entropy_with_logits, nll_loss, poisson_nll_loss
 * (log_input = True, full = False) and gaussian_nll_loss (var = e^lv,
 * full = False, eps = 1e-6) with 'mean' reduction; gaussian_nll_loss clamps
 * the variance without recording it, so its gradient reaches lv as if
 * unclamped through e^lv, with the clamped v in the formula, and so does
 * this. Sums run in double. A label outside 0..K-1 makes nll NaN and adds
 * nothing to the gradient. nll_ignore: rows labelled ignore_index count for
 * nothing, the mean is over the others (see loss.h). `dloss` points at dL, the term's weight; a
 * gradient pointer may be NULL (not wanted); acc_*: write (0) or add (1).
 */

static inline void KERNEL(grad_store)(real *d, int i, real v, int acc)
{
    if (acc)
        d[i] += v;
    else
        d[i] = v;
}

static inline void KERNEL(bce_forward)(real *loss, const real *z, const real *t, int count)
{
    double total = 0;
    for (int i = 0; i < count; i++) {
        const real zi = z[i];
        /* PyTorch's arrangement, so infinities come out the same */
        total += (1 - t[i]) * zi + (zi < 0 ? -zi : 0) + FN(log1p)(FN(exp)(-FN(fabs)(zi)));
    }
    loss[0] = (real)(total / count);
}

static inline void KERNEL(bce_backward)(real *dz, real *dt, const real *z, const real *t,
                                        const real *dloss, int count, int acc_z, int acc_t)
{
    const real scale = dloss[0] / count;
    for (int i = 0; i < count; i++) {
        if (dz) {
            /* sigmoid without overflow on either side */
            const real e = FN(exp)(-FN(fabs)(z[i]));
            const real s = z[i] >= 0 ? 1 / (1 + e) : e / (1 + e);
            KERNEL(grad_store)(dz, i, (s - t[i]) * scale, acc_z);
        }
        if (dt)
            KERNEL(grad_store)(dt, i, -z[i] * scale, acc_t);
    }
}

/* bce against one constant target t for every element (bce(d_fake, 1)). */
static inline void KERNEL(bce_const_forward)(real *loss, const real *z, real t, int count)
{
    double total = 0;
    for (int i = 0; i < count; i++) {
        const real zi = z[i];
        total += (1 - t) * zi + (zi < 0 ? -zi : 0) + FN(log1p)(FN(exp)(-FN(fabs)(zi)));
    }
    loss[0] = (real)(total / count);
}

static inline void KERNEL(bce_const_backward)(real *dz, const real *z, real t, const real *dloss,
                                              int count, int acc)
{
    const real scale = dloss[0] / count;
    for (int i = 0; i < count; i++) {
        const real e = FN(exp)(-FN(fabs)(z[i]));
        const real s = z[i] >= 0 ? 1 / (1 + e) : e / (1 + e);
        KERNEL(grad_store)(dz, i, (s - t) * scale, acc);
    }
}

static inline void KERNEL(nll_forward)(real *loss, const real *lp, const int32_t *y, int n,
                                       int classes)
{
    double total = 0;
    for (int s = 0; s < n; s++) {
        if (y[s] < 0 || y[s] >= classes) {
            loss[0] = (real)NAN;
            return;
        }
        total -= lp[(size_t)s * classes + y[s]];
    }
    loss[0] = (real)(total / n);
}

static inline void KERNEL(nll_backward)(real *dlp, const int32_t *y, const real *dloss, int n,
                                        int classes, int accumulate)
{
    const real scale = -dloss[0] / n;
    for (int s = 0; s < n; s++) {
        real *row = dlp + (size_t)s * classes;
        if (!accumulate)
            for (int j = 0; j < classes; j++)
                row[j] = 0;
        if (y[s] >= 0 && y[s] < classes)
            row[y[s]] += scale;
    }
}

/* nll over the rows whose label is not ignore_index (PyTorch's), the mean
 * over the counted ones; every row ignored: loss 0, gradient 0. */
static inline void KERNEL(nll_ignore_forward)(real *loss, const real *lp, const int32_t *y, int rows,
                                              int classes, int ignore_index)
{
    double total = 0;
    int counted = 0;
    for (int r = 0; r < rows; r++) {
        if (y[r] == ignore_index)
            continue;
        if (y[r] < 0 || y[r] >= classes) {
            loss[0] = (real)NAN;
            return;
        }
        total -= lp[(size_t)r * classes + y[r]];
        counted++;
    }
    loss[0] = counted ? (real)(total / counted) : 0;
}

static inline void KERNEL(nll_ignore_backward)(real *dlp, const int32_t *y, const real *dloss, int rows,
                                               int classes, int ignore_index, int accumulate)
{
    int counted = 0;
    for (int r = 0; r < rows; r++)
        counted += y[r] != ignore_index;
    const real scale = counted ? -dloss[0] / counted : 0;
    for (int r = 0; r < rows; r++) {
        real *row = dlp + (size_t)r * classes;
        if (!accumulate)
            for (int j = 0; j < classes; j++)
                row[j] = 0;
        if (y[r] != ignore_index && y[r] >= 0 && y[r] < classes)
            row[y[r]] += scale;
    }
}

static inline void KERNEL(poisson_nll_forward)(real *loss, const real *r, const real *t, int count)
{
    double total = 0;
    for (int i = 0; i < count; i++)
        total += FN(exp)(r[i]) - t[i] * r[i];
    loss[0] = (real)(total / count);
}

static inline void KERNEL(poisson_nll_backward)(real *dr, real *dt, const real *r, const real *t,
                                                const real *dloss, int count, int acc_r, int acc_t)
{
    const real scale = dloss[0] / count;
    for (int i = 0; i < count; i++) {
        if (dr)
            KERNEL(grad_store)(dr, i, (FN(exp)(r[i]) - t[i]) * scale, acc_r);
        if (dt)
            KERNEL(grad_store)(dt, i, -r[i] * scale, acc_t);
    }
}

static inline real KERNEL(gaussian_var)(real lv)
{
    const real v = FN(exp)(lv), eps = (real)1e-6;
    return v < eps ? eps : v;   /* NaN stays NaN */
}

static inline void KERNEL(gaussian_nll_forward)(real *loss, const real *mu, const real *lv,
                                                const real *t, int count)
{
    double total = 0;
    for (int i = 0; i < count; i++) {
        const real v = KERNEL(gaussian_var)(lv[i]), d = mu[i] - t[i];
        total += (FN(log)(v) + d * d / v) / 2;
    }
    loss[0] = (real)(total / count);
}

static inline void KERNEL(gaussian_nll_backward)(real *dmu, real *dlv, real *dt, const real *mu,
                                                 const real *lv, const real *t,
                                                 const real *dloss, int count, int acc_mu,
                                                 int acc_lv, int acc_t)
{
    const real scale = dloss[0] / count;
    for (int i = 0; i < count; i++) {
        const real v = KERNEL(gaussian_var)(lv[i]), d = mu[i] - t[i];
        if (dmu)
            KERNEL(grad_store)(dmu, i, d / v * scale, acc_mu);
        if (dt)
            KERNEL(grad_store)(dt, i, -d / v * scale, acc_t);
        if (dlv)
            KERNEL(grad_store)(dlv, i, (1 / v - d * d / (v * v)) / 2 * FN(exp)(lv[i]) * scale, acc_lv);
    }
}

/* ---- variational: the reparameterization trick and the KL term ----------
 *
 *   sample_normal(mu, lv)   while training z = mu + e^(lv/2) eps, eps ~ N(0, 1),
 *        one normal per element in memory order from `rng`; else z = mu.
 *        dmu = dz,  dlv = dz (z - mu) / 2          (eps e^(lv/2) = z - mu)
 *   kl_normal(mu, lv)       KL(N(mu, e^lv) || N(0, 1)), summed over a
 *        sample's `size` values, mean over the n samples:
 *        L = -1/(2n) sum (1 + lv - mu^2 - e^lv)
 *        dmu = mu dL / n,  dlv = (e^lv - 1) / 2 dL / n
 */
static inline void KERNEL(sample_normal_forward)(real *z, const real *mu, const real *lv,
                                                 int count, dlrt_rng *rng)
{
    for (int i = 0; i < count; i++)
        z[i] = mu[i] + FN(exp)(lv[i] / 2) * (real)dlrt_rng_normal(rng);
}

static inline void KERNEL(sample_normal_backward)(real *dmu, real *dlv, const real *dz,
                                                  const real *z, const real *mu, int count,
                                                  int acc_mu, int acc_lv)
{
    for (int i = 0; i < count; i++) {
        if (dmu)
            KERNEL(grad_store)(dmu, i, dz[i], acc_mu);
        if (dlv)
            KERNEL(grad_store)(dlv, i, dz[i] * (z[i] - mu[i]) / 2, acc_lv);
    }
}

static inline void KERNEL(kl_normal_forward)(real *loss, const real *mu, const real *lv, int n,
                                             int size)
{
    double total = 0;
    for (int i = 0; i < n * size; i++)
        total += 1 + lv[i] - mu[i] * mu[i] - FN(exp)(lv[i]);
    loss[0] = (real)(-total / (2.0 * n));
}

static inline void KERNEL(kl_normal_backward)(real *dmu, real *dlv, const real *mu, const real *lv,
                                              const real *dloss, int n, int size, int acc_mu,
                                              int acc_lv)
{
    const real scale = dloss[0] / n;
    for (int i = 0; i < n * size; i++) {
        if (dmu)
            KERNEL(grad_store)(dmu, i, mu[i] * scale, acc_mu);
        if (dlv)
            KERNEL(grad_store)(dlv, i, (FN(exp)(lv[i]) - 1) / 2 * scale, acc_lv);
    }
}
