/* gemm_bound.c: OpenBLAS's own time for a step's GEMMs.
 *
 *   gemm_bound [-v] < TRACE
 *
 * TRACE is bench/gemm_trace.c's lines ("gemm ORDER TRANSA TRANSB M N K LDA
 * LDB LDC ALPHA BETA", one per cblas_sgemm call of one step; other lines
 * are skipped). Each distinct call is timed alone with cblas_sgemm on
 * matrices of exactly that shape and those strides (random values in
 * [0, 1), warm caches): a few calls to warm up, then the median over
 * repeats (at least 7, and enough to fill about 20 ms). Prints
 *   gemm_bound_ms X gemms N
 * X being the sum of the medians over every call of the trace (a shape
 * called twice counts twice): what the step would cost if it did nothing
 * but its GEMMs, each at OpenBLAS's speed. -v adds a line per distinct
 * shape on stderr. Threads: OPENBLAS_NUM_THREADS, as for the step.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct Call {
    int order, ta, tb;
    long m, n, k, lda, ldb, ldc;
    double alpha, beta;
    double ms;   /* its median, once timed */
    int count;   /* times the trace has it */
} Call;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The rows of a matrix of `cols` columns (leading dimension ld) that op(X)
 * of shape r x c needs, row-major: r when not transposed, c when it is. */
static float *matrix(long rows, long ld)
{
    size_t count = (size_t)(rows > 0 ? rows : 1) * (size_t)(ld > 0 ? ld : 1);
    float *x = malloc(sizeof *x * count);
    if (!x) {
        fprintf(stderr, "gemm_bound: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < count; i++)
        x[i] = (float)rand() / ((float)RAND_MAX + 1.0f);
    return x;
}

static double time_call(const Call *c)
{
    int row = c->order == CblasRowMajor;
    int ta = c->ta != CblasNoTrans, tb = c->tb != CblasNoTrans;
    /* stored rows (row-major) or columns (column-major) of A, B and C */
    long ar = row ? (ta ? c->k : c->m) : (ta ? c->m : c->k);
    long br = row ? (tb ? c->n : c->k) : (tb ? c->k : c->n);
    long cr = row ? c->m : c->n;
    float *a = matrix(ar, c->lda), *b = matrix(br, c->ldb), *out = matrix(cr, c->ldc);
    enum { MAXREP = 2001 };
    static double t[MAXREP];
    for (int w = 0; w < 3; w++)
        cblas_sgemm((enum CBLAS_ORDER)c->order, (enum CBLAS_TRANSPOSE)c->ta,
                    (enum CBLAS_TRANSPOSE)c->tb, (blasint)c->m, (blasint)c->n, (blasint)c->k,
                    (float)c->alpha, a, (blasint)c->lda, b, (blasint)c->ldb, (float)c->beta, out,
                    (blasint)c->ldc);
    int reps = 0;
    double start = now();
    while (reps < MAXREP && (reps < 7 || now() - start < 0.02)) {
        double t0 = now();
        cblas_sgemm((enum CBLAS_ORDER)c->order, (enum CBLAS_TRANSPOSE)c->ta,
                    (enum CBLAS_TRANSPOSE)c->tb, (blasint)c->m, (blasint)c->n, (blasint)c->k,
                    (float)c->alpha, a, (blasint)c->lda, b, (blasint)c->ldb, (float)c->beta, out,
                    (blasint)c->ldc);
        t[reps++] = (now() - t0) * 1e3;
    }
    qsort(t, (size_t)reps, sizeof t[0], cmp_double);
    free(a);
    free(b);
    free(out);
    return reps % 2 ? t[reps / 2] : (t[reps / 2 - 1] + t[reps / 2]) / 2;
}

int main(int argc, char **argv)
{
    int verbose = argc > 1 && !strcmp(argv[1], "-v");
    Call *calls = NULL;
    int ncalls = 0, cap = 0, total = 0;
    char line[512];
    srand(7);
    while (fgets(line, sizeof line, stdin)) {
        Call c = {0};
        if (sscanf(line, "gemm %d %d %d %ld %ld %ld %ld %ld %ld %lf %lf", &c.order, &c.ta, &c.tb,
                   &c.m, &c.n, &c.k, &c.lda, &c.ldb, &c.ldc, &c.alpha, &c.beta) != 11)
            continue;
        total++;
        int k = 0;
        while (k < ncalls && !(calls[k].order == c.order && calls[k].ta == c.ta
                               && calls[k].tb == c.tb && calls[k].m == c.m && calls[k].n == c.n
                               && calls[k].k == c.k && calls[k].lda == c.lda
                               && calls[k].ldb == c.ldb && calls[k].ldc == c.ldc
                               && calls[k].alpha == c.alpha && calls[k].beta == c.beta))
            k++;
        if (k == ncalls) {
            if (ncalls == cap) {
                cap = cap ? 2 * cap : 64;
                calls = realloc(calls, sizeof *calls * (size_t)cap);
                if (!calls)
                    return 1;
            }
            calls[ncalls++] = c;
        }
        calls[k].count++;
    }
    double sum = 0;
    for (int k = 0; k < ncalls; k++) {
        Call *c = &calls[k];
        c->ms = time_call(c);
        sum += c->ms * c->count;
        if (verbose)
            fprintf(stderr, "gemm %s%s M=%ld N=%ld K=%ld beta=%g x%d: %.4f ms\n",
                    c->ta != CblasNoTrans ? "T" : "N", c->tb != CblasNoTrans ? "T" : "N", c->m,
                    c->n, c->k, c->beta, c->count, c->ms);
    }
    printf("gemm_bound_ms %.4f gemms %d\n", sum, total);
    free(calls);
    return 0;
}
