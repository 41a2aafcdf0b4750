/* test_rnn.c: the recurrent kernels (runtime/kernels/rnn.h: rnn tanh and
 * relu, lstm, gru; forward and backpropagation through time) against
 *   - a naive per-step reference written here from PyTorch's equations, in
 *     double (forward: y, hT, cT);
 *   - central finite differences of that reference for every gradient
 *     (x, h0, c0, both weights, both biases) of the loss
 *     sum(y dy) + sum(hT dhT) + sum(cT dcT);
 *   - themselves: accumulate = 1 adds to what is there, dy NULL is dy = 0,
 *     NULL biases are zero biases, NULL gradient outputs are skipped;
 *   - the float kernels against the double ones;
 *   - the projected calls (the caller's input projection: a float
 *     sequence, one-hot tokens, an embedding) against the plain calls on
 *     the same x, both directions, accumulating or not;
 *   - PyTorch's nn.LSTM / nn.GRU / nn.RNN (both directions of a
 *     bidirectional module) from tests/kernels/rnn_ref.py's file, given as
 *     the argument: float64 within 1e-10, float32 within 1e-4.
 *
 * Usage: test_rnn [RNN_REF.txt]. Prints "ok NAME" / "FAIL NAME: why".
 */
/* The recurrent products in chunks of 8 gates (rnn.h picks 64 at the
 * reference sizes): most LSTM and GRU shapes here run several, the last
 * one short; the RNN's H <= 8 one. */
#define DLRT_RNN_CHUNK 8
#include "dlrt_kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../unit.h"

enum { RNN_TANH, RNN_RELU, LSTM, GRU };
static const char *const KIND_NAME[] = {"rnn_tanh", "rnn_relu", "lstm", "gru"};
static const int GATES[] = {1, 1, 4, 3};

static double *vec(size_t n, unsigned seed, double scale)
{
    double *v = malloc((n ? n : 1) * sizeof *v);
    unsigned s = seed * 2654435761u + 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        v[i] = scale * (((s >> 8) & 0xffff) / 32768.0 - 1.0);
    }
    return v;
}

static double *zeros(size_t n)
{
    return calloc(n ? n : 1, sizeof(double));
}

static double *copy_of(const double *v, size_t n)
{
    double *d = malloc((n ? n : 1) * sizeof *d);
    memcpy(d, v, n * sizeof *d);
    return d;
}

static float *to_f32(const double *v, size_t n)
{
    if (!v)
        return NULL;
    float *f = malloc((n ? n : 1) * sizeof *f);
    for (size_t i = 0; i < n; i++)
        f[i] = (float)v[i];
    return f;
}

/* max |a - b| / max(1, |b|) */
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

static size_t saved_size(int kind, int n, int T, int H)
{
    return kind == LSTM  ? dlrt_lstm_saved_size(n, T, H)
           : kind == GRU ? dlrt_gru_saved_size(n, T, H)
                         : dlrt_rnn_saved_size(n, T, H);
}

/* One entry point per precision for the four kinds (c0, cT, dc0, dcT are
 * the LSTM's only). */
#define DEFINE_CALLS(R, P)                                                                    \
    static void fwd_##P(int kind, R *y, R *hT, R *cT, R *saved, const R *x, const R *h0,      \
                        const R *c0, const R *wih, const R *whh, const R *bih, const R *bhh,  \
                        int n, int T, int D, int H, int rev)                                  \
    {                                                                                         \
        if (kind == LSTM)                                                                     \
            dlrt_lstm_forward_##P(y, hT, cT, saved, x, h0, c0, wih, whh, bih, bhh, n, T, D,   \
                                  H, rev);                                                    \
        else if (kind == GRU)                                                                 \
            dlrt_gru_forward_##P(y, hT, saved, x, h0, wih, whh, bih, bhh, n, T, D, H, rev);   \
        else                                                                                  \
            dlrt_rnn_forward_##P(y, hT, saved, x, h0, wih, whh, bih, bhh, n, T, D, H,         \
                                 kind == RNN_RELU, rev);                                      \
    }                                                                                         \
    static void bwd_##P(int kind, R *dx, R *dh0, R *dc0, R *dwih, R *dwhh, R *dbih, R *dbhh,  \
                        const R *dy, const R *dhT, const R *dcT, R *saved, const R *x,        \
                        const R *wih, const R *whh, int n, int T, int D, int H, int rev,      \
                        int ax, int aw)                                                       \
    {                                                                                         \
        if (kind == LSTM)                                                                     \
            dlrt_lstm_backward_##P(dx, dh0, dc0, dwih, dwhh, dbih, dbhh, dy, dhT, dcT, saved, \
                                   x, wih, whh, n, T, D, H, rev, ax, aw);                     \
        else if (kind == GRU)                                                                 \
            dlrt_gru_backward_##P(dx, dh0, dwih, dwhh, dbih, dbhh, dy, dhT, saved, x, wih,    \
                                  whh, n, T, D, H, rev, ax, aw);                              \
        else                                                                                  \
            dlrt_rnn_backward_##P(dx, dh0, dwih, dwhh, dbih, dbhh, dy, dhT, saved, x, wih,    \
                                  whh, n, T, D, H, kind == RNN_RELU, rev, ax, aw);            \
    }
DEFINE_CALLS(double, f64)
DEFINE_CALLS(float, f32)

static double sig(double a)
{
    return 1 / (1 + exp(-a));
}

/* The reference: PyTorch's equations one sample, one step, one unit at a
 * time. y [n,T,H] (may be NULL), hT, cT [n,H]. */
static void ref_forward(int kind, double *y, double *hT, double *cT, const double *x,
                        const double *h0, const double *c0, const double *wih,
                        const double *whh, const double *bih, const double *bhh, int n, int T,
                        int D, int H, int rev)
{
    const int G = GATES[kind];
    double *h = zeros(H), *c = zeros(H), *hnew = zeros(H), *pre = zeros((size_t)G * H * 2);
    for (int s = 0; s < n; s++) {
        for (int j = 0; j < H; j++) {
            h[j] = h0 ? h0[s * H + j] : 0;
            c[j] = c0 ? c0[s * H + j] : 0;
        }
        for (int k = 0; k < T; k++) {
            const int t = rev ? T - 1 - k : k;
            const double *xt = x + ((size_t)s * T + t) * D;
            /* pre[q] = W_ih x + b_ih, pre[G H + q] = W_hh h + b_hh */
            for (int q = 0; q < G * H; q++) {
                double a = bih ? bih[q] : 0, b = bhh ? bhh[q] : 0;
                for (int i = 0; i < D; i++)
                    a += wih[q * D + i] * xt[i];
                for (int i = 0; i < H; i++)
                    b += whh[q * H + i] * h[i];
                pre[q] = a;
                pre[G * H + q] = b;
            }
            const double *pi = pre, *ph = pre + G * H;
            for (int j = 0; j < H; j++) {
                if (kind == LSTM) {
                    const double i = sig(pi[j] + ph[j]), f = sig(pi[H + j] + ph[H + j]),
                                 g = tanh(pi[2 * H + j] + ph[2 * H + j]),
                                 o = sig(pi[3 * H + j] + ph[3 * H + j]);
                    c[j] = f * c[j] + i * g;
                    hnew[j] = o * tanh(c[j]);
                } else if (kind == GRU) {
                    const double r = sig(pi[j] + ph[j]), z = sig(pi[H + j] + ph[H + j]);
                    const double nn = tanh(pi[2 * H + j] + r * ph[2 * H + j]);
                    hnew[j] = (1 - z) * nn + z * h[j];
                } else {
                    const double a = pi[j] + ph[j];
                    hnew[j] = kind == RNN_RELU ? (a > 0 ? a : 0) : tanh(a);
                }
            }
            memcpy(h, hnew, H * sizeof *h);
            if (y)
                memcpy(y + ((size_t)s * T + t) * H, h, H * sizeof *h);
        }
        if (hT)
            memcpy(hT + (size_t)s * H, h, H * sizeof *h);
        if (cT)
            memcpy(cT + (size_t)s * H, c, H * sizeof *c);
    }
    free(h), free(c), free(hnew), free(pre);
}

typedef struct config {
    int kind, n, T, D, H, rev, has_h0, has_dhT;
} config;

/* One problem's data: inputs, the gradients flowing in, and sizes. */
typedef struct problem {
    config c;
    size_t nx, ny, nh, nwih, nwhh, nb;
    double *x, *h0, *c0, *wih, *whh, *bih, *bhh, *dy, *dhT, *dcT;
} problem;

static void make(problem *p, config c, unsigned seed)
{
    const int G = GATES[c.kind];
    p->c = c;
    p->nx = (size_t)c.n * c.T * c.D;
    p->ny = (size_t)c.n * c.T * c.H;
    p->nh = (size_t)c.n * c.H;
    p->nwih = (size_t)G * c.H * c.D;
    p->nwhh = (size_t)G * c.H * c.H;
    p->nb = (size_t)G * c.H;
    p->x = vec(p->nx, seed + 1, 1);
    p->wih = vec(p->nwih, seed + 2, 0.6);
    p->whh = vec(p->nwhh, seed + 3, 0.6);
    p->bih = vec(p->nb, seed + 4, 0.5);
    p->bhh = vec(p->nb, seed + 5, 0.5);
    p->h0 = c.has_h0 ? vec(p->nh, seed + 6, 0.5) : NULL;
    p->c0 = c.has_h0 && c.kind == LSTM ? vec(p->nh, seed + 7, 0.5) : NULL;
    p->dy = vec(p->ny, seed + 8, 1);
    p->dhT = c.has_dhT ? vec(p->nh, seed + 9, 1) : NULL;
    p->dcT = c.has_dhT && c.kind == LSTM ? vec(p->nh, seed + 10, 1) : NULL;
}

static void unmake(problem *p)
{
    free(p->x), free(p->wih), free(p->whh), free(p->bih), free(p->bhh), free(p->h0),
        free(p->c0), free(p->dy), free(p->dhT), free(p->dcT);
}

static double loss(const problem *p)
{
    const config c = p->c;
    double *y = zeros(p->ny), *hT = zeros(p->nh), *cT = zeros(p->nh);
    ref_forward(c.kind, y, hT, cT, p->x, p->h0, p->c0, p->wih, p->whh, p->bih, p->bhh, c.n, c.T,
                c.D, c.H, c.rev);
    double l = 0;
    for (size_t i = 0; i < p->ny; i++)
        l += y[i] * p->dy[i];
    for (size_t i = 0; i < p->nh; i++)
        l += (p->dhT ? hT[i] * p->dhT[i] : 0) + (p->dcT ? cT[i] * p->dcT[i] : 0);
    free(y), free(hT), free(cT);
    return l;
}

/* Gradients from the kernels: g[0..6] = dx, dh0, dc0, dwih, dwhh, dbih, dbhh
 * (dh0/dc0 only when the problem has them). */
typedef struct grads {
    double *g[7];
} grads;

static void kernel_grads(const problem *p, grads *out)
{
    const config c = p->c;
    double *saved = zeros(saved_size(c.kind, c.n, c.T, c.H));
    double *y = zeros(p->ny), *hT = zeros(p->nh), *cT = zeros(p->nh);
    fwd_f64(c.kind, y, hT, cT, saved, p->x, p->h0, p->c0, p->wih, p->whh, p->bih, p->bhh, c.n,
            c.T, c.D, c.H, c.rev);
    out->g[0] = zeros(p->nx);
    out->g[1] = p->h0 ? zeros(p->nh) : NULL;
    out->g[2] = p->c0 ? zeros(p->nh) : NULL;
    out->g[3] = zeros(p->nwih);
    out->g[4] = zeros(p->nwhh);
    out->g[5] = zeros(p->nb);
    out->g[6] = zeros(p->nb);
    bwd_f64(c.kind, out->g[0], out->g[1], out->g[2], out->g[3], out->g[4], out->g[5], out->g[6],
            p->dy, p->dhT, p->dcT, saved, p->x, p->wih, p->whh, c.n, c.T, c.D, c.H, c.rev, 0,
            0);
    free(saved), free(y), free(hT), free(cT);
}

static void free_grads(grads *g)
{
    for (int i = 0; i < 7; i++)
        free(g->g[i]);
}

static void name_of(char *buf, size_t size, const char *what, config c)
{
    snprintf(buf, size, "%s_%s_n%d_T%d_D%d_H%d%s%s%s", what, KIND_NAME[c.kind], c.n, c.T, c.D,
             c.H, c.rev ? "_reverse" : "", c.has_h0 ? "_h0" : "", c.has_dhT ? "_dhT" : "");
}

/* The forward kernel (double) against the reference. */
static void test_forward(const problem *p)
{
    const config c = p->c;
    char name[128];
    name_of(name, sizeof name, "forward", c);
    verdict v;
    start(&v, name, 20);
    double *saved = zeros(saved_size(c.kind, c.n, c.T, c.H));
    double *y = zeros(p->ny), *hT = zeros(p->nh), *cT = zeros(p->nh);
    double *ry = zeros(p->ny), *rhT = zeros(p->nh), *rcT = zeros(p->nh);
    ref_forward(c.kind, ry, rhT, rcT, p->x, p->h0, p->c0, p->wih, p->whh, p->bih, p->bhh, c.n,
                c.T, c.D, c.H, c.rev);
    fwd_f64(c.kind, y, hT, cT, saved, p->x, p->h0, p->c0, p->wih, p->whh, p->bih, p->bhh, c.n,
            c.T, c.D, c.H, c.rev);
    double e;
    e = maxerr(y, ry, p->ny), check(&v, e < 1e-12, "y off by %g", e);
    e = maxerr(hT, rhT, p->nh), check(&v, e < 1e-12, "hT off by %g", e);
    if (c.kind == LSTM)
        e = maxerr(cT, rcT, p->nh), check(&v, e < 1e-12, "cT off by %g", e);
    /* the outputs are optional: NULL y, hT, cT change nothing else */
    double *y2 = zeros(p->ny);
    fwd_f64(c.kind, NULL, NULL, NULL, saved, p->x, p->h0, p->c0, p->wih, p->whh, p->bih,
            p->bhh, c.n, c.T, c.D, c.H, c.rev);
    fwd_f64(c.kind, y2, NULL, NULL, saved, p->x, p->h0, p->c0, p->wih, p->whh, p->bih, p->bhh,
            c.n, c.T, c.D, c.H, c.rev);
    check(&v, !memcmp(y, y2, p->ny * sizeof *y), "y differs when hT and cT are NULL");
    /* no bias is zero bias */
    double *zb = zeros(p->nb);
    fwd_f64(c.kind, y, NULL, NULL, saved, p->x, p->h0, p->c0, p->wih, p->whh, NULL, NULL, c.n,
            c.T, c.D, c.H, c.rev);
    fwd_f64(c.kind, y2, NULL, NULL, saved, p->x, p->h0, p->c0, p->wih, p->whh, zb, zb, c.n, c.T,
            c.D, c.H, c.rev);
    check(&v, maxerr(y, y2, p->ny) == 0, "NULL biases differ from zero biases");
    finish(&v);
    free(saved), free(y), free(hT), free(cT), free(ry), free(rhT), free(rcT), free(y2), free(zb);
}

/* Every gradient against central differences of the reference's loss. */
static void test_gradients(problem *p)
{
    const config c = p->c;
    char name[128];
    name_of(name, sizeof name, "gradients", c);
    verdict v;
    start(&v, name, 30);
    grads k;
    kernel_grads(p, &k);
    double *const in[7] = {p->x, p->h0, p->c0, p->wih, p->whh, p->bih, p->bhh};
    const size_t cnt[7] = {p->nx, p->nh, p->nh, p->nwih, p->nwhh, p->nb, p->nb};
    static const char *const what[7] = {"dx", "dh0", "dc0", "dw_ih", "dw_hh", "db_ih", "db_hh"};
    const double eps = 1e-5;
    for (int a = 0; a < 7; a++) {
        if (!in[a])
            continue;
        double worst = 0;
        size_t at = 0;
        for (size_t i = 0; i < cnt[a]; i++) {
            const double keep = in[a][i];
            in[a][i] = keep + eps;
            const double lp = loss(p);
            in[a][i] = keep - eps;
            const double lm = loss(p);
            in[a][i] = keep;
            const double fd = (lp - lm) / (2 * eps);
            const double e = fabs(fd - k.g[a][i]) / (fabs(fd) > 1 ? fabs(fd) : 1);
            if (e > worst || isnan(e))
                worst = e, at = i;
        }
        check(&v, worst < 1e-7, "%s[%zu] = %.12g, finite differences say otherwise (error %g)",
              what[a], at, k.g[a][at], worst);
    }
    finish(&v);
    free_grads(&k);
}

/* accumulate = 1 adds; dy NULL is dy = 0; NULL gradient outputs are
 * skipped without touching the others. */
static void test_flags(const problem *p)
{
    const config c = p->c;
    char name[128];
    name_of(name, sizeof name, "flags", c);
    verdict v;
    start(&v, name, 20);
    grads k;
    kernel_grads(p, &k);
    const size_t cnt[7] = {p->nx, p->nh, p->nh, p->nwih, p->nwhh, p->nb, p->nb};
    double *saved = zeros(saved_size(c.kind, c.n, c.T, c.H));
    grads acc;
    for (int a = 0; a < 7; a++)
        acc.g[a] = k.g[a] ? vec(cnt[a], 50 + a, 1) : NULL;
    grads base;
    for (int a = 0; a < 7; a++)
        base.g[a] = k.g[a] ? copy_of(acc.g[a], cnt[a]) : NULL;
    fwd_f64(c.kind, NULL, NULL, NULL, saved, p->x, p->h0, p->c0, p->wih, p->whh, p->bih, p->bhh,
            c.n, c.T, c.D, c.H, c.rev);
    bwd_f64(c.kind, acc.g[0], acc.g[1], acc.g[2], acc.g[3], acc.g[4], acc.g[5], acc.g[6], p->dy,
            p->dhT, p->dcT, saved, p->x, p->wih, p->whh, c.n, c.T, c.D, c.H, c.rev, 1, 1);
    for (int a = 0; a < 7; a++)
        if (k.g[a]) {
            for (size_t i = 0; i < cnt[a]; i++)
                base.g[a][i] += k.g[a][i];
            double e = maxerr(acc.g[a], base.g[a], cnt[a]);
            check(&v, e < 1e-13, "accumulate: gradient %d off by %g", a, e);
        }
    /* dy NULL against explicit zeros, only dw_hh and dh0 wanted */
    double *zy = zeros(p->ny), *w1 = zeros(p->nwhh), *w2 = zeros(p->nwhh);
    double *h1 = zeros(p->nh), *h2 = zeros(p->nh);
    fwd_f64(c.kind, NULL, NULL, NULL, saved, p->x, p->h0, p->c0, p->wih, p->whh, p->bih, p->bhh,
            c.n, c.T, c.D, c.H, c.rev);
    bwd_f64(c.kind, NULL, h1, NULL, NULL, w1, NULL, NULL, NULL, p->dhT, p->dcT, saved, p->x,
            p->wih, p->whh, c.n, c.T, c.D, c.H, c.rev, 0, 0);
    fwd_f64(c.kind, NULL, NULL, NULL, saved, p->x, p->h0, p->c0, p->wih, p->whh, p->bih, p->bhh,
            c.n, c.T, c.D, c.H, c.rev);
    bwd_f64(c.kind, NULL, h2, NULL, NULL, w2, NULL, NULL, zy, p->dhT, p->dcT, saved, p->x,
            p->wih, p->whh, c.n, c.T, c.D, c.H, c.rev, 0, 0);
    check(&v, maxerr(w1, w2, p->nwhh) == 0 && maxerr(h1, h2, p->nh) == 0,
          "dy NULL differs from dy = 0");
    finish(&v);
    free_grads(&k), free_grads(&acc), free_grads(&base);
    free(saved), free(zy), free(w1), free(w2), free(h1), free(h2);
}

/* The float kernels against the double ones. */
static void test_f32(const problem *p)
{
    const config c = p->c;
    char name[128];
    name_of(name, sizeof name, "f32", c);
    verdict v;
    start(&v, name, 20);
    grads k;
    kernel_grads(p, &k);
    double *y = zeros(p->ny), *hT = zeros(p->nh), *cT = zeros(p->nh);
    ref_forward(c.kind, y, hT, cT, p->x, p->h0, p->c0, p->wih, p->whh, p->bih, p->bhh, c.n, c.T,
                c.D, c.H, c.rev);
    float *x = to_f32(p->x, p->nx), *h0 = to_f32(p->h0, p->nh), *c0 = to_f32(p->c0, p->nh),
          *wih = to_f32(p->wih, p->nwih), *whh = to_f32(p->whh, p->nwhh),
          *bih = to_f32(p->bih, p->nb), *bhh = to_f32(p->bhh, p->nb), *dy = to_f32(p->dy, p->ny),
          *dhT = to_f32(p->dhT, p->nh), *dcT = to_f32(p->dcT, p->nh);
    const size_t cnt[7] = {p->nx, p->nh, p->nh, p->nwih, p->nwhh, p->nb, p->nb};
    float *g[7];
    for (int a = 0; a < 7; a++)
        g[a] = k.g[a] ? calloc(cnt[a], sizeof(float)) : NULL;
    float *saved = calloc(saved_size(c.kind, c.n, c.T, c.H), sizeof(float));
    float *fy = calloc(p->ny, sizeof(float)), *fhT = calloc(p->nh, sizeof(float)),
          *fcT = calloc(p->nh, sizeof(float));
    fwd_f32(c.kind, fy, fhT, fcT, saved, x, h0, c0, wih, whh, bih, bhh, c.n, c.T, c.D, c.H,
            c.rev);
    bwd_f32(c.kind, g[0], g[1], g[2], g[3], g[4], g[5], g[6], dy, dhT, dcT, saved, x, wih, whh,
            c.n, c.T, c.D, c.H, c.rev, 0, 0);
    double e;
    e = maxerr_f32(fy, y, p->ny), check(&v, e < 1e-5, "y off by %g", e);
    e = maxerr_f32(fhT, hT, p->nh), check(&v, e < 1e-5, "hT off by %g", e);
    if (c.kind == LSTM)
        e = maxerr_f32(fcT, cT, p->nh), check(&v, e < 1e-5, "cT off by %g", e);
    for (int a = 0; a < 7; a++)
        if (g[a])
            e = maxerr_f32(g[a], k.g[a], cnt[a]), check(&v, e < 1e-4, "gradient %d off by %g", a,
                  e);
    finish(&v);
    free_grads(&k);
    for (int a = 0; a < 7; a++)
        free(g[a]);
    free(y), free(hT), free(cT), free(x), free(h0), free(c0), free(wih), free(whh), free(bih),
        free(bhh), free(dy), free(dhT), free(dcT), free(saved), free(fy), free(fhT), free(fcT);
}

/* ---- the projected calls ------------------------------------------------- */

/* The recurrence alone (steps 2 and 3 of rnn.h's projected calls). */
#define DEFINE_PROJECTED(R, P)                                                                \
    static void fwdp_##P(int kind, R *y, R *hT, R *cT, R *saved, const R *h0, const R *c0,    \
                         const R *whh, const R *bhh, int n, int T, int H, int rev)            \
    {                                                                                         \
        if (kind == LSTM)                                                                     \
            dlrt_lstm_forward_projected_##P(y, hT, cT, saved, h0, c0, whh, bhh, n, T, H, rev); \
        else if (kind == GRU)                                                                 \
            dlrt_gru_forward_projected_##P(y, hT, saved, h0, whh, bhh, n, T, H, rev);         \
        else                                                                                  \
            dlrt_rnn_forward_projected_##P(y, hT, saved, h0, whh, bhh, n, T, H,               \
                                           kind == RNN_RELU, rev);                            \
    }                                                                                         \
    static void bwdp_##P(int kind, R *dh0, R *dc0, R *dwhh, R *dbih, R *dbhh, const R *dy,    \
                         const R *dhT, const R *dcT, R *saved, const R *whh, int n, int T,    \
                         int H, int rev, int ax, int aw)                                      \
    {                                                                                         \
        if (kind == LSTM)                                                                     \
            dlrt_lstm_backward_projected_##P(dh0, dc0, dwhh, dbih, dbhh, dy, dhT, dcT, saved, \
                                             whh, n, T, H, rev, ax, aw);                      \
        else if (kind == GRU)                                                                 \
            dlrt_gru_backward_projected_##P(dh0, dwhh, dbih, dbhh, dy, dhT, saved, whh, n, T, \
                                            H, rev, ax, aw);                                  \
        else                                                                                  \
            dlrt_rnn_backward_projected_##P(dh0, dwhh, dbih, dbhh, dy, dhT, saved, whh, n, T, \
                                            H, kind == RNN_RELU, rev, ax, aw);                \
    }
DEFINE_PROJECTED(double, f64)
DEFINE_PROJECTED(float, f32)

enum { VIA_FLOAT, VIA_TOKENS, VIA_EMBEDDING };
static const char *const VIA_NAME[] = {"float", "tokens", "embedding"};

/* Everything one forward + backward gives: y, hT, cT, then the gradients
 * dx (or dtable), dh0, dc0, dw_ih, dw_hh, db_ih, db_hh. */
typedef struct outputs {
    double *o[10];
    size_t cnt[10];
} outputs;

static void free_outputs(outputs *o)
{
    for (int i = 0; i < 10; i++)
        free(o->o[i]);
}

/* The plain calls on x (accumulating into o's gradients with acc = 1). */
static void run_plain(const problem *p, const double *x, int D, const double *wih, outputs *o,
                      int acc)
{
    const config c = p->c;
    double *saved = zeros(saved_size(c.kind, c.n, c.T, c.H));
    fwd_f64(c.kind, o->o[0], o->o[1], o->o[2], saved, x, p->h0, p->c0, wih, p->whh, p->bih,
            p->bhh, c.n, c.T, D, c.H, c.rev);
    bwd_f64(c.kind, o->o[3], o->o[4], o->o[5], o->o[6], o->o[7], o->o[8], o->o[9], p->dy,
            p->dhT, p->dcT, saved, x, wih, p->whh, c.n, c.T, D, c.H, c.rev, acc, acc);
    free(saved);
}

/* The projected calls, the projection from `via`: x [n, T, D] (float),
 * tokens with w_ih [G, V] (tokens), tokens into table [V, E] with w_ih
 * [G, E] (embedding; o's dx slot is then dtable, row `padding` left). */
static void run_projected(const problem *p, int via, const double *x, const int32_t *tokens,
                          const double *table, int D, int V, int padding, const double *wih,
                          outputs *o, int acc)
{
    const config c = p->c;
    const int G = GATES[c.kind] * c.H, rows = c.n * c.T;
    double *saved = zeros(saved_size(c.kind, c.n, c.T, c.H));
    double *scratch = zeros(dlrt_rnn_tokens_scratch_size(V, G));
    if (via == VIA_FLOAT)
        dlrt_rnn_project_input_f64(saved, x, wih, p->bih, rows, D, G);
    else if (via == VIA_TOKENS)
        dlrt_rnn_project_tokens_f64(saved, scratch, tokens, wih, p->bih, rows, V, G);
    else
        dlrt_rnn_project_embedding_f64(saved, scratch, tokens, table, wih, p->bih, rows, V, D,
                                       G);
    fwdp_f64(c.kind, o->o[0], o->o[1], o->o[2], saved, p->h0, p->c0, p->whh, p->bhh, c.n, c.T,
             c.H, c.rev);
    bwdp_f64(c.kind, o->o[4], o->o[5], o->o[7], o->o[8], o->o[9], p->dy, p->dhT, p->dcT, saved,
             p->whh, c.n, c.T, c.H, c.rev, acc, acc);
    if (via == VIA_FLOAT)
        dlrt_rnn_input_grads_f64(o->o[3], o->o[6], saved, x, wih, rows, D, G, acc, acc);
    else if (via == VIA_TOKENS)
        dlrt_rnn_project_tokens_backward_f64(o->o[6], scratch, saved, tokens, rows, V, G, acc);
    else
        dlrt_rnn_project_embedding_backward_f64(o->o[3], o->o[6], scratch, saved, tokens, table,
                                                wih, rows, V, D, G, padding, acc, acc);
    free(saved), free(scratch);
}

static void make_outputs(outputs *o, const problem *p, size_t nx, size_t nwih, unsigned seed)
{
    const size_t cnt[10] = {p->ny, p->nh, p->nh, nx, p->nh, p->nh, nwih, p->nwhh, p->nb, p->nb};
    for (int i = 0; i < 10; i++) {
        o->cnt[i] = cnt[i];
        /* dh0/dc0 only with an initial state, cT and dc0 the LSTM's */
        const int absent = ((i == 4 || i == 5) && !p->h0) ||
                           ((i == 2 || i == 5) && p->c.kind != LSTM);
        o->o[i] = absent ? NULL : vec(cnt[i], seed + i, 1);
    }
}

/* The projected calls against the plain ones on the same x: the float
 * sequence path exactly; one-hot tokens (one outside the vocabulary: a
 * zero row) against the one-hot as floats, and an embedding against its
 * gathered rows (dtable: dx scattered back but into the padding row),
 * within 1e-12. Both with accumulate 0 and 1. An embedding of a token
 * outside the vocabulary is a NaN row. */
static void test_projected(const problem *p, int via)
{
    const config c = p->c;
    char name[160], what[128];
    snprintf(what, sizeof what, "projected_%s", VIA_NAME[via]);
    name_of(name, sizeof name, what, c);
    verdict v;
    start(&v, name, 20);
    const int G = GATES[c.kind] * c.H, rows = c.n * c.T, V = 7, E = c.D;
    /* tokens cover the vocabulary, for one-hot one (rows > 3) outside it */
    int32_t *tokens = malloc((size_t)rows * sizeof *tokens);
    for (int r = 0; r < rows; r++)
        tokens[r] = (r * 5 + 2) % V;
    if (rows > 3 && via == VIA_TOKENS)
        tokens[3] = V;
    const int padding = via == VIA_EMBEDDING ? 5 : -1;
    const int D = via == VIA_TOKENS ? V : c.D;
    double *wih = via == VIA_FLOAT ? copy_of(p->wih, p->nwih) : vec((size_t)G * D, 77, 0.6);
    double *table = vec((size_t)V * E, 78, 1);
    double *x = via == VIA_FLOAT ? copy_of(p->x, p->nx) : zeros((size_t)rows * D);
    for (int r = 0; via != VIA_FLOAT && r < rows; r++)
        for (int j = 0; j < D && tokens[r] >= 0 && tokens[r] < V; j++)
            x[(size_t)r * D + j] = via == VIA_TOKENS ? (j == tokens[r]) : table[tokens[r] * E + j];
    const size_t nx = (size_t)rows * D, nwih = (size_t)G * D;
    for (int acc = 0; acc < 2; acc++) {
        outputs want, got;
        make_outputs(&want, p, nx, nwih, 300);
        make_outputs(&got, p, via == VIA_EMBEDDING ? (size_t)V * E : nx, nwih, 300);
        if (via == VIA_EMBEDDING)   /* dx from zero, scattered into dtable below */
            memset(want.o[3], 0, nx * sizeof *want.o[3]);
        run_plain(p, x, D, wih, &want, acc);
        run_projected(p, via, x, tokens, table, D, V, padding, wih, &got, acc);
        if (via == VIA_EMBEDDING) {   /* got's start values (make_outputs) + dx per token */
            double *dtable = acc ? vec((size_t)V * E, 303, 1) : zeros((size_t)V * E);
            for (int r = 0; r < rows; r++)
                for (int j = 0; j < E && tokens[r] != padding; j++)
                    dtable[tokens[r] * E + j] += want.o[3][(size_t)r * E + j];
            free(want.o[3]);
            want.o[3] = dtable, want.cnt[3] = (size_t)V * E;
        }
        if (via == VIA_TOKENS) {
            /* the plain calls take a one-hot x as tokens when saved has
             * room: against their GEMMs, forced by a last row that is no
             * one-hot (a 1e-300 beside its 1) */
            double *xg = copy_of(x, nx);
            xg[nx - 1 - (tokens[rows - 1] == D - 1)] = 1e-300;
            outputs gemm;
            make_outputs(&gemm, p, nx, nwih, 300);
            run_plain(p, xg, D, wih, &gemm, acc);
            for (int i = 0; i < 10; i++)
                if (i != 3 && want.o[i]) {
                    const double e = maxerr(want.o[i], gemm.o[i], want.cnt[i]);
                    check(&v, e <= 1e-12, "accumulate %d: one-hot x: output %d off by %g from "
                          "the GEMMs'", acc, i, e);
                }
            free_outputs(&gemm), free(xg);
            free(want.o[3]), free(got.o[3]);   /* no dx for tokens */
            want.o[3] = got.o[3] = NULL;
        }
        static const char *const OUT[10] = {"y",  "hT",    "cT",    "dx",    "dh0",
                                            "dc0", "dw_ih", "dw_hh", "db_ih", "db_hh"};
        const double tol = via == VIA_FLOAT ? 0 : 1e-12;
        for (int i = 0; i < 10; i++)
            if (want.o[i]) {
                const double e = maxerr(got.o[i], want.o[i], want.cnt[i]);
                check(&v, e <= tol, "accumulate %d: %s off by %g", acc, OUT[i], e);
            }
        free_outputs(&want), free_outputs(&got);
    }
    if (via == VIA_EMBEDDING) {
        double *gates = zeros((size_t)rows * G), *scratch = zeros((size_t)V * G);
        tokens[rows - 1] = -1;
        dlrt_rnn_project_embedding_f64(gates, scratch, tokens, table, wih, p->bih, rows, V, E, G);
        check(&v, isnan(gates[(size_t)(rows - 1) * G]) && isnan(gates[(size_t)rows * G - 1]) &&
                      (rows == 1 || !isnan(gates[0])),
              "a token outside the vocabulary does not make a NaN row");
        free(gates), free(scratch);
    }
    finish(&v);
    free(tokens), free(wih), free(table), free(x);
}

static float *vec_f32(size_t n, unsigned seed, double scale)
{
    double *d = vec(n, seed, scale);
    float *f = to_f32(d, n);
    free(d);
    return f;
}

/* The float kernels' tokens path against their one-hot float path. */
static void test_tokens_f32(int kind)
{
    char name[64];
    snprintf(name, sizeof name, "projected_tokens_f32_%s", KIND_NAME[kind]);
    verdict v;
    start(&v, name, 20);
    const int n = 3, T = 5, V = 6, H = 4, G = GATES[kind] * H, rows = n * T;
    float *wih = vec_f32((size_t)G * V, 1, 0.6), *whh = vec_f32((size_t)G * H, 2, 0.6),
          *b = vec_f32((size_t)G, 3, 0.5), *dy = vec_f32((size_t)rows * H, 4, 1);
    int32_t tokens[15];
    float x[15 * 6] = {0};
    for (int r = 0; r < rows; r++)
        tokens[r] = (r * 7 + 1) % V, x[r * V + tokens[r]] = 1;
    float *s1 = calloc(saved_size(kind, n, T, H), sizeof *s1),
          *s2 = calloc(saved_size(kind, n, T, H), sizeof *s2),
          *scratch = calloc(dlrt_rnn_tokens_scratch_size(V, G), sizeof *scratch);
    float y1[15 * 4], y2[15 * 4], dw1[16 * 6], dw2[16 * 6], du1[16 * 4], du2[16 * 4];
    fwd_f32(kind, y1, NULL, NULL, s1, x, NULL, NULL, wih, whh, b, b, n, T, V, H, 1);
    bwd_f32(kind, NULL, NULL, NULL, dw1, du1, NULL, NULL, dy, NULL, NULL, s1, x, wih, whh, n, T,
            V, H, 1, 0, 0);
    dlrt_rnn_project_tokens_f32(s2, scratch, tokens, wih, b, rows, V, G);
    fwdp_f32(kind, y2, NULL, NULL, s2, NULL, NULL, whh, b, n, T, H, 1);
    bwdp_f32(kind, NULL, NULL, du2, NULL, NULL, dy, NULL, NULL, s2, whh, n, T, H, 1, 0, 0);
    dlrt_rnn_project_tokens_backward_f32(dw2, scratch, s2, tokens, rows, V, G, 0);
    double e = 0;
    for (int i = 0; i < rows * H; i++)
        e = fmax(e, fabs(y1[i] - y2[i]));
    for (int i = 0; i < G * V; i++)
        e = fmax(e, fabs(dw1[i] - dw2[i]));
    for (int i = 0; i < G * H; i++)
        e = fmax(e, fabs(du1[i] - du2[i]));
    check(&v, e < 1e-5, "tokens and one-hot floats differ by %g", e);
    finish(&v);
    free(wih), free(whh), free(b), free(dy), free(s1), free(s2), free(scratch);
}

/* Truncated BPTT: two chunks carried through hT/cT equal one long run. */
static void test_chunks(int kind)
{
    char name[64];
    snprintf(name, sizeof name, "chunks_%s", KIND_NAME[kind]);
    verdict v;
    start(&v, name, 20);
    const int n = 2, T = 6, D = 3, H = 4, G = GATES[kind], T1 = 2;
    double *x = vec((size_t)n * T * D, 3, 1), *wih = vec((size_t)G * H * D, 4, 0.6),
           *whh = vec((size_t)G * H * H, 5, 0.6), *b = vec((size_t)G * H, 6, 0.5);
    double *y = zeros((size_t)n * T * H), *hT = zeros((size_t)n * H), *cT = zeros((size_t)n * H);
    double *saved = zeros(saved_size(kind, n, T, H));
    fwd_f64(kind, y, hT, cT, saved, x, NULL, NULL, wih, whh, b, b, n, T, D, H, 0);
    /* the chunks' x: [n, T1, D] and [n, T - T1, D] */
    double *xa = zeros((size_t)n * T1 * D), *xb = zeros((size_t)n * (T - T1) * D);
    for (int s = 0; s < n; s++) {
        memcpy(xa + (size_t)s * T1 * D, x + (size_t)s * T * D, (size_t)T1 * D * sizeof *x);
        memcpy(xb + (size_t)s * (T - T1) * D, x + ((size_t)s * T + T1) * D,
               (size_t)(T - T1) * D * sizeof *x);
    }
    double *ha = zeros((size_t)n * H), *ca = zeros((size_t)n * H), *hb = zeros((size_t)n * H),
           *cb = zeros((size_t)n * H), *yb = zeros((size_t)n * (T - T1) * H);
    fwd_f64(kind, NULL, ha, ca, saved, xa, NULL, NULL, wih, whh, b, b, n, T1, D, H, 0);
    fwd_f64(kind, yb, hb, cb, saved, xb, ha, kind == LSTM ? ca : NULL, wih, whh, b, b, n, T - T1,
            D, H, 0);
    check(&v, maxerr(hb, hT, (size_t)n * H) < 1e-14, "hT after two chunks differs");
    if (kind == LSTM)
        check(&v, maxerr(cb, cT, (size_t)n * H) < 1e-14, "cT after two chunks differs");
    for (int s = 0; s < n; s++)
        check(&v,
              maxerr(yb + (size_t)s * (T - T1) * H, y + ((size_t)s * T + T1) * H,
                     (size_t)(T - T1) * H) < 1e-14,
              "the second chunk's y differs");
    finish(&v);
    free(x), free(wih), free(whh), free(b), free(y), free(hT), free(cT), free(saved), free(xa),
        free(xb), free(ha), free(ca), free(hb), free(cb), free(yb);
}

/* The float gates' exp, sigmoid and tanh (rnn.h's branch-free expf)
 * against libm in double: exp within 4 ulp over [-87, 88] (every 1/4096),
 * sigmoid and tanh within 3e-7 absolute over [-100, 100]; the edges. */
static void test_expf(void)
{
    verdict v;
    start(&v, "float_exp_sigmoid_tanh", 20);
    double ee = 0, es = 0, et = 0;
    float at_e = 0, at_s = 0, at_t = 0;
    for (long i = -87 * 4096L; i <= 88 * 4096L; i++) {
        const float x = (float)i / 4096;
        const double want = exp((double)x), e = fabs(dlrt_rnn_expf(x) - want) / want;
        if (e > ee || isnan(e))
            ee = e, at_e = x;
    }
    for (long i = -100 * 2048L; i <= 100 * 2048L; i++) {
        const float x = (float)i / 2048;
        const double s = fabs(dlrt_rnn_sigmoid_f32(x) - 1 / (1 + exp(-(double)x)));
        const double t = fabs(dlrt_rnn_tanh_f32(x) - tanh((double)x));
        if (s > es || isnan(s))
            es = s, at_s = x;
        if (t > et || isnan(t))
            et = t, at_t = x;
    }
    check(&v, ee < 4 * 0x1p-23, "exp(%.9g) off by %g relative", at_e, ee);
    check(&v, es < 3e-7, "sigmoid(%.9g) off by %g", at_s, es);
    check(&v, et < 3e-7, "tanh(%.9g) off by %g", at_t, et);
    check(&v, dlrt_rnn_expf(0) == 1 && dlrt_rnn_expf(-1000) == 0 && isinf(dlrt_rnn_expf(1000)) &&
                  dlrt_rnn_expf(-(float)HUGE_VAL) == 0 && isinf(dlrt_rnn_expf((float)HUGE_VAL)) &&
                  isnan(dlrt_rnn_expf((float)NAN)),
          "exp(0), exp(+-1000), exp(+-inf) or exp(NaN) wrong");
    check(&v, dlrt_rnn_tanh_f32((float)HUGE_VAL) == 1 && dlrt_rnn_tanh_f32(-(float)HUGE_VAL) == -1 &&
                  dlrt_rnn_sigmoid_f32((float)HUGE_VAL) == 1 &&
                  dlrt_rnn_sigmoid_f32(-(float)HUGE_VAL) == 0 &&
                  isnan(dlrt_rnn_tanh_f32((float)NAN)) && isnan(dlrt_rnn_sigmoid_f32((float)NAN)),
          "tanh or sigmoid at +-inf or NaN wrong");
    finish(&v);
    printf("# float exp max relative error %.3g (at %g), sigmoid %.3g (at %g), tanh %.3g (at %g)\n",
           ee, at_e, es, at_s, et, at_t);
}

/* ---- PyTorch's values ---------------------------------------------------- */

enum { MAXT = 40 };

typedef struct tensor {
    char name[32];
    size_t count;
    double *v;
} tensor;

typedef struct kase {
    char kind[16];
    int n, T, D, H, dirs, has_h0, has_dhT;
    tensor t[MAXT];
    int nt;
} kase;

static int read_case(FILE *in, kase *k)
{
    k->nt = 0;
    if (fscanf(in, "%15s %d %d %d %d %d %d %d", k->kind, &k->n, &k->T, &k->D, &k->H, &k->dirs,
               &k->has_h0, &k->has_dhT) != 8)
        return 0;
    for (;;) {
        char name[32];
        if (fscanf(in, "%31s", name) != 1)
            return 0;
        if (!strcmp(name, "end"))
            return 1;
        if (k->nt == MAXT)
            return 0;
        tensor *t = &k->t[k->nt++];
        snprintf(t->name, sizeof t->name, "%s", name);
        if (fscanf(in, "%zu", &t->count) != 1)
            return 0;
        t->v = malloc((t->count ? t->count : 1) * sizeof *t->v);
        for (size_t i = 0; i < t->count; i++)
            if (fscanf(in, "%lf", &t->v[i]) != 1)
                return 0;
    }
}

static const double *get(const kase *k, const char *name, int d)
{
    char full[40];
    snprintf(full, sizeof full, d >= 0 ? "%s%d" : "%s", name, d);
    for (int i = 0; i < k->nt; i++)
        if (!strcmp(k->t[i].name, full))
            return k->t[i].v;
    return NULL;
}

/* |got - want| <= tol max(1, max |want|) over count values (got in R). */
#define DEFINE_TORCH(R, P)                                                                    \
    static void cmp_##P(verdict *v, const char *what, int d, const R *got, const double *want, \
                        size_t count, size_t stride, size_t width, size_t wstride, double tol) \
    {                                                                                         \
        double m = 1, e = 0;                                                                  \
        size_t at = 0;                                                                        \
        for (size_t i = 0; i < count; i++)                                                    \
            m = fabs(want[(i / width) * wstride + i % width]) > m                             \
                    ? fabs(want[(i / width) * wstride + i % width])                           \
                    : m;                                                                      \
        for (size_t i = 0; i < count; i++) {                                                  \
            const double w = want[(i / width) * wstride + i % width];                         \
            const double g = got[(i / width) * stride + i % width];                           \
            if (fabs(g - w) > e || isnan(g))                                                  \
                e = fabs(g - w), at = i;                                                      \
        }                                                                                     \
        check(v, e <= tol * m, "direction %d: %s[%zu] off by %g of %g (tolerance %g)", d,     \
              what, at, e, m, tol);                                                           \
    }                                                                                         \
    static R *cp_##P(const double *src, size_t count)                                         \
    {                                                                                         \
        if (!src)                                                                             \
            return NULL;                                                                      \
        R *r = malloc((count ? count : 1) * sizeof *r);                                       \
        for (size_t i = 0; i < count; i++)                                                    \
            r[i] = (R)src[i];                                                                 \
        return r;                                                                             \
    }                                                                                         \
    static void torch_##P(verdict *v, const kase *k, int kind, double tol)                   \
    {                                                                                         \
        const int n = k->n, T = k->T, D = k->D, H = k->H, G = GATES[kind], dirs = k->dirs;   \
        const size_t nx = (size_t)n * T * D, nh = (size_t)n * H, ny = (size_t)n * T * H;     \
        R *x = cp_##P(get(k, "x", -1), nx), *dx = calloc(nx, sizeof *dx);                    \
        R *saved = calloc(saved_size(kind, n, T, H), sizeof *saved);                          \
        R *y = calloc(ny, sizeof *y), *hT = calloc(nh, sizeof *y), *cT = calloc(nh, sizeof *y); \
        R *dy = calloc(ny, sizeof *dy), *dh0 = calloc(nh, sizeof *y), *dc0 = calloc(nh, sizeof *y); \
        R *dwih = calloc((size_t)G * H * D, sizeof *y), *dwhh = calloc((size_t)G * H * H, sizeof *y); \
        R *dbih = calloc((size_t)G * H, sizeof *y), *dbhh = calloc((size_t)G * H, sizeof *y); \
        const double *tdy = get(k, "dy", -1);                                                 \
        for (int d = 0; d < dirs; d++) {                                                      \
            R *wih = cp_##P(get(k, "weight_ih", d), (size_t)G * H * D),                       \
              *whh = cp_##P(get(k, "weight_hh", d), (size_t)G * H * H),                       \
              *bih = cp_##P(get(k, "bias_ih", d), (size_t)G * H),                             \
              *bhh = cp_##P(get(k, "bias_hh", d), (size_t)G * H);                             \
            const double *th0 = get(k, "h0", -1), *tc0 = get(k, "c0", -1),                    \
                         *tdh = get(k, "dhn", -1), *tdc = get(k, "dcn", -1);                  \
            R *h0 = th0 ? cp_##P(th0 + d * nh, nh) : NULL,                                    \
              *c0 = tc0 ? cp_##P(tc0 + d * nh, nh) : NULL,                                    \
              *dhT = tdh ? cp_##P(tdh + d * nh, nh) : NULL,                                   \
              *dcT = tdc ? cp_##P(tdc + d * nh, nh) : NULL;                                   \
            for (size_t r = 0; r < (size_t)n * T; r++) /* this direction's half of dy */      \
                for (int j = 0; j < H; j++)                                                   \
                    dy[r * H + j] = (R)tdy[(r * dirs + d) * H + j];                           \
            memset(dh0, 0, nh * sizeof *dh0), memset(dc0, 0, nh * sizeof *dc0);              \
            fwd_##P(kind, y, hT, cT, saved, x, h0, c0, wih, whh, bih, bhh, n, T, D, H, d);    \
            cmp_##P(v, "y", d, y, get(k, "y", -1) + d * H, ny, H, H, (size_t)dirs * H, tol);  \
            cmp_##P(v, "h_n", d, hT, get(k, "hn", -1) + d * nh, nh, nh, nh, nh, tol);         \
            if (kind == LSTM)                                                                 \
                cmp_##P(v, "c_n", d, cT, get(k, "cn", -1) + d * nh, nh, nh, nh, nh, tol);     \
            /* dx sums both directions: accumulate_x = 1 (dh0, dc0 zeroed above) */          \
            bwd_##P(kind, dx, h0 ? dh0 : NULL, c0 ? dc0 : NULL, dwih, dwhh, dbih, dbhh, dy,   \
                    dhT, dcT, saved, x, wih, whh, n, T, D, H, d, d > 0, 0);                   \
            if (h0)                                                                           \
                cmp_##P(v, "dh0", d, dh0, get(k, "dh0", -1) + d * nh, nh, nh, nh, nh, tol);   \
            if (c0)                                                                           \
                cmp_##P(v, "dc0", d, dc0, get(k, "dc0", -1) + d * nh, nh, nh, nh, nh, tol);   \
            const size_t nw = (size_t)G * H * D, nu = (size_t)G * H * H, nb = (size_t)G * H;  \
            cmp_##P(v, "dweight_ih", d, dwih, get(k, "dweight_ih", d), nw, nw, nw, nw, tol);  \
            cmp_##P(v, "dweight_hh", d, dwhh, get(k, "dweight_hh", d), nu, nu, nu, nu, tol);  \
            cmp_##P(v, "dbias_ih", d, dbih, get(k, "dbias_ih", d), nb, nb, nb, nb, tol);      \
            cmp_##P(v, "dbias_hh", d, dbhh, get(k, "dbias_hh", d), nb, nb, nb, nb, tol);      \
            free(wih), free(whh), free(bih), free(bhh), free(h0), free(c0), free(dhT),        \
                free(dcT);                                                                    \
        }                                                                                     \
        cmp_##P(v, "dx", -1, dx, get(k, "dx", -1), nx, nx, nx, nx, tol);                      \
        free(x), free(dx), free(saved), free(y), free(hT), free(cT), free(dy), free(dh0),     \
            free(dc0), free(dwih), free(dwhh), free(dbih), free(dbhh);                        \
    }
DEFINE_TORCH(double, f64)
DEFINE_TORCH(float, f32)

static void test_torch(const char *path)
{
    FILE *in = fopen(path, "r");
    verdict v;
    int number = 0;
    kase k;
    while (in && read_case(in, &k)) {
        int kind = -1;
        for (int i = 0; i < 4; i++)
            if (!strcmp(k.kind, KIND_NAME[i]))
                kind = i;
        for (int prec = 0; prec < 2; prec++) {
            char name[128];
            snprintf(name, sizeof name, "torch_%s_%s_n%d_T%d_D%d_H%d_dirs%d%s%s", k.kind,
                     prec ? "f32" : "f64", k.n, k.T, k.D, k.H, k.dirs, k.has_h0 ? "_h0" : "",
                     k.has_dhT ? "_dhT" : "");
            start(&v, name, 20);
            check(&v, kind >= 0, "unknown kind %s", k.kind);
            if (kind >= 0 && prec == 0)
                torch_f64(&v, &k, kind, 1e-10);
            else if (kind >= 0)
                torch_f32(&v, &k, kind, 1e-4);
            finish(&v);
        }
        number++;
        for (int i = 0; i < k.nt; i++)
            free(k.t[i].v);
    }
    if (in)
        fclose(in);
    start(&v, "torch_cases_read", 1);
    check(&v, number >= 24, "only %d cases read from %s", number, path);
    finish(&v);
}

int main(int argc, char **argv)
{
    static const config SHAPES[] = {
        /* kind n T D H rev h0 dhT: filled per kind below */
        {0, 2, 4, 3, 5, 0, 1, 1}, {0, 2, 4, 3, 5, 1, 1, 1}, {0, 1, 1, 2, 3, 0, 0, 0},
        {0, 1, 1, 2, 3, 1, 1, 1}, {0, 3, 3, 2, 2, 1, 0, 1}, {0, 1, 5, 3, 4, 1, 1, 0},
        {0, 3, 6, 2, 3, 0, 0, 1},
        /* n T >= 4 (H + 1): the LSTM keeps w_hh^T in saved (smaller ones
         * multiply by w_hh transposed) */
        {0, 4, 7, 3, 2, 1, 1, 1}, {0, 3, 8, 2, 5, 0, 1, 1},
    };
    unsigned seed = 100;
    for (int kind = 0; kind < 4; kind++)
        for (size_t i = 0; i < sizeof SHAPES / sizeof SHAPES[0]; i++) {
            config c = SHAPES[i];
            c.kind = kind;
            problem p;
            make(&p, c, seed += 20);
            test_forward(&p);
            test_gradients(&p);
            test_flags(&p);
            test_f32(&p);
            for (int via = VIA_FLOAT; via <= VIA_EMBEDDING; via++)
                test_projected(&p, via);
            unmake(&p);
        }
    for (int kind = 0; kind < 4; kind++)
        test_chunks(kind), test_tokens_f32(kind);
    test_expf();
    if (argc > 1)
        test_torch(argv[1]);
    return unit_failures ? 1 : 0;
}
