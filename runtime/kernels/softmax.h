/* kernels/softmax.h: softmax and log_softmax over rows of `cols` values.
 * (A template: dlrt_kernels.h includes it once per precision.)
 *
 *   softmax       y_j = e^(x_j - m) / s               s = sum_k e^(x_k - m)
 *   log_softmax   y_j = (x_j - m) - log s             m = max_k x_k
 *
 * Subtracting the row's max first keeps every exp finite. (x_j - m) comes
 * first in log_softmax: m + log s would round log s away next to a large
 * m (logits of 1e4 in float). A NaN anywhere in a row makes the max, and so
 * the whole row, NaN, as in PyTorch; so does +inf (inf - inf).
 *
 * Backward, from the saved output y:
 *
 *   softmax       dx_j = y_j (dy_j - sum_k dy_k y_k)
 *   log_softmax   dx_j = dy_j - e^(y_j) sum_k dy_k
 *
 * `accumulate` (0 or 1, a literal in generated code): write dx, or add to
 * it (a value with several consumers gets the sum of their gradients).
 */

/* The row's max; a NaN anywhere wins, so that the row comes out NaN. */
static inline real KERNEL(row_max)(const real *x, int cols)
{
    real max = x[0];
    for (int j = 1; j < cols; j++)
        max = x[j] > max || isnan(x[j]) ? x[j] : max;
    return max;
}

/* y_j = e^(x_j - max); returns their sum. */
static inline real KERNEL(row_exp)(real *y, const real *x, real max, int cols)
{
    real sum = 0;
    for (int j = 0; j < cols; j++) {
        y[j] = FN(exp)(x[j] - max);
        sum += y[j];
    }
    return sum;
}

/* y[rows, cols] = softmax of each row of x[rows, cols]. */
static inline void KERNEL(softmax_forward)(real *y, const real *x, int rows, int cols)
{
    for (int r = 0; r < rows; r++) {
        const real *xr = x + (size_t)r * cols;
        real *yr = y + (size_t)r * cols;
        const real sum = KERNEL(row_exp)(yr, xr, KERNEL(row_max)(xr, cols), cols);
        for (int j = 0; j < cols; j++)
            yr[j] /= sum;
    }
}

/* dx = y (dy - sum(dy y)), row by row. */
static inline void KERNEL(softmax_backward)(real *dx, const real *y, const real *dy, int rows,
                                            int cols, int accumulate)
{
    for (int r = 0; r < rows; r++) {
        const real *yr = y + (size_t)r * cols, *dyr = dy + (size_t)r * cols;
        real *dxr = dx + (size_t)r * cols;
        real dot = 0;
        for (int j = 0; j < cols; j++)
            dot += dyr[j] * yr[j];
        for (int j = 0; j < cols; j++) {
            const real g = yr[j] * (dyr[j] - dot);
            if (accumulate)
                dxr[j] += g;
            else
                dxr[j] = g;
        }
    }
}

/* y[rows, cols] = log_softmax of each row of x[rows, cols]. */
static inline void KERNEL(log_softmax_forward)(real *y, const real *x, int rows, int cols)
{
    for (int r = 0; r < rows; r++) {
        const real *xr = x + (size_t)r * cols;
        real *yr = y + (size_t)r * cols;
        const real max = KERNEL(row_max)(xr, cols);
        real sum = 0;
        for (int j = 0; j < cols; j++)
            sum += FN(exp)(xr[j] - max);
        const real lse = FN(log)(sum);
        for (int j = 0; j < cols; j++)
            yr[j] = (xr[j] - max) - lse;
    }
}

/* dx = dy - e^y sum(dy), row by row. */
static inline void KERNEL(log_softmax_backward)(real *dx, const real *y, const real *dy, int rows,
                                                int cols, int accumulate)
{
    for (int r = 0; r < rows; r++) {
        const real *yr = y + (size_t)r * cols, *dyr = dy + (size_t)r * cols;
        real *dxr = dx + (size_t)r * cols;
        real dot = 0;
        for (int j = 0; j < cols; j++)
            dot += dyr[j];
        for (int j = 0; j < cols; j++) {
            const real g = dyr[j] - FN(exp)(yr[j]) * dot;
            if (accumulate)
                dxr[j] += g;
            else
                dxr[j] = g;
        }
    }
}
