/* kernels/sequence.h: class indices into reals, for token sequences.
 * (A template: dlrt_kernels.h includes it once per precision.)
 *
 *   embedding(tokens, W)   tokens [count] class indices, W [V, dim]:
 *        y[i, :] = W[tokens[i], :]                      (nn.Embedding)
 *        dW[v, :] (+)= sum over i with tokens[i] = v of dy[i, :]
 *        padding_idx p (>= 0; -1: none): row p of dW gets no gradient (the
 *        row starts at zero, as PyTorch's, and so stays zero)
 *   one_hot(tokens, K)     y[i, :] = 0 but y[i, tokens[i]] = 1   (F.one_hot)
 *
 * count is n * T: every index of the batch, back to back. An index outside
 * 0..V-1 (the entry points refuse such batches before any kernel runs)
 * gives a NaN row for embedding and a zero row for one_hot, never a read or
 * write out of bounds; it adds no gradient.
 */

/* y[count, dim] = rows of W[V, dim] picked by tokens. */
static inline void KERNEL(embedding_forward)(real *y, const real *w, const int32_t *tokens,
                                             int count, int vocab, int dim)
{
    for (int i = 0; i < count; i++) {
        real *row = y + (size_t)i * dim;
        const int v = tokens[i];
        if (v >= 0 && v < vocab) {
            memcpy(row, w + (size_t)v * dim, (size_t)dim * sizeof *row);
        } else {
            for (int j = 0; j < dim; j++)
                row[j] = (real)NAN;
        }
    }
}

/* dW[V, dim] (+)= dy[count, dim] scattered by tokens: a token that occurs
 * several times adds each of its rows. */
static inline void KERNEL(embedding_backward)(real *dw, const real *dy, const int32_t *tokens,
                                              int count, int vocab, int dim, int padding_idx,
                                              int accumulate)
{
    if (!accumulate)
        memset(dw, 0, (size_t)vocab * dim * sizeof *dw);
    for (int i = 0; i < count; i++) {
        const int v = tokens[i];
        if (v < 0 || v >= vocab || v == padding_idx)
            continue;
        real *drow = dw + (size_t)v * dim;
        const real *g = dy + (size_t)i * dim;
        for (int j = 0; j < dim; j++)
            drow[j] += g[j];
    }
}

/* y[count, classes]: a zero row with a 1 at each token. */
static inline void KERNEL(one_hot_forward)(real *y, const int32_t *tokens, int count, int classes)
{
    memset(y, 0, (size_t)count * classes * sizeof *y);
    for (int i = 0; i < count; i++)
        if (tokens[i] >= 0 && tokens[i] < classes)
            y[(size_t)i * classes + tokens[i]] = 1;
}
