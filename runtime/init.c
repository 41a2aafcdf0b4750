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

/* Householder QR of the m x n row-major matrix a, m >= n. On return the
 * part of a on and below the diagonal holds the unit Householder vectors
 * (column k: rows k..m-1), rdiag[k] is R's diagonal, and q (m x n,
 * row-major) the first n columns of Q, so that A = Q R. A column that is
 * all zeros below the diagonal gets no reflection (R's diagonal 0 there). */
void dlrt_qr(double *a, size_t m, size_t n, double *q, double *rdiag)
{
    size_t i, j, k;
    for (k = 0; k < n; k++) {
        double norm = 0, vnorm = 0, alpha;
        for (i = k; i < m; i++)
            norm += a[i * n + k] * a[i * n + k];
        norm = sqrt(norm);
        /* alpha has the sign opposite to a[k][k]: no cancellation in v. */
        alpha = a[k * n + k] > 0 ? -norm : norm;
        rdiag[k] = alpha;
        a[k * n + k] -= alpha;
        for (i = k; i < m; i++)
            vnorm += a[i * n + k] * a[i * n + k];
        vnorm = sqrt(vnorm);
        for (i = k; i < m; i++)
            a[i * n + k] = vnorm > 0 ? a[i * n + k] / vnorm : 0.0;
        /* H = I - 2 v v^T on the remaining columns. */
        for (j = k + 1; j < n; j++) {
            double s = 0;
            for (i = k; i < m; i++)
                s += a[i * n + k] * a[i * n + j];
            for (i = k; i < m; i++)
                a[i * n + j] -= 2 * s * a[i * n + k];
        }
    }
    /* Q = H_0 H_1 ... H_{n-1} applied to the first n columns of I, last
     * reflection first; H_k leaves columns j < k alone (they are e_j). */
    for (i = 0; i < m; i++)
        for (j = 0; j < n; j++)
            q[i * n + j] = i == j ? 1.0 : 0.0;
    for (k = n; k-- > 0;)
        for (j = k; j < n; j++) {
            double s = 0;
            for (i = k; i < m; i++)
                s += a[i * n + k] * q[i * n + j];
            for (i = k; i < m; i++)
                q[i * n + j] -= 2 * s * a[i * n + k];
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
    for (i = 0; i < rows; i++)
        for (j = 0; j < cols; j++) {
            double x = dlrt_rng_normal(r);
            if (rows >= cols)
                a[i * n + j] = x;
            else
                a[j * n + i] = x;   /* the transpose, cols x rows */
        }
    dlrt_qr(a, m, n, q, rdiag);
    for (i = 0; i < rows; i++)
        for (j = 0; j < cols; j++) {
            size_t k = rows >= cols ? j : i;   /* Q's column of this value */
            double s = rdiag[k] > 0 ? 1.0 : rdiag[k] < 0 ? -1.0 : 0.0;
            double v = gain * (s * (rows >= cols ? q[i * n + j] : q[j * n + i]));
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
