/* kernels/upsample.h: nearest-neighbour upsampling by integer factors.
 * (A template: dlrt_kernels.h includes it once per precision.)
 *
 * x [n, C, H, W] -> y [n, C, H sh, W sw], y[s, c, oy, ox] = x[s, c, oy / sh,
 * ox / sw] (integer division): torch.nn.Upsample(scale_factor=(sh, sw),
 * mode='nearest'), whose index floor(o * (1 / s)) equals o / s for integer
 * s. Backward sums each sh x sw block of dy into its source.
 *
 *   dlrt_upsample_nearest2d_forward_R(y, x, n, C, H, W, sh, sw)
 *   dlrt_upsample_nearest2d_backward_R(dx, dy, n, C, H, W, sh, sw, accumulate)
 *   dlrt_upsample_nearest1d_forward_R(y, x, n, C, L, s)         ([C, L])
 *   dlrt_upsample_nearest1d_backward_R(dx, dy, n, C, L, s, accumulate)
 */

static inline void KERNEL(upsample_nearest2d_forward)(real *y, const real *x, int n, int C, int H,
                                                      int W, int sh, int sw)
{
    const int OW = W * sw;
    for (size_t plane = 0; plane < (size_t)n * C; plane++) {
        const real *xp = x + plane * H * W;
        real *yp = y + plane * H * sh * OW;
        for (int oy = 0; oy < H * sh; oy++) {
            const real *xr = xp + (size_t)(oy / sh) * W;
            real *yr = yp + (size_t)oy * OW;
            for (int ix = 0; ix < W; ix++)
                for (int k = 0; k < sw; k++)
                    yr[ix * sw + k] = xr[ix];
        }
    }
}

static inline void KERNEL(upsample_nearest2d_backward)(real *dx, const real *dy, int n, int C,
                                                       int H, int W, int sh, int sw,
                                                       int accumulate)
{
    const int OW = W * sw;
    for (size_t plane = 0; plane < (size_t)n * C; plane++) {
        const real *dyp = dy + plane * H * sh * OW;
        real *dxp = dx + plane * H * W;
        for (int iy = 0; iy < H; iy++)
            for (int ix = 0; ix < W; ix++) {
                real sum = 0;
                for (int a = 0; a < sh; a++)
                    for (int b = 0; b < sw; b++)
                        sum += dyp[(size_t)(iy * sh + a) * OW + ix * sw + b];
                if (accumulate)
                    dxp[iy * W + ix] += sum;
                else
                    dxp[iy * W + ix] = sum;
            }
    }
}

static inline void KERNEL(upsample_nearest1d_forward)(real *y, const real *x, int n, int C, int L,
                                                      int s)
{
    KERNEL(upsample_nearest2d_forward)(y, x, n, C, 1, L, 1, s);
}

static inline void KERNEL(upsample_nearest1d_backward)(real *dx, const real *dy, int n, int C,
                                                       int L, int s, int accumulate)
{
    KERNEL(upsample_nearest2d_backward)(dx, dy, n, C, 1, L, 1, s, accumulate);
}
