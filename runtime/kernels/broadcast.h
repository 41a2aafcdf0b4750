/* kernels/broadcast.h: a + b, a - b, a * b with PyTorch's broadcasting.
 * (A template: dlrt_kernels.h includes it once per precision.)
 *
 * The output has `rank` dims (the batch first when it has one: dims[0] =
 * n), row-major. Each operand is read through strides over the output's
 * dims, 0 along a dim it is broadcast over (a size-1 dim, a dim it lacks,
 * or the batch of a parameter):
 *
 *   y[i] = a[sum_k i_k sa_k] op b[sum_k i_k sb_k]
 *
 * Backward sums the gradient over every output position that read an
 * element (the dims its stride is 0 along), in double:
 *
 *   dx[j] (+)= sign * sum_{i reads j} dy[i] * (o ? o[i's offset in o] : 1)
 *
 * with o the other operand for a * b (NULL for + and -), sign -1 for b
 * of a - b; acc: add (1) or write (0). At most 5 dims (a batch and 4).
 */

static inline void KERNEL(bcast_forward)(real *y, const real *a, const real *b, int op, int rank,
                                         const int *dims, const long *sa, const long *sb)
{
    const int last = rank - 1;
    long total = 1;
    for (int k = 0; k < rank; k++)
        total *= dims[k];
    if (total == 0)
        return;
    int idx[5] = {0, 0, 0, 0, 0};
    const long ia = sa[last], ib = sb[last];
    for (long i = 0; i < total; i += dims[last]) {
        long oa = 0, ob = 0;
        for (int k = 0; k < last; k++) {
            oa += idx[k] * sa[k];
            ob += idx[k] * sb[k];
        }
        const real *pa = a + oa, *pb = b + ob;
        real *py = y + i;
        if (op == '+')
            for (int t = 0; t < dims[last]; t++)
                py[t] = pa[t * ia] + pb[t * ib];
        else if (op == '-')
            for (int t = 0; t < dims[last]; t++)
                py[t] = pa[t * ia] - pb[t * ib];
        else
            for (int t = 0; t < dims[last]; t++)
                py[t] = pa[t * ia] * pb[t * ib];
        for (int k = last - 1; k >= 0; k--) {
            if (++idx[k] < dims[k])
                break;
            idx[k] = 0;
        }
    }
}

static inline void KERNEL(bcast_backward)(real *dx, const real *dy, const real *o, int sign,
                                          int acc, int rank, const int *dims, const long *sx,
                                          const long *so)
{
    /* outer: the dims x has (its elements, in its order); inner: the
     * dims it is broadcast over, summed. */
    int outer[5], inner[5], no = 0, ni = 0;
    long sy[5], s = 1;
    for (int k = rank - 1; k >= 0; k--) {
        sy[k] = s;
        s *= dims[k];
    }
    if (s == 0)
        return;
    long count = 1, inner_count = 1;
    for (int k = 0; k < rank; k++) {
        if (sx[k] != 0 || dims[k] == 1) {
            outer[no++] = k;
            count *= dims[k];
        } else {
            inner[ni++] = k;
            inner_count *= dims[k];
        }
    }
    int io[5] = {0, 0, 0, 0, 0};
    for (long j = 0; j < count; j++) {
        long by = 0, bo = 0, bx = 0;
        for (int q = 0; q < no; q++) {
            by += io[q] * sy[outer[q]];
            bo += io[q] * so[outer[q]];
            bx += io[q] * sx[outer[q]];
        }
        double sum = 0;
        int ii[5] = {0, 0, 0, 0, 0};
        for (long t = 0; t < inner_count; t++) {
            long oy = by, oo = bo;
            for (int q = 0; q < ni; q++) {
                oy += ii[q] * sy[inner[q]];
                oo += ii[q] * so[inner[q]];
            }
            sum += o ? (double)dy[oy] * (double)o[oo] : (double)dy[oy];
            for (int q = ni - 1; q >= 0; q--) {
                if (++ii[q] < dims[inner[q]])
                    break;
                ii[q] = 0;
            }
        }
        const real v = (real)(sign < 0 ? -sum : sum);
        dx[bx] = acc ? dx[bx] + v : v;
        for (int q = no - 1; q >= 0; q--) {
            if (++io[q] < dims[outer[q]])
                break;
            io[q] = 0;
        }
    }
}
