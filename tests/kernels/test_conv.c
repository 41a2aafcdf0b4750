/* test_conv.c: the convolution kernels (runtime/kernels/conv.h) against a
 * naive direct convolution written here from the definition, in double,
 * over a grid of shapes (stride 1/2, padding 0/1/2 and asymmetric,
 * dilation 1/2/3, groups 1/2/depthwise, kernels 1/3/5 and non-square,
 * batch 1 and 3), under every scheme that applies; the backward
 * kernels against the reference's adjoint and by the dot-product identity
 * <conv(x), dy> = <x, dx> = <w, dw> (exact for a linear map, so it checks
 * that they are the forward's adjoints without trusting the reference);
 * float against double; accumulate adding to what is there.
 *
 * Usage: test_conv. Prints "ok NAME" / "FAIL NAME: why" per test.
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

/* The largest |a - b| relative to max(1, max |b|). */
static double maxerr(const double *a, const double *b, size_t n)
{
    double e = 0, m = 1;
    for (size_t i = 0; i < n; i++)
        m = fabs(b[i]) > m ? fabs(b[i]) : m;
    for (size_t i = 0; i < n; i++) {
        const double d = fabs(a[i] - b[i]);
        e = d > e || isnan(d) ? d : e;
    }
    return e / m;
}

static double maxerr_f32(const float *a, const double *b, size_t n)
{
    double *t = malloc((n ? n : 1) * sizeof *t);
    for (size_t i = 0; i < n; i++)
        t[i] = a[i];
    const double e = maxerr(t, b, n);
    free(t);
    return e;
}

/* ---- the naive reference: y[s][f][oy][ox] from the definition ---------- */

typedef struct shape {
    int n, C, H, W, F, kh, kw, sh, sw, pt, pb, pl, pr, dh, dw, g;
} shape;

/* Visits every (sample, filter, output, channel, tap) of a convolution
 * under q, handing the flat indices of y, x and w to `visit`. */
#define FOR_TAPS(q, BODY)                                                                     \
    for (int s = 0; s < (q)->n; s++)                                                          \
        for (int f = 0; f < (q)->F; f++)                                                      \
            for (int oy = 0; oy < (q)->OH; oy++)                                              \
                for (int ox = 0; ox < (q)->OW; ox++)                                          \
                    for (int c = 0; c < (q)->C / (q)->g; c++)                                 \
                        for (int i = 0; i < (q)->kh; i++)                                     \
                            for (int j = 0; j < (q)->kw; j++) {                               \
                                const int G = f / ((q)->F / (q)->g);                          \
                                const int cc = G * ((q)->C / (q)->g) + c;                     \
                                const int iy = oy * (q)->sh - (q)->pt + i * (q)->dh;          \
                                const int ix = ox * (q)->sw - (q)->pl + j * (q)->dw;          \
                                if (iy < 0 || iy >= (q)->H || ix < 0 || ix >= (q)->W)         \
                                    continue;                                                 \
                                const size_t yi =                                             \
                                    (((size_t)s * (q)->F + f) * (q)->OH + oy) * (q)->OW + ox; \
                                const size_t xi =                                             \
                                    (((size_t)s * (q)->C + cc) * (q)->H + iy) * (q)->W + ix;  \
                                const size_t wi =                                             \
                                    (((size_t)f * ((q)->C / (q)->g) + c) * (q)->kh + i) *     \
                                        (q)->kw +                                             \
                                    j;                                                        \
                                BODY;                                                         \
                            }

static void ref_forward(double *y, const double *x, const double *w, const dlrt_conv_geom *q)
{
    memset(y, 0, (size_t)q->n * q->F * q->OH * q->OW * sizeof *y);
    FOR_TAPS(q, y[yi] += w[wi] * x[xi]);
}

static void ref_data(double *dx, const double *dy, const double *w, const dlrt_conv_geom *q)
{
    memset(dx, 0, (size_t)q->n * q->C * q->H * q->W * sizeof *dx);
    FOR_TAPS(q, dx[xi] += w[wi] * dy[yi]);
}

static void ref_weight(double *dw, const double *dy, const double *x, const dlrt_conv_geom *q)
{
    memset(dw, 0, (size_t)q->F * (q->C / q->g) * q->kh * q->kw * sizeof *dw);
    FOR_TAPS(q, dw[wi] += dy[yi] * x[xi]);
}

static const shape SHAPES[] = {
    /* n  C  H  W  F kh kw sh sw pt pb pl pr dh dw g */
    {1, 1, 5, 5, 1, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1},
    {3, 2, 7, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {3, 3, 9, 8, 2, 5, 5, 2, 2, 2, 2, 2, 2, 1, 1, 1},
    {1, 4, 8, 8, 6, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 2},    /* dilation 2, groups 2 */
    {3, 4, 10, 9, 4, 3, 3, 1, 2, 3, 3, 3, 3, 3, 3, 4},   /* dilation 3, depthwise */
    {3, 4, 6, 6, 8, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 4},    /* depthwise, multiplier 2 */
    {3, 5, 6, 7, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1},    /* 1x1: DIRECT */
    {3, 4, 6, 7, 6, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 2},    /* 1x1 grouped */
    {1, 3, 7, 7, 2, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1},    /* 1x1 strided */
    {3, 2, 6, 8, 3, 2, 3, 1, 1, 0, 1, 1, 1, 1, 1, 1},    /* even kernel, `same`: 0/1 */
    {3, 2, 5, 9, 3, 2, 4, 1, 2, 1, 0, 2, 1, 1, 2, 1},    /* non-square, asymmetric */
    {3, 3, 1, 12, 4, 1, 3, 1, 1, 0, 0, 4, 0, 1, 2, 1},   /* causal conv1d, dilation 2 */
    {1, 2, 1, 10, 2, 1, 5, 1, 3, 0, 0, 2, 2, 1, 1, 2},   /* conv1d stride 3, groups 2 */
    {3, 2, 4, 4, 2, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 1},    /* kernel > input, padded */
    {3, 6, 5, 5, 6, 3, 3, 3, 3, 0, 2, 1, 0, 2, 1, 3},
    {2, 1, 12, 12, 6, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 1},  /* LeNet conv1-like: TAPS */
    {2, 3, 9, 8, 10, 5, 3, 1, 1, 0, 1, 0, 2, 1, 2, 1},   /* TAPS, two filter blocks */
};
#define NSHAPES (int)(sizeof SHAPES / sizeof SHAPES[0])

static dlrt_conv_geom geom_of(const shape *p)
{
    return dlrt_conv2d_geom(p->n, p->C, p->H, p->W, p->F, p->kh, p->kw, p->sh, p->sw, p->pt,
                            p->pb, p->pl, p->pr, p->dh, p->dw, p->g);
}

static const char *SCHEME[] = {"auto", "direct", "sample", "batch", "wide", "shift", "taps"};

/* Every core under every scheme that applies, against the reference, both
 * precisions, write and accumulate. */
static void test_cores(void)
{
    char name[128];
    for (int k = 0; k < NSHAPES; k++) {
        const shape *p = &SHAPES[k];
        for (int scheme = DLRT_CONV_DIRECT; scheme <= DLRT_CONV_TAPS; scheme++) {
            dlrt_conv_geom q = geom_of(p);
            if ((scheme == DLRT_CONV_DIRECT && q.scheme != DLRT_CONV_DIRECT) ||
                (scheme >= DLRT_CONV_WIDE && (q.sh != 1 || q.sw != 1)) ||
                (scheme == DLRT_CONV_TAPS && q.g != 1))
                continue;
            q.scheme = scheme;
            snprintf(name, sizeof name, "conv_core_%d_%s_n%d_C%d_%dx%d_F%d_k%dx%d_s%d%d_d%d%d_g%d",
                     k, SCHEME[scheme], p->n, p->C, p->H, p->W, p->F, p->kh, p->kw, p->sh, p->sw,
                     p->dh, p->dw, p->g);
            verdict v;
            start(&v, name, 30);
            const size_t nx = (size_t)q.n * q.C * q.H * q.W, ny = (size_t)q.n * q.F * q.OH * q.OW,
                         nw = (size_t)q.F * (q.C / q.g) * q.kh * q.kw,
                         nws = dlrt_conv_geom_workspace(&q);
            double *x = vec(nx, 1 + k), *w = vec(nw, 2 + k), *dy = vec(ny, 3 + k);
            double *y = vec(ny, 9), *dx = vec(nx, 9), *dw = vec(nw, 9), *ws = vec(nws, 9);
            double *ry = malloc(ny * sizeof *ry), *rdx = malloc(nx * sizeof *rdx),
                   *rdw = malloc(nw * sizeof *rdw);
            ref_forward(ry, x, w, &q);
            ref_data(rdx, dy, w, &q);
            ref_weight(rdw, dy, x, &q);

            dlrt_conv_forward_core_f64(y, ws, x, w, &q, 0);
            check(&v, maxerr(y, ry, ny) < 1e-13, "forward f64 off by %g", maxerr(y, ry, ny));
            dlrt_conv_data_core_f64(dx, ws, dy, w, &q, 0);
            check(&v, maxerr(dx, rdx, nx) < 1e-13, "data f64 off by %g", maxerr(dx, rdx, nx));
            dlrt_conv_weight_core_f64(dw, ws, dy, x, &q, 0);
            check(&v, maxerr(dw, rdw, nw) < 1e-13, "weight f64 off by %g", maxerr(dw, rdw, nw));

            /* the adjoint identities, independent of the reference */
            const double yy = dot(y, dy, ny), xx = dot(x, dx, nx), ww = dot(w, dw, nw);
            check(&v, fabs(yy - xx) <= 1e-12 * (1 + fabs(yy)), "<y,dy> %.17g != <x,dx> %.17g",
                  yy, xx);
            check(&v, fabs(yy - ww) <= 1e-12 * (1 + fabs(yy)), "<y,dy> %.17g != <w,dw> %.17g",
                  yy, ww);

            /* accumulate: y + conv(x) etc. */
            dlrt_conv_forward_core_f64(y, ws, x, w, &q, 1);
            dlrt_conv_data_core_f64(dx, ws, dy, w, &q, 1);
            dlrt_conv_weight_core_f64(dw, ws, dy, x, &q, 1);
            for (size_t i = 0; i < ny; i++)
                ry[i] *= 2;
            for (size_t i = 0; i < nx; i++)
                rdx[i] *= 2;
            for (size_t i = 0; i < nw; i++)
                rdw[i] *= 2;
            check(&v, maxerr(y, ry, ny) < 1e-13, "forward accumulate off by %g", maxerr(y, ry, ny));
            check(&v, maxerr(dx, rdx, nx) < 1e-13, "data accumulate off by %g",
                  maxerr(dx, rdx, nx));
            check(&v, maxerr(dw, rdw, nw) < 1e-13, "weight accumulate off by %g",
                  maxerr(dw, rdw, nw));
            for (size_t i = 0; i < ny; i++)
                ry[i] /= 2;
            for (size_t i = 0; i < nx; i++)
                rdx[i] /= 2;
            for (size_t i = 0; i < nw; i++)
                rdw[i] /= 2;

            /* float: the same within float rounding */
            float *xf = to_f32(x, nx), *wf = to_f32(w, nw), *dyf = to_f32(dy, ny);
            float *yf = to_f32(y, ny), *dxf = to_f32(dx, nx), *dwf = to_f32(dw, nw),
                  *wsf = to_f32(ws, nws);
            dlrt_conv_forward_core_f32(yf, wsf, xf, wf, &q, 0);
            dlrt_conv_data_core_f32(dxf, wsf, dyf, wf, &q, 0);
            dlrt_conv_weight_core_f32(dwf, wsf, dyf, xf, &q, 0);
            check(&v, maxerr_f32(yf, ry, ny) < 1e-5, "forward f32 off by %g",
                  maxerr_f32(yf, ry, ny));
            check(&v, maxerr_f32(dxf, rdx, nx) < 1e-5, "data f32 off by %g",
                  maxerr_f32(dxf, rdx, nx));
            check(&v, maxerr_f32(dwf, rdw, nw) < 1e-5, "weight f32 off by %g",
                  maxerr_f32(dwf, rdw, nw));
            finish(&v);
            free(x), free(w), free(dy), free(y), free(dx), free(dw), free(ws), free(ry),
                free(rdx), free(rdw);
            free(xf), free(wf), free(dyf), free(yf), free(dxf), free(dwf), free(wsf);
        }
    }
}

/* The public conv2d and conv1d calls: sizes, bias, workspace. */
static void test_public(void)
{
    verdict v;
    start(&v, "conv2d_public_calls", 30);
    for (int k = 0; k < NSHAPES; k++) {
        const shape *p = &SHAPES[k];
        const dlrt_conv_geom q = geom_of(p);
        const size_t nx = (size_t)q.n * q.C * q.H * q.W, ny = (size_t)q.n * q.F * q.OH * q.OW,
                     nw = (size_t)q.F * (q.C / q.g) * q.kh * q.kw;
        const size_t nws = dlrt_conv2d_workspace(p->n, p->C, p->H, p->W, p->F, p->kh, p->kw,
                                                 p->sh, p->sw, p->pt, p->pb, p->pl, p->pr, p->dh,
                                                 p->dw, p->g);
        check(&v, nws == dlrt_conv_geom_workspace(&q), "shape %d: workspace %zu", k, nws);
        check(&v, q.OH == (p->H + p->pt + p->pb - p->dh * (p->kh - 1) - 1) / p->sh + 1,
              "shape %d: OH %d", k, q.OH);
        double *x = vec(nx, 5 + k), *w = vec(nw, 6 + k), *b = vec(q.F, 7 + k), *dy = vec(ny, 8);
        double *y = vec(ny, 1), *dx = vec(nx, 1), *dw = vec(nw, 1), *ws = vec(nws, 1);
        double *ry = malloc(ny * sizeof *ry), *rdx = malloc(nx * sizeof *rdx),
               *rdw = malloc(nw * sizeof *rdw);
        ref_forward(ry, x, w, &q);
        for (size_t i = 0; i < ny; i++)
            ry[i] += b[(i / ((size_t)q.OH * q.OW)) % q.F];
        ref_data(rdx, dy, w, &q);
        ref_weight(rdw, dy, x, &q);
        dlrt_conv2d_forward_f64(y, ws, x, w, b, p->n, p->C, p->H, p->W, p->F, p->kh, p->kw, p->sh,
                                p->sw, p->pt, p->pb, p->pl, p->pr, p->dh, p->dw, p->g);
        check(&v, maxerr(y, ry, ny) < 1e-13, "shape %d: conv2d_forward off by %g", k,
              maxerr(y, ry, ny));
        dlrt_conv2d_backward_data_f64(dx, ws, dy, w, p->n, p->C, p->H, p->W, p->F, p->kh, p->kw,
                                      p->sh, p->sw, p->pt, p->pb, p->pl, p->pr, p->dh, p->dw,
                                      p->g, 0);
        check(&v, maxerr(dx, rdx, nx) < 1e-13, "shape %d: conv2d_backward_data off by %g", k,
              maxerr(dx, rdx, nx));
        dlrt_conv2d_backward_weight_f64(dw, ws, dy, x, p->n, p->C, p->H, p->W, p->F, p->kh, p->kw,
                                        p->sh, p->sw, p->pt, p->pb, p->pl, p->pr, p->dh, p->dw,
                                        p->g, 0);
        check(&v, maxerr(dw, rdw, nw) < 1e-13, "shape %d: conv2d_backward_weight off by %g", k,
              maxerr(dw, rdw, nw));
        if (p->H == 1 && p->kh == 1 && p->pt == 0 && p->pb == 0) {   /* the conv1d calls */
            const size_t n1 = dlrt_conv1d_workspace(p->n, p->C, p->W, p->F, p->kw, p->sw, p->pl,
                                                    p->pr, p->dw, p->g);
            check(&v, n1 == nws, "shape %d: conv1d workspace %zu, conv2d's %zu", k, n1, nws);
            dlrt_conv1d_forward_f64(y, ws, x, w, b, p->n, p->C, p->W, p->F, p->kw, p->sw, p->pl,
                                    p->pr, p->dw, p->g);
            dlrt_conv1d_backward_data_f64(dx, ws, dy, w, p->n, p->C, p->W, p->F, p->kw, p->sw,
                                          p->pl, p->pr, p->dw, p->g, 1);
            dlrt_conv1d_backward_weight_f64(dw, ws, dy, x, p->n, p->C, p->W, p->F, p->kw, p->sw,
                                            p->pl, p->pr, p->dw, p->g, 1);
            check(&v, maxerr(y, ry, ny) < 1e-13, "shape %d: conv1d_forward off by %g", k,
                  maxerr(y, ry, ny));
            for (size_t i = 0; i < nx; i++)
                rdx[i] *= 2;
            for (size_t i = 0; i < nw; i++)
                rdw[i] *= 2;
            check(&v, maxerr(dx, rdx, nx) < 1e-13, "shape %d: conv1d_backward_data off by %g",
                  k, maxerr(dx, rdx, nx));
            check(&v, maxerr(dw, rdw, nw) < 1e-13, "shape %d: conv1d_backward_weight off by %g",
                  k, maxerr(dw, rdw, nw));
        }
        free(x), free(w), free(b), free(dy), free(y), free(dx), free(dw), free(ws), free(ry),
            free(rdx), free(rdw);
    }
    finish(&v);

    /* causal conv1d: y[t] depends on x[<= t] only */
    start(&v, "conv1d_causal", 10);
    {
        enum { L = 9, K = 3, D = 2 };
        double x[L], w[K] = {0.5, -1, 2}, y[L], y2[L];
        double *ws = malloc((dlrt_conv1d_workspace(1, 1, L, 1, K, 1, D * (K - 1), 0, D, 1) + 1) *
                            sizeof *ws);
        for (int t = 0; t < L; t++)
            x[t] = t + 1;
        dlrt_conv1d_forward_f64(y, ws, x, w, NULL, 1, 1, L, 1, K, 1, D * (K - 1), 0, D, 1);
        x[5] = 100;
        dlrt_conv1d_forward_f64(y2, ws, x, w, NULL, 1, 1, L, 1, K, 1, D * (K - 1), 0, D, 1);
        for (int t = 0; t < 5; t++)   /* the past does not see x[5] */
            check(&v, y[t] == y2[t], "y[%d] %g then %g after x[5] changed", t, y[t], y2[t]);
        check(&v, y[5] != y2[5] && y[7] != y2[7], "y[5], y[7] unchanged after x[5] changed");
        /* y[8] = 0.5 x[4] - x[6] + 2 x[8], on the original x */
        check(&v, y[8] == 0.5 * 5 - 7 + 2 * 9, "y[8] = %g", y[8]);
        check(&v, y[0] == 2 * 1, "y[0] = %g (only the last tap sees x[0])", y[0]);
        free(ws);
    }
    finish(&v);
}

/* ---- conv_transpose2d -------------------------------------------------- */

typedef struct tshape {
    int n, C, H, W, F, kh, kw, sh, sw, ph, pw, oph, opw, dh, dw, g;
} tshape;

static const tshape TSHAPES[] = {
    /* n  C  H  W  F kh kw sh sw ph pw oph opw dh dw g */
    {1, 1, 3, 3, 1, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1},
    {3, 2, 4, 5, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1},
    {3, 4, 3, 4, 6, 4, 4, 2, 2, 1, 1, 0, 0, 1, 1, 2},     /* DCGAN-like, groups 2 */
    {1, 2, 5, 4, 2, 3, 2, 3, 2, 2, 0, 2, 1, 2, 3, 1},     /* dilated, output_padding */
    {3, 4, 4, 4, 4, 3, 3, 1, 1, 1, 1, 0, 0, 1, 1, 4},     /* depthwise */
    {3, 3, 5, 5, 2, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1},     /* 1x1 */
    {3, 2, 16, 16, 2, 3, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1},   /* large plane */
    {2, 6, 5, 5, 8, 3, 3, 1, 1, 1, 1, 0, 0, 2, 2, 2},     /* 4 channels a group: SHIFT */
};
#define NTSHAPES (int)(sizeof TSHAPES / sizeof TSHAPES[0])

/* y[s][f][oy][ox] += x[s][c][iy][ix] w[c][f'][i][j], oy = iy sh - ph + i dh:
 * conv_transpose2d from its definition (PyTorch's docs). */
static void ref_transpose(double *y, const double *x, const double *w, const tshape *p, int OH,
                          int OW)
{
    const int Cg = p->C / p->g, Fg = p->F / p->g;
    memset(y, 0, (size_t)p->n * p->F * OH * OW * sizeof *y);
    for (int s = 0; s < p->n; s++)
        for (int c = 0; c < p->C; c++)
            for (int iy = 0; iy < p->H; iy++)
                for (int ix = 0; ix < p->W; ix++)
                    for (int f = 0; f < Fg; f++)
                        for (int i = 0; i < p->kh; i++)
                            for (int j = 0; j < p->kw; j++) {
                                const int oy = iy * p->sh - p->ph + i * p->dh;
                                const int ox = ix * p->sw - p->pw + j * p->dw;
                                if (oy < 0 || oy >= OH || ox < 0 || ox >= OW)
                                    continue;
                                const int ff = (c / Cg) * Fg + f;
                                y[(((size_t)s * p->F + ff) * OH + oy) * OW + ox] +=
                                    x[(((size_t)s * p->C + c) * p->H + iy) * p->W + ix] *
                                    w[(((size_t)c * Fg + f) * p->kh + i) * p->kw + j];
                            }
}

static void test_transpose(void)
{
    char name[128];
    for (int k = 0; k < NTSHAPES; k++) {
        const tshape *p = &TSHAPES[k];
        snprintf(name, sizeof name, "conv_transpose2d_%d_n%d_C%d_%dx%d_F%d_k%dx%d_s%d%d_op%d%d_d%d%d_g%d",
                 k, p->n, p->C, p->H, p->W, p->F, p->kh, p->kw, p->sh, p->sw, p->oph, p->opw, p->dh,
                 p->dw, p->g);
        verdict v;
        start(&v, name, 30);
        const int OH = (p->H - 1) * p->sh - 2 * p->ph + p->dh * (p->kh - 1) + p->oph + 1;
        const int OW = (p->W - 1) * p->sw - 2 * p->pw + p->dw * (p->kw - 1) + p->opw + 1;
        const size_t nx = (size_t)p->n * p->C * p->H * p->W, ny = (size_t)p->n * p->F * OH * OW,
                     nw = (size_t)p->C * (p->F / p->g) * p->kh * p->kw;
        const size_t nws = dlrt_conv_transpose2d_workspace(p->n, p->C, p->H, p->W, p->F, p->kh,
                                                           p->kw, p->sh, p->sw, p->ph, p->pw,
                                                           p->oph, p->opw, p->dh, p->dw, p->g);
        double *x = vec(nx, 11 + k), *w = vec(nw, 12 + k), *b = vec(p->F, 13), *dy = vec(ny, 14);
        double *y = vec(ny, 1), *dx = vec(nx, 1), *dw = vec(nw, 1), *ws = vec(nws, 1);
        double *ry = malloc(ny * sizeof *ry), *rdx = malloc(nx * sizeof *rdx),
               *rdw = malloc(nw * sizeof *rdw);
        ref_transpose(ry, x, w, p, OH, OW);
        dlrt_conv_transpose2d_forward_f64(y, ws, x, w, NULL, p->n, p->C, p->H, p->W, p->F, p->kh,
                                          p->kw, p->sh, p->sw, p->ph, p->pw, p->oph, p->opw,
                                          p->dh, p->dw, p->g);
        check(&v, maxerr(y, ry, ny) < 1e-13, "forward off by %g", maxerr(y, ry, ny));
        dlrt_conv_transpose2d_forward_f64(y, ws, x, w, b, p->n, p->C, p->H, p->W, p->F, p->kh,
                                          p->kw, p->sh, p->sw, p->ph, p->pw, p->oph, p->opw,
                                          p->dh, p->dw, p->g);
        for (size_t i = 0; i < ny; i++)
            ry[i] += b[(i / ((size_t)OH * OW)) % p->F];
        check(&v, maxerr(y, ry, ny) < 1e-13, "forward with bias off by %g", maxerr(y, ry, ny));
        dlrt_conv_transpose2d_backward_data_f64(dx, ws, dy, w, p->n, p->C, p->H, p->W, p->F,
                                                p->kh, p->kw, p->sh, p->sw, p->ph, p->pw, p->oph,
                                                p->opw, p->dh, p->dw, p->g, 0);
        dlrt_conv_transpose2d_backward_weight_f64(dw, ws, dy, x, p->n, p->C, p->H, p->W, p->F,
                                                  p->kh, p->kw, p->sh, p->sw, p->ph, p->pw,
                                                  p->oph, p->opw, p->dh, p->dw, p->g, 0);
        /* the map is linear in x and in w: <T(x, w), dy> = <x, dx> = <w, dw> */
        for (size_t i = 0; i < ny; i++)
            ry[i] -= b[(i / ((size_t)OH * OW)) % p->F];
        const double yy = dot(ry, dy, ny), xx = dot(x, dx, nx), ww = dot(w, dw, nw);
        check(&v, fabs(yy - xx) <= 1e-12 * (1 + fabs(yy)), "<y,dy> %.17g != <x,dx> %.17g", yy,
              xx);
        check(&v, fabs(yy - ww) <= 1e-12 * (1 + fabs(yy)), "<y,dy> %.17g != <w,dw> %.17g", yy,
              ww);
        /* and entry by entry: the gradient of y . dy by finite differences
         * is exact (linear), so one perturbed entry of x and of w each */
        for (size_t t = 0; t < 3; t++) {
            const size_t ix = (t * 7919) % nx, iw = (t * 104729) % nw;
            x[ix] += 1;
            ref_transpose(ry, x, w, p, OH, OW);
            x[ix] -= 1;
            const double gx = dot(ry, dy, ny) - yy;
            check(&v, fabs(gx - dx[ix]) < 1e-10 * (1 + fabs(gx)), "dx[%zu] %.17g, want %.17g", ix,
                  dx[ix], gx);
            w[iw] += 1;
            ref_transpose(ry, x, w, p, OH, OW);
            w[iw] -= 1;
            const double gw = dot(ry, dy, ny) - yy;
            check(&v, fabs(gw - dw[iw]) < 1e-10 * (1 + fabs(gw)), "dw[%zu] %.17g, want %.17g", iw,
                  dw[iw], gw);
        }
        /* float agrees */
        float *xf = to_f32(x, nx), *wf = to_f32(w, nw), *yf = to_f32(y, ny), *wsf = to_f32(ws, nws);
        dlrt_conv_transpose2d_forward_f32(yf, wsf, xf, wf, NULL, p->n, p->C, p->H, p->W, p->F,
                                          p->kh, p->kw, p->sh, p->sw, p->ph, p->pw, p->oph,
                                          p->opw, p->dh, p->dw, p->g);
        ref_transpose(ry, x, w, p, OH, OW);
        check(&v, maxerr_f32(yf, ry, ny) < 1e-5, "forward f32 off by %g", maxerr_f32(yf, ry, ny));
        finish(&v);
        free(x), free(w), free(b), free(dy), free(y), free(dx), free(dw), free(ws), free(ry),
            free(rdx), free(rdw), free(xf), free(wf), free(yf), free(wsf);
    }
}

/* Plans: the schemes picked for the shapes the issue names. */
static void test_plan(void)
{
    verdict v;
    start(&v, "conv_plan", 5);
    dlrt_conv_geom a = dlrt_conv2d_geom(64, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 0, 0, 1, 1, 1);
    dlrt_conv_geom b = dlrt_conv2d_geom(64, 8, 9, 9, 8, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1);
    check(&v, a.OH == 10 && a.OW == 10, "LeNet conv2: %dx%d", a.OH, a.OW);
    check(&v, b.scheme == DLRT_CONV_DIRECT, "1x1 conv: scheme %d", b.scheme);
#ifdef DLRT_CONV_HAVE_TAPS
    check(&v, a.scheme == DLRT_CONV_TAPS, "LeNet conv2: scheme %d, not TAPS", a.scheme);
#endif
    /* a shape TAPS may take gets room for both TAPS and the GEMM scheme */
    dlrt_conv_geom gemm = a;
    gemm.scheme = dlrt_conv_plan_gemm(&a);
    check(&v, dlrt_conv_geom_workspace(&a) >= dlrt_conv_geom_workspace(&gemm) &&
                  dlrt_conv_geom_workspace(&a) >= dlrt_conv_taps_workspace(&a),
          "LeNet conv2: workspace %zu", dlrt_conv_geom_workspace(&a));
    check(&v, dlrt_conv_geom_workspace(&b) == 0, "1x1 conv needs no workspace");
    check(&v, dlrt_conv2d_out(5, 7, 1, 0, 0, 1) == 0, "kernel larger than input: no output");
    finish(&v);
}

int main(void)
{
    test_cores();
    test_public();
    test_transpose();
    test_plan();
    return unit_failures ? 1 : 0;
}
