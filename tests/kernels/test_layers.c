/* test_layers.c: pooling, normalization, upsampling and augmentation
 * kernels (runtime/kernels/pool.h, norm.h, upsample.h, augment.h) against
 * references written here from the definitions, in double; the backward
 * kernels against central finite differences of the forward ones (or the
 * dot-product identity for the linear ones); float against double; NaN
 * and -inf in max pooling; the augmentation draws against the stream
 * replayed by hand.
 *
 * Also + - * with broadcasting (broadcast.h) and the penalties
 * (penalty.h), by hand.
 *
 * Usage: test_layers. Prints "ok NAME" / "FAIL NAME: why" per test.
 */
#include "dlrt_kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../unit.h"

static double *vec(size_t n, unsigned seed)
{
    double *v = malloc((n ? n : 1) * sizeof *v);
    unsigned s = seed * 2654435761u + 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        v[i] = ((s >> 8) & 0xffff) / 32768.0 - 1.0;
    }
    return v;
}

static float *to_f32(const double *v, size_t n)
{
    float *f = malloc((n ? n : 1) * sizeof *f);
    for (size_t i = 0; i < n; i++)
        f[i] = (float)v[i];
    return f;
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static double maxerr(const double *a, const double *b, size_t n)
{
    double e = 0;
    for (size_t i = 0; i < n; i++) {
        const double d = fabs(a[i] - b[i]) / (fabs(b[i]) > 1 ? fabs(b[i]) : 1);
        e = d > e || isnan(d) ? d : e;
    }
    return e;
}

static double maxerr_f32(const float *a, const double *b, size_t n)
{
    double e = 0;
    for (size_t i = 0; i < n; i++) {
        const double d = fabs(a[i] - b[i]) / (fabs(b[i]) > 1 ? fabs(b[i]) : 1);
        e = d > e || isnan(d) ? d : e;
    }
    return e;
}

/* ---- pooling ------------------------------------------------------------ */

typedef struct pshape {
    int n, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw;
} pshape;

static const pshape PSHAPES[] = {
    /* n C H  W kh kw sh sw ph pw dh dw */
    {1, 1, 4, 4, 2, 2, 2, 2, 0, 0, 1, 1},
    {3, 2, 7, 6, 3, 3, 2, 2, 1, 1, 1, 1},
    {3, 2, 6, 7, 3, 2, 1, 1, 1, 1, 1, 1},
    {1, 3, 9, 9, 3, 3, 1, 2, 1, 0, 2, 2},   /* dilated */
    {3, 2, 8, 5, 2, 3, 3, 1, 1, 1, 3, 1},
    {3, 2, 1, 11, 1, 3, 1, 2, 0, 1, 1, 2},  /* 1d */
    {2, 2, 5, 5, 5, 5, 1, 1, 2, 2, 1, 1},
    {2, 3, 7, 9, 2, 2, 2, 2, 0, 0, 1, 1},   /* 2x2 stride 2 fast path, odd sizes */
};
#define NP (int)(sizeof PSHAPES / sizeof PSHAPES[0])

static void test_maxpool(void)
{
    char name[96];
    for (int k = 0; k < NP; k++) {
        const pshape *p = &PSHAPES[k];
        snprintf(name, sizeof name, "maxpool2d_%d", k);
        verdict v;
        start(&v, name, 10);
        const int OH = dlrt_pool_out(p->H, p->kh, p->sh, p->ph, p->dh),
                  OW = dlrt_pool_out(p->W, p->kw, p->sw, p->pw, p->dw);
        const size_t nx = (size_t)p->n * p->C * p->H * p->W, ny = (size_t)p->n * p->C * OH * OW;
        double *x = vec(nx, 3 + k), *y = vec(ny, 1), *dy = vec(ny, 4), *dx = vec(nx, 1);
        int32_t *am = malloc(ny * sizeof *am);
        for (size_t i = 0; i < nx; i++)   /* no ties: the values are multiples of 2^-15 */
            x[i] += i * 1e-8;
        dlrt_maxpool2d_forward_f64(y, am, x, p->n, p->C, p->H, p->W, p->kh, p->kw, p->sh, p->sw,
                                   p->ph, p->pw, p->dh, p->dw);
        for (int pl = 0; pl < p->n * p->C; pl++)
            for (int oy = 0; oy < OH; oy++)
                for (int ox = 0; ox < OW; ox++) {
                    double best = -INFINITY;
                    for (int i = 0; i < p->kh; i++)
                        for (int j = 0; j < p->kw; j++) {
                            const int iy = oy * p->sh - p->ph + i * p->dh,
                                      ix = ox * p->sw - p->pw + j * p->dw;
                            if (iy >= 0 && iy < p->H && ix >= 0 && ix < p->W &&
                                x[((size_t)pl * p->H + iy) * p->W + ix] > best)
                                best = x[((size_t)pl * p->H + iy) * p->W + ix];
                        }
                    const size_t o = ((size_t)pl * OH + oy) * OW + ox;
                    check(&v, y[o] == best, "y[%zu] = %g, want %g", o, y[o], best);
                    check(&v, x[(size_t)pl * p->H * p->W + am[o]] == best,
                          "argmax[%zu] = %d points at %g, not the max %g", o, am[o],
                          x[(size_t)pl * p->H * p->W + am[o]], best);
                }
        /* backward by finite differences of <y, dy> (values are distinct
         * by more than 2h, so the max is linear around x) */
        dlrt_maxpool2d_backward_f64(dx, dy, am, p->n, p->C, p->H, p->W, p->kh, p->kw, p->sh, p->sw,
                                    p->ph, p->pw, p->dh, p->dw, 0);
        double *yp = malloc(ny * sizeof *yp);
        for (size_t i = 0; i < nx; i += 1 + nx / 40) {
            const double h = 1e-9, keep = x[i];
            x[i] = keep + h;
            dlrt_maxpool2d_forward_f64(yp, am, x, p->n, p->C, p->H, p->W, p->kh, p->kw, p->sh,
                                       p->sw, p->ph, p->pw, p->dh, p->dw);
            const double up = dot(yp, dy, ny);
            x[i] = keep - h;
            dlrt_maxpool2d_forward_f64(yp, am, x, p->n, p->C, p->H, p->W, p->kh, p->kw, p->sh,
                                       p->sw, p->ph, p->pw, p->dh, p->dw);
            x[i] = keep;
            const double fd = (up - dot(yp, dy, ny)) / (2 * h);
            check(&v, fabs(fd - dx[i]) < 1e-5, "dx[%zu] = %.12g, finite differences %.12g", i,
                  dx[i], fd);
        }
        /* float: the same values and indices */
        float *xf = to_f32(x, nx), *yf = to_f32(y, ny);
        int32_t *amf = malloc(ny * sizeof *amf);
        dlrt_maxpool2d_forward_f64(y, am, x, p->n, p->C, p->H, p->W, p->kh, p->kw, p->sh, p->sw,
                                   p->ph, p->pw, p->dh, p->dw);
        dlrt_maxpool2d_forward_f32(yf, amf, xf, p->n, p->C, p->H, p->W, p->kh, p->kw, p->sh, p->sw,
                                   p->ph, p->pw, p->dh, p->dw);
        check(&v, !memcmp(am, amf, ny * sizeof *am), "float and double argmax differ");
        check(&v, maxerr_f32(yf, y, ny) < 1e-7, "float and double values differ");
        finish(&v);
        free(x), free(y), free(dy), free(dx), free(am), free(yp), free(xf), free(yf), free(amf);
    }

    verdict v;
    start(&v, "maxpool_nan_inf", 5);
    {
        /* one plane 2x4, windows 2x2 stride 2: [1 NaN | -inf -inf]
         *                                       [3  2  | -inf -inf] */
        float x[8] = {1, NAN, -INFINITY, -INFINITY, 3, 2, -INFINITY, -INFINITY}, y[2];
        int32_t am[2];
        dlrt_maxpool2d_forward_f32(y, am, x, 1, 1, 2, 4, 2, 2, 2, 2, 0, 0, 1, 1);
        check(&v, isnan(y[0]) && am[0] == 1, "a NaN in the window wins: %g at %d", y[0], am[0]);
        check(&v, y[1] == -INFINITY && am[1] == 2, "all -inf: -inf at its first element, %g at %d",
              y[1], am[1]);
        float dy[2] = {5, 7}, dx[8];
        dlrt_maxpool2d_backward_f32(dx, dy, am, 1, 1, 2, 4, 2, 2, 2, 2, 0, 0, 1, 1, 0);
        check(&v, dx[1] == 5 && dx[2] == 7 && dx[0] == 0 && dx[4] == 0,
              "backward routes dy to the argmax");
        /* padding is -inf: a window of negatives over the padding */
        double xn[4] = {-5, -6, -7, -8}, yn[9];
        int32_t an[9];
        dlrt_maxpool2d_forward_f64(yn, an, xn, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1);
        check(&v, yn[0] == -5 && yn[8] == -8 && yn[4] == -5, "padding taken for 0, not -inf: %g %g",
              yn[0], yn[8]);
        /* 1d: the same as 2d with H = 1 */
        double x1[7] = {1, 5, 2, 8, 3, 0, 4}, y1[3];
        int32_t a1[3];
        dlrt_maxpool1d_forward_f64(y1, a1, x1, 1, 1, 7, 3, 2, 0, 1);
        check(&v, y1[0] == 5 && y1[1] == 8 && y1[2] == 4 && a1[1] == 3, "maxpool1d %g %g %g", y1[0],
              y1[1], y1[2]);
        double d1[7], g1[3] = {1, 2, 3};
        dlrt_maxpool1d_backward_f64(d1, g1, a1, 1, 1, 7, 3, 2, 0, 1, 0);
        check(&v, d1[1] == 1 && d1[3] == 2 && d1[6] == 3 && d1[0] == 0, "maxpool1d backward");
    }
    finish(&v);
}

static void test_avgpool(void)
{
    char name[96];
    for (int k = 0; k < NP; k++) {
        const pshape *p = &PSHAPES[k];
        if (p->dh != 1 || p->dw != 1 || 2 * p->ph > p->kh || 2 * p->pw > p->kw)
            continue;   /* avg_pool2d has no dilation; pad <= kernel / 2 */
        snprintf(name, sizeof name, "avgpool2d_%d", k);
        verdict v;
        start(&v, name, 10);
        const int OH = dlrt_pool_out(p->H, p->kh, p->sh, p->ph, 1),
                  OW = dlrt_pool_out(p->W, p->kw, p->sw, p->pw, 1);
        const size_t nx = (size_t)p->n * p->C * p->H * p->W, ny = (size_t)p->n * p->C * OH * OW;
        double *x = vec(nx, 7 + k), *y = vec(ny, 1), *dy = vec(ny, 8), *dx = vec(nx, 1),
               *ry = malloc(ny * sizeof *ry);
        for (int pl = 0; pl < p->n * p->C; pl++)
            for (int oy = 0; oy < OH; oy++)
                for (int ox = 0; ox < OW; ox++) {
                    double sum = 0;
                    for (int i = 0; i < p->kh; i++)
                        for (int j = 0; j < p->kw; j++) {
                            const int iy = oy * p->sh - p->ph + i, ix = ox * p->sw - p->pw + j;
                            if (iy >= 0 && iy < p->H && ix >= 0 && ix < p->W)
                                sum += x[((size_t)pl * p->H + iy) * p->W + ix];
                        }
                    ry[((size_t)pl * OH + oy) * OW + ox] = sum / (p->kh * p->kw);
                }
        dlrt_avgpool2d_forward_f64(y, x, p->n, p->C, p->H, p->W, p->kh, p->kw, p->sh, p->sw,
                                   p->ph, p->pw);
        check(&v, maxerr(y, ry, ny) < 1e-15, "forward off by %g", maxerr(y, ry, ny));
        dlrt_avgpool2d_backward_f64(dx, dy, p->n, p->C, p->H, p->W, p->kh, p->kw, p->sh, p->sw,
                                    p->ph, p->pw, 0);
        const double a = dot(y, dy, ny), b = dot(x, dx, nx);
        check(&v, fabs(a - b) < 1e-12 * (1 + fabs(a)), "<y,dy> %.17g != <x,dx> %.17g", a, b);
        float *xf = to_f32(x, nx), *yf = to_f32(y, ny);
        dlrt_avgpool2d_forward_f32(yf, xf, p->n, p->C, p->H, p->W, p->kh, p->kw, p->sh, p->sw,
                                   p->ph, p->pw);
        check(&v, maxerr_f32(yf, ry, ny) < 1e-6, "float off by %g", maxerr_f32(yf, ry, ny));
        finish(&v);
        free(x), free(y), free(dy), free(dx), free(ry), free(xf), free(yf);
    }

    verdict v;
    start(&v, "global_avgpool", 5);
    {
        double x[2 * 3 * 4], y[6], dy[6] = {1, 2, 3, 4, 5, 6}, dx[24];
        for (int i = 0; i < 24; i++)
            x[i] = i;
        dlrt_global_avgpool_forward_f64(y, x, 2, 3, 4);
        for (int i = 0; i < 6; i++)
            check(&v, y[i] == 4 * i + 1.5, "y[%d] = %g", i, y[i]);
        dlrt_global_avgpool_backward_f64(dx, dy, 2, 3, 4, 0);
        dlrt_global_avgpool_backward_f64(dx, dy, 2, 3, 4, 1);
        for (int i = 0; i < 24; i++)
            check(&v, dx[i] == 2 * dy[i / 4] / 4, "dx[%d] = %g", i, dx[i]);
    }
    finish(&v);
}

/* ---- normalization ------------------------------------------------------ */

static void test_batchnorm(void)
{
    enum { N = 3, C = 2, IN = 5, X = N * C * IN };
    verdict v;
    start(&v, "batchnorm_forward_train", 5);
    double *x = vec(X, 21), *w = vec(C, 22), *b = vec(C, 23), y[X], mean[C], rstd[C];
    double rm[C] = {0.5, -1}, rv[C] = {2, 0.25};
    for (int i = 0; i < X; i++)
        x[i] = 3 * x[i] + 1;
    dlrt_batchnorm_forward_train_f64(y, mean, rstd, rm, rv, x, w, b, N, C, IN, 1e-5, 0.1, NULL);
    for (int c = 0; c < C; c++) {
        long double s = 0, q = 0;
        for (int o = 0; o < N; o++)
            for (int i = 0; i < IN; i++)
                s += x[(o * C + c) * IN + i];
        const long double m = s / (N * IN);
        for (int o = 0; o < N; o++)
            for (int i = 0; i < IN; i++)
                q += (x[(o * C + c) * IN + i] - m) * (x[(o * C + c) * IN + i] - m);
        const long double var = q / (N * IN), r = 1 / sqrtl(var + 1e-5L);
        check(&v, fabs(mean[c] - (double)m) < 1e-15, "mean[%d] %.17g, want %.17Lg", c, mean[c], m);
        check(&v, fabs(rstd[c] - (double)r) < 1e-14 * r, "rstd[%d] %.17g, want %.17Lg", c, rstd[c],
              r);
        const double want_rm = 0.9 * (c ? -1 : 0.5) + 0.1 * (double)m;
        const double want_rv = 0.9 * (c ? 0.25 : 2) + 0.1 * (double)(q / (N * IN - 1));
        check(&v, fabs(rm[c] - want_rm) < 1e-15, "running_mean[%d] %.17g, want %.17g", c, rm[c],
              want_rm);
        check(&v, fabs(rv[c] - want_rv) < 1e-14, "running_var[%d] %.17g, want %.17g (unbiased)",
              c, rv[c], want_rv);
        for (int o = 0; o < N; o++)
            for (int i = 0; i < IN; i++) {
                const int at = (o * C + c) * IN + i;
                const double want = (double)((x[at] - m) * r * w[c] + b[c]);
                check(&v, fabs(y[at] - want) < 1e-14, "y[%d] %.17g, want %.17g", at, y[at], want);
            }
    }
    /* float agrees */
    float *xf = to_f32(x, X), *wf = to_f32(w, C), *bf = to_f32(b, C), yf[X], mf[C], sf[C];
    dlrt_batchnorm_forward_train_f32(yf, mf, sf, NULL, NULL, xf, wf, bf, N, C, IN, 1e-5, 0.1, NULL);
    check(&v, maxerr_f32(yf, y, X) < 1e-5, "float off by %g", maxerr_f32(yf, y, X));
    finish(&v);

    start(&v, "batchnorm_forward_eval", 5);
    dlrt_batchnorm_forward_eval_f64(y, x, w, b, rm, rv, N, C, IN, 1e-5);
    for (int at = 0; at < X; at++) {
        const int c = (at / IN) % C;
        const double want = (x[at] - rm[c]) / sqrt(rv[c] + 1e-5) * w[c] + b[c];
        check(&v, fabs(y[at] - want) < 1e-14, "y[%d] %.17g, want %.17g", at, y[at], want);
    }
    dlrt_batchnorm_forward_eval_f64(y, x, NULL, NULL, NULL, NULL, N, C, IN, 0);
    check(&v, !memcmp(y, x, sizeof y), "no affine, no running statistics: y = x");
    finish(&v);

    start(&v, "batchnorm_backward", 10);
    {
        double *dy = vec(X, 24), dx[X], dw[C], db[C], yp[X], ym[X];
        dlrt_batchnorm_forward_train_f64(y, mean, rstd, NULL, NULL, x, w, b, N, C, IN, 1e-5, 0.1, NULL);
        dlrt_batchnorm_backward_f64(dx, dw, db, dy, x, mean, rstd, w, N, C, IN, 0, 0, NULL);
        const double h = 1e-6;
        for (int i = 0; i < X; i++) {
            const double keep = x[i];
            x[i] = keep + h;
            dlrt_batchnorm_forward_train_f64(yp, mean, rstd, NULL, NULL, x, w, b, N, C, IN, 1e-5,
                                             0.1, NULL);
            x[i] = keep - h;
            dlrt_batchnorm_forward_train_f64(ym, mean, rstd, NULL, NULL, x, w, b, N, C, IN, 1e-5,
                                             0.1, NULL);
            x[i] = keep;
            const double fd = (dot(yp, dy, X) - dot(ym, dy, X)) / (2 * h);
            check(&v, fabs(fd - dx[i]) < 1e-7 * (1 + fabs(fd)), "dx[%d] %.12g, fd %.12g", i, dx[i],
                  fd);
        }
        for (int c = 0; c < C; c++)
            for (int which = 0; which < 2; which++) {
                double *p = which ? b : w;
                const double keep = p[c];
                p[c] = keep + h;
                dlrt_batchnorm_forward_train_f64(yp, mean, rstd, NULL, NULL, x, w, b, N, C, IN,
                                                 1e-5, 0.1, NULL);
                p[c] = keep - h;
                dlrt_batchnorm_forward_train_f64(ym, mean, rstd, NULL, NULL, x, w, b, N, C, IN,
                                                 1e-5, 0.1, NULL);
                p[c] = keep;
                const double fd = (dot(yp, dy, X) - dot(ym, dy, X)) / (2 * h);
                const double got = which ? db[c] : dw[c];
                check(&v, fabs(fd - got) < 1e-7 * (1 + fabs(fd)), "%s[%d] %.12g, fd %.12g",
                      which ? "dbias" : "dweight", c, got, fd);
            }
        /* accumulate adds; NULL skips */
        double dx2[X], dw2[C], db2[C];
        memcpy(dx2, dx, sizeof dx);
        memcpy(dw2, dw, sizeof dw);
        memcpy(db2, db, sizeof db);
        dlrt_batchnorm_forward_train_f64(y, mean, rstd, NULL, NULL, x, w, b, N, C, IN, 1e-5, 0.1, NULL);
        dlrt_batchnorm_backward_f64(dx2, dw2, db2, dy, x, mean, rstd, w, N, C, IN, 1, 1, NULL);
        check(&v, fabs(dx2[3] - 2 * dx[3]) < 1e-14 && fabs(dw2[1] - 2 * dw[1]) < 1e-14 &&
                      fabs(db2[0] - 2 * db[0]) < 1e-14,
              "accumulate does not add");
        dlrt_batchnorm_backward_f64(dx2, NULL, NULL, dy, x, mean, rstd, NULL, N, C, IN, 0, 0, NULL);
        free(dy);
    }
    finish(&v);
    free(x), free(w), free(b), free(xf), free(wf), free(bf);
}

static void test_layernorm(void)
{
    enum { R = 4, K = 6, X = R * K };
    verdict v;
    start(&v, "layernorm_forward", 5);
    double *x = vec(X, 31), *w = vec(K, 32), *b = vec(K, 33), y[X], mean[R], rstd[R];
    dlrt_layernorm_forward_f64(y, mean, rstd, x, w, b, R, K, 1e-5);
    for (int r = 0; r < R; r++) {
        long double s = 0, q = 0;
        for (int j = 0; j < K; j++)
            s += x[r * K + j];
        const long double m = s / K;
        for (int j = 0; j < K; j++)
            q += (x[r * K + j] - m) * (x[r * K + j] - m);
        const long double rs = 1 / sqrtl(q / K + 1e-5L);
        check(&v, fabs(mean[r] - (double)m) < 1e-15 && fabs(rstd[r] - (double)rs) < 1e-14 * rs,
              "row %d: mean %.17g rstd %.17g", r, mean[r], rstd[r]);
        for (int j = 0; j < K; j++) {
            const double want = (double)((x[r * K + j] - m) * rs * w[j] + b[j]);
            check(&v, fabs(y[r * K + j] - want) < 1e-14, "y[%d] %.17g, want %.17g", r * K + j,
                  y[r * K + j], want);
        }
    }
    float *xf = to_f32(x, X), *wf = to_f32(w, K), *bf = to_f32(b, K), yf[X], mf[R], sf[R];
    dlrt_layernorm_forward_f32(yf, mf, sf, xf, wf, bf, R, K, 1e-5);
    check(&v, maxerr_f32(yf, y, X) < 1e-5, "float off by %g", maxerr_f32(yf, y, X));
    finish(&v);

    start(&v, "layernorm_backward", 10);
    double *dy = vec(X, 34), dx[X], dw[K], db[K], yp[X], ym[X], mm[R], ss[R];
    dlrt_layernorm_backward_f64(dx, dw, db, dy, x, mean, rstd, w, R, K, 0, 0);
    const double h = 1e-6;
    for (int i = 0; i < X + 2 * K; i++) {
        double *p = i < X ? &x[i] : i < X + K ? &w[i - X] : &b[i - X - K];
        const double got = i < X ? dx[i] : i < X + K ? dw[i - X] : db[i - X - K];
        const double keep = *p;
        *p = keep + h;
        dlrt_layernorm_forward_f64(yp, mm, ss, x, w, b, R, K, 1e-5);
        *p = keep - h;
        dlrt_layernorm_forward_f64(ym, mm, ss, x, w, b, R, K, 1e-5);
        *p = keep;
        const double fd = (dot(yp, dy, X) - dot(ym, dy, X)) / (2 * h);
        check(&v, fabs(fd - got) < 1e-7 * (1 + fabs(fd)), "gradient %d: %.12g, fd %.12g", i, got,
              fd);
    }
    double dw2[K];
    memcpy(dw2, dw, sizeof dw);
    dlrt_layernorm_backward_f64(NULL, dw2, NULL, dy, x, mean, rstd, w, R, K, 0, 1);
    check(&v, fabs(dw2[2] - 2 * dw[2]) < 1e-14, "acc_params does not add");
    finish(&v);
    free(x), free(w), free(b), free(xf), free(wf), free(bf), free(dy);
}

/* ---- upsampling --------------------------------------------------------- */

static void test_upsample(void)
{
    verdict v;
    start(&v, "upsample_nearest", 5);
    enum { N = 2, C = 2, H = 3, W = 2, SH = 2, SW = 3, X = N * C * H * W, Y = X * SH * SW };
    double *x = vec(X, 41), y[Y], *dy = vec(Y, 42), dx[X];
    dlrt_upsample_nearest2d_forward_f64(y, x, N, C, H, W, SH, SW);
    for (int pl = 0; pl < N * C; pl++)
        for (int oy = 0; oy < H * SH; oy++)
            for (int ox = 0; ox < W * SW; ox++)
                check(&v, y[(pl * H * SH + oy) * W * SW + ox] == x[(pl * H + oy / SH) * W + ox / SW],
                      "y[%d][%d][%d]", pl, oy, ox);
    dlrt_upsample_nearest2d_backward_f64(dx, dy, N, C, H, W, SH, SW, 0);
    const double a = dot(y, dy, Y), b = dot(x, dx, X);
    check(&v, fabs(a - b) < 1e-13, "<y,dy> %.17g != <x,dx> %.17g", a, b);
    dlrt_upsample_nearest2d_backward_f64(dx, dy, N, C, H, W, SH, SW, 1);
    check(&v, fabs(dot(x, dx, X) - 2 * a) < 1e-13, "accumulate does not add");
    /* 1d */
    double x1[3] = {1, 2, 3}, y1[6], d1[3];
    dlrt_upsample_nearest1d_forward_f64(y1, x1, 1, 1, 3, 2);
    check(&v, y1[0] == 1 && y1[1] == 1 && y1[4] == 3 && y1[5] == 3, "1d forward");
    dlrt_upsample_nearest1d_backward_f64(d1, y1, 1, 1, 3, 2, 0);
    check(&v, d1[0] == 2 && d1[1] == 4 && d1[2] == 6, "1d backward");
    finish(&v);
    free(x), free(dy);
}

/* ---- augmentation: the draws replayed by hand --------------------------- */

static void test_augment(void)
{
    enum { N = 4, C = 2, H = 5, W = 6, X = N * C * H * W };
    double *x = vec(X, 51), y[X], want[X];
    float *xf = to_f32(x, X), yf[X];
    dlrt_rng a, r;
    verdict v;

    start(&v, "random_crop", 5);
    dlrt_rng_seed(&a, 7);
    dlrt_rng_seed(&r, 7);
    dlrt_random_crop_f64(y, x, N, C, H, W, 2, &a);
    for (int s = 0; s < N; s++) {
        const int top = (int)(dlrt_rng_uniform(&r) * 5), left = (int)(dlrt_rng_uniform(&r) * 5);
        for (int c = 0; c < C; c++)
            for (int i = 0; i < H; i++)
                for (int j = 0; j < W; j++) {
                    const int iy = i + top - 2, ix = j + left - 2;
                    want[((s * C + c) * H + i) * W + j] =
                        iy >= 0 && iy < H && ix >= 0 && ix < W ? x[((s * C + c) * H + iy) * W + ix]
                                                               : 0;
                }
    }
    check(&v, !memcmp(y, want, sizeof y), "crops differ from the replayed draws");
    check(&v, !memcmp(&a, &r, sizeof a), "the kernel took other draws than two per sample");
    dlrt_rng_seed(&a, 7);
    dlrt_random_crop_f32(yf, xf, N, C, H, W, 2, &a);
    check(&v, maxerr_f32(yf, want, X) < 1e-7, "float crops differ");
    dlrt_rng_seed(&a, 7);
    dlrt_random_crop_f64(y, x, N, C, H, W, 0, &a);
    check(&v, !memcmp(y, x, sizeof y), "padding 0 changes the image");
    finish(&v);

    start(&v, "random_shift", 5);
    dlrt_rng_seed(&a, 8);
    dlrt_rng_seed(&r, 8);
    dlrt_random_shift_f64(y, x, N, C, H, W, 3, &a);
    for (int s = 0; s < N; s++) {
        const int dy = (int)(dlrt_rng_uniform(&r) * 7) - 3, dx = (int)(dlrt_rng_uniform(&r) * 7) - 3;
        for (int c = 0; c < C; c++)
            for (int i = 0; i < H; i++)
                for (int j = 0; j < W; j++) {
                    const int iy = i - dy, ix = j - dx;
                    want[((s * C + c) * H + i) * W + j] =
                        iy >= 0 && iy < H && ix >= 0 && ix < W ? x[((s * C + c) * H + iy) * W + ix]
                                                               : 0;
                }
    }
    check(&v, !memcmp(y, want, sizeof y), "shifts differ from the replayed draws");
    check(&v, !memcmp(&a, &r, sizeof a), "the kernel took other draws than two per sample");
    finish(&v);

    start(&v, "random_hflip", 5);
    dlrt_rng_seed(&a, 9);
    dlrt_rng_seed(&r, 9);
    dlrt_random_hflip_f64(y, x, N, C, H, W, 0.5, &a);
    for (int s = 0; s < N; s++) {
        const int flip = dlrt_rng_uniform(&r) < 0.5;
        for (int c = 0; c < C; c++)
            for (int i = 0; i < H; i++)
                for (int j = 0; j < W; j++)
                    want[((s * C + c) * H + i) * W + j] =
                        x[((s * C + c) * H + i) * W + (flip ? W - 1 - j : j)];
    }
    check(&v, !memcmp(y, want, sizeof y), "flips differ from the replayed draws");
    check(&v, !memcmp(&a, &r, sizeof a), "the kernel took other draws than one per sample");
    /* in place, odd width */
    double row[2 * 5] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    dlrt_rng_seed(&a, 1);
    dlrt_random_hflip_f64(row, row, 2, 1, 1, 5, 1.0, &a);
    check(&v, row[0] == 5 && row[2] == 3 && row[4] == 1 && row[5] == 10, "in place flip");
    dlrt_random_hflip_f64(row, row, 2, 1, 1, 5, 0.0, &a);
    check(&v, row[0] == 5 && row[9] == 6, "p = 0 flips");
    finish(&v);

    start(&v, "gaussian_noise", 5);
    dlrt_rng_seed(&a, 10);
    dlrt_rng_seed(&r, 10);
    dlrt_gaussian_noise_f64(y, x, X, 0.25, &a);
    for (int i = 0; i < X; i++)
        want[i] = x[i] + 0.25 * dlrt_rng_normal(&r);
    check(&v, !memcmp(y, want, sizeof y), "noise differs from the replayed draws");
    check(&v, !memcmp(&a, &r, sizeof a), "the kernel took other draws than one normal per value");
    dlrt_rng_seed(&a, 10);
    dlrt_rng_seed(&r, 10);
    dlrt_gaussian_noise_f32(yf, xf, X, 0.25, &a);
    for (int i = 0; i < X; i++)
        check(&v, yf[i] == xf[i] + (float)(0.25 * dlrt_rng_normal(&r)), "float noise [%d]", i);
    finish(&v);

    start(&v, "cutout", 5);
    dlrt_rng_seed(&a, 11);
    dlrt_rng_seed(&r, 11);
    dlrt_cutout_f64(y, x, N, C, H, W, 3, &a);
    for (int s = 0; s < N; s++) {
        const int cy = (int)(dlrt_rng_uniform(&r) * H), cx = (int)(dlrt_rng_uniform(&r) * W);
        for (int c = 0; c < C; c++)
            for (int i = 0; i < H; i++)
                for (int j = 0; j < W; j++) {
                    const int in = i >= cy - 1 && i <= cy + 1 && j >= cx - 1 && j <= cx + 1;
                    const int at = ((s * C + c) * H + i) * W + j;
                    want[at] = in ? 0 : x[at];
                }
    }
    check(&v, !memcmp(y, want, sizeof y), "cutout differs from the replayed draws");
    check(&v, !memcmp(&a, &r, sizeof a), "the kernel took other draws than two per sample");
    /* even side 4 around (0, 0): rows/cols -2..1 clipped to 0..1 */
    double img[16];
    for (int i = 0; i < 16; i++)
        img[i] = 1;
    dlrt_rng_seed(&a, 1);
    dlrt_cutout_f64(img, img, 1, 1, 4, 4, 4, &a);   /* in place */
    int zeros = 0;
    for (int i = 0; i < 16; i++)
        zeros += img[i] == 0;
    check(&v, zeros >= 4 && zeros <= 16, "a side-4 cutout on 4x4 zeroed %d values", zeros);
    finish(&v);
    free(x), free(xf);
}

/* a and b within tol relative to max(1, |b|). */
static int near(double a, double b, double tol)
{
    return fabs(a - b) <= tol * (fabs(b) > 1 ? fabs(b) : 1);
}

/* Broadcasting (kernels/broadcast.h): y = a * b over [2, 3, 4, 5] with
 * a [2, 1, 4, 1] (batched, size-1 dims) and b [3, 1, 5] (unbatched,
 * stride 0 along the batch and dim 2), against index arithmetic written
 * out here; backward's sums over the broadcast dims against plain loops;
 * a - b's sign and the add flag. */
static void test_broadcast(void)
{
    verdict v;
    start(&v, "broadcast", 10);
    enum { N = 2, C = 3, H = 4, W = 5 };
    double a[N * H], b[C * W], y[N * C * H * W], dy[N * C * H * W];
    for (int i = 0; i < N * H; i++)
        a[i] = 0.5 + 0.25 * i;
    for (int i = 0; i < C * W; i++)
        b[i] = -1.0 + 0.125 * i;
    for (int i = 0; i < N * C * H * W; i++)
        dy[i] = sin(0.1 * i);
    const int dims[4] = {N, C, H, W};
    const long sa[4] = {H, 0, 1, 0}, sb[4] = {0, W, 0, 1};
    dlrt_bcast_forward_f64(y, a, b, '*', 4, dims, sa, sb);
    double da[N * H], db[C * W], da_ref[N * H], db_ref[C * W];
    for (int i = 0; i < N * H; i++)
        da_ref[i] = 0;
    for (int i = 0; i < C * W; i++)
        db_ref[i] = 1;   /* the add flag keeps what is there */
    for (int s = 0; s < N; s++)
        for (int c = 0; c < C; c++)
            for (int h = 0; h < H; h++)
                for (int w = 0; w < W; w++) {
                    int i = ((s * C + c) * H + h) * W + w;
                    double av = a[s * H + h], bv = b[c * W + w];
                    check(&v, near(y[i], av * bv, 1e-15), "y[%d] = %g, want %g", i, y[i], av * bv);
                    da_ref[s * H + h] += dy[i] * bv;
                    db_ref[c * W + w] -= dy[i] * av;
                }
    dlrt_bcast_backward_f64(da, dy, b, 1, 0, 4, dims, sa, sb);
    for (int i = 0; i < C * W; i++)
        db[i] = 1;
    dlrt_bcast_backward_f64(db, dy, a, -1, 1, 4, dims, sb, sa);
    for (int i = 0; i < N * H; i++)
        check(&v, near(da[i], da_ref[i], 1e-12), "da[%d] = %g, want %g", i, da[i], da_ref[i]);
    for (int i = 0; i < C * W; i++)
        check(&v, near(db[i], db_ref[i], 1e-12), "db[%d] = %g, want %g", i, db[i], db_ref[i]);
    /* + with no other operand: da sums dy over the broadcast dims. */
    dlrt_bcast_backward_f64(da, dy, NULL, 1, 0, 4, dims, sa, sb);
    for (int s = 0; s < N; s++)
        for (int h = 0; h < H; h++) {
            double sum = 0;
            for (int c = 0; c < C; c++)
                for (int w = 0; w < W; w++)
                    sum += dy[((s * C + c) * H + h) * W + w];
            check(&v, near(da[s * H + h], sum, 1e-12), "sum da[%d] = %g, want %g", s * H + h,
                  da[s * H + h], sum);
        }
    finish(&v);
}

/* Penalties (kernels/penalty.h): values and gradients by hand. */
static void test_penalty(void)
{
    verdict v;
    start(&v, "penalty", 10);
    const float x[4] = {-2, 0, 1, 3};
    float loss[1], dx[4], dl[1] = {0.5f};
    dlrt_penalty_forward_f32(loss, x, 4, 1, 2.0);   /* l1 over a batch of 2 */
    check(&v, loss[0] == 3, "l1 = %g, want 3", loss[0]);
    dlrt_penalty_forward_f32(loss, x, 4, 2, 1.0);   /* l2 of a parameter */
    check(&v, loss[0] == 14, "l2 = %g, want 14", loss[0]);
    dlrt_penalty_forward_f32(loss, x, 4, 0, 4.0);   /* mean */
    check(&v, loss[0] == 0.5f, "mean = %g, want 0.5", loss[0]);
    dlrt_penalty_backward_f32(dx, x, dl, 4, 1, 2.0, 0);
    check(&v, dx[0] == -0.25f && dx[1] == 0 && dx[2] == 0.25f && dx[3] == 0.25f, "l1 grads %g %g %g %g",
          dx[0], dx[1], dx[2], dx[3]);
    dlrt_penalty_backward_f32(dx, x, dl, 4, 2, 1.0, 1);
    check(&v, dx[0] == -2.25f && dx[3] == 3.25f, "l2 grads added: %g %g", dx[0], dx[3]);
    finish(&v);
}

int main(void)
{
    test_maxpool();
    test_avgpool();
    test_batchnorm();
    test_layernorm();
    test_upsample();
    test_augment();
    test_broadcast();
    test_penalty();
    return unit_failures ? 1 : 0;
}
