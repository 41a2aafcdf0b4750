/* kernels/loss.h: the loss terms and the accuracy count.
 * (A template: dlrt_kernels.h includes it once per precision.)
 *
 *   cross_entropy(z, y)   z [n, K] logits, y [n] class labels:
 *        L = 1/n sum_s (log sum_j e^(z_sj) - z_s,y_s)   (minus the row max)
 *        dz_sj = (p_sj - [j = y_s]) dL / n              p = softmax(z), kept
 *   mse(p, t)     L = 1/(n S) sum (p - t)^2     dp = 2 (p - t) dL / (n S), dt = -dp
 *   l1(p, t)      L = 1/(n S) sum |p - t|       dp = sign(p - t) dL / (n S), dt = -dp
 *
 * PyTorch's cross_entropy, mse_loss and l1_loss with 'mean' reduction.
 * The sums run in double, so the mean of large finite terms does not
 * overflow to inf. A NaN or +inf logit makes its sample's loss NaN (the
 * row's max is NaN, see softmax.h); -log p_y is computed as
 * (max - z_y) + log(sum), exact at logits of 1e4. A label outside 0..K-1
 * makes the loss NaN rather than read out of bounds, and adds nothing to
 * the gradient. sign(0) = 0 and sign(NaN) = 0, as in PyTorch (the loss
 * itself is NaN then). `dloss` points at dL, the term's weight.
 *
 * Over a sequence, logits [n, T, K] and labels [n, T] are n * T rows: the
 * mean over steps and batch is the same kernel with n * T. With
 * ignore_index (PyTorch's): rows whose label is ignore_index count for
 * nothing, and the mean is over the C counted rows:
 *        L = 1/C sum_counted (log sum_j e^(z_rj) - z_r,y_r)
 *        dz_rj = (p_rj - [j = y_r]) dL / C,  0 on ignored rows
 * A batch with every row ignored has loss 0 and gradient 0 (PyTorch: NaN).
 */

/* loss[0] = mean cross-entropy; probs[n, classes] = softmax(logits), for backward. */
static inline void KERNEL(cross_entropy_forward)(real *loss, real *probs, const real *logits,
                                                 const int32_t *labels, int n, int classes)
{
    double total = 0;
    for (int s = 0; s < n; s++) {
        const real *zs = logits + (size_t)s * classes;
        real *ps = probs + (size_t)s * classes;
        const real max = KERNEL(row_max)(zs, classes);
        const real sum = KERNEL(row_exp)(ps, zs, max, classes);
        for (int j = 0; j < classes; j++)
            ps[j] /= sum;
        const int k = labels[s];
        total += k >= 0 && k < classes ? (max - zs[k]) + FN(log)(sum) : NAN;
    }
    loss[0] = (real)(total / n);
}

/* dlogits[n, classes] = (probs - onehot(labels)) dloss / n. */
static inline void KERNEL(cross_entropy_backward)(real *dlogits, const real *probs,
                                                  const int32_t *labels, const real *dloss,
                                                  int n, int classes, int accumulate)
{
    const real scale = dloss[0] / n;
    for (int s = 0; s < n; s++) {
        real *dz = dlogits + (size_t)s * classes;
        const real *ps = probs + (size_t)s * classes;
        for (int j = 0; j < classes; j++) {
            if (accumulate)
                dz[j] += ps[j] * scale;
            else
                dz[j] = ps[j] * scale;
        }
        const int k = labels[s];
        if (k >= 0 && k < classes)
            dz[k] -= scale;
    }
}

/* Rows of labels[rows] that are not ignore_index: the mean's divisor. */
static inline int KERNEL(counted_rows)(const int32_t *labels, int rows, int ignore_index)
{
    int counted = 0;
    for (int r = 0; r < rows; r++)
        counted += labels[r] != ignore_index;
    return counted;
}

/* cross_entropy_forward over the rows whose label is not ignore_index;
 * probs of ignored rows are still written (backward skips them). */
static inline void KERNEL(cross_entropy_ignore_forward)(real *loss, real *probs, const real *logits,
                                                        const int32_t *labels, int rows, int classes,
                                                        int ignore_index)
{
    double total = 0;
    for (int r = 0; r < rows; r++) {
        const real *zr = logits + (size_t)r * classes;
        real *pr = probs + (size_t)r * classes;
        const real max = KERNEL(row_max)(zr, classes);
        const real sum = KERNEL(row_exp)(pr, zr, max, classes);
        for (int j = 0; j < classes; j++)
            pr[j] /= sum;
        const int k = labels[r];
        if (k != ignore_index)
            total += k >= 0 && k < classes ? (max - zr[k]) + FN(log)(sum) : NAN;
    }
    const int counted = KERNEL(counted_rows)(labels, rows, ignore_index);
    loss[0] = counted ? (real)(total / counted) : 0;
}

/* dlogits[rows, classes] = (probs - onehot(labels)) dloss / counted; zero
 * (or unchanged, when accumulating) on ignored rows. */
static inline void KERNEL(cross_entropy_ignore_backward)(real *dlogits, const real *probs,
                                                         const int32_t *labels, const real *dloss,
                                                         int rows, int classes, int ignore_index,
                                                         int accumulate)
{
    const int counted = KERNEL(counted_rows)(labels, rows, ignore_index);
    const real scale = counted ? dloss[0] / counted : 0;
    for (int r = 0; r < rows; r++) {
        real *dz = dlogits + (size_t)r * classes;
        const real *pr = probs + (size_t)r * classes;
        const int k = labels[r];
        const int skip = k == ignore_index;
        for (int j = 0; j < classes; j++) {
            const real g = skip ? 0 : pr[j] * scale;
            if (accumulate)
                dz[j] += g;
            else
                dz[j] = g;
        }
        if (!skip && k >= 0 && k < classes)
            dz[k] -= scale;
    }
}

/* loss[0] = mean of (pred - target)^2 over n samples of `size` values. */
static inline void KERNEL(mse_forward)(real *loss, const real *pred, const real *target, int n,
                                       int size)
{
    double total = 0;
    for (int i = 0; i < n * size; i++) {
        const real diff = pred[i] - target[i];
        total += diff * diff;
    }
    loss[0] = (real)(total / ((double)n * size));
}

/* loss[0] = mean of |pred - target|. */
static inline void KERNEL(l1_forward)(real *loss, const real *pred, const real *target, int n,
                                      int size)
{
    double total = 0;
    for (int i = 0; i < n * size; i++) {
        const real diff = pred[i] - target[i];
        total += FN(fabs)(diff);
    }
    loss[0] = (real)(total / ((double)n * size));
}

/* The regression losses' backward: dpred = f'(pred - target) dL / (n size),
 * dtarget = -dpred; either may be NULL (no gradient wanted). dpred and
 * dtarget may be one buffer (mse(x, x)): then acc_target must be 1. */
static inline void KERNEL(regression_backward)(real *dpred, real *dtarget, const real *pred,
                                               const real *target, real scale, int n, int size,
                                               int squared, int acc_pred, int acc_target)
{
    for (int i = 0; i < n * size; i++) {
        const real dp = squared ? (pred[i] - target[i]) * scale
                      : pred[i] > target[i] ? scale : pred[i] < target[i] ? -scale : 0;
        if (dpred) {
            if (acc_pred)
                dpred[i] += dp;
            else
                dpred[i] = dp;
        }
        if (dtarget) {
            if (acc_target)
                dtarget[i] += -dp;
            else
                dtarget[i] = -dp;
        }
    }
}

static inline void KERNEL(mse_backward)(real *dpred, real *dtarget, const real *pred,
                                        const real *target, const real *dloss, int n, int size,
                                        int acc_pred, int acc_target)
{
    const real scale = 2 * dloss[0] / (n * size);
    KERNEL(regression_backward)(dpred, dtarget, pred, target, scale, n, size, 1, acc_pred,
                                acc_target);
}

static inline void KERNEL(l1_backward)(real *dpred, real *dtarget, const real *pred,
                                       const real *target, const real *dloss, int n, int size,
                                       int acc_pred, int acc_target)
{
    const real scale = dloss[0] / (n * size);
    KERNEL(regression_backward)(dpred, dtarget, pred, target, scale, n, size, 0, acc_pred,
                                acc_target);
}

/* mse and l1 against one number c for every element (mse(d_fake, 1)):
 * the same sums with target[i] = c, no target gradient. */
static inline void KERNEL(mse_const_forward)(real *loss, const real *pred, real c, int n, int size)
{
    double total = 0;
    for (int i = 0; i < n * size; i++) {
        const real diff = pred[i] - c;
        total += diff * diff;
    }
    loss[0] = (real)(total / ((double)n * size));
}

static inline void KERNEL(l1_const_forward)(real *loss, const real *pred, real c, int n, int size)
{
    double total = 0;
    for (int i = 0; i < n * size; i++)
        total += FN(fabs)(pred[i] - c);
    loss[0] = (real)(total / ((double)n * size));
}

static inline void KERNEL(mse_const_backward)(real *dpred, const real *pred, real c,
                                              const real *dloss, int n, int size, int acc)
{
    const real scale = 2 * dloss[0] / (n * size);
    for (int i = 0; i < n * size; i++) {
        const real dp = (pred[i] - c) * scale;
        dpred[i] = acc ? dpred[i] + dp : dp;
    }
}

static inline void KERNEL(l1_const_backward)(real *dpred, const real *pred, real c,
                                             const real *dloss, int n, int size, int acc)
{
    const real scale = dloss[0] / (n * size);
    for (int i = 0; i < n * size; i++) {
        const real dp = pred[i] > c ? scale : pred[i] < c ? -scale : 0;
        dpred[i] = acc ? dpred[i] + dp : dp;
    }
}

/* How many of n rows of logits[n, classes] have their first largest value
 * at the label. A row holding a NaN is never right. */
static inline long KERNEL(accuracy_count)(const real *logits, const int32_t *labels, int n,
                                          int classes)
{
    long correct = 0;
    for (int i = 0; i < n; i++) {
        const real *row = logits + (size_t)i * classes;
        int best = 0, has_nan = isnan(row[0]);
        for (int j = 1; j < classes; j++) {
            has_nan |= isnan(row[j]);
            if (row[j] > row[best])
                best = j;
        }
        correct += !has_nan && best == labels[i];
    }
    return correct;
}

/* accuracy_count over the rows whose label is not ignore_index; adds the
 * number of those rows to *counted. */
static inline long KERNEL(accuracy_count_ignore)(const real *logits, const int32_t *labels, int rows,
                                                 int classes, int ignore_index, long *counted)
{
    long correct = 0;
    for (int r = 0; r < rows; r++) {
        if (labels[r] == ignore_index)
            continue;
        ++*counted;
        correct += KERNEL(accuracy_count)(logits + (size_t)r * classes, labels + r, 1, classes);
    }
    return correct;
}
