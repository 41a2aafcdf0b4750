/* lbfgs_step.h: torch.optim.LBFGS's step in one precision, included twice
 * by lbfgs.c (no include guard) with `real` (float or double) and F(name)
 * (name_f32 or name_f64) defined.
 *
 * Scalars follow where torch keeps them: what comes out of a tensor
 * operation (a dot product, a maximum, gtd, ys, ro, H_diag, the cubic
 * interpolation's minimum) is a `real`, rounded as torch's 0-dim tensors
 * of the parameters' dtype are, and arithmetic between such a value and a
 * Python float happens in `real`, as torch's type promotion does; the loss,
 * the step length t and the bracket's ends are doubles (Python floats).
 * Dot products are BLAS's, as torch's; p.add_(v, alpha=a) is a fused
 * multiply-add, as torch's vectorized kernels compute it. */

/* torch's dot product is BLAS's (sdot, ddot: OpenBLAS here, as the
 * generated code's), so the step takes the very same one. */
static real F(dot)(const real *a, const real *b, size_t n)
{
    return DOT((int)n, a, 1, b, 1);
}

/* max |a|, NaN when any value is NaN (torch's max propagates it). */
static real F(abs_max)(const real *a, size_t n)
{
    real mx = 0;
    for (size_t i = 0; i < n; i++) {
        real v = a[i] < 0 ? -a[i] : a[i];
        if (v != v)
            return v;
        if (v > mx)
            mx = v;
    }
    return mx;
}

/* x = base + t d: torch's p.add_(d, alpha=t), alpha in the dtype, one
 * fused multiply-add per value as its vectorized kernel does. */
static void F(add_step)(real *x, const real *base, real t, const real *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = FMA(t, d[i], base[i]);
}

/* torch's _cubic_interpolate: the minimum of the cubic through (x1, f1)
 * and (x2, f2) with slopes g1 and g2, within [lo, hi]. */
static double F(cubic)(double x1, double f1, real g1, double x2, double f2, real g2, double lo,
                       double hi)
{
    real d1 = (g1 + g2) - (real)(3 * (f1 - f2) / (x1 - x2));
    real d2_square = d1 * d1 - g1 * g2;
    if (d2_square >= 0) {
        real d2 = (real)sqrt((double)d2_square);
        real min_pos;
        if (x1 <= x2)
            min_pos = (real)x2 - (real)(x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2));
        else
            min_pos = (real)x1 - (real)(x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
        double r = min_pos;
        if (lo > r)   /* Python's max(min_pos, lo), then min(., hi) */
            r = lo;
        if (hi < r)
            r = hi;
        return r;
    }
    return (lo + hi) / 2;
}

typedef struct F(ls) {
    dlrt_lbfgs *s;
    const dlrt_model_api *api;
    void *m;
    const void *const *data;
    int n;
} F(ls);

/* obj_func: the loss and gradients at x_init + t d, the parameters put
 * back to x_init after; the gradient is left in grads(m). */
static double F(evaluate)(F(ls) *c, double t)
{
    dlrt_lbfgs *s = c->s;
    real *x = c->api->params(c->m);
    F(add_step)(x, s->x_init, (real)t, s->d, s->n);
    double loss = c->api->losses[0].gradients(c->m, c->data, c->n);
    memcpy(x, s->x_init, s->n * sizeof(real));
    return loss;
}

/* A scratch gradient buffer other than a and b (three: one is free). */
static real *F(other)(dlrt_lbfgs *s, const real *a, const real *b)
{
    for (int k = 0; k < 3; k++)
        if ((real *)s->g[k] != a && (real *)s->g[k] != b)
            return s->g[k];
    return s->g[0];   /* not reached */
}

/* torch's _strong_wolfe (c1 1e-4, c2 0.9, max_ls 25) from the parameters
 * in x_init along d, starting at t with loss f, gradient g (flat_grad) and
 * slope gtd. Leaves the chosen point's gradient in flat_grad; returns its
 * loss, its t in *t_out and the evaluations in *evals. */
static double F(strong_wolfe)(F(ls) *c, double t, double f, real gtd, double *t_out, int *evals)
{
    const double c1 = 1e-4, c2 = 0.9;
    const int max_ls = 25;
    dlrt_lbfgs *s = c->s;
    const size_t n = s->n;
    real *grads = c->api->grads(c->m), *g = s->flat_grad;
    const real d_norm = F(abs_max)(s->d, n);
    const real curvature = (real)-c2 * gtd;

    double f_new = F(evaluate)(c, t);
    int ls_evals = 1;
    real gtd_new = F(dot)(grads, s->d, n);

    double t_prev = 0, f_prev = f;
    real *g_prev = g, gtd_prev = gtd;
    int done = 0, ls_iter = 0, nb = 0;
    double br[2] = {0, 0}, br_f[2] = {0, 0};
    real *br_g[2] = {NULL, NULL}, br_gtd[2] = {0, 0};
    while (ls_iter < max_ls) {
        /* torch's order: no sufficient decrease (or no decrease) brackets
         * [t_prev, t]; else the curvature condition ends the search; else
         * a slope turned upwards brackets [t_prev, t] too. */
        int no_decrease = (real)f_new > (real)f + (real)(c1 * t) * gtd ||
                          (ls_iter > 1 && f_new >= f_prev);
        if (!no_decrease && (gtd_new < 0 ? -gtd_new : gtd_new) <= curvature) {
            nb = 1;
            br[0] = t;
            br_f[0] = f_new;
            br_g[0] = F(other)(s, g, NULL);
            memcpy(br_g[0], grads, n * sizeof(real));
            done = 1;
            break;
        }
        if (no_decrease || gtd_new >= 0) {
            nb = 2;
            br[0] = t_prev, br[1] = t;
            br_f[0] = f_prev, br_f[1] = f_new;
            br_g[0] = g_prev;
            br_g[1] = F(other)(s, g_prev, g);
            memcpy(br_g[1], grads, n * sizeof(real));
            br_gtd[0] = gtd_prev, br_gtd[1] = gtd_new;
            break;
        }
        /* extrapolate: a cubic step within [t + 0.01 (t - t_prev), 10 t] */
        double min_step = t + 0.01 * (t - t_prev), max_step = t * 10, tmp = t;
        t = F(cubic)(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, min_step, max_step);
        t_prev = tmp;
        f_prev = f_new;
        real *keep = g_prev == g ? (real *)s->g[0] : g_prev;   /* the old g_prev is done */
        memcpy(keep, grads, n * sizeof(real));
        g_prev = keep;
        gtd_prev = gtd_new;
        f_new = F(evaluate)(c, t);
        ls_evals++;
        gtd_new = F(dot)(grads, s->d, n);
        ls_iter++;
    }
    if (ls_iter == max_ls) {   /* no bracket found: [0, t] */
        nb = 2;
        br[0] = 0, br[1] = t;
        br_f[0] = f, br_f[1] = f_new;
        br_g[0] = g;
        br_g[1] = F(other)(s, g, g_prev);
        memcpy(br_g[1], grads, n * sizeof(real));
    }

    /* zoom: shrink the bracket to a point meeting the strong Wolfe
     * conditions */
    int insuf_progress = 0;
    int low = 0, high = 1;
    if (!(br_f[0] <= br_f[nb - 1]))
        low = 1, high = 0;
    while (!done && ls_iter < max_ls) {
        double width = br[1] > br[0] ? br[1] - br[0] : br[0] - br[1];
        if ((real)width * d_norm < (real)s->tolerance_change)
            break;
        t = F(cubic)(br[0], br_f[0], br_gtd[0], br[1], br_f[1], br_gtd[1],
                     br[0] <= br[1] ? br[0] : br[1], br[0] <= br[1] ? br[1] : br[0]);
        double hi = br[0] > br[1] ? br[0] : br[1], lo = br[0] < br[1] ? br[0] : br[1];
        double eps = 0.1 * (hi - lo);
        if ((hi - t < t - lo ? hi - t : t - lo) < eps) {
            /* close to an end: after a step without progress, or at the
             * end itself, move 0.1 of the bracket away from it */
            if (insuf_progress || t >= hi || t <= lo) {
                if (fabs(t - hi) < fabs(t - lo))
                    t = hi - eps;
                else
                    t = lo + eps;
                insuf_progress = 0;
            } else {
                insuf_progress = 1;
            }
        } else {
            insuf_progress = 0;
        }
        f_new = F(evaluate)(c, t);
        ls_evals++;
        gtd_new = F(dot)(grads, s->d, n);
        ls_iter++;
        if ((real)f_new > (real)f + (real)(c1 * t) * gtd || f_new >= br_f[low]) {
            /* Armijo fails or no lower than the low end: the new high end */
            real *keep = F(other)(s, br_g[low], NULL);
            memcpy(keep, grads, n * sizeof(real));
            br[high] = t;
            br_f[high] = f_new;
            br_g[high] = keep;
            br_gtd[high] = gtd_new;
            if (br_f[0] <= br_f[1])
                low = 0, high = 1;
            else
                low = 1, high = 0;
        } else {
            if ((gtd_new < 0 ? -gtd_new : gtd_new) <= curvature) {
                done = 1;   /* the strong Wolfe conditions hold */
            } else if (gtd_new * (real)(br[high] - br[low]) >= 0) {
                /* the old high end becomes the new low one */
                br[high] = br[low];
                br_f[high] = br_f[low];
                br_g[high] = br_g[low];
                br_gtd[high] = br_gtd[low];
            }
            /* the new point is the low end */
            real *keep = F(other)(s, br_g[high], g);
            memcpy(keep, grads, n * sizeof(real));
            br[low] = t;
            br_f[low] = f_new;
            br_g[low] = keep;
            br_gtd[low] = gtd_new;
        }
    }
    if (br_g[low] != g)
        memcpy(g, br_g[low], n * sizeof(real));
    *t_out = br[low];
    *evals = ls_evals;
    return br_f[low];
}

static double F(step)(dlrt_lbfgs *s, const dlrt_model_api *api, void *m, const void *const *data,
                      int nsamples)
{
    const size_t n = s->n;
    const int H = s->history_size;
    real *x = api->params(m), *grads = api->grads(m);
    real *d = s->d, *prev = s->prev_flat_grad, *flat = s->flat_grad;
    real *old_dirs = s->old_dirs, *old_stps = s->old_stps, *ro = s->ro, *al = s->al;
    uint64_t *w = s->words;
    F(ls) c = {s, api, m, data, nsamples};

    /* the first evaluation: f(x) and its gradient */
    double orig_loss = api->losses[0].gradients(m, data, nsamples);
    if (isnan(orig_loss))   /* --check-numerics stopped the pass: change nothing */
        return orig_loss;
    double loss = orig_loss;
    int current_evals = 1;
    w[DLRT_LBFGS_FUNC_EVALS]++;
    memcpy(flat, grads, n * sizeof(real));
    int opt_cond = F(abs_max)(flat, n) <= (real)s->tolerance_grad;
    if (opt_cond)
        return orig_loss;

    double t = dlrt_bits_double(w[DLRT_LBFGS_T]);
    double prev_loss = dlrt_bits_double(w[DLRT_LBFGS_PREV_LOSS]);
    double h_diag = dlrt_bits_double(w[DLRT_LBFGS_H_DIAG]);
    int len = (int)w[DLRT_LBFGS_LEN], head = (int)w[DLRT_LBFGS_HEAD];
    int n_iter = 0;
    while (n_iter < s->max_iter) {
        n_iter++;
        w[DLRT_LBFGS_N_ITER]++;

        /* the direction: steepest descent first, then L-BFGS's */
        if (w[DLRT_LBFGS_N_ITER] == 1) {
            for (size_t i = 0; i < n; i++)
                d[i] = -flat[i];
            len = 0;
            head = 0;
            h_diag = 1;
        } else {
            real *y = s->y, *sv = s->s;
            const real tr = (real)t;
            for (size_t i = 0; i < n; i++) {
                y[i] = flat[i] - prev[i];
                sv[i] = d[i] * tr;
            }
            real ys = F(dot)(y, sv, n);
            if (ys > (real)1e-10) {
                /* remember the pair, forgetting the oldest when full */
                if (len == H) {
                    head = (head + 1) % H;
                    len--;
                }
                int k = (head + len) % H;
                memcpy(old_dirs + (size_t)k * n, y, n * sizeof(real));
                memcpy(old_stps + (size_t)k * n, sv, n * sizeof(real));
                ro[k] = (real)1 / ys;
                len++;
                h_diag = ys / F(dot)(y, y, n);   /* the initial Hessian's scale */
            }
            /* two-loop recursion: d = -H g */
            for (size_t i = 0; i < n; i++)
                d[i] = -flat[i];
            for (int j = len - 1; j >= 0; j--) {
                int k = (head + j) % H;
                al[j] = F(dot)(old_stps + (size_t)k * n, d, n) * ro[k];
                const real a = -al[j], *dir = old_dirs + (size_t)k * n;
                for (size_t i = 0; i < n; i++)
                    d[i] = FMA(a, dir[i], d[i]);   /* q.add_(old_dirs[i], alpha=-al[i]) */
            }
            const real hd = (real)h_diag;
            for (size_t i = 0; i < n; i++)
                d[i] *= hd;
            for (int j = 0; j < len; j++) {
                int k = (head + j) % H;
                real be = F(dot)(old_dirs + (size_t)k * n, d, n) * ro[k];
                const real a = al[j] - be, *stp = old_stps + (size_t)k * n;
                for (size_t i = 0; i < n; i++)
                    d[i] = FMA(a, stp[i], d[i]);   /* r.add_(old_stps[i], alpha=al[i] - be_i) */
            }
        }
        memcpy(prev, flat, n * sizeof(real));
        prev_loss = loss;

        /* the step length's first guess */
        if (w[DLRT_LBFGS_N_ITER] == 1) {
            double sum = 0;
            for (size_t i = 0; i < n; i++)
                sum += flat[i] < 0 ? -(double)flat[i] : flat[i];
            real r = (real)1 / (real)sum;
            t = r < 1 ? (double)(r * (real)s->lr) : s->lr;
        } else {
            t = s->lr;
        }
        real gtd = F(dot)(flat, d, n);   /* the directional derivative */
        if (gtd > -(real)s->tolerance_change)
            break;

        int ls_evals = 0;
        if (s->line_search) {
            memcpy(s->x_init, x, n * sizeof(real));
            int evals = 0;
            loss = F(strong_wolfe)(&c, t, loss, gtd, &t, &evals);
            ls_evals = evals;
            F(add_step)(x, s->x_init, (real)t, d, n);
            opt_cond = F(abs_max)(flat, n) <= (real)s->tolerance_grad;
        } else {
            F(add_step)(x, x, (real)t, d, n);
            if (n_iter != s->max_iter) {   /* no evaluation after the last */
                loss = api->losses[0].gradients(m, data, nsamples);
                memcpy(flat, grads, n * sizeof(real));
                opt_cond = F(abs_max)(flat, n) <= (real)s->tolerance_grad;
                ls_evals = 1;
            }
        }
        current_evals += ls_evals;
        w[DLRT_LBFGS_FUNC_EVALS] += (uint64_t)ls_evals;

        /* the termination tests, in torch's order */
        if (n_iter == s->max_iter)
            break;
        if (current_evals >= s->max_eval)
            break;
        if (opt_cond)
            break;
        real change = 0;   /* max |d t| */
        const real tr = (real)t;
        for (size_t i = 0; i < n; i++) {
            real v = d[i] * tr;
            v = v < 0 ? -v : v;
            if (v != v || v > change)
                change = v;
            if (change != change)
                break;
        }
        if (change <= (real)s->tolerance_change)
            break;
        if (fabs(loss - prev_loss) < s->tolerance_change)
            break;
    }
    w[DLRT_LBFGS_T] = dlrt_double_bits(t);
    w[DLRT_LBFGS_PREV_LOSS] = dlrt_double_bits(prev_loss);
    w[DLRT_LBFGS_H_DIAG] = dlrt_double_bits(h_diag);
    w[DLRT_LBFGS_LEN] = (uint64_t)len;
    w[DLRT_LBFGS_HEAD] = (uint64_t)head;
    return orig_loss;
}
