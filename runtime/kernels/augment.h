/* kernels/augment.h: data augmentation on a batch of images x [n, C, H, W],
 * training only (off in forward and evaluate: the caller copies or skips),
 * drawing from the model's dlrt_rng. The inputs have no gradient, so there
 * is no backward.
 * (A template: dlrt_kernels.h includes it once per precision.)
 *
 * The draws, exactly, so that a PyTorch twin replays them from the same
 * stream (its Rng class: uniform() = dlrt_rng_uniform, normal() =
 * dlrt_rng_normal). draw(m) below is (int)(u * m) for one u =
 * dlrt_rng_uniform(rng), an integer in [0, m) (Python: int(rng.uniform() * m)).
 * Samples are visited in order s = 0, 1, ..., n - 1, and each takes its
 * draws before the next sample's:
 *
 *   dlrt_random_crop_R(y, x, n, C, H, W, padding, rng)
 *       torchvision RandomCrop((H, W), padding=p) with zero fill: per
 *       sample top = draw(2p + 1), then left = draw(2p + 1); y[c, i, j] =
 *       x[c, i + top - p, j + left - p], or 0 outside x.
 *   dlrt_random_hflip_R(y, x, n, C, H, W, p, rng)
 *       per sample one u = dlrt_rng_uniform; flipped (y[c, i, j] =
 *       x[c, i, W - 1 - j]) when u < p, else copied (RandomHorizontalFlip).
 *   dlrt_random_shift_R(y, x, n, C, H, W, shift, rng)
 *       per sample dy = draw(2s + 1) - s, then dx = draw(2s + 1) - s, both
 *       in [-s, s]; the image moves dy rows down and dx columns right:
 *       y[c, i, j] = x[c, i - dy, j - dx], 0 where that is outside x.
 *   dlrt_gaussian_noise_R(y, x, count, std, rng)
 *       y[i] = x[i] + (real)(std * dlrt_rng_normal(rng)) for i = 0, 1, ...,
 *       count - 1 in memory order (sample by sample, channel by channel);
 *       each normal takes two uniforms (Box-Muller, runtime/rng.c). The
 *       product is formed in double and rounded once to real.
 *   dlrt_cutout_R(y, x, n, C, H, W, size, rng)
 *       DeVries & Taylor's cutout: per sample a centre cy = draw(H), then
 *       cx = draw(W); rows cy - size/2 .. cy - size/2 + size - 1 and the
 *       same columns around cx, clipped at the border, are zeroed in every
 *       channel: a square of side `size` (the paper's; their code's
 *       y - size//2 .. y + size//2 gives size - 1 for odd sizes).
 *
 * y and x must not overlap, except that random_hflip, gaussian_noise and
 * cutout also work in place (y == x).
 */

#ifndef DLRT_AUGMENT_DRAW
#define DLRT_AUGMENT_DRAW
/* An integer in [0, m) from one uniform draw. */
static inline int dlrt_augment_draw(dlrt_rng *rng, int m)
{
    return (int)(dlrt_rng_uniform(rng) * m);
}
#endif

/* One sample: y[c, i, j] = x[c, i + oy, j + ox], or 0 outside x. */
static inline void KERNEL(augment_translate)(real *y, const real *x, int C, int H, int W, int oy,
                                             int ox)
{
    for (int c = 0; c < C; c++)
        for (int i = 0; i < H; i++) {
            real *yr = y + ((size_t)c * H + i) * W;
            const int iy = i + oy;
            if (iy < 0 || iy >= H) {
                for (int j = 0; j < W; j++)
                    yr[j] = 0;
                continue;
            }
            const real *xr = x + ((size_t)c * H + iy) * W;
            for (int j = 0; j < W; j++) {
                const int ix = j + ox;
                yr[j] = ix >= 0 && ix < W ? xr[ix] : 0;
            }
        }
}

static inline void KERNEL(random_crop)(real *y, const real *x, int n, int C, int H, int W,
                                       int padding, dlrt_rng *rng)
{
    const size_t size = (size_t)C * H * W;
    for (int s = 0; s < n; s++) {
        const int top = dlrt_augment_draw(rng, 2 * padding + 1);
        const int left = dlrt_augment_draw(rng, 2 * padding + 1);
        KERNEL(augment_translate)(y + s * size, x + s * size, C, H, W, top - padding,
                                  left - padding);
    }
}

static inline void KERNEL(random_shift)(real *y, const real *x, int n, int C, int H, int W,
                                        int shift, dlrt_rng *rng)
{
    const size_t size = (size_t)C * H * W;
    for (int s = 0; s < n; s++) {
        const int dy = dlrt_augment_draw(rng, 2 * shift + 1) - shift;
        const int dx = dlrt_augment_draw(rng, 2 * shift + 1) - shift;
        KERNEL(augment_translate)(y + s * size, x + s * size, C, H, W, -dy, -dx);
    }
}

static inline void KERNEL(random_hflip)(real *y, const real *x, int n, int C, int H, int W,
                                        double p, dlrt_rng *rng)
{
    for (int s = 0; s < n; s++) {
        const int flip = dlrt_rng_uniform(rng) < p;
        for (size_t r = (size_t)s * C * H; r < (size_t)(s + 1) * C * H; r++) {
            const real *xr = x + r * W;
            real *yr = y + r * W;
            if (!flip) {
                if (yr != xr)
                    memcpy(yr, xr, (size_t)W * sizeof(real));
                continue;
            }
            for (int j = 0; j < (W + 1) / 2; j++) {   /* swap pairs: safe in place */
                const real a = xr[j], b = xr[W - 1 - j];
                yr[j] = b;
                yr[W - 1 - j] = a;
            }
        }
    }
}

static inline void KERNEL(gaussian_noise)(real *y, const real *x, int count, double std,
                                          dlrt_rng *rng)
{
    for (int i = 0; i < count; i++)
        y[i] = x[i] + (real)(std * dlrt_rng_normal(rng));
}

static inline void KERNEL(cutout)(real *y, const real *x, int n, int C, int H, int W, int size,
                                  dlrt_rng *rng)
{
    const size_t plane = (size_t)H * W;
    if (y != x)
        memcpy(y, x, (size_t)n * C * plane * sizeof(real));
    for (int s = 0; s < n; s++) {
        const int cy = dlrt_augment_draw(rng, H), cx = dlrt_augment_draw(rng, W);
        const int y0 = cy - size / 2 > 0 ? cy - size / 2 : 0;
        const int y1 = cy - size / 2 + size < H ? cy - size / 2 + size : H;
        const int x0 = cx - size / 2 > 0 ? cx - size / 2 : 0;
        const int x1 = cx - size / 2 + size < W ? cx - size / 2 + size : W;
        for (int c = 0; c < C; c++)
            for (int i = y0; i < y1; i++)
                for (int j = x0; j < x1; j++)
                    y[((size_t)s * C + c) * plane + (size_t)i * W + j] = 0;
    }
}
