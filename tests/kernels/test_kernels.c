/* test_kernels.c: unit tests of the runtime's kernels (runtime/kernels/),
 * against values computed here independently: small cases worked by hand,
 * a long double reference written from the textbook formula, and the
 * backward kernels against central finite differences of the forward ones
 * in double. Both precisions; NaN and infinite rows; logits of +-1e4.
 *
 * Usage: test_kernels. Prints "ok NAME" or "FAIL NAME: why" per test and
 * exits 1 if anything failed (tests/kernels/run.sh counts the lines).
 */
/* Linux: the affinity calls of pool_helper_not_pinned. Before any #include. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#include "dlrt_kernels.h"

#include <math.h>
#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#include <time.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
static const char *test_name;
static char why[512];

static void start(const char *name)
{
    test_name = name;
    why[0] = 0;
}

/* Records the first failed condition of the current test. */
static void check(int cond, const char *fmt, ...)
{
    if (cond || why[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
}

static void finish(void)
{
    if (why[0]) {
        printf("FAIL %s: %s\n", test_name, why);
        failures++;
    } else {
        printf("ok %s\n", test_name);
    }
}

/* a and b agree within tol relative to max(1, |b|), or are both NaN, or
 * are the same infinity. */
static int close_to(double a, double b, double tol)
{
    if (isnan(b))
        return isnan(a);
    if (isinf(b))
        return a == b;
    return fabs(a - b) <= tol * (fabs(b) > 1 ? fabs(b) : 1);
}

/* ---- references, from the definitions, in long double ----------------- */

static void ref_softmax(long double *y, const double *x, int c, int log_)
{
    long double sum = 0;
    for (int j = 0; j < c; j++)
        sum += expl((long double)x[j]);
    for (int j = 0; j < c; j++)
        y[j] = log_ ? (long double)x[j] - logl(sum) : expl((long double)x[j]) / sum;
}

/* ---- softmax and log_softmax ------------------------------------------- */

static const double ROWS[][4] = {
    {1, 2, 3, 4}, {-1, 0.5, 0.25, -3}, {0, 0, 0, 0}, {10, -10, 3, 7}, {-20, -21, -19.5, -20},
};
#define NROWS (int)(sizeof ROWS / sizeof ROWS[0])

static void test_softmax_reference(void)
{
    for (int log_ = 0; log_ <= 1; log_++) {
        start(log_ ? "log_softmax_forward_reference" : "softmax_forward_reference");
        float xf[NROWS * 4], yf[NROWS * 4];
        double xd[NROWS * 4], yd[NROWS * 4];
        for (int i = 0; i < NROWS * 4; i++)
            xd[i] = ROWS[i / 4][i % 4], xf[i] = (float)xd[i];
        if (log_) {
            dlrt_log_softmax_forward_f32(yf, xf, NROWS, 4);
            dlrt_log_softmax_forward_f64(yd, xd, NROWS, 4);
        } else {
            dlrt_softmax_forward_f32(yf, xf, NROWS, 4);
            dlrt_softmax_forward_f64(yd, xd, NROWS, 4);
        }
        for (int r = 0; r < NROWS; r++) {
            long double ref[4];
            ref_softmax(ref, ROWS[r], 4, log_);
            for (int j = 0; j < 4; j++) {
                check(close_to(yd[r * 4 + j], (double)ref[j], 1e-14), "f64 row %d col %d: %.17g, want %.17Lg",
                      r, j, yd[r * 4 + j], ref[j]);
                check(close_to(yf[r * 4 + j], (double)ref[j], 1e-6), "f32 row %d col %d: %.9g, want %.9Lg",
                      r, j, yf[r * 4 + j], ref[j]);
            }
        }
        finish();
    }
    /* By hand: softmax([0, log 3]) = [1/4, 3/4]. */
    start("softmax_by_hand");
    double x[2] = {0, log(3.0)}, y[2];
    dlrt_softmax_forward_f64(y, x, 1, 2);
    check(close_to(y[0], 0.25, 1e-15) && close_to(y[1], 0.75, 1e-15), "got %.17g %.17g", y[0], y[1]);
    finish();
}

/* Non-finite and extreme rows, float: what PyTorch gives. */
static void test_softmax_extremes(void)
{
    const float inf = INFINITY, nan = NAN;
    struct {
        float x[4];
        float soft[4];   /* softmax */
        float logs[4];   /* log_softmax */
    } cases[] = {
        {{nan, 1, 2, 3}, {nan, nan, nan, nan}, {nan, nan, nan, nan}},
        {{1, 2, nan, 3}, {nan, nan, nan, nan}, {nan, nan, nan, nan}},
        {{inf, 1, 2, 3}, {nan, nan, nan, nan}, {nan, nan, nan, nan}},
        {{1, 2, -inf, 3}, {0.09003057f, 0.24472848f, 0, 0.66524094f},
         {-2.4076059f, -1.4076059f, -inf, -0.40760595f}},
        {{-inf, -inf, -inf, -inf}, {nan, nan, nan, nan}, {nan, nan, nan, nan}},
        /* exactness at 1e4: (x - max) - log(sum), not x - (max + log(sum)) */
        {{1e4f, -1e4f, 0, 1}, {1, 0, 0, 0}, {0, -2e4f, -1e4f, -9999}},
        {{1e4f, 1e4f, 1e4f, 1e4f}, {0.25f, 0.25f, 0.25f, 0.25f},
         {-1.3862944f, -1.3862944f, -1.3862944f, -1.3862944f}},
        {{-1e4f, -1e4f, -1e4f, -1e4f}, {0.25f, 0.25f, 0.25f, 0.25f},
         {-1.3862944f, -1.3862944f, -1.3862944f, -1.3862944f}},
        {{3e38f, -3e38f, 0, 0}, {1, 0, 0, 0}, {0, -inf, -3e38f, -3e38f}},
    };
    int ncases = (int)(sizeof cases / sizeof cases[0]);
    start("softmax_nonfinite_and_extreme_rows_f32");
    for (int c = 0; c < ncases; c++) {
        float y[4], l[4];
        dlrt_softmax_forward_f32(y, cases[c].x, 1, 4);
        dlrt_log_softmax_forward_f32(l, cases[c].x, 1, 4);
        for (int j = 0; j < 4; j++) {
            check(close_to(y[j], cases[c].soft[j], 1e-6), "case %d softmax[%d] = %.9g, want %.9g",
                  c, j, y[j], cases[c].soft[j]);
            check(close_to(l[j], cases[c].logs[j], 1e-6), "case %d log_softmax[%d] = %.9g, want %.9g",
                  c, j, l[j], cases[c].logs[j]);
        }
    }
    finish();
    start("softmax_nonfinite_rows_f64");
    double x[3][3] = {{NAN, 0, 1}, {0, INFINITY, 1}, {1e4, -1e4, 1e4}}, y[9], l[9];
    dlrt_softmax_forward_f64(y, &x[0][0], 3, 3);
    dlrt_log_softmax_forward_f64(l, &x[0][0], 3, 3);
    for (int j = 0; j < 6; j++)
        check(isnan(y[j]) && isnan(l[j]), "row %d: %g %g, want NaN", j / 3, y[j], l[j]);
    check(y[6] == 0.5 && y[7] == 0 && y[8] == 0.5, "row 2: %g %g %g", y[6], y[7], y[8]);
    check(l[6] == -log(2.0) && l[7] == -2e4 - log(2.0) && l[8] == -log(2.0), "row 2 log: %.17g %.17g",
          l[6], l[7]);
    finish();
}

/* f(x) = sum_j w_j y_j(x), so df/dx is the backward kernel with dy = w. */
static double softmax_objective(const double *x, const double *w, int rows, int cols, int log_)
{
    double y[64], f = 0;
    if (log_)
        dlrt_log_softmax_forward_f64(y, x, rows, cols);
    else
        dlrt_softmax_forward_f64(y, x, rows, cols);
    for (int i = 0; i < rows * cols; i++)
        f += w[i] * y[i];
    return f;
}

static void test_softmax_backward(void)
{
    enum { ROWS_ = 3, COLS = 5 };
    double x[ROWS_ * COLS], w[ROWS_ * COLS], y[ROWS_ * COLS], dx[ROWS_ * COLS];
    for (int i = 0; i < ROWS_ * COLS; i++) {
        x[i] = sin(1.3 * i + 0.2) * 3;
        w[i] = cos(0.7 * i - 0.4);
    }
    for (int log_ = 0; log_ <= 1; log_++) {
        start(log_ ? "log_softmax_backward_finite_differences" : "softmax_backward_finite_differences");
        if (log_) {
            dlrt_log_softmax_forward_f64(y, x, ROWS_, COLS);
            dlrt_log_softmax_backward_f64(dx, y, w, ROWS_, COLS, 0);
        } else {
            dlrt_softmax_forward_f64(y, x, ROWS_, COLS);
            dlrt_softmax_backward_f64(dx, y, w, ROWS_, COLS, 0);
        }
        for (int i = 0; i < ROWS_ * COLS; i++) {
            double xp[ROWS_ * COLS], xm[ROWS_ * COLS], h = 1e-6;
            memcpy(xp, x, sizeof x);
            memcpy(xm, x, sizeof x);
            xp[i] += h;
            xm[i] -= h;
            double fd = (softmax_objective(xp, w, ROWS_, COLS, log_) -
                         softmax_objective(xm, w, ROWS_, COLS, log_)) / (2 * h);
            check(close_to(dx[i], fd, 1e-8), "d/dx[%d] = %.12g, finite differences %.12g", i, dx[i], fd);
        }
        /* accumulate = 1 adds to what is there */
        double acc[ROWS_ * COLS];
        for (int i = 0; i < ROWS_ * COLS; i++)
            acc[i] = 1;
        if (log_)
            dlrt_log_softmax_backward_f64(acc, y, w, ROWS_, COLS, 1);
        else
            dlrt_softmax_backward_f64(acc, y, w, ROWS_, COLS, 1);
        for (int i = 0; i < ROWS_ * COLS; i++)
            check(acc[i] == 1 + dx[i], "accumulate [%d]: %.17g, want 1 + %.17g", i, acc[i], dx[i]);
        /* and the float kernel agrees with the double one */
        float xf[ROWS_ * COLS], wf[ROWS_ * COLS], yf[ROWS_ * COLS], dxf[ROWS_ * COLS];
        for (int i = 0; i < ROWS_ * COLS; i++)
            xf[i] = (float)x[i], wf[i] = (float)w[i];
        if (log_) {
            dlrt_log_softmax_forward_f32(yf, xf, ROWS_, COLS);
            dlrt_log_softmax_backward_f32(dxf, yf, wf, ROWS_, COLS, 0);
        } else {
            dlrt_softmax_forward_f32(yf, xf, ROWS_, COLS);
            dlrt_softmax_backward_f32(dxf, yf, wf, ROWS_, COLS, 0);
        }
        for (int i = 0; i < ROWS_ * COLS; i++)
            check(fabs(dxf[i] - dx[i]) < 1e-5, "f32 d/dx[%d] = %.9g, f64 %.9g", i, dxf[i], dx[i]);
        finish();
    }
}

/* ---- cross_entropy --------------------------------------------------- */

static double ce_loss(const double *z, const int32_t *y, int n, int k)
{
    double loss, p[64];
    dlrt_cross_entropy_forward_f64(&loss, p, z, y, n, k);
    return loss;
}

static void test_cross_entropy(void)
{
    start("cross_entropy_by_hand");
    /* two samples: logits [0, 0] label 0 -> log 2; [0, log 3] label 1 -> log(4/3) */
    double z[4] = {0, 0, 0, log(3.0)}, p[4], loss;
    int32_t y[2] = {0, 1};
    dlrt_cross_entropy_forward_f64(&loss, p, z, y, 2, 2);
    check(close_to(loss, (log(2.0) + log(4.0 / 3.0)) / 2, 1e-15), "loss %.17g", loss);
    check(close_to(p[0], 0.5, 1e-15) && close_to(p[2], 0.25, 1e-15) && close_to(p[3], 0.75, 1e-15),
          "probabilities %g %g %g %g", p[0], p[1], p[2], p[3]);
    /* backward: (p - onehot) * dL / n with dL = 2 */
    double dz[4], dl = 2;
    dlrt_cross_entropy_backward_f64(dz, p, y, &dl, 2, 2, 0);
    check(close_to(dz[0], -0.5, 1e-15) && close_to(dz[1], 0.5, 1e-15) &&
          close_to(dz[2], 0.25, 1e-15) && close_to(dz[3], -0.25, 1e-15),
          "gradient %g %g %g %g", dz[0], dz[1], dz[2], dz[3]);
    finish();

    start("cross_entropy_finite_differences");
    enum { N = 3, K = 4 };
    double zz[N * K], pp[N * K], g[N * K], one = 1;
    int32_t yy[N] = {2, 0, 3};
    for (int i = 0; i < N * K; i++)
        zz[i] = 2 * sin(0.9 * i + 1);
    dlrt_cross_entropy_forward_f64(&loss, pp, zz, yy, N, K);
    dlrt_cross_entropy_backward_f64(g, pp, yy, &one, N, K, 0);
    for (int i = 0; i < N * K; i++) {
        double zp[N * K], zm[N * K], h = 1e-6;
        memcpy(zp, zz, sizeof zz);
        memcpy(zm, zz, sizeof zz);
        zp[i] += h;
        zm[i] -= h;
        double fd = (ce_loss(zp, yy, N, K) - ce_loss(zm, yy, N, K)) / (2 * h);
        check(close_to(g[i], fd, 1e-8), "d/dz[%d] = %.12g, finite differences %.12g", i, g[i], fd);
    }
    finish();

    start("cross_entropy_extremes_f32");
    {
        /* exact at 1e4: the loss of the wrong class is 2e4, of the right one 0 */
        float zf[8] = {1e4f, -1e4f, 0, 1, 1e4f, -1e4f, 0, 1}, pf[8], lf, dzf[8];
        int32_t yf[2] = {1, 0};
        dlrt_cross_entropy_forward_f32(&lf, pf, zf, yf, 2, 4);
        check(lf == 1e4f, "loss %.9g, want 10000 (mean of 20000 and 0)", lf);
        /* a NaN or +inf logit makes the loss NaN */
        float zn[8] = {1, NAN, 0, 0, 0, 0, 0, 0};
        dlrt_cross_entropy_forward_f32(&lf, pf, zn, yf, 2, 4);
        check(isnan(lf), "NaN logit: loss %g", lf);
        float zi[4] = {INFINITY, 0, 0, 0};
        dlrt_cross_entropy_forward_f32(&lf, pf, zi, yf, 1, 4);
        check(isnan(lf), "+inf logit: loss %g", lf);
        /* -inf at the true class: +inf loss; elsewhere: finite */
        float zm[4] = {-INFINITY, 0, 0, 0};
        int32_t y0 = 0, y1 = 1;
        dlrt_cross_entropy_forward_f32(&lf, pf, zm, &y0, 1, 4);
        check(isinf(lf) && lf > 0, "-inf at the label: loss %g, want inf", lf);
        dlrt_cross_entropy_forward_f32(&lf, pf, zm, &y1, 1, 4);
        check(close_to(lf, log(3.0), 1e-6), "-inf elsewhere: loss %.9g, want log 3", lf);
        /* a label outside 0..K-1: NaN loss, and the gradient leaves it out */
        float z0[4] = {0, 0, 0, 0}, one_f = 1;
        int32_t bad = 4;
        dlrt_cross_entropy_forward_f32(&lf, pf, z0, &bad, 1, 4);
        check(isnan(lf), "label 4 of 4 classes: loss %g, want NaN", lf);
        dlrt_cross_entropy_backward_f32(dzf, pf, &bad, &one_f, 1, 4, 0);
        for (int j = 0; j < 4; j++)
            check(dzf[j] == 0.25f, "label 4 of 4: gradient[%d] = %g, want 0.25", j, dzf[j]);
        bad = -1;
        dlrt_cross_entropy_forward_f32(&lf, pf, z0, &bad, 1, 4);
        check(isnan(lf), "label -1: loss %g, want NaN", lf);
    }
    finish();
}

/* ---- mse and l1 --------------------------------------------------------- */

static double reg_loss(const double *p, const double *t, int n, int s, int squared)
{
    double loss;
    if (squared)
        dlrt_mse_forward_f64(&loss, p, t, n, s);
    else
        dlrt_l1_forward_f64(&loss, p, t, n, s);
    return loss;
}

static void test_regression(void)
{
    start("mse_l1_by_hand");
    double p[4] = {1, 2, 3, 4}, t[4] = {0, 2, 5, 3}, loss;
    dlrt_mse_forward_f64(&loss, p, t, 2, 2);
    check(loss == 1.5, "mse %.17g, want (1 + 0 + 4 + 1) / 4", loss);
    dlrt_l1_forward_f64(&loss, p, t, 2, 2);
    check(loss == 1, "l1 %.17g, want (1 + 0 + 2 + 1) / 4", loss);
    double dl = 4, dp[4], dt[4];
    dlrt_l1_backward_f64(dp, dt, p, t, &dl, 2, 2, 0, 0);
    check(dp[0] == 1 && dp[1] == 0 && dp[2] == -1 && dp[3] == 1, "l1 dp %g %g %g %g (sign(0) = 0)",
          dp[0], dp[1], dp[2], dp[3]);
    check(dt[0] == -1 && dt[1] == 0 && dt[2] == 1 && dt[3] == -1, "l1 dt %g %g %g %g", dt[0], dt[1],
          dt[2], dt[3]);
    dlrt_mse_backward_f64(dp, NULL, p, t, &dl, 2, 2, 0, 0);
    check(dp[0] == 2 && dp[1] == 0 && dp[2] == -4 && dp[3] == 2, "mse dp %g %g %g %g", dp[0], dp[1],
          dp[2], dp[3]);
    /* mse(x, x): both gradients in one buffer, the second adds: 0 */
    dlrt_mse_backward_f64(dp, dp, p, p, &dl, 2, 2, 0, 1);
    check(dp[0] == 0 && dp[3] == 0, "mse(x, x) gradient %g %g", dp[0], dp[3]);
    finish();

    for (int squared = 1; squared >= 0; squared--) {
        start(squared ? "mse_finite_differences" : "l1_finite_differences");
        enum { N = 2, S = 3 };
        double pp[N * S], tt[N * S], gp[N * S], gt[N * S], w = 0.7;
        for (int i = 0; i < N * S; i++)
            pp[i] = sin(i + 0.5), tt[i] = cos(2 * i);
        if (squared)
            dlrt_mse_backward_f64(gp, gt, pp, tt, &w, N, S, 0, 0);
        else
            dlrt_l1_backward_f64(gp, gt, pp, tt, &w, N, S, 0, 0);
        for (int i = 0; i < N * S; i++) {
            double h = 1e-6, a[N * S], b[N * S];
            memcpy(a, pp, sizeof pp);
            memcpy(b, pp, sizeof pp);
            a[i] += h;
            b[i] -= h;
            double fd = w * (reg_loss(a, tt, N, S, squared) - reg_loss(b, tt, N, S, squared)) / (2 * h);
            check(close_to(gp[i], fd, 1e-8), "d/dpred[%d] = %.12g, finite differences %.12g", i, gp[i], fd);
            memcpy(a, tt, sizeof tt);
            memcpy(b, tt, sizeof tt);
            a[i] += h;
            b[i] -= h;
            fd = w * (reg_loss(pp, a, N, S, squared) - reg_loss(pp, b, N, S, squared)) / (2 * h);
            check(close_to(gt[i], fd, 1e-8), "d/dtarget[%d] = %.12g, finite differences %.12g", i, gt[i], fd);
        }
        finish();
    }

    start("mse_l1_extremes_f32");
    {
        /* the sum runs in double: the mean of two 3e38 terms is finite */
        float pf[2] = {3e38f, -3e38f}, tf[2] = {0, 0}, lf, one = 1, dpf[2];
        dlrt_l1_forward_f32(&lf, pf, tf, 2, 1);
        check(lf == 3e38f, "l1 of +-3e38: %g, want 3e38", lf);
        float pn[2] = {1, 2}, tn[2] = {NAN, 2};
        dlrt_mse_forward_f32(&lf, pn, tn, 1, 2);
        check(isnan(lf), "mse with a NaN target: %g", lf);
        dlrt_l1_forward_f32(&lf, pn, tn, 1, 2);
        check(isnan(lf), "l1 with a NaN target: %g", lf);
        dlrt_l1_backward_f32(dpf, NULL, pn, tn, &one, 1, 2, 0, 0);
        check(dpf[0] == 0 && dpf[1] == 0, "l1 gradient at NaN and at 0: %g %g, want 0 0", dpf[0], dpf[1]);
        float pi[1] = {INFINITY}, ti[1] = {INFINITY};
        dlrt_mse_forward_f32(&lf, pi, ti, 1, 1);
        check(isnan(lf), "mse(inf, inf): %g, want NaN", lf);
    }
    finish();
}

/* ---- dropout --------------------------------------------------------------- */

static void test_dropout(void)
{
    enum { COUNT = 1000 };
    static float x[COUNT], y[COUNT], mask[COUNT], dy[COUNT], dx[COUNT];
    static double xd[COUNT], yd[COUNT], maskd[COUNT];
    for (int i = 0; i < COUNT; i++)
        x[i] = (float)(i % 7) - 3, xd[i] = x[i], dy[i] = (float)(i % 5) + 1;

    start("dropout_draw_order");
    dlrt_rng rng, replay;
    dlrt_rng_seed(&rng, 42);
    dlrt_rng_seed(&replay, 42);
    dlrt_dropout_forward_f32(y, mask, x, COUNT, 0.25, &rng);
    int kept = 0;
    for (int i = 0; i < COUNT; i++) {
        /* one uniform per element, in order; kept when u >= rate */
        float want = dlrt_rng_uniform(&replay) >= 0.25 ? (float)(1 / 0.75) : 0;
        check(mask[i] == want, "mask[%d] = %g, want %g", i, mask[i], want);
        check(y[i] == x[i] * want, "y[%d] = %g, want %g", i, y[i], x[i] * want);
        kept += mask[i] != 0;
    }
    check(kept > 700 && kept < 800, "kept %d of 1000 at rate 0.25", kept);
    /* the stream moved on by exactly COUNT draws */
    check(dlrt_rng_next(&rng) == dlrt_rng_next(&replay), "the stream is out of step after the kernel");
    finish();

    start("dropout_f64_same_masks");
    dlrt_rng_seed(&rng, 42);
    dlrt_dropout_forward_f64(yd, maskd, xd, COUNT, 0.25, &rng);
    for (int i = 0; i < COUNT; i++)
        check((maskd[i] != 0) == (mask[i] != 0) && (maskd[i] == 0 || maskd[i] == 1 / 0.75),
              "mask[%d]: f64 %.17g, f32 %g", i, maskd[i], mask[i]);
    finish();

    start("dropout_backward");
    dlrt_dropout_backward_f32(dx, dy, mask, COUNT, 0);
    for (int i = 0; i < COUNT; i++)
        check(dx[i] == dy[i] * mask[i], "dx[%d] = %g", i, dx[i]);
    dlrt_dropout_backward_f32(dx, dy, mask, COUNT, 1);
    for (int i = 0; i < COUNT; i++)
        check(dx[i] == 2 * (dy[i] * mask[i]), "accumulated dx[%d] = %g", i, dx[i]);
    /* rate 0 keeps everything, unscaled */
    dlrt_rng_seed(&rng, 7);
    dlrt_dropout_forward_f32(y, mask, x, COUNT, 0, &rng);
    for (int i = 0; i < COUNT; i++)
        check(mask[i] == 1 && y[i] == x[i], "rate 0: mask[%d] = %g", i, mask[i]);
    finish();
}

/* ---- accuracy -------------------------------------------------------------- */

static void test_accuracy(void)
{
    start("accuracy_count");
    const float nan = NAN, inf = INFINITY;
    float z[6][3] = {
        {0, 2, 1},       /* argmax 1 */
        {5, 5, 1},       /* a tie: the first wins, 0 */
        {nan, 0, 9},     /* a NaN row is never right */
        {0, 9, nan},
        {-inf, -inf, -inf},   /* all equal: 0 */
        {1, inf, 2},     /* 1 */
    };
    int32_t right[6] = {1, 0, 2, 1, 0, 1}, wrong[6] = {2, 1, 0, 0, 1, 0};
    long c = dlrt_accuracy_count_f32(&z[0][0], right, 6, 3);
    check(c == 4, "count %ld with the labels the argmax gives, want 4 (the NaN rows are wrong)", c);
    c = dlrt_accuracy_count_f32(&z[0][0], wrong, 6, 3);
    check(c == 0, "count %ld with wrong labels, want 0", c);
    double zd[2][2] = {{1, 2}, {NAN, NAN}};
    int32_t yd[2] = {1, 0};
    c = dlrt_accuracy_count_f64(&zd[0][0], yd, 2, 2);
    check(c == 1, "f64 count %ld, want 1", c);
    finish();
}

/* ---- bias ------------------------------------------------------------------ */

static void test_bias(void)
{
    start("bias_forward_by_hand");
    /* dense: [2, 3] + [3] */
    float y[6] = {0, 1, 2, 3, 4, 5}, b[3] = {10, 20, 30};
    dlrt_bias_forward_f32(y, b, 2, 3, 1);
    const float want[6] = {10, 21, 32, 13, 24, 35};
    for (int i = 0; i < 6; i++)
        check(y[i] == want[i], "dense y[%d] = %g, want %g", i, y[i], want[i]);
    /* convolution-like: [2 samples, 2 channels, 3 positions] */
    double yc[12] = {0}, bc[2] = {1, -2};
    dlrt_bias_forward_f64(yc, bc, 2, 2, 3);
    for (int i = 0; i < 12; i++)
        check(yc[i] == bc[(i / 3) % 2], "[2,2,3] y[%d] = %g, want %g", i, yc[i], bc[(i / 3) % 2]);
    finish();

    start("bias_backward");
    /* the gradient of sum(w * (y + b)) with respect to b is the sum of w
     * over each channel: checked by hand and by finite differences */
    enum { O = 3, C = 2, IN = 4 };   /* not I: <complex.h> (via cblas.h) takes it */
    double dy[O * C * IN], db[C], acc[C] = {1, 1};
    for (int i = 0; i < O * C * IN; i++)
        dy[i] = sin(0.37 * i + 0.1);
    dlrt_bias_backward_f64(db, dy, O, C, IN, 0);
    for (int c = 0; c < C; c++) {
        double want_c = 0;
        for (int o = 0; o < O; o++)
            for (int i = 0; i < IN; i++)
                want_c += dy[(o * C + c) * IN + i];
        check(close_to(db[c], want_c, 1e-15), "db[%d] = %.17g, want %.17g", c, db[c], want_c);
        double h = 1e-6, yp[O * C * IN] = {0}, ym[O * C * IN] = {0}, bp[C] = {0}, bm[C] = {0};
        bp[c] = h;
        bm[c] = -h;
        dlrt_bias_forward_f64(yp, bp, O, C, IN);
        dlrt_bias_forward_f64(ym, bm, O, C, IN);
        double fd = 0;
        for (int i = 0; i < O * C * IN; i++)
            fd += dy[i] * (yp[i] - ym[i]) / (2 * h);
        check(close_to(db[c], fd, 1e-8), "db[%d] = %.12g, finite differences %.12g", c, db[c], fd);
    }
    dlrt_bias_backward_f64(acc, dy, O, C, IN, 1);
    for (int c = 0; c < C; c++)
        check(close_to(acc[c], 1 + db[c], 1e-14), "accumulate db[%d] = %.17g, want 1 + %.17g", c, acc[c], db[c]);
    {   /* planes of 16 values or more: partial sums per lane, a tail */
        enum { PO = 3, PC = 2, PIN = 37 };
        double pdy[PO * PC * PIN], pdb[PC];
        for (int i = 0; i < PO * PC * PIN; i++)
            pdy[i] = cos(0.29 * i);
        dlrt_bias_backward_f64(pdb, pdy, PO, PC, PIN, 0);
        for (int c = 0; c < PC; c++) {
            double want_c = 0;
            for (int o = 0; o < PO; o++)
                for (int i = 0; i < PIN; i++)
                    want_c += pdy[(o * PC + c) * PIN + i];
            check(close_to(pdb[c], want_c, 1e-14), "plane db[%d] = %.17g, want %.17g", c, pdb[c],
                  want_c);
        }
    }
    float dyf[4] = {1, NAN, 2, 3}, dbf[2];
    dlrt_bias_backward_f32(dbf, dyf, 2, 2, 1, 0);
    check(dbf[0] == 3 && isnan(dbf[1]), "a NaN gradient reaches its channel only: %g %g", dbf[0], dbf[1]);
    finish();
}

/* ---- activations (activation.h) ------------------------------------------- */

/* relu, leaky_relu (alpha 0.1), sigmoid, tanh in double, from the definitions. */
static double ref_act(int f, double x)
{
    switch (f) {
    case 0: return isnan(x) ? x : x < 0 ? 0 : x;
    case 1: return isnan(x) ? x : x > 0 ? x : 0.1 * x;
    case 2: return (double)(1 / (1 + expl(-(long double)x)));
    default: return tanh(x);
    }
}

static void act_forward_f64(int f, double *y, const double *x, int count)
{
    switch (f) {
    case 0: dlrt_relu_forward_f64(y, x, count); break;
    case 1: dlrt_leaky_relu_forward_f64(y, x, count, 0.1); break;
    case 2: dlrt_sigmoid_forward_f64(y, x, count); break;
    default: dlrt_tanh_forward_f64(y, x, count); break;
    }
}

static void act_backward_f64(int f, double *dx, const double *y, const double *dy, int count,
                             int acc)
{
    switch (f) {
    case 0: dlrt_relu_backward_f64(dx, y, dy, count, acc); break;
    case 1: dlrt_leaky_relu_backward_f64(dx, y, dy, count, 0.1, acc); break;
    case 2: dlrt_sigmoid_backward_f64(dx, y, dy, count, acc); break;
    default: dlrt_tanh_backward_f64(dx, y, dy, count, acc); break;
    }
}

static void test_activations(void)
{
    static const char *const names[] = {"relu", "leaky_relu", "sigmoid", "tanh"};
    enum { N = 11 };
    const double x[N] = {-3, -1, -0.25, -1e-3, 0.5, 1, 2.5, 40, -40, INFINITY, NAN};
    for (int f = 0; f < 4; f++) {
        char name[64];
        snprintf(name, sizeof name, "%s_forward_backward", names[f]);
        start(name);
        double y[N], dx[N], acc[N], dy[N];
        float xf[N], yf[N], dyf[N], dxf[N];
        act_forward_f64(f, y, x, N);
        for (int i = 0; i < N; i++) {
            check(close_to(y[i], ref_act(f, x[i]), 1e-15), "f64 y(%g) = %.17g, want %.17g", x[i],
                  y[i], ref_act(f, x[i]));
            xf[i] = (float)x[i];
            dy[i] = 0.5 + 0.1 * i;
            dyf[i] = (float)dy[i];
            acc[i] = 1;
        }
        switch (f) {
        case 0: dlrt_relu_forward_f32(yf, xf, N); break;
        case 1: dlrt_leaky_relu_forward_f32(yf, xf, N, 0.1f); break;
        case 2: dlrt_sigmoid_forward_f32(yf, xf, N); break;
        default: dlrt_tanh_forward_f32(yf, xf, N); break;
        }
        for (int i = 0; i < N; i++)
            check(close_to(yf[i], ref_act(f, x[i]), 1e-6), "f32 y(%g) = %.9g, want %.9g", x[i],
                  yf[i], ref_act(f, x[i]));
        /* backward from y, against central differences of the forward (away
         * from relu's kink and the infinities) */
        act_backward_f64(f, dx, y, dy, N, 0);
        act_backward_f64(f, acc, y, dy, N, 1);
        for (int i = 0; i < N - 2; i++) {
            check(close_to(acc[i], 1 + dx[i], 1e-14), "accumulate dx(%g) = %.17g, want 1 + %.17g",
                  x[i], acc[i], dx[i]);
            if (isinf(x[i]) || fabs(x[i]) < 1e-2)
                continue;
            double h = 1e-6, xp = x[i] + h, xm = x[i] - h, yp, ym;
            act_forward_f64(f, &yp, &xp, 1);
            act_forward_f64(f, &ym, &xm, 1);
            double fd = dy[i] * (yp - ym) / (2 * h);
            check(close_to(dx[i], fd, 1e-7), "dx(%g) = %.12g, finite differences %.12g", x[i],
                  dx[i], fd);
        }
        switch (f) {
        case 0: dlrt_relu_backward_f32(dxf, yf, dyf, N, 0); break;
        case 1: dlrt_leaky_relu_backward_f32(dxf, yf, dyf, N, 0.1f, 0); break;
        case 2: dlrt_sigmoid_backward_f32(dxf, yf, dyf, N, 0); break;
        default: dlrt_tanh_backward_f32(dxf, yf, dyf, N, 0); break;
        }
        for (int i = 0; i < N; i++)
            check(close_to(dxf[i], dx[i], 1e-5), "f32 dx(%g) = %.9g, f64 %.9g", x[i], dxf[i], dx[i]);
        finish();
    }
    start("relu_nan_as_torch");
    /* relu(NaN) = NaN; its backward passes dy where y is NaN (threshold_backward) */
    float xn[2] = {NAN, -1}, yn[2], dyn[2] = {3, 4}, dxn[2];
    dlrt_relu_forward_f32(yn, xn, 2);
    dlrt_relu_backward_f32(dxn, yn, dyn, 2, 0);
    check(isnan(yn[0]) && yn[1] == 0, "relu(NaN, -1) = %g %g", yn[0], yn[1]);
    check(dxn[0] == 3 && dxn[1] == 0, "relu backward at NaN, -1: %g %g", dxn[0], dxn[1]);
    finish();
}

/* Connectivity masks (mask.h): exactly keep of count, the same for the
 * same seed and either precision, a known first mask (the twin's Python
 * replays it), and a select that keeps NaN out of masked entries. */
static void test_mask(void)
{
    enum { COUNT = 1000 };
    static float m[COUNT], m2[COUNT], g[COUNT];
    static double md[COUNT];
    start("sparse_mask_exact_count");
    for (long keep = 0; keep <= COUNT; keep += 125) {
        dlrt_sparse_mask_f32(m, COUNT, keep, 7);
        long kept = 0;
        for (int i = 0; i < COUNT; i++) {
            check(m[i] == 0 || m[i] == 1, "mask[%d] = %g", i, m[i]);
            kept += m[i] != 0;
        }
        check(kept == keep, "kept %ld, want %ld", kept, keep);
    }
    finish();

    start("sparse_mask_seeded");
    dlrt_sparse_mask_f32(m, COUNT, 100, 3);
    dlrt_sparse_mask_f32(m2, COUNT, 100, 3);
    dlrt_sparse_mask_f64(md, COUNT, 100, 3);
    int same = 1;
    for (int i = 0; i < COUNT; i++)
        same &= m[i] == m2[i] && m[i] == (float)md[i];
    check(same, "seed 3 gave two different masks");
    dlrt_sparse_mask_f32(m2, COUNT, 100, 4);
    same = 1;
    for (int i = 0; i < COUNT; i++)
        same &= m[i] == m2[i];
    check(!same, "seeds 3 and 4 gave the same mask");
    /* the mask the twin's sparse_mask(10, 4, 1) draws (the same integer
     * arithmetic in Python) */
    static const float want[10] = {0, 0, 0, 1, 0, 0, 1, 1, 1, 0};
    float small[10];
    dlrt_sparse_mask_f32(small, 10, 4, 1);
    for (int i = 0; i < 10; i++)
        check(small[i] == want[i], "mask(10, 4, seed 1)[%d] = %g, want %g", i, small[i], want[i]);
    finish();

    start("mask_select_nan");
    for (int i = 0; i < COUNT; i++)
        g[i] = i % 3 ? NAN : INFINITY;
    dlrt_mask_select_f32(g, g, m, COUNT);
    for (int i = 0; i < COUNT; i++)
        check(m[i] != 0 ? !(g[i] == 0) : g[i] == 0 && !signbit(g[i]),
              "g[%d] = %g under mask %g", i, g[i], m[i]);
    finish();
}

/* dense's forward product (dense.h): y = x W^T by SMALL (n dot products
 * per weight row) and through dlrt_dense_forward (SMALL or GEMM by n),
 * against a long double reference, n = 1 .. 20 and sizes around the
 * vector width (tails in `in`, rows beyond whole tiles of 4 in `out`),
 * from buffers of exactly their size (ASan catches a read past one) and
 * unaligned. y is written, not added to (and added to with acc, and by
 * dense_one, a recurrent step's product). A NaN reaches its sample's row
 * (in x) or its output's column (in W) only. */
static long double dense_ref(const double *x, const double *w, int in)
{
    long double s = 0;
    for (int i = 0; i < in; i++)
        s += (long double)x[i] * w[i];
    return s;
}

/* |terms| summed: the scale of a dot product's rounding error */
static double dense_mag(const double *x, const double *w, int in)
{
    double s = 0;
    for (int i = 0; i < in; i++)
        s += fabs(x[i] * w[i]);
    return s;
}

static void test_dense(void)
{
    static const int SIZES[][2] = {/* in, out */ {1, 1},  {3, 5},   {15, 4},  {16, 3},  {17, 7},
                                   {31, 9},   {33, 13}, {64, 8},  {100, 10}, {129, 6}, {784, 11}};
    start("dense_forward_against_reference");
    for (size_t c = 0; c < sizeof SIZES / sizeof SIZES[0]; c++) {
        const int in = SIZES[c][0], out = SIZES[c][1];
        for (int n = 1; n <= 20; n++) {
            for (int off = 0; off < 2; off++) {   /* 1: every buffer one value off alignment */
                double *xd = malloc(sizeof *xd * (size_t)n * in);
                double *wd = malloc(sizeof *wd * (size_t)out * in);
                float *xf = malloc(sizeof *xf * ((size_t)n * in + off));
                float *wf = malloc(sizeof *wf * ((size_t)out * in + off));
                float *yf = malloc(sizeof *yf * ((size_t)n * out + off));
                double *x64 = malloc(sizeof *x64 * ((size_t)n * in + off));
                double *w64 = malloc(sizeof *w64 * ((size_t)out * in + off));
                double *y64 = malloc(sizeof *y64 * ((size_t)n * out + off));
                if (!xd || !wd || !xf || !wf || !yf || !x64 || !w64 || !y64) {
                    check(0, "out of memory");
                    return;
                }
                for (int i = 0; i < n * in; i++)
                    xd[i] = (float)sin(0.7 * i + 0.3 * c + 0.1);
                for (int i = 0; i < out * in; i++)
                    wd[i] = (float)cos(1.3 * i + c) * 0.5;
                for (int i = 0; i < n * in; i++)
                    xf[off + i] = (float)xd[i], x64[off + i] = xd[i];
                for (int i = 0; i < out * in; i++)
                    wf[off + i] = (float)wd[i], w64[off + i] = wd[i];
                for (int scheme = 0; scheme < 3; scheme++) {
                    for (int i = 0; i < n * out; i++)   /* written, not added to */
                        yf[off + i] = NAN, y64[off + i] = NAN;
                    if (scheme == 2) {   /* accumulate: y = 1 + x W^T (dense_one at n = 1) */
                        for (int i = 0; i < n * out; i++)
                            yf[off + i] = 1, y64[off + i] = 1;
#ifdef DLRT_DENSE_HAVE_SMALL
                        if (n == 1) {
                            check(dlrt_dense_one_f32(yf + off, xf + off, wf + off, out, in, 1) &&
                                  dlrt_dense_one_f64(y64 + off, x64 + off, w64 + off, out, in, 1),
                                  "dense_one did nothing");
                        } else {
                            dlrt_dense_small_f32(yf + off, xf + off, wf + off, n, out, in, 1);
                            dlrt_dense_small_f64(y64 + off, x64 + off, w64 + off, n, out, in, 1);
                        }
#else
                        continue;
#endif
                    } else if (scheme == 0) {
#ifdef DLRT_DENSE_HAVE_SMALL
                        dlrt_dense_small_f32(yf + off, xf + off, wf + off, n, out, in, 0);
                        dlrt_dense_small_f64(y64 + off, x64 + off, w64 + off, n, out, in, 0);
#else
                        dlrt_dense_forward_f32(yf + off, xf + off, wf + off, n, out, in);
                        dlrt_dense_forward_f64(y64 + off, x64 + off, w64 + off, n, out, in);
#endif
                    } else {
                        dlrt_dense_forward_f32(yf + off, xf + off, wf + off, n, out, in);
                        dlrt_dense_forward_f64(y64 + off, x64 + off, w64 + off, n, out, in);
                    }
                    const char *what = scheme == 1 ? "dense_forward" : scheme ? "SMALL +=" : "SMALL";
                    for (int s = 0; s < n; s++)
                        for (int o = 0; o < out; o++) {
                            const double *xs = xd + (size_t)s * in, *wo = wd + (size_t)o * in;
                            double want = (double)dense_ref(xs, wo, in) + (scheme == 2);
                            double mag = dense_mag(xs, wo, in);
                            double gf = yf[off + s * out + o], gd = y64[off + s * out + o];
                            check(fabs(gf - want) <= 2e-6 * mag + 1e-30,
                                  "%s f32 in %d out %d n %d off %d: y[%d][%d] = %.9g, want %.9g",
                                  what, in, out, n, off, s, o, gf,
                                  want);
                            check(fabs(gd - want) <= 1e-14 * mag + 1e-300,
                                  "%s f64 in %d out %d n %d off %d: y[%d][%d] = %.17g, want %.17g",
                                  what, in, out, n, off, s, o, gd,
                                  want);
                        }
                }
                free(xd), free(wd), free(xf), free(wf), free(yf), free(x64), free(w64), free(y64);
            }
        }
    }
    finish();

    start("dense_forward_nan");
    {   /* n = 5 (tiles of 4 and 1), in 20 (a tail), out 6 (4 + 2 rows) */
        enum { N = 5, IN = 20, OUT = 6 };
        float x[N * IN], w[OUT * IN], y[N * OUT];
        for (int i = 0; i < N * IN; i++)
            x[i] = (float)(i % 7) - 3;
        for (int i = 0; i < OUT * IN; i++)
            w[i] = (float)(i % 5) - 2;
        x[2 * IN + 17] = NAN;    /* sample 2, in the tail */
        w[5 * IN + 3] = NAN;     /* output 5, a single row after the tiles */
        for (int k = 0; k < 2; k++) {
#ifdef DLRT_DENSE_HAVE_SMALL
            if (k == 0)
                dlrt_dense_small_f32(y, x, w, N, OUT, IN, 0);
            else
#endif
                dlrt_dense_forward_f32(y, x, w, N, OUT, IN);
            for (int s = 0; s < N; s++)
                for (int o = 0; o < OUT; o++)
                    check(isnan(y[s * OUT + o]) == (s == 2 || o == 5),
                          "%s: y[%d][%d] = %g (NaN only in sample 2's row and output 5's column)",
                          k ? "dense_forward" : "SMALL", s, o, y[s * OUT + o]);
        }
    }
    finish();
}

/* The pool (runtime/thread_pool.c) and dense's forward split over it
 * (dense.h's dense_forward_pool): every part of a run exactly once,
 * whether the helpers spin, sleep (spin 0: the caller takes back parts
 * no helper began) or the pool is busy with another call; and the split
 * product equal bit for bit to dense_forward on one thread, both
 * precisions, n = 1, 2, 4, 16, shapes with out not a multiple of 8 and in
 * not one of 16, pools of 2 to 5 threads, one attached and detached
 * again and again. */
typedef struct pool_count {
    int runs[8];
} pool_count;

static void pool_count_part(void *ctx, int part)
{
    __atomic_add_fetch(&((pool_count *)ctx)->runs[part], 1, __ATOMIC_RELAXED);
}

#if defined(__linux__) && defined(CPU_SET)
/* What a part run by a helper saw: that it ran off the caller's thread,
 * its core, and whether its affinity is its creator's whole set. */
typedef struct pool_where {
    pthread_t caller;
    cpu_set_t allowed;
    int helper_ran, helper_cpu, same_set;
} pool_where;

static void pool_where_part(void *ctx, int part)
{
    pool_where *w = ctx;
    cpu_set_t mine;
    if (part == 0) {   /* give the helper up to 1 ms to take part 1 first */
        struct timespec t0, t;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        do
            clock_gettime(CLOCK_MONOTONIC, &t);
        while (!__atomic_load_n(&w->helper_ran, __ATOMIC_ACQUIRE)
               && (t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 1000000L);
        return;
    }
    if (pthread_equal(pthread_self(), w->caller))
        return;
    w->helper_cpu = sched_getcpu();
    w->same_set = sched_getaffinity(0, sizeof mine, &mine) == 0 && CPU_EQUAL(&mine, &w->allowed);
    __atomic_store_n(&w->helper_ran, 1, __ATOMIC_RELEASE);
}

/* thread_pool.c starts each helper on a core other than its creator's
 * (POOL_PLACE) and then gives it back the creator's whole set: a first
 * placement, never a pin that would outlive it. Where to start is the
 * scheduler's business afterwards, so only the affinity is checked; the
 * core is reported. */
static void test_pool_not_pinned(void)
{
    pool_where w;
    dlrt_pool *pool;
    start("pool_helper_not_pinned");
    memset(&w, 0, sizeof w);
    w.caller = pthread_self();
    if (sched_getaffinity(0, sizeof w.allowed, &w.allowed) != 0 || CPU_COUNT(&w.allowed) < 2) {
        printf("ok pool_helper_not_pinned # skipped: fewer than two cores\n");
        return;
    }
    pool = dlrt_pool_create(2, -1);
    check(pool != NULL, "dlrt_pool_create(2) failed");
    for (int rep = 0; pool && rep < 1000 && !w.helper_ran; rep++)
        dlrt_pool_run(pool, pool_where_part, &w, 2);
    check(w.helper_ran, "the helper took none of 1000 parts");
    check(!w.helper_ran || w.same_set, "the helper's affinity is not its creator's set");
    dlrt_pool_destroy(pool);
    if (!why[0])
        printf("# pool_helper_not_pinned: the helper ran its first part on cpu %d\n", w.helper_cpu);
    finish();
}
#else
static void test_pool_not_pinned(void)
{
    start("pool_helper_not_pinned");
    finish();
}
#endif

static void test_dense_pool(void)
{
    static const int SIZES[][2] = {/* in, out */ {784, 256}, {256, 128}, {785, 100}, {33, 1000},
                                   {129, 257}, {1000, 43}, {17, 2000}};
    static const int NS[] = {1, 2, 4, 16};
    static const double SPINS[] = {-1, 0, 50};
    start("pool_runs_every_part_once");
    for (size_t sp = 0; sp < sizeof SPINS / sizeof SPINS[0]; sp++)
        for (int threads = 1; threads <= 5; threads++) {
            dlrt_pool *pool = dlrt_pool_create(threads, SPINS[sp]);
            check(pool != NULL, "dlrt_pool_create(%d, %g) failed", threads, SPINS[sp]);
            if (!pool)
                continue;
            check(dlrt_pool_threads(pool) == threads, "%d threads, not %d",
                  dlrt_pool_threads(pool), threads);
            for (int rep = 0; rep < 200; rep++) {
                pool_count c = {{0}};
                int parts = 1 + rep % threads;
                dlrt_pool_run(pool, pool_count_part, &c, parts);
                for (int t = 0; t < 8; t++)
                    check(c.runs[t] == (t < parts), "spin %g, %d threads, %d parts: part %d ran "
                          "%d times", SPINS[sp], threads, parts, t, c.runs[t]);
            }
            dlrt_pool_destroy(pool);
        }
    check(dlrt_pool_create(0, -1) == NULL && dlrt_pool_create(DLRT_POOL_MAX + 1, -1) == NULL,
          "a pool of 0 or DLRT_POOL_MAX + 1 threads");
    check(dlrt_pool_threads(NULL) == 1, "a NULL pool has one thread");
    {
        pool_count c = {{0}};
        dlrt_pool_run(NULL, pool_count_part, &c, 3);   /* no pool: in order, here */
        check(c.runs[0] == 1 && c.runs[1] == 1 && c.runs[2] == 1, "no pool: parts ran %d %d %d",
              c.runs[0], c.runs[1], c.runs[2]);
    }
    dlrt_pool_destroy(NULL);
    finish();

#if defined(DLRT_DENSE_HAVE_SMALL) && defined(OPENBLAS_VERSION)
    start("dense_forward_small_where_blas_packs");
    {   /* Where OpenBLAS runs kernels that pack W on every call (any core
         * but SkylakeX, Cooperlake, SapphireRapids), a few rows run SMALL
         * however small the product (runtime/dense.c, dense_blas_small):
         * 784 x 256 at n = 2, 4, 8 (n in out <= 10^6) gives SMALL's bits. */
        const char *core = openblas_get_corename();
        const int unpacked = core && (!strcmp(core, "SkylakeX") || !strcmp(core, "Cooperlake") ||
                                      !strcmp(core, "SapphireRapids"));
        enum { IN = 784, OUT = 256, NMAX = 8 };
        float *x = malloc(sizeof *x * NMAX * IN), *w = malloc(sizeof *w * OUT * IN);
        float *y1 = malloc(sizeof *y1 * NMAX * OUT), *y2 = malloc(sizeof *y2 * NMAX * OUT);
        if (!x || !w || !y1 || !y2) {
            check(0, "out of memory");
            return;
        }
        for (int i = 0; i < NMAX * IN; i++)
            x[i] = (float)sin(0.31 * i);
        for (int i = 0; i < OUT * IN; i++)
            w[i] = (float)cos(0.17 * i) * 0.1f;
        for (int n = 2; !unpacked && n <= NMAX; n *= 2) {
            dlrt_dense_forward_f32(y1, x, w, n, OUT, IN);
            dlrt_dense_small_f32(y2, x, w, n, OUT, IN, 0);
            check(!memcmp(y1, y2, sizeof *y1 * (size_t)n * OUT),
                  "OpenBLAS core %s packs, yet n = %d did not run SMALL", core ? core : "?", n);
        }
        free(x), free(y1), free(y2), free(w);
    }
    finish();
#endif

    start("dense_forward_pool_bits");
    {   /* how a one-sample layer is split: not under 16 rows or 65536 products */
        dlrt_pool *pool = dlrt_pool_create(3, 0);
        check(pool && dlrt_dense_pool_parts(pool, 256, 784) == 3 &&
              dlrt_dense_pool_parts(pool, 16, 4096) == 2 && dlrt_dense_pool_parts(pool, 10, 128) == 1 &&
              dlrt_dense_pool_parts(pool, 64, 64) == 1 && dlrt_dense_pool_parts(pool, 256, 256) == 3 &&
              dlrt_dense_pool_parts(pool, 128, 256) == 1 && dlrt_dense_pool_parts(NULL, 256, 784) == 1,
              "dlrt_dense_pool_parts");
        dlrt_pool_destroy(pool);
    }
    for (size_t c = 0; c < sizeof SIZES / sizeof SIZES[0]; c++) {
        const int in = SIZES[c][0], out = SIZES[c][1];
        for (size_t k = 0; k < sizeof NS / sizeof NS[0]; k++) {
            const int n = NS[k];
            float *xf = malloc(sizeof *xf * (size_t)n * in), *wf = malloc(sizeof *wf * (size_t)out * in);
            float *y1 = malloc(sizeof *y1 * (size_t)n * out), *y2 = malloc(sizeof *y2 * (size_t)n * out);
            double *xd = malloc(sizeof *xd * (size_t)n * in), *wd = malloc(sizeof *wd * (size_t)out * in);
            double *d1 = malloc(sizeof *d1 * (size_t)n * out), *d2 = malloc(sizeof *d2 * (size_t)n * out);
            if (!xf || !wf || !y1 || !y2 || !xd || !wd || !d1 || !d2) {
                check(0, "out of memory");
                return;
            }
            for (int i = 0; i < n * in; i++)
                xd[i] = xf[i] = (float)sin(0.37 * i + c);
            for (int i = 0; i < out * in; i++)
                wd[i] = wf[i] = (float)cos(0.91 * i + 2 * c) * 0.25f;
            dlrt_dense_forward_f32(y1, xf, wf, n, out, in);
            dlrt_dense_forward_f64(d1, xd, wd, n, out, in);
            for (int threads = 2; threads <= 5; threads++) {
                dlrt_pool *pool = dlrt_pool_create(threads, -1);
                check(pool != NULL, "dlrt_pool_create(%d) failed", threads);
                if (!pool)
                    continue;
                for (int rep = 0; rep < 3; rep++) {
                    memset(y2, 0xff, sizeof *y2 * (size_t)n * out);   /* NaN: written, not added to */
                    memset(d2, 0xff, sizeof *d2 * (size_t)n * out);
                    dlrt_dense_forward_pool_f32(y2, xf, wf, n, out, in, pool);
                    dlrt_dense_forward_pool_f64(d2, xd, wd, n, out, in, pool);
                    check(!memcmp(y1, y2, sizeof *y1 * (size_t)n * out),
                          "f32 in %d out %d n %d, %d threads: not dense_forward's bits", in, out, n,
                          threads);
                    check(!memcmp(d1, d2, sizeof *d1 * (size_t)n * out),
                          "f64 in %d out %d n %d, %d threads: not dense_forward's bits", in, out, n,
                          threads);
                }
                dlrt_pool_destroy(pool);
            }
            memset(y2, 0xff, sizeof *y2 * (size_t)n * out);
            dlrt_dense_forward_pool_f32(y2, xf, wf, n, out, in, NULL);
            check(!memcmp(y1, y2, sizeof *y1 * (size_t)n * out), "no pool: not dense_forward's bits");
            /* One sample split by hand, as the generated forward on a pool
             * does: the parts of dlrt_dense_part_rows, each by
             * dlrt_dense_rows, cover every row once, in blocks of 8 but
             * the last part's rest, and give dense_forward's bits. */
            for (int parts = 1; n == 1 && parts <= 5; parts++) {
                int next = 0;
                memset(y2, 0xff, sizeof *y2 * (size_t)out);
                memset(d2, 0xff, sizeof *d2 * (size_t)out);
                for (int part = 0; part < parts; part++) {
                    int first, count;
                    dlrt_dense_part_rows(out, part, parts, &first, &count);
                    check(first == next && count >= 0 && first % 8 == 0 &&
                          (part + 1 == parts || count % 8 == 0),
                          "out %d, part %d of %d: rows %d + %d after %d", out, part, parts, first,
                          count, next);
                    next = first + count;
                    dlrt_dense_rows_f32(y2, xf, wf, out, in, first, count);
                    dlrt_dense_rows_f64(d2, xd, wd, out, in, first, count);
                }
                check(next == out, "out %d in %d parts: rows end at %d", out, parts, next);
                check(!memcmp(y1, y2, sizeof *y1 * (size_t)out) && !memcmp(d1, d2, sizeof *d1 * (size_t)out),
                      "in %d out %d, %d parts by dense_rows: not dense_forward's bits", in, out, parts);
            }
            free(xf), free(wf), free(y1), free(y2), free(xd), free(wd), free(d1), free(d2);
        }
    }
    finish();
}

int main(void)
{
    test_softmax_reference();
    test_softmax_extremes();
    test_softmax_backward();
    test_cross_entropy();
    test_regression();
    test_dropout();
    test_accuracy();
    test_bias();
    test_mask();
    test_activations();
    test_dense();
    test_dense_pool();
    test_pool_not_pinned();
    return failures > 0;
}
