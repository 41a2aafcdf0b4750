/* kernels/activation.h: relu, leaky_relu, sigmoid and tanh over `count`
 * values, and their gradients from the saved output y (compiler/ops/
 * activation.c: the formulas, and how NaN goes through as in PyTorch).
 * (A template: dlrt_kernels.h includes it once per precision.)
 *
 *   relu        y = x < 0 ? 0 : x          dx = y <= 0 ? 0 : dy
 *   leaky_relu  y = x > 0 ? x : alpha x    dx = y > 0 ? dy : alpha dy
 *   sigmoid     y = 1 / (1 + e^-x)         dx = dy y (1 - y)
 *   tanh        y = tanh x                 dx = dy (1 - y^2)
 *
 * A backward's `accumulate` (0 or 1) says whether it writes dx or adds to
 * it. Each is DLRT_NOINLINE: one loop in the file however many layers call
 * it, not one inlined, vectorized copy per layer (an 80-layer network's C
 * compiled in seconds more), at no cost in speed.
 */

DLRT_NOINLINE void KERNEL(relu_forward)(real *y, const real *x, int count)
{
    for (int i = 0; i < count; i++)
        y[i] = x[i] < 0 ? 0 : x[i];   /* NaN stays NaN */
}

DLRT_NOINLINE void KERNEL(relu_backward)(real *dx, const real *y, const real *dy, int count,
                                         int accumulate)
{
    if (accumulate)
        for (int i = 0; i < count; i++)
            dx[i] += y[i] <= 0 ? 0 : dy[i];   /* y NaN: dy, as torch */
    else
        for (int i = 0; i < count; i++)
            dx[i] = y[i] <= 0 ? 0 : dy[i];
}

DLRT_NOINLINE void KERNEL(leaky_relu_forward)(real *y, const real *x, int count, real alpha)
{
    for (int i = 0; i < count; i++)
        y[i] = x[i] > 0 ? x[i] : alpha * x[i];
}

DLRT_NOINLINE void KERNEL(leaky_relu_backward)(real *dx, const real *y, const real *dy, int count,
                                               real alpha, int accumulate)
{
    if (accumulate)
        for (int i = 0; i < count; i++)
            dx[i] += y[i] > 0 ? dy[i] : alpha * dy[i];
    else
        for (int i = 0; i < count; i++)
            dx[i] = y[i] > 0 ? dy[i] : alpha * dy[i];
}

DLRT_NOINLINE void KERNEL(sigmoid_forward)(real *y, const real *x, int count)
{
    for (int i = 0; i < count; i++) {
        const real ex = FN(exp)(-FN(fabs)(x[i]));   /* in (0, 1]: never overflows */
        y[i] = x[i] >= 0 ? 1 / (1 + ex) : ex / (1 + ex);
    }
}

DLRT_NOINLINE void KERNEL(sigmoid_backward)(real *dx, const real *y, const real *dy, int count,
                                            int accumulate)
{
    if (accumulate)
        for (int i = 0; i < count; i++)
            dx[i] += dy[i] * y[i] * (1 - y[i]);
    else
        for (int i = 0; i < count; i++)
            dx[i] = dy[i] * y[i] * (1 - y[i]);
}

DLRT_NOINLINE void KERNEL(tanh_forward)(real *y, const real *x, int count)
{
    for (int i = 0; i < count; i++)
        y[i] = FN(tanh)(x[i]);
}

DLRT_NOINLINE void KERNEL(tanh_backward)(real *dx, const real *y, const real *dy, int count,
                                         int accumulate)
{
    if (accumulate)
        for (int i = 0; i < count; i++)
            dx[i] += dy[i] * (1 - y[i] * y[i]);
    else
        for (int i = 0; i < count; i++)
            dx[i] = dy[i] * (1 - y[i] * y[i]);
}
