/* kernels/pool.h: max and average pooling, global average pooling.
 * (A template: dlrt_kernels.h includes it once per precision.)
 *
 * x [n, C, H, W] -> y [n, C, OH, OW], PyTorch's semantics (ceil_mode
 * false, padding ph/pw on both sides of each dimension):
 *   OH = (H + 2 ph - dh (kh - 1) - 1) / sh + 1     (dlrt_pool_out)
 *
 *   dlrt_maxpool2d_forward_R(y, argmax, x, n, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw)
 *   dlrt_maxpool2d_backward_R(dx, dy, argmax, n, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw,
 *                             accumulate)
 *   dlrt_maxpool1d_forward_R(y, argmax, x, n, C, L, k, stride, pad, dilation)
 *   dlrt_maxpool1d_backward_R(dx, dy, argmax, n, C, L, k, stride, pad, dilation, accumulate)
 *   dlrt_avgpool2d_forward_R(y, x, n, C, H, W, kh, kw, sh, sw, ph, pw)
 *   dlrt_avgpool2d_backward_R(dx, dy, n, C, H, W, kh, kw, sh, sw, ph, pw, accumulate)
 *   dlrt_global_avgpool_forward_R(y, x, n, C, HW)          y [n, C]
 *   dlrt_global_avgpool_backward_R(dx, dy, n, C, HW, accumulate)
 *
 * Max pooling: padding counts as -inf (it never wins); argmax (int32,
 * [n, C, OH, OW]) is the winner's index in its input plane, iy * W + ix, as
 * PyTorch's indices, kept for backward, which adds dy there. A NaN in the
 * window wins (the last one, as PyTorch's CPU kernel); a window of -inf
 * only points at its first real element. PyTorch requires ph <= kh / 2,
 * so every window holds a real element; the caller checks that.
 * Average pooling divides by the window clipped to the padded input
 * (count_include_pad=True, PyTorch's default: kh kw when ceil_mode is
 * false). max/avgpool1d are the 2d ones with H = 1.
 * Backward kernels write dx (accumulate 0) or add to it (1).
 */

#include "kernels/geometry.h"   /* dlrt_pool_out */

/* The common 2x2 window, stride 2, no padding or dilation: the same
 * comparisons in the same order as the general loop below (NaN wins, the
 * last one; ties keep the first), without its clipping, about 4 times
 * faster on LeNet's planes. */
static inline void KERNEL(maxpool2x2_forward)(real *y, int32_t *argmax, const real *x,
                                              size_t planes, int H, int W, int OH, int OW)
{
    for (size_t plane = 0; plane < planes; plane++) {
        const real *xp = x + plane * H * W;
        real *yp = y + plane * OH * OW;
        int32_t *ap = argmax + plane * OH * OW;
        for (int oy = 0; oy < OH; oy++) {
            const real *r0 = xp + 2 * oy * W, *r1 = r0 + W;
            for (int ox = 0; ox < OW; ox++) {
                /* selects, not branches: on real data the winner is
                 * random and mispredicted branches cost more than the
                 * comparisons (the general loop: 1 ms of LeNet's forward) */
                const real a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], e = r1[2 * ox + 1];
                const int tb = (b > a) | (b != b);
                real best = tb ? b : a;
                int32_t at = tb ? 1 : 0;
                const int tc = (c > best) | (c != c);
                best = tc ? c : best;
                at = tc ? W : at;
                const int te = (e > best) | (e != e);
                best = te ? e : best;
                at = te ? W + 1 : at;
                yp[oy * OW + ox] = best;
                ap[oy * OW + ox] = 2 * oy * W + 2 * ox + at;
            }
        }
    }
}

static inline void KERNEL(maxpool2d_forward)(real *y, int32_t *argmax, const real *x, int n,
                                             int C, int H, int W, int kh, int kw, int sh, int sw,
                                             int ph, int pw, int dh, int dw)
{
    const int OH = dlrt_pool_out(H, kh, sh, ph, dh), OW = dlrt_pool_out(W, kw, sw, pw, dw);
    if (kh == 2 && kw == 2 && sh == 2 && sw == 2 && ph == 0 && pw == 0 &&
        dh == 1 && dw == 1) {
        KERNEL(maxpool2x2_forward)(y, argmax, x, (size_t)n * C, H, W, OH, OW);
        return;
    }
    for (size_t plane = 0; plane < (size_t)n * C; plane++) {
        const real *xp = x + plane * H * W;
        real *yp = y + plane * OH * OW;
        int32_t *ap = argmax + plane * OH * OW;
        for (int oy = 0; oy < OH; oy++) {
            int y0 = oy * sh - ph;
            while (y0 < 0)
                y0 += dh;
            const int y1 = oy * sh - ph + (kh - 1) * dh;   /* last row, inclusive */
            for (int ox = 0; ox < OW; ox++) {
                int x0 = ox * sw - pw;
                while (x0 < 0)
                    x0 += dw;
                const int x1 = ox * sw - pw + (kw - 1) * dw;
                real best = -INFINITY;
                int at = y0 * W + x0;
                for (int iy = y0; iy <= y1 && iy < H; iy += dh)
                    for (int ix = x0; ix <= x1 && ix < W; ix += dw) {
                        const real v = xp[iy * W + ix];
                        if (v > best || isnan(v)) {
                            best = v;
                            at = iy * W + ix;
                        }
                    }
                yp[oy * OW + ox] = best;
                ap[oy * OW + ox] = at;
            }
        }
    }
}

static inline void KERNEL(maxpool2d_backward)(real *dx, const real *dy, const int32_t *argmax,
                                              int n, int C, int H, int W, int kh, int kw, int sh,
                                              int sw, int ph, int pw, int dh, int dw,
                                              int accumulate)
{
    const int OH = dlrt_pool_out(H, kh, sh, ph, dh), OW = dlrt_pool_out(W, kw, sw, pw, dw);
    const size_t P = (size_t)OH * OW;
    if (!accumulate && kh == 2 && kw == 2 && sh == 2 && sw == 2 && ph == 0 && pw == 0 &&
        dh == 1 && dw == 1) {
        /* the windows tile the plane: each of dx's values written once, dy
         * where argmax points and 0 elsewhere, no memset first */
        for (size_t plane = 0; plane < (size_t)n * C; plane++) {
            real *dxp = dx + plane * H * W;
            const real *g = dy + plane * P;
            const int32_t *a = argmax + plane * P;
            for (int oy = 0; oy < OH; oy++) {
                real *r0 = dxp + 2 * oy * W, *r1 = r0 + W;
                for (int ox = 0; ox < OW; ox++) {
                    const int32_t at = a[oy * OW + ox], base = 2 * oy * W + 2 * ox;
                    const real v = g[oy * OW + ox];
                    r0[2 * ox] = at == base ? v : 0;
                    r0[2 * ox + 1] = at == base + 1 ? v : 0;
                    r1[2 * ox] = at == base + W ? v : 0;
                    r1[2 * ox + 1] = at == base + W + 1 ? v : 0;
                }
                for (int ix = 2 * OW; ix < W; ix++)   /* an odd width's last column */
                    r0[ix] = r1[ix] = 0;
            }
            if (2 * OH < H)   /* an odd height's last row */
                memset(dxp + (size_t)2 * OH * W, 0, (size_t)(H - 2 * OH) * W * sizeof(real));
        }
        return;
    }
    if (!accumulate)
        memset(dx, 0, (size_t)n * C * H * W * sizeof(real));
    for (size_t plane = 0; plane < (size_t)n * C; plane++) {
        real *dxp = dx + plane * H * W;
        for (size_t o = 0; o < P; o++)
            dxp[argmax[plane * P + o]] += dy[plane * P + o];
    }
}

static inline void KERNEL(maxpool1d_forward)(real *y, int32_t *argmax, const real *x, int n,
                                             int C, int L, int k, int stride, int pad,
                                             int dilation)
{
    KERNEL(maxpool2d_forward)(y, argmax, x, n, C, 1, L, 1, k, 1, stride, 0, pad, 1, dilation);
}

static inline void KERNEL(maxpool1d_backward)(real *dx, const real *dy, const int32_t *argmax,
                                              int n, int C, int L, int k, int stride, int pad,
                                              int dilation, int accumulate)
{
    KERNEL(maxpool2d_backward)(dx, dy, argmax, n, C, 1, L, 1, k, 1, stride, 0, pad, 1, dilation,
                               accumulate);
}

/* The window of output o along one dimension, clipped to the input:
 * [*lo, *hi); returns the divisor's factor (the window clipped to the
 * padded input, PyTorch's count_include_pad=True). */
static inline int KERNEL(avg_window)(int o, int k, int stride, int pad, int size, int *lo,
                                     int *hi)
{
    int a = o * stride - pad, b = a + k;
    b = b < size + pad ? b : size + pad;
    const int count = b - a;
    *lo = a > 0 ? a : 0;
    *hi = b < size ? b : size;
    return count;
}

static inline void KERNEL(avgpool2d_forward)(real *y, const real *x, int n, int C, int H, int W,
                                             int kh, int kw, int sh, int sw, int ph, int pw)
{
    const int OH = dlrt_pool_out(H, kh, sh, ph, 1), OW = dlrt_pool_out(W, kw, sw, pw, 1);
    for (size_t plane = 0; plane < (size_t)n * C; plane++) {
        const real *xp = x + plane * H * W;
        real *yp = y + plane * OH * OW;
        for (int oy = 0; oy < OH; oy++) {
            int ylo, yhi, xlo, xhi;
            const int cy = KERNEL(avg_window)(oy, kh, sh, ph, H, &ylo, &yhi);
            for (int ox = 0; ox < OW; ox++) {
                const int cx = KERNEL(avg_window)(ox, kw, sw, pw, W, &xlo, &xhi);
                real sum = 0;
                for (int iy = ylo; iy < yhi; iy++)
                    for (int ix = xlo; ix < xhi; ix++)
                        sum += xp[iy * W + ix];
                yp[oy * OW + ox] = sum / (real)(cy * cx);
            }
        }
    }
}

static inline void KERNEL(avgpool2d_backward)(real *dx, const real *dy, int n, int C, int H,
                                              int W, int kh, int kw, int sh, int sw, int ph,
                                              int pw, int accumulate)
{
    const int OH = dlrt_pool_out(H, kh, sh, ph, 1), OW = dlrt_pool_out(W, kw, sw, pw, 1);
    if (!accumulate)
        memset(dx, 0, (size_t)n * C * H * W * sizeof(real));
    for (size_t plane = 0; plane < (size_t)n * C; plane++) {
        real *dxp = dx + plane * H * W;
        const real *dyp = dy + plane * OH * OW;
        for (int oy = 0; oy < OH; oy++) {
            int ylo, yhi, xlo, xhi;
            const int cy = KERNEL(avg_window)(oy, kh, sh, ph, H, &ylo, &yhi);
            for (int ox = 0; ox < OW; ox++) {
                const int cx = KERNEL(avg_window)(ox, kw, sw, pw, W, &xlo, &xhi);
                const real g = dyp[oy * OW + ox] / (real)(cy * cx);
                for (int iy = ylo; iy < yhi; iy++)
                    for (int ix = xlo; ix < xhi; ix++)
                        dxp[iy * W + ix] += g;
            }
        }
    }
}

/* y[s, c] = the mean of x[s, c, :] over its HW values. */
static inline void KERNEL(global_avgpool_forward)(real *y, const real *x, int n, int C, int HW)
{
    for (size_t plane = 0; plane < (size_t)n * C; plane++) {
        const real *xp = x + plane * HW;
        real sum = 0;
        for (int i = 0; i < HW; i++)
            sum += xp[i];
        y[plane] = sum / (real)HW;
    }
}

static inline void KERNEL(global_avgpool_backward)(real *dx, const real *dy, int n, int C, int HW,
                                                   int accumulate)
{
    for (size_t plane = 0; plane < (size_t)n * C; plane++) {
        const real g = dy[plane] / (real)HW;
        real *dxp = dx + plane * HW;
        for (int i = 0; i < HW; i++) {
            if (accumulate)
                dxp[i] += g;
            else
                dxp[i] = g;
        }
    }
}
