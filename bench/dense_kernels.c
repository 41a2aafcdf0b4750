/* bench/dense_kernels.c: dense's forward product y = x W^T on few rows,
 * by scheme: SMALL (runtime/kernels/dense.h's dlrt_dense_small_f32),
 * OpenBLAS's GEMM (cblas_sgemm, what dense ran for every n before) and,
 * for n = 1, cblas_sgemv. Shapes: the MLP 784-256-128-10's three layers
 * and a wide 4096 x 4096 one; n from 1 to 64. Float, one thread. Prints
 * one line per shape and n, the median microseconds (of CPU time) per
 * call of each scheme and the ratio SMALL / GEMM; docs/runtime.md has the numbers, and
 * DLRT_DENSE_SMALL_N (the n up to which dense runs SMALL) comes from them.
 * Not part of make test or make bench:
 *
 *   cc -std=c99 -O3 -march=native -fno-math-errno -D_POSIX_C_SOURCE=200809L \
 *      -D_ISOC11_SOURCE -Iruntime bench/dense_kernels.c build/libdlrt.a -lopenblas -lm \
 *      -o build/dense_kernels
 *   OPENBLAS_NUM_THREADS=1 build/dense_kernels [ROUNDS]
 */
#include "dlrt_kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* The thread's CPU time: on a machine shared with other jobs, wall time
 * counts the time slices the others take. */
static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

enum { SMALL, GEMM_, GEMV, SCHEMES };

/* The median over rounds of the mean of reps calls, in us. */
static double time_it(int scheme, float *y, const float *x, const float *w, int n, int out,
                      int in, int rounds)
{
    double t[64];
    int reps = (int)(2e6 / ((double)n * out * in + 1000)) + 1;
    if (rounds > 64)
        rounds = 64;
    for (int r = -1; r < rounds; r++) {   /* r = -1: warm-up */
        double t0 = now_us();
        for (int k = 0; k < reps; k++) {
            if (scheme == SMALL)
                dlrt_dense_small_f32(y, x, w, n, out, in, 0);
            else if (scheme == GEMM_)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1, x, in, w, in,
                            0, y, out);
            else
                cblas_sgemv(CblasRowMajor, CblasNoTrans, out, in, 1, w, in, x, 1, 0, y, 1);
        }
        if (r >= 0)
            t[r] = (now_us() - t0) / reps;
    }
    qsort(t, (size_t)rounds, sizeof t[0], cmp);
    return t[rounds / 2];
}

int main(int argc, char **argv)
{
    static const int SHAPES[][2] = {{784, 256}, {256, 128}, {128, 10}, {4096, 4096}};
    static const int NS[] = {1, 2, 3, 4, 6, 8, 12, 16, 20, 24, 32, 48, 64};
    int rounds = argc > 1 ? atoi(argv[1]) : 9;
    if (rounds < 1)
        rounds = 1;
    for (size_t c = 0; c < sizeof SHAPES / sizeof SHAPES[0]; c++) {
        int in = SHAPES[c][0], out = SHAPES[c][1];
        /* 64-byte aligned, as generated code's parameters and arena are */
        float *w = aligned_alloc(64, sizeof *w * (size_t)in * out);
        float *x = aligned_alloc(64, sizeof *x * 64 * (size_t)in);
        float *y = aligned_alloc(64, sizeof *y * 64 * (size_t)out);
        if (!w || !x || !y)
            return 1;
        for (size_t i = 0; i < (size_t)in * out; i++)
            w[i] = (float)((i * 2654435761u) % 1000) / 1000 - 0.5f;
        for (size_t i = 0; i < 64 * (size_t)in; i++)
            x[i] = (float)((i * 40503u) % 1000) / 1000;
        for (size_t k = 0; k < sizeof NS / sizeof NS[0]; k++) {
            int n = NS[k];
            if (in * out > 1000000 && n > 16)
                continue;
            double s = time_it(SMALL, y, x, w, n, out, in, rounds);
            double g = time_it(GEMM_, y, x, w, n, out, in, rounds);
            printf("dense %4d -> %4d  n=%2d  small_us=%9.2f  gemm_us=%9.2f", in, out, n, s, g);
            if (n == 1)
                printf("  gemv_us=%9.2f", time_it(GEMV, y, x, w, n, out, in, rounds));
            printf("  small/gemm=%.3f\n", s / g);
        }
        free(w);
        free(x);
        free(y);
    }
    return 0;
}
