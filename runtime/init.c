/* init.c: weight initializers. The compiler computes the bounds and
 * deviations (from fan-in/fan-out); these only draw, in element order, so
 * the PyTorch twin can replay the same stream. orthogonal also works out a
 * QR decomposition, in double. */
#include "dlrt.h"

#include <math.h>
#include <stdlib.h>

void dlrt_fill_f32(float *w, size_t n, double value)
{
    size_t i;
    for (i = 0; i < n; i++)
        w[i] = (float)value;
}

void dlrt_uniform_f32(float *w, size_t n, double lo, double hi, dlrt_rng *r)
{
    size_t i;
    for (i = 0; i < n; i++)
        w[i] = (float)(lo + (hi - lo) * dlrt_rng_uniform(r));
}

void dlrt_normal_f32(float *w, size_t n, double mean, double std, dlrt_rng *r)
{
    size_t i;
    for (i = 0; i < n; i++)
        w[i] = (float)(mean + std * dlrt_rng_normal(r));
}

void dlrt_fill_f64(double *w, size_t n, double value)
{
    size_t i;
    for (i = 0; i < n; i++)
        w[i] = value;
}

void dlrt_uniform_f64(double *w, size_t n, double lo, double hi, dlrt_rng *r)
{
    size_t i;
    for (i = 0; i < n; i++)
        w[i] = lo + (hi - lo) * dlrt_rng_uniform(r);
}

void dlrt_normal_f64(double *w, size_t n, double mean, double std, dlrt_rng *r)
{
    size_t i;
    for (i = 0; i < n; i++)
        w[i] = mean + std * dlrt_rng_normal(r);
}

/* ------------------------------------------------------------ orthogonal */

/* Householder QR of the m x n matrix a, m >= n, stored by columns
 * (column j at a + j * m, so every loop below runs over contiguous
 * memory). On return a holds R above its diagonal and the unit
 * Householder vectors on and below it, rdiag[k] is R's diagonal, and q
 * (m x n, by columns) the first n columns of Q, so that A = Q R. A column
 * that is all zeros from the diagonal down gets no reflection (R's
 * diagonal 0 there). */
void dlrt_qr(double *a, size_t m, size_t n, double *q, double *rdiag)
{
    size_t i, j, k;
    for (k = 0; k < n; k++) {
        double *v = a + k * m;   /* column k; the vector is v[k..m) */
        double norm = 0, vnorm = 0, alpha;
        for (i = k; i < m; i++)
            norm += v[i] * v[i];
        norm = sqrt(norm);
        /* alpha has the sign opposite to v[k]: no cancellation in v. */
        alpha = v[k] > 0 ? -norm : norm;
        rdiag[k] = alpha;
        v[k] -= alpha;
        for (i = k; i < m; i++)
            vnorm += v[i] * v[i];
        vnorm = sqrt(vnorm);
        for (i = k; i < m; i++)
            v[i] = vnorm > 0 ? v[i] / vnorm : 0.0;
        /* H = I - 2 v v^T on the remaining columns. */
        for (j = k + 1; j < n; j++) {
            double *c = a + j * m, s = 0;
            for (i = k; i < m; i++)
                s += v[i] * c[i];
            for (i = k; i < m; i++)
                c[i] -= 2 * s * v[i];
        }
    }
    /* Q = H_0 H_1 ... H_{n-1} applied to the first n columns of I, last
     * reflection first; H_k leaves columns j < k alone (they are e_j). */
    for (j = 0; j < n; j++)
        for (i = 0; i < m; i++)
            q[j * m + i] = i == j ? 1.0 : 0.0;
    for (k = n; k-- > 0;) {
        const double *v = a + k * m;
        for (j = k; j < n; j++) {
            double *c = q + j * m, s = 0;
            for (i = k; i < m; i++)
                s += v[i] * c[i];
            for (i = k; i < m; i++)
                c[i] -= 2 * s * v[i];
        }
    }
}

/* torch.nn.init.orthogonal_ on this runtime's draws: a rows x cols normal
 * matrix (drawn row by row), the QR of its taller orientation, Q's columns
 * times the signs of R's diagonal (which makes the result unique), back to
 * rows x cols, times gain. Exactly one of w32, w64 is set. */
static int orthogonal(float *w32, double *w64, size_t rows, size_t cols, double gain,
                      dlrt_rng *r)
{
    size_t m = rows >= cols ? rows : cols, n = rows >= cols ? cols : rows, i, j;
    double *a, *q, *rdiag;
    if (rows == 0 || cols == 0)
        return 0;
    if (m > ((size_t)-1 / sizeof(double) - n) / 2 / n)
        return -1;
    a = malloc((2 * m * n + n) * sizeof(double));
    if (!a)
        return -1;
    q = a + m * n;
    rdiag = q + m * n;
    /* Value (i, j) of the drawn matrix is A[i][j] when it is the taller
     * one, else A[j][i] (A its transpose); A is stored by columns. */
    for (i = 0; i < rows; i++)
        for (j = 0; j < cols; j++) {
            double x = dlrt_rng_normal(r);
            if (rows >= cols)
                a[j * m + i] = x;
            else
                a[i * m + j] = x;
        }
    dlrt_qr(a, m, n, q, rdiag);
    for (i = 0; i < rows; i++)
        for (j = 0; j < cols; j++) {
            size_t k = rows >= cols ? j : i;   /* Q's column of this value */
            double s = rdiag[k] > 0 ? 1.0 : rdiag[k] < 0 ? -1.0 : 0.0;
            double v = gain * (s * (rows >= cols ? q[j * m + i] : q[i * m + j]));
            if (w32)
                w32[i * cols + j] = (float)v;
            else
                w64[i * cols + j] = v;
        }
    free(a);
    return 0;
}

int dlrt_orthogonal_f32(float *w, size_t rows, size_t cols, double gain, dlrt_rng *r)
{
    return orthogonal(w, NULL, rows, cols, gain, r);
}

int dlrt_orthogonal_f64(double *w, size_t rows, size_t cols, double gain, dlrt_rng *r)
{
    return orthogonal(NULL, w, rows, cols, gain, r);
}
