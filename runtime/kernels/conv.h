/* kernels/conv.h: conv2d, conv1d and conv_transpose2d, forward and backward.
 * (A template: dlrt_kernels.h includes it once per precision.)
 *
 * Layouts are PyTorch's, batch first and contiguous:
 *   x       [n, C, H, W]              y   [n, F, OH, OW]
 *   conv2d weight            [F, C/groups, kh, kw]      bias [F]
 *   conv_transpose2d weight  [C, F/groups, kh, kw]      bias [F]
 * with, for conv2d (pad_t/pad_b/pad_l/pad_r: zeros added on each side, so
 * `same` with an even kernel and causal conv1d are one call),
 *   OH = (H + pad_t + pad_b - dh (kh - 1) - 1) / sh + 1        (floor)
 *   OW = (W + pad_l + pad_r - dw (kw - 1) - 1) / sw + 1
 * and for conv_transpose2d (torch.nn.functional.conv_transpose2d)
 *   OH = (H - 1) sh - 2 ph + dh (kh - 1) + oph + 1
 *   OW = (W - 1) sw - 2 pw + dw (kw - 1) + opw + 1.
 * dlrt_conv2d_out() computes the conv2d size. The caller checks the shapes
 * (OH, OW >= 1, groups dividing C and F, output_padding < stride or
 * dilation): the kernels trust them.
 *
 * The calls (real = float or double; every size an int literal in
 * generated code; `ws` is the caller's workspace of
 * dlrt_conv2d_workspace(...) values, the same arguments, sized statically):
 *
 *   size_t dlrt_conv2d_workspace(n, C, H, W, F, kh, kw, sh, sw,
 *                               pad_t, pad_b, pad_l, pad_r, dh, dw, groups)
 *   dlrt_conv2d_forward_R(y, ws, x, w, b, n, C, H, W, F, kh, kw, sh, sw,
 *                         pad_t, pad_b, pad_l, pad_r, dh, dw, groups)
 *   dlrt_conv2d_backward_data_R(dx, ws, dy, w, <the same sizes>, accumulate)
 *   dlrt_conv2d_backward_weight_R(dw, ws, dy, x, <the same sizes>, accumulate)
 *   the bias gradient: dlrt_bias_backward_R(db, dy, n, F, OH * OW, accumulate)
 *
 *   size_t dlrt_conv1d_workspace(n, C, L, F, k, stride, pad_l, pad_r, dilation, groups)
 *   dlrt_conv1d_forward_R(y, ws, x, w, b, n, C, L, F, k, stride, pad_l, pad_r,
 *                         dilation, groups)
 *   dlrt_conv1d_backward_data_R(dx, ws, dy, w, <the same sizes>, accumulate)
 *   dlrt_conv1d_backward_weight_R(dw, ws, dy, x, <the same sizes>, accumulate)
 *     conv2d with H = 1, kh = 1: x [n, C, L], w [F, C/groups, k]; causal
 *     padding is pad_l = dilation (k - 1), pad_r = 0.
 *
 *   size_t dlrt_conv_transpose2d_workspace(n, C, H, W, F, kh, kw, sh, sw,
 *                                         ph, pw, oph, opw, dh, dw, groups)
 *   dlrt_conv_transpose2d_forward_R(y, ws, x, w, b, <those sizes>)
 *   dlrt_conv_transpose2d_backward_data_R(dx, ws, dy, w, <sizes>, accumulate)
 *   dlrt_conv_transpose2d_backward_weight_R(dw, ws, dy, x, <sizes>, accumulate)
 *
 * b may be NULL (no bias). `accumulate` (0 or 1): write the gradient or add
 * to it (a shared weight, a value with several consumers). The workspace
 * serves one call at a time; its contents need not survive between calls.
 *
 * How: a transposed convolution's forward is a convolution's input
 * gradient and the other way round, so three cores on one geometry do all
 * of it: forward (y = W * im2col(x)), data (dx = col2im(W^T dy)) and weight
 * (dW = dy im2col(x)^T). Each picks one of six schemes per shape
 * (dlrt_conv_plan in geometry.h, measured in bench/conv_kernels.c):
 *   DIRECT  1x1, stride 1, no padding: x is its own column matrix, one GEMM
 *           per sample and group, no workspace;
 *   SAMPLE  per sample and chunk of output rows (DLRT_CONV_CHUNK): im2col
 *           into [C kh kw, rows OW], one GEMM per group writing y in place;
 *   WIDE    per sample, stride 1: each output row computed OW + (kw - 1) dw
 *           wide, so that im2col's rows are plain copies of the padded
 *           sample (see conv_pad below); when that fits in one chunk;
 *   SHIFT   per sample and chunk of output rows (DLRT_CONV_SHIFT_CHUNK),
 *           stride 1, no column matrix at all: one GEMM per tap (i, j)
 *           reading the padded sample in place, its channels Hp Wp apart,
 *           into the wide output (see conv_shift below); when a group has
 *           4 channels or more and the sample is small;
 *   BATCH   the batch folded into the GEMM's wide side: im2col of every
 *           sample into [C kh kw, n OH OW] and the output (or dy) as
 *           [F, n OH OW], then a copy to or from [n, F, OH OW]; measured
 *           slower than SAMPLE and WIDE on every shape tried, never picked.
 *   TAPS    stride 1, one group, a small weight (DLRT_CONV_TAPS_MAX): no
 *           GEMM, vectorized loops over the taps on WIDE's padded plane
 *           (see conv_taps_forward below); LeNet's two convolutions.
 * SAMPLE and WIDE compute the weight gradient transposed (dW^T = cols
 * dy^T, the faster GEMM shape) and transpose it back at the end.
 * im2col's rows run over (c, i, j) in the weight's order, so group g's rows
 * are one contiguous block and every GEMM reads the weight as it lies.
 */

#include "kernels/geometry.h"   /* dlrt_conv_geom, the plan, the workspace sizes */

/* col[(c kh + i) kw + j][(oy - oy0) OW + ox] (row stride ld) = x[c][iy][ix]
 * of one sample, or 0 in the padding, for the output rows oy0 <= oy < oy1. */
static inline void KERNEL(im2col)(real *col, size_t ld, const real *x, const dlrt_conv_geom *q,
                                  int oy0, int oy1)
{
    const int OH = q->OH, OW = q->OW, H = q->H, W = q->W, sw = q->sw;
    for (int c = 0; c < q->C; c++)
        for (int i = 0; i < q->kh; i++)
            for (int j = 0; j < q->kw; j++) {
                real *row = col + ((size_t)(c * q->kh + i) * q->kw + j) * ld;
                const int offy = i * q->dh - q->pt, offx = j * q->dw - q->pl;
                int ylo, yhi, xlo, xhi;
                dlrt_conv_range(offy, q->sh, H, OH, &ylo, &yhi);
                dlrt_conv_range(offx, sw, W, OW, &xlo, &xhi);
                for (int oy = oy0; oy < oy1; oy++) {
                    real *r = row + (size_t)(oy - oy0) * OW;
                    if (oy < ylo || oy >= yhi) {
                        for (int ox = 0; ox < OW; ox++)
                            r[ox] = 0;
                        continue;
                    }
                    const real *xr = x + ((size_t)c * H + (oy * q->sh + offy)) * W + offx;
                    for (int ox = 0; ox < xlo; ox++)
                        r[ox] = 0;
                    if (sw == 1)
                        for (int ox = xlo; ox < xhi; ox++)
                            r[ox] = xr[ox];
                    else
                        for (int ox = xlo; ox < xhi; ox++)
                            r[ox] = xr[ox * sw];
                    for (int ox = xhi; ox < OW; ox++)
                        r[ox] = 0;
                }
            }
}

/* The adjoint of im2col: x[c][iy][ix] += col[...] over the valid entries
 * of the output rows oy0 <= oy < oy1. */
static inline void KERNEL(col2im)(real *x, const real *col, size_t ld, const dlrt_conv_geom *q,
                                  int oy0, int oy1)
{
    const int OH = q->OH, OW = q->OW, H = q->H, W = q->W, sw = q->sw;
    for (int c = 0; c < q->C; c++)
        for (int i = 0; i < q->kh; i++)
            for (int j = 0; j < q->kw; j++) {
                const real *row = col + ((size_t)(c * q->kh + i) * q->kw + j) * ld;
                const int offy = i * q->dh - q->pt, offx = j * q->dw - q->pl;
                int ylo, yhi, xlo, xhi;
                dlrt_conv_range(offy, q->sh, H, OH, &ylo, &yhi);
                dlrt_conv_range(offx, sw, W, OW, &xlo, &xhi);
                for (int oy = ylo > oy0 ? ylo : oy0; oy < yhi && oy < oy1; oy++) {
                    const real *r = row + (size_t)(oy - oy0) * OW;
                    real *xr = x + ((size_t)c * H + (oy * q->sh + offy)) * W + offx;
                    if (sw == 1)
                        for (int ox = xlo; ox < xhi; ox++)
                            xr[ox] += r[ox];
                    else
                        for (int ox = xlo; ox < xhi; ox++)
                            xr[ox * sw] += r[ox];
                }
            }
}

/* a[s][f][p] (= or +=) t[f][s P + p]: [F, n P] back to batch first. */
static inline void KERNEL(conv_fold)(real *a, const real *t, int n, int F, size_t P,
                                     int accumulate)
{
    const size_t N = (size_t)n * P;
    for (int s = 0; s < n; s++)
        for (int f = 0; f < F; f++) {
            real *as = a + ((size_t)s * F + f) * P;
            const real *ts = t + (size_t)f * N + (size_t)s * P;
            if (accumulate)
                for (size_t p = 0; p < P; p++)
                    as[p] += ts[p];
            else
                memcpy(as, ts, P * sizeof(real));
        }
}

/* t[f][s P + p] = a[s][f][p]: batch first to [F, n P]. */
static inline void KERNEL(conv_unfold)(real *t, const real *a, int n, int F, size_t P)
{
    const size_t N = (size_t)n * P;
    for (int s = 0; s < n; s++)
        for (int f = 0; f < F; f++)
            memcpy(t + (size_t)f * N + (size_t)s * P, a + ((size_t)s * F + f) * P,
                   P * sizeof(real));
}

/* dw[g Fg + f][k] (= or +=) wt[g K Fg + k Fg + f]: the weight gradient
 * from the transposed one the weight cores make. */
static inline void KERNEL(conv_untranspose)(real *dw, const real *wt, const dlrt_conv_geom *q,
                                            int accumulate)
{
    const int Fg = q->F / q->g, K = q->C / q->g * q->kh * q->kw;
    for (int g = 0; g < q->g; g++)
        for (int f = 0; f < Fg; f++) {
            real *d = dw + ((size_t)g * Fg + f) * K;
            const real *t = wt + (size_t)g * K * Fg + f;
            for (int k = 0; k < K; k++) {
                if (accumulate)
                    d[k] += t[(size_t)k * Fg];
                else
                    d[k] = t[(size_t)k * Fg];
            }
        }
}

/* ---- WIDE: stride 1 without im2col's gathers ---------------------------
 * With stride 1, the column matrix's row (c, i, j) is the padded plane of
 * channel c read from (i dh, j dw) on, if each output row is computed
 * Wp = OW + (kw - 1) dw wide instead of OW: one contiguous copy of
 * L = OH Wp values per row instead of OH short ones. The GEMM then makes
 * Wp - OW unused columns per output row (dropped, or zeros in dy), which
 * costs less than the gathers it saves on small planes. Workspace: the
 * padded sample [C, Hp, Wp] (+ (kw - 1) dw values that the last rows read
 * past its end), the columns [C kh kw, L] and the wide output [F, L]. */

/* xp[c][r][col] = x[c][r - pt][col - pl], 0 outside x; the slack too. */
static inline void KERNEL(conv_pad)(real *xp, const real *x, const dlrt_conv_geom *q, int Hp,
                                    int Wp)
{
    for (int c = 0; c < q->C; c++)
        for (int r = 0; r < Hp; r++) {
            real *row = xp + ((size_t)c * Hp + r) * Wp;
            const int iy = r - q->pt;
            int lo = q->pl < Wp ? q->pl : Wp, hi = q->pl + q->W < Wp ? q->pl + q->W : Wp;
            if (iy < 0 || iy >= q->H)
                lo = hi = Wp;
            for (int col = 0; col < lo; col++)
                row[col] = 0;
            if (hi > lo)
                memcpy(row + lo, x + ((size_t)c * q->H + iy) * q->W, (size_t)(hi - lo) * sizeof(real));
            for (int col = hi > lo ? hi : lo; col < Wp; col++)
                row[col] = 0;
        }
    for (int t = 0; t < (q->kw - 1) * q->dw; t++)
        xp[(size_t)q->C * Hp * Wp + t] = 0;
}

/* dx[c][iy][ix] (= or +=) dxp[c][iy + pt][ix + pl] (0 where not read). */
static inline void KERNEL(conv_unpad)(real *dx, const real *dxp, const dlrt_conv_geom *q, int Hp,
                                      int Wp, int accumulate)
{
    for (int c = 0; c < q->C; c++)
        for (int iy = 0; iy < q->H; iy++) {
            real *row = dx + ((size_t)c * q->H + iy) * q->W;
            const int r = iy + q->pt;
            for (int ix = 0; ix < q->W; ix++) {
                const int col = ix + q->pl;
                const real g = r < Hp && col < Wp ? dxp[((size_t)c * Hp + r) * Wp + col] : 0;
                if (accumulate)
                    row[ix] += g;
                else
                    row[ix] = g;
            }
        }
}

/* col row (c, i, j) = L values of the padded plane from (i dh, j dw). */
static inline void KERNEL(conv_shift_cols)(real *col, const real *xp, const dlrt_conv_geom *q,
                                           int Hp, int Wp)
{
    const size_t L = (size_t)q->OH * Wp;
    for (int c = 0; c < q->C; c++)
        for (int i = 0; i < q->kh; i++)
            for (int j = 0; j < q->kw; j++)
                memcpy(col + ((size_t)(c * q->kh + i) * q->kw + j) * L,
                       xp + ((size_t)c * Hp + i * q->dh) * Wp + j * q->dw, L * sizeof(real));
}

/* The adjoint: dxp (zeroed here) = the sum of the rows, shifted back. */
static inline void KERNEL(conv_shift_add)(real *dxp, const real *col, const dlrt_conv_geom *q,
                                          int Hp, int Wp)
{
    const size_t L = (size_t)q->OH * Wp;
    if (!dxp)   /* never (only DIRECT runs without a workspace); for GCC's -Wnonnull */
        return;
    memset(dxp, 0, ((size_t)q->C * Hp * Wp + (size_t)(q->kw - 1) * q->dw) * sizeof(real));
    for (int c = 0; c < q->C; c++)
        for (int i = 0; i < q->kh; i++)
            for (int j = 0; j < q->kw; j++) {
                const real *r = col + ((size_t)(c * q->kh + i) * q->kw + j) * L;
                real *d = dxp + ((size_t)c * Hp + i * q->dh) * Wp + j * q->dw;
                for (size_t t = 0; t < L; t++)
                    d[t] += r[t];
            }
}

/* wide[f][r Wp + ox] = y[f * ystride + r OW + ox] for rows r < rows, 0 in
 * the Wp - OW extra columns. */
static inline void KERNEL(conv_widen)(real *wide, const real *y, int F, int rows, int OW, int Wp,
                                      size_t ystride)
{
    for (int f = 0; f < F; f++)
        for (int r = 0; r < rows; r++) {
            real *w = wide + ((size_t)f * rows + r) * Wp;
            memcpy(w, y + f * ystride + (size_t)r * OW, (size_t)OW * sizeof(real));
            for (int t = OW; t < Wp; t++)
                w[t] = 0;
        }
}

/* y[f * ystride + r OW + ox] (= or +=) wide[f][r Wp + ox]. */
static inline void KERNEL(conv_narrow)(real *y, const real *wide, int F, int rows, int OW, int Wp,
                                       size_t ystride, int accumulate)
{
    for (int f = 0; f < F; f++)
        for (int r = 0; r < rows; r++) {
            const real *w = wide + ((size_t)f * rows + r) * Wp;
            real *d = y + f * ystride + (size_t)r * OW;
            if (!accumulate)
                memcpy(d, w, (size_t)OW * sizeof(real));
            else
                for (int t = 0; t < OW; t++)
                    d[t] += w[t];
        }
}

/* The three cores under WIDE (q->sh == q->sw == 1). */
static inline void KERNEL(conv_wide)(int which, real *out, real *ws, const real *a, const real *b,
                                     const dlrt_conv_geom *q, int accumulate)
{
    const int Cg = q->C / q->g, Fg = q->F / q->g, K = Cg * q->kh * q->kw;
    const int Wp = q->OW + (q->kw - 1) * q->dw, Hp = q->OH + (q->kh - 1) * q->dh;
    const size_t L = (size_t)q->OH * Wp, HW = (size_t)q->H * q->W, P = (size_t)q->OH * q->OW;
    real *xp = ws, *col = xp + (size_t)q->C * Hp * Wp + (size_t)(q->kw - 1) * q->dw;
    real *wide = col + (size_t)q->C * q->kh * q->kw * L;
    for (int s = 0; s < q->n; s++) {
        if (which == 0) {   /* forward: out = y, a = x, b = w */
            KERNEL(conv_pad)(xp, a + s * q->C * HW, q, Hp, Wp);
            KERNEL(conv_shift_cols)(col, xp, q, Hp, Wp);
            for (int g = 0; g < q->g; g++)
                GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, Fg, (int)L, K, 1,
                     b + (size_t)g * Fg * K, K, col + (size_t)g * K * L, (int)L, 0,
                     wide + (size_t)g * Fg * L, (int)L);
            KERNEL(conv_narrow)(out + s * q->F * P, wide, q->F, q->OH, q->OW, Wp, P, accumulate);
        } else if (which == 1) {   /* data: out = dx, a = dy, b = w */
            KERNEL(conv_widen)(wide, a + s * q->F * P, q->F, q->OH, q->OW, Wp, P);
            for (int g = 0; g < q->g; g++)
                GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, K, (int)L, Fg, 1,
                     b + (size_t)g * Fg * K, K, wide + (size_t)g * Fg * L, (int)L, 0,
                     col + (size_t)g * K * L, (int)L);
            KERNEL(conv_shift_add)(xp, col, q, Hp, Wp);
            KERNEL(conv_unpad)(out + s * q->C * HW, xp, q, Hp, Wp, accumulate);
        } else {   /* weight: out = dw, a = dy, b = x; dW^T = cols dy^T into wt */
            real *wt = wide + (size_t)q->F * L;
            KERNEL(conv_pad)(xp, b + s * q->C * HW, q, Hp, Wp);
            KERNEL(conv_shift_cols)(col, xp, q, Hp, Wp);
            KERNEL(conv_widen)(wide, a + s * q->F * P, q->F, q->OH, q->OW, Wp, P);
            for (int g = 0; g < q->g; g++)
                GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, K, Fg, (int)L, 1,
                     col + (size_t)g * K * L, (int)L, wide + (size_t)g * Fg * L, (int)L,
                     s > 0 ? 1 : 0, wt + (size_t)g * K * Fg, Fg);
            if (s == q->n - 1)
                KERNEL(conv_untranspose)(out, wt, q, accumulate);
        }
    }
}

/* ---- SHIFT: stride 1 without any column matrix ---------------------------
 * WIDE's column row (c, i, j) is the padded plane of c read from
 * (i dh, j dw) on; for one tap (i, j) the rows of all channels are the
 * padded planes themselves, Hp Wp apart: a matrix GEMM reads in place
 * (ld = Hp Wp). So y_wide = sum over taps of W_ij [F, C/g] x xp_ij
 * [C/g, L]: kh kw GEMMs with K = C/g and nothing copied but the padding,
 * the taps' weights (packed [kh kw][F][C/g]) and the wide output. Pays
 * when C/g is large enough for a GEMM's K. The workspace: the padded
 * sample (+ slack), the wide output [F, L], the packed weight. */

/* wp[((i kw + j) F + f) Cg + c] = w[f][c][i][j]: the weight tap by tap. */
static inline void KERNEL(conv_pack_taps)(real *wp, const real *w, const dlrt_conv_geom *q)
{
    const int Cg = q->C / q->g, KK = q->kh * q->kw;
    for (int f = 0; f < q->F; f++)
        for (int c = 0; c < Cg; c++)
            for (int t = 0; t < KK; t++)
                wp[((size_t)t * q->F + f) * Cg + c] = w[((size_t)f * Cg + c) * KK + t];
}

/* w[f][c][i][j] (= or +=) wp[((i kw + j) F + f) Cg + c]. */
static inline void KERNEL(conv_unpack_taps)(real *w, const real *wp, const dlrt_conv_geom *q,
                                            int accumulate)
{
    const int Cg = q->C / q->g, KK = q->kh * q->kw;
    for (int f = 0; f < q->F; f++)
        for (int c = 0; c < Cg; c++)
            for (int t = 0; t < KK; t++) {
                const real v = wp[((size_t)t * q->F + f) * Cg + c];
                real *d = w + ((size_t)f * Cg + c) * KK + t;
                *d = accumulate ? *d + v : v;
            }
}

/* The three cores under SHIFT (q->sh == q->sw == 1), a chunk of R output
 * rows (dlrt_conv_shift_rows) at a time: the wide output or dy of the
 * chunk is [F, R Wp], and its taps read the padded sample from row oy0 on. */
static inline void KERNEL(conv_shift)(int which, real *out, real *ws, const real *a,
                                      const real *b, const dlrt_conv_geom *q, int accumulate)
{
    if (!ws)   /* never (only DIRECT runs without a workspace); for GCC's -Wnonnull */
        return;
    const int Cg = q->C / q->g, Fg = q->F / q->g, R = dlrt_conv_shift_rows(q);
    const int Wp = q->OW + (q->kw - 1) * q->dw, Hp = q->OH + (q->kh - 1) * q->dh;
    const size_t HW = (size_t)q->H * q->W, P = (size_t)q->OH * q->OW, plane = (size_t)Hp * Wp;
    real *xp = ws, *wide = xp + (size_t)q->C * plane + (size_t)(q->kw - 1) * q->dw;
    real *wp = wide + (size_t)q->F * R * Wp;
    if (which != 2)   /* the weight, tap by tap */
        KERNEL(conv_pack_taps)(wp, b, q);
    for (int s = 0; s < q->n; s++) {
        if (which == 1)   /* data: out = dx, a = dy, b = w; dx padded, summed here */
            memset(xp, 0, ((size_t)q->C * plane + (size_t)(q->kw - 1) * q->dw) * sizeof(real));
        else   /* forward (out = y, a = x, b = w) and weight (out = dw, a = dy, b = x) */
            KERNEL(conv_pad)(xp, (which == 0 ? a : b) + s * q->C * HW, q, Hp, Wp);
        for (int oy0 = 0; oy0 < q->OH; oy0 += R) {
            const int rows = oy0 + R < q->OH ? R : q->OH - oy0;
            const size_t Lc = (size_t)rows * Wp, first = (size_t)oy0 * Wp;
            real *ys = out + s * q->F * P + (size_t)oy0 * q->OW;   /* forward only */
            if (which != 0)
                KERNEL(conv_widen)(wide, a + s * q->F * P + (size_t)oy0 * q->OW, q->F, rows,
                                   q->OW, Wp, P);
            for (int i = 0; i < q->kh; i++)
                for (int j = 0; j < q->kw; j++) {
                    const int t = i * q->kw + j;
                    const size_t off = first + (size_t)i * q->dh * Wp + (size_t)j * q->dw;
                    for (int g = 0; g < q->g; g++) {
                        real *wt = wp + ((size_t)t * q->F + (size_t)g * Fg) * Cg;
                        real *xt = xp + (size_t)g * Cg * plane + off;
                        real *yt = wide + (size_t)g * Fg * Lc;
                        if (which == 0)
                            GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, Fg, (int)Lc, Cg, 1,
                                 wt, Cg, xt, (int)plane, t > 0 ? 1 : 0, yt, (int)Lc);
                        else if (which == 1)
                            GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, Cg, (int)Lc, Fg, 1, wt,
                                 Cg, yt, (int)Lc, 1, xt, (int)plane);
                        else
                            GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, Fg, Cg, (int)Lc, 1, yt,
                                 (int)Lc, xt, (int)plane, s > 0 || oy0 > 0 ? 1 : 0, wt, Cg);
                    }
                }
            if (which == 0)
                KERNEL(conv_narrow)(ys, wide, q->F, rows, q->OW, Wp, P, accumulate);
        }
        if (which == 1)
            KERNEL(conv_unpad)(out + s * q->C * HW, xp, q, Hp, Wp, accumulate);
    }
    if (which == 2)
        KERNEL(conv_unpack_taps)(out, wp, q, accumulate);
}

/* ---- TAPS: stride 1, one group, plain loops vectorized -----------------
 * For few channels and filters, the GEMMs of every other scheme are small
 * and skinny (6 or 16 rows) and run far below the machine's peak; here
 * the forward is y_wide[f][p] = sum over taps t = (c, i, j) of w[f][t] x
 * xp[c][p + i dh Wp + j dw] over WIDE's plane (rows Wp = OW + (kw - 1) dw
 * long, so that every tap reads the padded sample at one offset), with
 * 2 x DLRT_CONV_LANES floats of p and DLRT_CONV_TAPS_FB filters in 16
 * vector registers: per tap two loads of x and 16 multiply-adds. The
 * weight gradient is the same sum the other way: dW[f][t] = sum over
 * samples and p of dy_wide[f][p] xp[c][p + off(t)], 4 filters x 5 taps
 * at a time, in vector partial sums per (t, f) summed across their lanes
 * at the end. GNU C's vector
 * types (one 64-byte vector: zmm with AVX-512, two ymm with AVX2) make
 * the compiler keep the sums in registers; nothing else is needed. */
#ifdef DLRT_CONV_HAVE_TAPS
#define TAPS_V (64 / (int)sizeof(real))   /* lanes in one 64-byte vector */
/* GCC contracts a * b + c into one fused multiply-add only outside ISO C
 * mode, and generated code builds with -std=c99: without this the loops
 * below run a multiply and an add each (1.6 times slower). Clang contracts
 * within an expression by default. */
#ifndef DLRT_TAPS_FN
#ifdef __clang__
#define DLRT_TAPS_FN static inline
#else
#define DLRT_TAPS_FN __attribute__((optimize("fp-contract=fast"))) static inline
#endif
#endif
typedef real KERNEL(taps_vec) __attribute__((vector_size(64)));

/* Unaligned loads and stores (macros: a 64-byte vector passed by value
 * changes the ABI where AVX-512 is off, and GCC warns). */
#define TAPS_LOAD(v, p) memcpy(&(v), (p), sizeof(v))
#define TAPS_STORE(p, v) memcpy((p), &(v), sizeof(v))

/* The wide plane's lengths: L = OH Wp, Lr = L rounded up to blocks (of
 * 2 DLRT_CONV_LANES values: 2 TAPS_V for floats, 4 for doubles). */
typedef struct KERNEL(taps_dims) {
    int Wp, Hp, Fp, T;
    size_t L, Lr, plane, slack;   /* slack: zeros after the padded sample */
    real *xp, *wide, *wk;
} KERNEL(taps_dims);

static inline KERNEL(taps_dims) KERNEL(taps_setup)(real *ws, const dlrt_conv_geom *q)
{
    KERNEL(taps_dims) d;
    d.Wp = q->OW + (q->kw - 1) * q->dw;
    d.Hp = q->OH + (q->kh - 1) * q->dh;
    d.Fp = (q->F + DLRT_CONV_TAPS_FB - 1) / DLRT_CONV_TAPS_FB * DLRT_CONV_TAPS_FB;
    d.T = q->C * q->kh * q->kw;
    d.L = (size_t)q->OH * d.Wp;
    d.Lr = dlrt_conv_taps_len(q);
    d.plane = (size_t)d.Hp * d.Wp;
    d.xp = ws;
    d.slack = (size_t)(q->kw - 1) * q->dw + (d.Lr - d.L) + DLRT_CONV_LANES;
    d.wide = ws + (size_t)q->C * d.plane + d.slack;
    d.wk = d.wide + (size_t)d.Fp * d.Lr;
    return d;
}

/* One sample padded (conv_pad), and the slack the last blocks read zeroed. */
static inline void KERNEL(taps_pad)(const KERNEL(taps_dims) *d, const real *x,
                                    const dlrt_conv_geom *q)
{
    KERNEL(conv_pad)(d->xp, x, q, d->Hp, d->Wp);
    memset(d->xp + (size_t)q->C * d->plane, 0, d->slack * sizeof(real));
}

/* o[0..m) (= or +=) the first m lanes of v (m <= TAPS_V; a macro for
 * the same ABI reason as TAPS_LOAD). */
#define TAPS_PUT(o, v, m, acc)                                                        \
    do {                                                                             \
        if ((m) == TAPS_V && !(acc)) {                                               \
            TAPS_STORE(o, v);                                                        \
        } else {                                                                     \
            for (int l_ = 0; l_ < (m); l_++)                                         \
                (o)[l_] = (acc) ? (o)[l_] + (v)[l_] : (v)[l_];                       \
        }                                                                            \
    } while (0)

/* y (= or +=) conv(x, w) under TAPS. */
/* The blocks of one padded sample, FBV filters at a time (a macro: the
 * sums' array needs a constant size to stay in registers). */
#define TAPS_FORWARD_BLOCKS(FBV)                                                        \
    for (int f0 = 0; f0 < q->F; f0 += (FBV))                                            \
        for (int k = 0; k < nseg; k += 2) {                                              \
            const int kb = k + 1 < nseg ? k + 1 : k; /* an odd last one twice */         \
            const int ra = k / per_row, ca = k % per_row * TAPS_V;                      \
            const int rb = kb / per_row, cb = kb % per_row * TAPS_V;                     \
            const size_t oa = (size_t)ra * d.Wp + ca, ob = (size_t)rb * d.Wp + cb;       \
            KERNEL(taps_vec) a[FBV][2];                                                  \
            for (int f = 0; f < (FBV); f++)                                              \
                a[f][0] = a[f][1] = (KERNEL(taps_vec)){0};                               \
            const real *wt = d.wk + f0;                                                  \
            for (int c = 0; c < q->C; c++)                                               \
                for (int i = 0; i < q->kh; i++) {                                        \
                    const real *xr = d.xp + c * d.plane + (size_t)i * q->dh * d.Wp;      \
                    for (int j = 0; j < q->kw; j++, wt += d.Fp) {                        \
                        KERNEL(taps_vec) x0, x1;                                         \
                        TAPS_LOAD(x0, xr + j * q->dw + oa);                              \
                        TAPS_LOAD(x1, xr + j * q->dw + ob);                              \
                        for (int f = 0; f < (FBV); f++) {                                \
                            a[f][0] += wt[f] * x0;                                       \
                            a[f][1] += wt[f] * x1;                                       \
                        }                                                                \
                    }                                                                    \
                }                                                                        \
            const int na = q->OW - ca < TAPS_V ? q->OW - ca : TAPS_V;                    \
            const int nb = kb == k ? 0 : q->OW - cb < TAPS_V ? q->OW - cb : TAPS_V;      \
            const int nf = q->F - f0 < (FBV) ? q->F - f0 : (FBV);                        \
            for (int f = 0; f < nf; f++) {                                               \
                real *o = ys + (size_t)(f0 + f) * P;                                     \
                TAPS_PUT(o + (size_t)ra * q->OW + ca, a[f][0], na, accumulate);          \
                TAPS_PUT(o + (size_t)rb * q->OW + cb, a[f][1], nb, accumulate);          \
            }                                                                            \
        }

DLRT_TAPS_FN void KERNEL(conv_taps_forward)(real *y, real *ws, const real *x, const real *w,
                                             const dlrt_conv_geom *q, int accumulate)
{
    const KERNEL(taps_dims) d = KERNEL(taps_setup)(ws, q);
    const size_t P = (size_t)q->OH * q->OW, HW = (size_t)q->H * q->W;
    /* the output rows in segments of TAPS_V values (the last one of a row
     * partial), two segments per block */
    const int per_row = (q->OW + TAPS_V - 1) / TAPS_V, nseg = q->OH * per_row;
    /* wk[t][f] = w[f][t], 0 for the filters F <= f < Fp */
    for (int t = 0; t < d.T; t++)
        for (int f = 0; f < d.Fp; f++)
            d.wk[(size_t)t * d.Fp + f] = f < q->F ? w[(size_t)f * d.T + t] : 0;
    for (int s = 0; s < q->n; s++) {
        KERNEL(taps_pad)(&d, x + (size_t)s * q->C * HW, q);
        real *ys = y + (size_t)s * q->F * P;
        /* 6 filters a block when they divide F and 8 do not (LeNet's first
         * layer: no unused slots) */
        if (q->F % 6 == 0 && q->F % DLRT_CONV_TAPS_FB != 0) {
            TAPS_FORWARD_BLOCKS(6)
        } else {
            TAPS_FORWARD_BLOCKS(DLRT_CONV_TAPS_FB)
        }
    }
}
#undef TAPS_FORWARD_BLOCKS

/* dw (= or +=) the weight gradient under TAPS. */
DLRT_TAPS_FN void KERNEL(conv_taps_weight)(real *dw, real *ws, const real *dy, const real *x,
                                            const dlrt_conv_geom *q, int accumulate)
{
    const KERNEL(taps_dims) d = KERNEL(taps_setup)(ws, q);
    const size_t P = (size_t)q->OH * q->OW, HW = (size_t)q->H * q->W;
    /* 3 filters a block when they divide F and 4 do not (LeNet's 6) */
    const int fw = q->F % 3 == 0 && q->F % 4 != 0 ? 3 : 4;
    real *acc = d.wk;   /* [T][Fp][TAPS_V]: partial sums, one vector per (t, f) */
    memset(acc, 0, (size_t)d.T * d.Fp * TAPS_V * sizeof(real));
    /* the wide dy's rows F..Fp and columns L..Lr stay zero */
    memset(d.wide, 0, (size_t)d.Fp * d.Lr * sizeof(real));
    for (int s = 0; s < q->n; s++) {
        KERNEL(taps_pad)(&d, x + (size_t)s * q->C * HW, q);
        for (int f = 0; f < q->F; f++)
            KERNEL(conv_widen)(d.wide + (size_t)f * d.Lr, dy + ((size_t)s * q->F + f) * P, 1,
                               q->OH, q->OW, d.Wp, P);
        /* 4 filters x 5 taps of a row (i) in 20 named registers (GCC
         * spilled an array of them), so that each load feeds 4 or 5
         * multiply-adds; a row shorter than 5 repeats its last tap, whose
         * sums are dropped */
        for (int c = 0; c < q->C; c++)
            for (int i = 0; i < q->kh; i++)
                for (int j0 = 0; j0 < q->kw; j0 += 5) {
                    const int jn = q->kw - j0 < 5 ? q->kw - j0 : 5;
                    const real *xr = d.xp + c * d.plane + (size_t)i * q->dh * d.Wp;
                    const real *x0p = xr + (size_t)j0 * q->dw;
                    const real *x1p = xr + (size_t)(j0 + (jn > 1 ? 1 : 0)) * q->dw;
                    const real *x2p = xr + (size_t)(j0 + (jn > 2 ? 2 : jn - 1)) * q->dw;
                    const real *x3p = xr + (size_t)(j0 + (jn > 3 ? 3 : jn - 1)) * q->dw;
                    const real *x4p = xr + (size_t)(j0 + (jn > 4 ? 4 : jn - 1)) * q->dw;
                    const size_t t0 = ((size_t)c * q->kh + i) * q->kw + j0;
                    for (int f0 = 0; f0 < q->F; f0 += fw) {
                        const KERNEL(taps_vec) z = {0};
                        KERNEL(taps_vec) a00 = z, a01 = z, a02 = z, a03 = z, a04 = z;
                        KERNEL(taps_vec) a10 = z, a11 = z, a12 = z, a13 = z, a14 = z;
                        KERNEL(taps_vec) a20 = z, a21 = z, a22 = z, a23 = z, a24 = z;
                        KERNEL(taps_vec) a30 = z, a31 = z, a32 = z, a33 = z, a34 = z;
                        const real *g = d.wide + (size_t)f0 * d.Lr;
                        for (size_t p = 0; p < d.Lr; p += TAPS_V) {
                            KERNEL(taps_vec) x0, x1, x2, x3, x4, gv;
                            TAPS_LOAD(x0, x0p + p);
                            TAPS_LOAD(x1, x1p + p);
                            TAPS_LOAD(x2, x2p + p);
                            TAPS_LOAD(x3, x3p + p);
                            TAPS_LOAD(x4, x4p + p);
#define TAPS_WROW(f)                                                                  \
    TAPS_LOAD(gv, g + (size_t)(f) * d.Lr + p);                                        \
    a##f##0 += gv * x0, a##f##1 += gv * x1, a##f##2 += gv * x2, a##f##3 += gv * x3,   \
        a##f##4 += gv * x4
                            TAPS_WROW(0);
                            TAPS_WROW(1);
                            TAPS_WROW(2);
                            if (fw == 4) {   /* the same each time: hoisted */
                                TAPS_WROW(3);
                            }
#undef TAPS_WROW
                        }
                        const KERNEL(taps_vec) r[4][5] = {{a00, a01, a02, a03, a04},
                                                          {a10, a11, a12, a13, a14},
                                                          {a20, a21, a22, a23, a24},
                                                          {a30, a31, a32, a33, a34}};
                        for (int jj = 0; jj < jn; jj++)
                            for (int f = 0; f < fw; f++) {
                                real *at = acc + ((t0 + jj) * d.Fp + f0 + f) * TAPS_V;
                                KERNEL(taps_vec) v;
                                TAPS_LOAD(v, at);
                                v += r[f][jj];
                                TAPS_STORE(at, v);
                            }
                    }
                }
    }
    for (int f = 0; f < q->F; f++)
        for (int t = 0; t < d.T; t++) {
            KERNEL(taps_vec) v;
            TAPS_LOAD(v, acc + ((size_t)t * d.Fp + f) * TAPS_V);
            real sum = 0;
            for (int l = 0; l < TAPS_V; l++)
                sum += v[l];
            real *o = dw + (size_t)f * d.T + t;
            *o = accumulate ? *o + sum : sum;
        }
}
#undef TAPS_V
#undef TAPS_LOAD
#undef TAPS_PUT
#undef TAPS_STORE
#endif

/* y (= or +=) conv(x, w) under q (no bias). */
static inline void KERNEL(conv_forward_core)(real *y, real *ws, const real *x, const real *w,
                                             const dlrt_conv_geom *q, int accumulate)
{
    const int Cg = q->C / q->g, Fg = q->F / q->g, K = Cg * q->kh * q->kw;
    const size_t P = (size_t)q->OH * q->OW, HW = (size_t)q->H * q->W;
    const real beta = accumulate ? 1 : 0;
    if (q->scheme == DLRT_CONV_TAPS) {
#ifdef DLRT_CONV_HAVE_TAPS
        KERNEL(conv_taps_forward)(y, ws, x, w, q, accumulate);
#else
        dlrt_conv_geom g = *q;
        g.scheme = dlrt_conv_plan_gemm(q);
        KERNEL(conv_forward_core)(y, ws, x, w, &g, accumulate);
#endif
    } else if (q->scheme == DLRT_CONV_SHIFT) {
        KERNEL(conv_shift)(0, y, ws, x, w, q, accumulate);
    } else if (q->scheme == DLRT_CONV_WIDE) {
        KERNEL(conv_wide)(0, y, ws, x, w, q, accumulate);
    } else if (q->scheme == DLRT_CONV_DIRECT) {
        for (int s = 0; s < q->n; s++)
            for (int g = 0; g < q->g; g++)
                GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, Fg, (int)P, Cg, 1,
                     w + (size_t)g * Fg * Cg, Cg, x + ((size_t)s * q->C + g * Cg) * HW, (int)HW,
                     beta, y + ((size_t)s * q->F + g * Fg) * P, (int)P);
    } else if (q->scheme == DLRT_CONV_BATCH) {
        const size_t N = (size_t)q->n * P;
        real *col = ws, *t = ws + (size_t)q->C * q->kh * q->kw * N;
        for (int s = 0; s < q->n; s++)
            KERNEL(im2col)(col + (size_t)s * P, N, x + (size_t)s * q->C * HW, q, 0, q->OH);
        for (int g = 0; g < q->g; g++)
            GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, Fg, (int)N, K, 1,
                 w + (size_t)g * Fg * K, K, col + (size_t)g * K * N, (int)N, 0,
                 t + (size_t)g * Fg * N, (int)N);
        KERNEL(conv_fold)(y, t, q->n, q->F, P, accumulate);
    } else {   /* SAMPLE, a chunk of output rows at a time */
        const int R = dlrt_conv_chunk_rows(q);
        for (int s = 0; s < q->n; s++)
            for (int oy0 = 0; oy0 < q->OH; oy0 += R) {
                const int oy1 = oy0 + R < q->OH ? oy0 + R : q->OH, Pc = (oy1 - oy0) * q->OW;
                KERNEL(im2col)(ws, (size_t)Pc, x + (size_t)s * q->C * HW, q, oy0, oy1);
                for (int g = 0; g < q->g; g++)
                    GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, Fg, Pc, K, 1,
                         w + (size_t)g * Fg * K, K, ws + (size_t)g * K * Pc, Pc, beta,
                         y + ((size_t)s * q->F + g * Fg) * P + (size_t)oy0 * q->OW, (int)P);
            }
    }
}

/* dx (= or +=) the input gradient of conv under q, from dy. */
static inline void KERNEL(conv_data_core)(real *dx, real *ws, const real *dy, const real *w,
                                          const dlrt_conv_geom *q, int accumulate)
{
    const int Cg = q->C / q->g, Fg = q->F / q->g, K = Cg * q->kh * q->kw;
    const size_t P = (size_t)q->OH * q->OW, HW = (size_t)q->H * q->W;
    if (q->scheme == DLRT_CONV_TAPS) {
        /* by the GEMM scheme: TAPS's scatter (dxp[c][p + off] += ...) was
         * measured slower, 0.71 ms against SHIFT's 0.47 on LeNet's conv2 */
        dlrt_conv_geom g = *q;
        g.scheme = dlrt_conv_plan_gemm(q);
        KERNEL(conv_data_core)(dx, ws, dy, w, &g, accumulate);
        return;
    }
    if (q->scheme == DLRT_CONV_SHIFT) {
        KERNEL(conv_shift)(1, dx, ws, dy, w, q, accumulate);
        return;
    }
    if (q->scheme == DLRT_CONV_WIDE) {
        KERNEL(conv_wide)(1, dx, ws, dy, w, q, accumulate);
        return;
    }
    if (q->scheme == DLRT_CONV_DIRECT) {
        for (int s = 0; s < q->n; s++)
            for (int g = 0; g < q->g; g++)
                GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, Cg, (int)P, Fg, 1,
                     w + (size_t)g * Fg * Cg, Cg, dy + ((size_t)s * q->F + g * Fg) * P, (int)P,
                     accumulate ? 1 : 0, dx + ((size_t)s * q->C + g * Cg) * HW, (int)HW);
        return;
    }
    if (!accumulate)
        memset(dx, 0, (size_t)q->n * q->C * HW * sizeof(real));
    if (q->scheme == DLRT_CONV_BATCH) {
        const size_t N = (size_t)q->n * P;
        real *col = ws, *t = ws + (size_t)q->C * q->kh * q->kw * N;
        KERNEL(conv_unfold)(t, dy, q->n, q->F, P);
        for (int g = 0; g < q->g; g++)
            GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, K, (int)N, Fg, 1,
                 w + (size_t)g * Fg * K, K, t + (size_t)g * Fg * N, (int)N, 0,
                 col + (size_t)g * K * N, (int)N);
        for (int s = 0; s < q->n; s++)
            KERNEL(col2im)(dx + (size_t)s * q->C * HW, col + (size_t)s * P, N, q, 0, q->OH);
    } else {   /* SAMPLE, a chunk of output rows at a time */
        const int R = dlrt_conv_chunk_rows(q);
        for (int s = 0; s < q->n; s++)
            for (int oy0 = 0; oy0 < q->OH; oy0 += R) {
                const int oy1 = oy0 + R < q->OH ? oy0 + R : q->OH, Pc = (oy1 - oy0) * q->OW;
                for (int g = 0; g < q->g; g++)
                    GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, K, Pc, Fg, 1,
                         w + (size_t)g * Fg * K, K,
                         dy + ((size_t)s * q->F + g * Fg) * P + (size_t)oy0 * q->OW, (int)P, 0,
                         ws + (size_t)g * K * Pc, Pc);
                KERNEL(col2im)(dx + (size_t)s * q->C * HW, ws, (size_t)Pc, q, oy0, oy1);
            }
    }
}

/* dw (= or +=) the weight gradient of conv under q, from dy and x. */
static inline void KERNEL(conv_weight_core)(real *dw, real *ws, const real *dy, const real *x,
                                            const dlrt_conv_geom *q, int accumulate)
{
    const int Cg = q->C / q->g, Fg = q->F / q->g, K = Cg * q->kh * q->kw;
    const size_t P = (size_t)q->OH * q->OW, HW = (size_t)q->H * q->W;
    if (q->n == 0) {
        if (!accumulate)
            memset(dw, 0, (size_t)q->F * K * sizeof(real));
        return;
    }
    if (q->scheme == DLRT_CONV_TAPS) {
#ifdef DLRT_CONV_HAVE_TAPS
        /* rows of 5 taps or more (a shorter row repeats taps) and up to
         * LeNet's conv2's 150 taps: measured 0.25 ms against WIDE's 0.41 on
         * conv1, 0.52-0.61 against SHIFT's 0.50-0.66 on conv2; on the 3x3
         * dilated 16->16 layer 4.4 against SHIFT's 3.5, so not there */
        if (q->kw >= 5 && q->C * q->kh * q->kw <= DLRT_CONV_TAPS_WEIGHT_MAX) {
            KERNEL(conv_taps_weight)(dw, ws, dy, x, q, accumulate);
            return;
        }
#endif
        dlrt_conv_geom g = *q;
        g.scheme = dlrt_conv_plan_gemm(q);
        KERNEL(conv_weight_core)(dw, ws, dy, x, &g, accumulate);
        return;
    }
    /* SHIFT's weight gradient is short GEMMs (K = a chunk's L) per tap: on a
     * plane of several chunks SAMPLE's path (below) does it faster */
    if (q->scheme == DLRT_CONV_SHIFT && dlrt_conv_shift_rows(q) >= q->OH) {
        KERNEL(conv_shift)(2, dw, ws, dy, x, q, accumulate);
        return;
    }
    if (q->scheme == DLRT_CONV_WIDE) {
        KERNEL(conv_wide)(2, dw, ws, dy, x, q, accumulate);
        return;
    }
    if (q->scheme == DLRT_CONV_BATCH) {
        const size_t N = (size_t)q->n * P;
        real *col = ws, *t = ws + (size_t)q->C * q->kh * q->kw * N;
        for (int s = 0; s < q->n; s++)
            KERNEL(im2col)(col + (size_t)s * P, N, x + (size_t)s * q->C * HW, q, 0, q->OH);
        KERNEL(conv_unfold)(t, dy, q->n, q->F, P);
        for (int g = 0; g < q->g; g++)
            GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, Fg, K, (int)N, 1,
                 t + (size_t)g * Fg * N, (int)N, col + (size_t)g * K * N, (int)N,
                 accumulate ? 1 : 0, dw + (size_t)g * Fg * K, K);
        return;
    }
    if (q->scheme == DLRT_CONV_DIRECT) {   /* x is its own column matrix */
        for (int s = 0; s < q->n; s++)
            for (int g = 0; g < q->g; g++)
                GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, Fg, K, (int)P, 1,
                     dy + ((size_t)s * q->F + g * Fg) * P, (int)P,
                     x + ((size_t)s * q->C + g * Cg) * HW, (int)HW, s > 0 || accumulate ? 1 : 0,
                     dw + (size_t)g * Fg * K, K);
        return;
    }
    /* SAMPLE (and SHIFT on large planes), a chunk of output rows at a time;
     * dW^T = cols dy^T into wt */
    const int R = dlrt_conv_chunk_rows(q);
    real *wt = ws + (size_t)q->C * q->kh * q->kw * R * q->OW;
    for (int s = 0; s < q->n; s++)
        for (int oy0 = 0; oy0 < q->OH; oy0 += R) {
            const int oy1 = oy0 + R < q->OH ? oy0 + R : q->OH, Pc = (oy1 - oy0) * q->OW;
            KERNEL(im2col)(ws, (size_t)Pc, x + (size_t)s * q->C * HW, q, oy0, oy1);
            for (int g = 0; g < q->g; g++)
                GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, K, Fg, Pc, 1,
                     ws + (size_t)g * K * Pc, Pc,
                     dy + ((size_t)s * q->F + g * Fg) * P + (size_t)oy0 * q->OW, (int)P,
                     s > 0 || oy0 > 0 ? 1 : 0, wt + (size_t)g * K * Fg, Fg);
        }
    KERNEL(conv_untranspose)(dw, wt, q, accumulate);
}

/* ---- conv2d ------------------------------------------------------------ */

static inline void KERNEL(conv2d_forward)(real *y, real *ws, const real *x, const real *w,
                                          const real *b, int n, int C, int H, int W, int F,
                                          int kh, int kw, int sh, int sw, int pad_t, int pad_b,
                                          int pad_l, int pad_r, int dh, int dw, int groups)
{
    const dlrt_conv_geom q = dlrt_conv2d_geom(n, C, H, W, F, kh, kw, sh, sw, pad_t, pad_b, pad_l,
                                              pad_r, dh, dw, groups);
    KERNEL(conv_forward_core)(y, ws, x, w, &q, 0);
    if (b)
        KERNEL(bias_forward)(y, b, n, F, q.OH * q.OW);
}

static inline void KERNEL(conv2d_backward_data)(real *dx, real *ws, const real *dy, const real *w,
                                                int n, int C, int H, int W, int F, int kh, int kw,
                                                int sh, int sw, int pad_t, int pad_b, int pad_l,
                                                int pad_r, int dh, int dw, int groups,
                                                int accumulate)
{
    const dlrt_conv_geom q = dlrt_conv2d_geom(n, C, H, W, F, kh, kw, sh, sw, pad_t, pad_b, pad_l,
                                              pad_r, dh, dw, groups);
    KERNEL(conv_data_core)(dx, ws, dy, w, &q, accumulate);
}

static inline void KERNEL(conv2d_backward_weight)(real *dweight, real *ws, const real *dy,
                                                  const real *x, int n, int C, int H, int W,
                                                  int F, int kh, int kw, int sh, int sw,
                                                  int pad_t, int pad_b, int pad_l, int pad_r,
                                                  int dh, int dw, int groups, int accumulate)
{
    const dlrt_conv_geom q = dlrt_conv2d_geom(n, C, H, W, F, kh, kw, sh, sw, pad_t, pad_b, pad_l,
                                              pad_r, dh, dw, groups);
    KERNEL(conv_weight_core)(dweight, ws, dy, x, &q, accumulate);
}

/* ---- conv1d: conv2d with H = 1 ----------------------------------------- */

static inline void KERNEL(conv1d_forward)(real *y, real *ws, const real *x, const real *w,
                                          const real *b, int n, int C, int L, int F, int k,
                                          int stride, int pad_l, int pad_r, int dilation,
                                          int groups)
{
    KERNEL(conv2d_forward)(y, ws, x, w, b, n, C, 1, L, F, 1, k, 1, stride, 0, 0, pad_l, pad_r, 1,
                           dilation, groups);
}

static inline void KERNEL(conv1d_backward_data)(real *dx, real *ws, const real *dy, const real *w,
                                                int n, int C, int L, int F, int k, int stride,
                                                int pad_l, int pad_r, int dilation, int groups,
                                                int accumulate)
{
    KERNEL(conv2d_backward_data)(dx, ws, dy, w, n, C, 1, L, F, 1, k, 1, stride, 0, 0, pad_l,
                                 pad_r, 1, dilation, groups, accumulate);
}

static inline void KERNEL(conv1d_backward_weight)(real *dweight, real *ws, const real *dy,
                                                  const real *x, int n, int C, int L, int F,
                                                  int k, int stride, int pad_l, int pad_r,
                                                  int dilation, int groups, int accumulate)
{
    KERNEL(conv2d_backward_weight)(dweight, ws, dy, x, n, C, 1, L, F, 1, k, 1, stride, 0, 0,
                                   pad_l, pad_r, 1, dilation, groups, accumulate);
}

/* ---- conv_transpose2d: the cores with the roles of x and y swapped ------ */

static inline void KERNEL(conv_transpose2d_forward)(real *y, real *ws, const real *x,
                                                    const real *w, const real *b, int n, int C,
                                                    int H, int W, int F, int kh, int kw, int sh,
                                                    int sw, int ph, int pw, int oph, int opw,
                                                    int dh, int dw, int groups)
{
    const dlrt_conv_geom q = dlrt_conv_transpose2d_geom(n, C, H, W, F, kh, kw, sh, sw, ph, pw,
                                                        oph, opw, dh, dw, groups);
    KERNEL(conv_data_core)(y, ws, x, w, &q, 0);
    if (b)
        KERNEL(bias_forward)(y, b, n, F, q.H * q.W);
}

static inline void KERNEL(conv_transpose2d_backward_data)(real *dx, real *ws, const real *dy,
                                                          const real *w, int n, int C, int H,
                                                          int W, int F, int kh, int kw, int sh,
                                                          int sw, int ph, int pw, int oph,
                                                          int opw, int dh, int dw, int groups,
                                                          int accumulate)
{
    const dlrt_conv_geom q = dlrt_conv_transpose2d_geom(n, C, H, W, F, kh, kw, sh, sw, ph, pw,
                                                        oph, opw, dh, dw, groups);
    KERNEL(conv_forward_core)(dx, ws, dy, w, &q, accumulate);
}

static inline void KERNEL(conv_transpose2d_backward_weight)(real *dweight, real *ws,
                                                            const real *dy, const real *x, int n,
                                                            int C, int H, int W, int F, int kh,
                                                            int kw, int sh, int sw, int ph,
                                                            int pw, int oph, int opw, int dh,
                                                            int dw, int groups, int accumulate)
{
    const dlrt_conv_geom q = dlrt_conv_transpose2d_geom(n, C, H, W, F, kh, kw, sh, sw, ph, pw,
                                                        oph, opw, dh, dw, groups);
    /* the mirrored convolution's input is dy and its output gradient x */
    KERNEL(conv_weight_core)(dweight, ws, x, dy, &q, accumulate);
}
