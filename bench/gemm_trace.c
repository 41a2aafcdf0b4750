/* gemm_trace.c: lists the GEMMs of one step, for bench/gemm_bound.c.
 *
 * Linked into a second build of bench/step.c with -Wl,--wrap=cblas_sgemm,
 * every call of cblas_sgemm (the generated code's own and those of the
 * runtime kernels it inlines: the convolutions' im2col GEMMs, the
 * recurrent layers') prints one line on stderr,
 *   gemm ORDER TRANSA TRANSB M N K LDA LDB LDC ALPHA BETA
 * (the CBLAS enum values, the sizes as passed) and then does the GEMM, so
 * the step runs as it would. bench/run.sh runs that build for one step.
 */
#include <cblas.h>
#include <stdio.h>

void __real_cblas_sgemm(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE ta,
                        const enum CBLAS_TRANSPOSE tb, const blasint m, const blasint n,
                        const blasint k, const float alpha, const float *a, const blasint lda,
                        const float *b, const blasint ldb, const float beta, float *c,
                        const blasint ldc);
void __wrap_cblas_sgemm(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE ta,
                        const enum CBLAS_TRANSPOSE tb, const blasint m, const blasint n,
                        const blasint k, const float alpha, const float *a, const blasint lda,
                        const float *b, const blasint ldb, const float beta, float *c,
                        const blasint ldc);

void __wrap_cblas_sgemm(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE ta,
                        const enum CBLAS_TRANSPOSE tb, const blasint m, const blasint n,
                        const blasint k, const float alpha, const float *a, const blasint lda,
                        const float *b, const blasint ldb, const float beta, float *c,
                        const blasint ldc)
{
    fprintf(stderr, "gemm %d %d %d %ld %ld %ld %ld %ld %ld %.9g %.9g\n", (int)order, (int)ta,
            (int)tb, (long)m, (long)n, (long)k, (long)lda, (long)ldb, (long)ldc, (double)alpha,
            (double)beta);
    __real_cblas_sgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
