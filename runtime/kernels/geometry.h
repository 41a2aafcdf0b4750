/* kernels/geometry.h: the shapes of the convolution and pooling kernels,
 * precision-free and plain C99 with nothing but <stddef.h>: output sizes,
 * the scheme a convolution runs under and the workspace it needs. Not a
 * template: it has an include guard, and the compiler may include it too
 * (to size a convolution's workspace statically, with the very function
 * the kernels use), as runtime/kernels/geometry.h.
 */
#ifndef DLRT_KERNELS_GEOMETRY_H
#define DLRT_KERNELS_GEOMETRY_H

#include <stddef.h>

enum {
    DLRT_CONV_AUTO = 0,
    DLRT_CONV_DIRECT = 1,
    DLRT_CONV_SAMPLE = 2,
    DLRT_CONV_BATCH = 3,
    DLRT_CONV_WIDE = 4,
    DLRT_CONV_SHIFT = 5,
    DLRT_CONV_TAPS = 6
};

/* One convolution as the cores see it: x [n, C, H, W] -> y [n, F, OH, OW],
 * weight [F, C/g, kh, kw]; input row iy = oy*sh - pt + i*dh. */
typedef struct dlrt_conv_geom {
    int n, C, H, W, F, kh, kw, sh, sw, pt, pl, dh, dw, g, OH, OW;
    int scheme;              /* DLRT_CONV_*, set by dlrt_conv_plan */
} dlrt_conv_geom;

/* The conv2d output size along one dimension (floor), as PyTorch. */
static inline int dlrt_conv2d_out(int size, int k, int stride, int pad_lo, int pad_hi, int dil)
{
    const int span = size + pad_lo + pad_hi - dil * (k - 1) - 1;
    return span < 0 ? 0 : span / stride + 1;
}

/* SAMPLE's column matrix holds this many output rows at a time: about
 * DLRT_CONV_CHUNK values (C kh kw x rows x OW, at least one row), so that
 * im2col writes it into the cache the GEMM then reads it from, and the
 * workspace stays small (a 64-channel 3x3 layer on 32x32 would take 2.4 M
 * values per sample). Measured on that layer (bench/conv_kernels.c, ms for
 * forward and both gradients): 220 at 16 K values, 162 at 64 K, 145 at
 * 256 K, 150 unchunked. tests/kernels also builds with a tiny chunk. */
#ifndef DLRT_CONV_CHUNK
#define DLRT_CONV_CHUNK 262144
#endif

/* The scheme for a geometry, from bench/conv_kernels.c (one thread,
 * float, batch 64; forward + input gradient + weight gradient, ms; the
 * machine is shared with other jobs, so +-15% from run to run):
 *                                       SAMPLE   WIDE  SHIFT  BATCH
 *   LeNet 1->6 5x5 pad 2 on 28x28         1.18   0.90   1.13   2.80
 *   LeNet 6->16 5x5 on 14x14              2.10   1.74   1.49   3.16
 *   64->64 3x3 pad 1 on 8x8              13.1   13.0   10.0   14.9
 *   64->64 3x3 pad 1 on 32x32           136    190    144    210
 *   depthwise 32 3x3 pad 1 on 16x16       5.82   4.30   4.04   9.24
 *   16->16 3x3 dilation 2 on 28x28       25.4   13.7    8.52  21.4
 *   conv1d 32->32 k3 dilation 4, L 256    3.49   3.73   3.24   5.28
 *   64->64 1x1 on 16x16 (DIRECT 4.00)     5.58   6.86   6.19   6.82
 * so: DIRECT for plain 1x1 convolutions; for stride 1, SHIFT when a GEMM
 * gets a K of at least 4 channels per group and the padded sample and
 * wide output stay within DLRT_CONV_SHIFT_MAX values (the 32x32 layer,
 * beyond it, came out even or worse in every run), else WIDE when its
 * column matrix fits in a chunk; SAMPLE otherwise. BATCH is kept (and
 * tested) but never picked: the copies to and from [F, n OH OW] and the
 * n times larger column matrix cost more than the one wide GEMM gains.
 * Plain loops for one channel per group (depthwise) were tried and
 * dropped: 1.21 ms forward and 5.9 ms weight gradient against WIDE's 1.14
 * and 1.31 on the depthwise layer (the compiler does not vectorize the
 * strided reductions without -ffast-math). */
#ifndef DLRT_CONV_SHIFT_MAX
#define DLRT_CONV_SHIFT_MAX 65536
#endif
static inline int dlrt_conv_plan_gemm(const dlrt_conv_geom *q)
{
    if (q->kh == 1 && q->kw == 1 && q->sh == 1 && q->sw == 1 && q->pt == 0 && q->pl == 0 &&
        q->OH == q->H && q->OW == q->W)
        return DLRT_CONV_DIRECT;
    if (q->sh == 1 && q->sw == 1) {
        const size_t Wp = (size_t)q->OW + (size_t)(q->kw - 1) * q->dw;
        const size_t Hp = (size_t)q->OH + (size_t)(q->kh - 1) * q->dh, L = (size_t)q->OH * Wp;
        if (q->C / q->g >= 4 && (size_t)q->C * Hp * Wp + (size_t)q->F * L <= DLRT_CONV_SHIFT_MAX)
            return DLRT_CONV_SHIFT;
        if ((size_t)q->C * q->kh * q->kw * L <= DLRT_CONV_CHUNK)
            return DLRT_CONV_WIDE;
    }
    return DLRT_CONV_SAMPLE;
}

/* TAPS: stride 1, one group, no GEMM: the forward and the weight gradient
 * as plain loops over the taps (c, i, j), vectorized along the wide output
 * plane (WIDE's rows, OW + (kw - 1) dw long) in blocks of
 * 2 DLRT_CONV_LANES values, DLRT_CONV_TAPS_FB filters at a time held in
 * registers (runtime/kernels/conv.h); the input gradient runs under the
 * GEMM scheme dlrt_conv_plan_gemm picks. Needs GNU C's vector types, so
 * only planned where they exist (DLRT_CONV_HAVE_TAPS); the workspace sizes
 * do not depend on it. */
#define DLRT_CONV_LANES 16   /* the widest vector, in floats; doubles use 8 */
#define DLRT_CONV_TAPS_FB 8
#if defined(__GNUC__) && !defined(DLRT_CONV_NO_TAPS)
#define DLRT_CONV_HAVE_TAPS 1
#endif
/* Where TAPS is measured faster than the GEMM schemes (bench/conv_kernels.c):
 * few channels and filters, where the GEMMs are small and skinny. Forward
 * ms, TAPS against the old plan: LeNet 1->6 5x5 0.22 / WIDE 0.34, 6->16
 * 5x5 0.34 / SHIFT 0.51, 16->16 3x3 dilation 2 on 28x28 (2304 weights)
 * 2.55 / SHIFT 3.35; 64->64 3x3 on 8x8 (36864) 3.7-5.1 / SHIFT 3.0-3.3. */
#ifndef DLRT_CONV_TAPS_MAX
#define DLRT_CONV_TAPS_MAX 2400   /* F C kh kw: the weight's size */
#endif
#ifndef DLRT_CONV_TAPS_WEIGHT_MAX
#define DLRT_CONV_TAPS_WEIGHT_MAX 150   /* C kh kw: TAPS's weight gradient up to it */
#endif
static inline int dlrt_conv_taps_ok(const dlrt_conv_geom *q)
{
    return q->sh == 1 && q->sw == 1 && q->g == 1 && dlrt_conv_plan_gemm(q) != DLRT_CONV_DIRECT &&
           (size_t)q->F * q->C * q->kh * q->kw <= DLRT_CONV_TAPS_MAX;
}

/* TAPS's wide plane rounded up to whole blocks of 2 DLRT_CONV_LANES. */
static inline size_t dlrt_conv_taps_len(const dlrt_conv_geom *q)
{
    const size_t L = (size_t)q->OH * ((size_t)q->OW + (size_t)(q->kw - 1) * q->dw);
    return (L + 2 * DLRT_CONV_LANES - 1) / (2 * DLRT_CONV_LANES) * (2 * DLRT_CONV_LANES);
}

static inline int dlrt_conv_plan(const dlrt_conv_geom *q)
{
#ifdef DLRT_CONV_HAVE_TAPS
    if (dlrt_conv_taps_ok(q))
        return DLRT_CONV_TAPS;
#endif
    return dlrt_conv_plan_gemm(q);
}

/* SAMPLE's output rows per chunk (see DLRT_CONV_CHUNK). */
static inline int dlrt_conv_chunk_rows(const dlrt_conv_geom *q)
{
    const size_t per_row = (size_t)q->C * q->kh * q->kw * (q->OW > 0 ? q->OW : 1);
    const size_t rows = DLRT_CONV_CHUNK / per_row;
    return rows < 1 ? 1 : rows > (size_t)q->OH ? (q->OH > 0 ? q->OH : 1) : (int)rows;
}

/* SHIFT's output rows per chunk: a wide output of about
 * DLRT_CONV_SHIFT_CHUNK values (F x rows x Wp, at least one row). */
#ifndef DLRT_CONV_SHIFT_CHUNK
#define DLRT_CONV_SHIFT_CHUNK 16384
#endif
static inline int dlrt_conv_shift_rows(const dlrt_conv_geom *q)
{
    const size_t per_row = (size_t)q->F * ((size_t)q->OW + (size_t)(q->kw - 1) * q->dw);
    const size_t rows = DLRT_CONV_SHIFT_CHUNK / (per_row ? per_row : 1);
    return rows < 1 ? 1 : rows > (size_t)q->OH ? (q->OH > 0 ? q->OH : 1) : (int)rows;
}

/* The workspace, in values, that the cores need for q under its scheme.
 * SAMPLE and WIDE end with the weight gradient transposed, [C/g kh kw, F]
 * (their weight cores run the GEMM as dW^T = cols dy^T: measured 1.5 times
 * faster than dW = dy cols^T on LeNet's 16 x 150 x 140, 1.1 on 64 x 576 x 80). */
static inline size_t dlrt_conv_scheme_workspace(const dlrt_conv_geom *q)
{
    const size_t rows = (size_t)q->C * q->kh * q->kw, plane = (size_t)q->OH * q->OW;
    const size_t wt = (size_t)(q->C / (q->g > 0 ? q->g : 1)) * q->kh * q->kw * q->F;
    switch (q->scheme) {
    case DLRT_CONV_DIRECT:
        return 0;
    case DLRT_CONV_WIDE: {
        const size_t Wp = (size_t)q->OW + (size_t)(q->kw - 1) * q->dw;
        const size_t Hp = (size_t)q->OH + (size_t)(q->kh - 1) * q->dh, L = (size_t)q->OH * Wp;
        return (size_t)q->C * Hp * Wp + (size_t)(q->kw - 1) * q->dw + (rows + (size_t)q->F) * L +
               wt;
    }
    case DLRT_CONV_SHIFT: {
        const size_t Wp = (size_t)q->OW + (size_t)(q->kw - 1) * q->dw;
        const size_t Hp = (size_t)q->OH + (size_t)(q->kh - 1) * q->dh;
        const size_t shift = (size_t)q->C * Hp * Wp + (size_t)(q->kw - 1) * q->dw +
                             (size_t)q->F * (size_t)dlrt_conv_shift_rows(q) * Wp + wt;
        /* on several chunks the weight gradient runs SAMPLE's way */
        const size_t sample = rows * (size_t)dlrt_conv_chunk_rows(q) * q->OW + wt;
        return dlrt_conv_shift_rows(q) >= q->OH || shift >= sample ? shift : sample;
    }
    case DLRT_CONV_BATCH:
        return (rows + (size_t)q->F) * plane * (size_t)q->n;
    default:
        return rows * (size_t)dlrt_conv_chunk_rows(q) * q->OW + wt;
    }
}

/* TAPS: the padded sample (+ the slack its last blocks read), the wide
 * output or dy [Fp, Lr] (Fp: F rounded up to DLRT_CONV_TAPS_FB), and the
 * packed weight [C kh kw, Fp] or the weight gradient's vector sums
 * [C kh kw, Fp, DLRT_CONV_LANES]; and what the input gradient's GEMM
 * scheme needs. Every shape TAPS may take gets both, whatever the plan,
 * so that a compiler without TAPS and one with agree on the size. */
static inline size_t dlrt_conv_taps_workspace(const dlrt_conv_geom *q)
{
    const size_t Wp = (size_t)q->OW + (size_t)(q->kw - 1) * q->dw;
    const size_t Hp = (size_t)q->OH + (size_t)(q->kh - 1) * q->dh, L = (size_t)q->OH * Wp;
    const size_t Lr = dlrt_conv_taps_len(q), T = (size_t)q->C * q->kh * q->kw;
    const size_t Fp = ((size_t)q->F + DLRT_CONV_TAPS_FB - 1) / DLRT_CONV_TAPS_FB * DLRT_CONV_TAPS_FB;
    return (size_t)q->C * Hp * Wp + (size_t)(q->kw - 1) * q->dw + (Lr - L) + DLRT_CONV_LANES +
           Fp * Lr +
           T * Fp * DLRT_CONV_LANES;
}

static inline size_t dlrt_conv_geom_workspace(const dlrt_conv_geom *q)
{
    if (q->scheme == DLRT_CONV_TAPS || dlrt_conv_taps_ok(q)) {
        dlrt_conv_geom g = *q;
        if (g.scheme == DLRT_CONV_TAPS)
            g.scheme = dlrt_conv_plan_gemm(q);
        const size_t a = dlrt_conv_taps_workspace(q), b = dlrt_conv_scheme_workspace(&g);
        return a > b ? a : b;
    }
    return dlrt_conv_scheme_workspace(q);
}

static inline dlrt_conv_geom dlrt_conv2d_geom(int n, int C, int H, int W, int F, int kh, int kw,
                                              int sh, int sw, int pad_t, int pad_b, int pad_l,
                                              int pad_r, int dh, int dw, int groups)
{
    dlrt_conv_geom q = {n, C, H, W, F, kh, kw, sh, sw, pad_t, pad_l, dh, dw, groups,
                        dlrt_conv2d_out(H, kh, sh, pad_t, pad_b, dh),
                        dlrt_conv2d_out(W, kw, sw, pad_l, pad_r, dw), 0};
    q.scheme = dlrt_conv_plan(&q);
    return q;
}

/* conv_transpose2d as the convolution whose input gradient it is: that
 * convolution maps the transposed one's output [n, F, OH, OW] to its input
 * [n, C, H, W] with the same weight [C, F/g, kh, kw] read as conv2d's. */
static inline dlrt_conv_geom dlrt_conv_transpose2d_geom(int n, int C, int H, int W, int F,
                                                        int kh, int kw, int sh, int sw, int ph,
                                                        int pw, int oph, int opw, int dh,
                                                        int dw, int groups)
{
    dlrt_conv_geom q = {n, F, (H - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1,
                        (W - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1, C, kh, kw, sh, sw, ph,
                        pw, dh, dw, groups, H, W, 0};
    q.scheme = dlrt_conv_plan(&q);
    return q;
}

static inline size_t dlrt_conv2d_workspace(int n, int C, int H, int W, int F, int kh, int kw,
                                           int sh, int sw, int pad_t, int pad_b, int pad_l,
                                           int pad_r, int dh, int dw, int groups)
{
    const dlrt_conv_geom q = dlrt_conv2d_geom(n, C, H, W, F, kh, kw, sh, sw, pad_t, pad_b, pad_l,
                                              pad_r, dh, dw, groups);
    return dlrt_conv_geom_workspace(&q);
}

static inline size_t dlrt_conv1d_workspace(int n, int C, int L, int F, int k, int stride,
                                           int pad_l, int pad_r, int dilation, int groups)
{
    return dlrt_conv2d_workspace(n, C, 1, L, F, 1, k, 1, stride, 0, 0, pad_l, pad_r, 1, dilation,
                                 groups);
}

static inline size_t dlrt_conv_transpose2d_workspace(int n, int C, int H, int W, int F, int kh,
                                                     int kw, int sh, int sw, int ph, int pw,
                                                     int oph, int opw, int dh, int dw, int groups)
{
    const dlrt_conv_geom q = dlrt_conv_transpose2d_geom(n, C, H, W, F, kh, kw, sh, sw, ph, pw,
                                                        oph, opw, dh, dw, groups);
    return dlrt_conv_geom_workspace(&q);
}

/* The outputs o in [0, out) whose input index o*stride + off lies in
 * [0, size): [*lo, *hi) (empty when *lo == *hi). */
static inline void dlrt_conv_range(int off, int stride, int size, int out, int *lo, int *hi)
{
    int a = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int b = size - off <= 0 ? 0 : (size - off + stride - 1) / stride;
    a = a < out ? a : out;
    b = b < out ? b : out;
    *lo = a;
    *hi = b > a ? b : a;
}


/* The pooling output size along one dimension (ceil_mode false), as
 * PyTorch: (size + 2 pad - dil (k - 1) - 1) / stride + 1. */
static inline int dlrt_pool_out(int size, int k, int stride, int pad, int dil)
{
    const int span = size + 2 * pad - dil * (k - 1) - 1;
    return span < 0 ? 0 : span / stride + 1;
}

#endif
