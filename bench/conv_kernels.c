/* bench/conv_kernels.c: the convolution kernels' schemes timed on the
 * shapes that matter (LeNet's two convolutions at batch 64, a 3x3
 * 64-channel layer, a 1x1 one, a depthwise one, a dilated one, a dilated
 * causal conv1d), in float, one thread.
 * Prints per shape and scheme the median forward, input-gradient and
 * weight-gradient times in ms, and which scheme dlrt_conv_plan picks.
 * bench/conv_kernels_torch.py times torch.nn.functional.conv2d on the
 * same shapes; bench/conv_kernels.sh runs both and prints medians side
 * by side. Not part of make test:
 *
 *   cc -O3 -march=native -fno-math-errno -Iruntime bench/conv_kernels.c \
 *      build/libdlrt.a -lopenblas -lm -o build/conv_kernels
 *   OPENBLAS_NUM_THREADS=1 build/conv_kernels
 */
#define _POSIX_C_SOURCE 200809L
#include "dlrt_kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct case_ {
    const char *name;
    int n, C, H, W, F, kh, kw, pad_t, pad_l, pad_r, dil, g;
} case_;

static const case_ CASES[] = {
    /* name               n   C   H   W   F kh kw pt pl pr dil g */
    {"lenet_conv1", 64, 1, 28, 28, 6, 5, 5, 2, 2, 2, 1, 1},
    {"lenet_conv2", 64, 6, 14, 14, 16, 5, 5, 0, 0, 0, 1, 1},
    {"conv3x3_64", 64, 64, 32, 32, 64, 3, 3, 1, 1, 1, 1, 1},
    {"conv3x3_64_8x8", 64, 64, 8, 8, 64, 3, 3, 1, 1, 1, 1, 1},
    {"conv1x1_64", 64, 64, 16, 16, 64, 1, 1, 0, 0, 0, 1, 1},
    {"depthwise3x3_32", 64, 32, 16, 16, 32, 3, 3, 1, 1, 1, 1, 32},
    {"dilated3x3_16_d2", 64, 16, 28, 28, 16, 3, 3, 2, 2, 2, 2, 1},
    {"causal1d_32_k3_d4", 64, 32, 1, 256, 32, 1, 3, 0, 8, 0, 4, 1},
};

enum { REPS = 15 };

int main(void)
{
    for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++) {
        const case_ *p = &CASES[c];
        /* symmetric vertical padding; pad_l/pad_r apart (causal conv1d) */
        dlrt_conv_geom q0 = dlrt_conv2d_geom(p->n, p->C, p->H, p->W, p->F, p->kh, p->kw, 1, 1,
                                             p->pad_t, p->pad_t, p->pad_l, p->pad_r,
                                             p->kh > 1 ? p->dil : 1, p->dil, p->g);
        const size_t nx = (size_t)p->n * p->C * p->H * p->W,
                     ny = (size_t)p->n * p->F * q0.OH * q0.OW,
                     nw = (size_t)p->F * (p->C / p->g) * p->kh * p->kw;
        float *x = malloc(nx * sizeof *x), *dx = malloc(nx * sizeof *dx),
              *y = malloc(ny * sizeof *y), *dy = malloc(ny * sizeof *dy),
              *w = malloc(nw * sizeof *w), *dw = malloc(nw * sizeof *dw);
        for (size_t i = 0; i < nx; i++)
            x[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
        for (size_t i = 0; i < ny; i++)
            dy[i] = (float)((i * 104729) % 1000) / 1000.0f - 0.5f;
        for (size_t i = 0; i < nw; i++)
            w[i] = (float)((i * 31) % 100) / 100.0f - 0.5f;
        for (int scheme = DLRT_CONV_DIRECT; scheme <= DLRT_CONV_TAPS; scheme++) {
            dlrt_conv_geom q = q0;
            if ((scheme == DLRT_CONV_DIRECT && q0.scheme != DLRT_CONV_DIRECT) ||
                (scheme >= DLRT_CONV_WIDE && (q0.sh != 1 || q0.sw != 1)) ||
                (scheme == DLRT_CONV_TAPS && q0.g != 1))
                continue;
            q.scheme = scheme;
            float *ws = malloc((dlrt_conv_geom_workspace(&q) + 1) * sizeof *ws);
            double t[3][REPS];
            for (int r = 0; r < REPS; r++) {
                double t0 = now_ms();
                dlrt_conv_forward_core_f32(y, ws, x, w, &q, 0);
                double t1 = now_ms();
                dlrt_conv_data_core_f32(dx, ws, dy, w, &q, 0);
                double t2 = now_ms();
                dlrt_conv_weight_core_f32(dw, ws, dy, x, &q, 0);
                double t3 = now_ms();
                t[0][r] = t1 - t0, t[1][r] = t2 - t1, t[2][r] = t3 - t2;
            }
            for (int k = 0; k < 3; k++)
                qsort(t[k], REPS, sizeof t[k][0], cmp);
            printf("%-16s %-6s fwd %7.3f ms  data %7.3f ms  weight %7.3f ms  fwd+bwd %7.3f ms%s\n",
                   p->name, (const char *[]){"", "direct", "sample", "batch", "wide", "shift", "taps"}[scheme],
                   t[0][REPS / 2], t[1][REPS / 2], t[2][REPS / 2],
                   t[0][REPS / 2] + t[1][REPS / 2] + t[2][REPS / 2],
                   scheme == q0.scheme ? "  (planned)" : "");
            free(ws);
        }
        free(x), free(dx), free(y), free(dy), free(w), free(dw);
    }
    return 0;
}
