/* kernels/rnn.h: recurrent layers (PyTorch's nn.RNN, nn.LSTM, nn.GRU, one
 * direction of one layer), forward and backpropagation through time.
 * (A template: dlrt_kernels.h includes it once per precision.)
 *
 * Layouts are PyTorch's with batch_first=True, contiguous:
 *   x  [n, T, D]    y  [n, T, H]    h0, c0, hT, cT, dh0, dc0, dhT, dcT [n, H]
 *   w_ih [G H, D]   w_hh [G H, H]   b_ih, b_hh [G H]
 * with G gates stacked in PyTorch's order (weight_ih_l0 etc. as they lie):
 *   rnn   G = 1   h' = act(W_ih x + b_ih + W_hh h + b_hh), act tanh or relu
 *   lstm  G = 4   i, f, g, o:  i = s(.), f = s(.), g = tanh(.), o = s(.)
 *                 c' = f c + i g,  h' = o tanh(c')
 *   gru   G = 3   r, z, n:  r = s(W_ir x + b_ir + W_hr h + b_hr), z likewise,
 *                 n = tanh(W_in x + b_in + r (W_hn h + b_hn)),
 *                 h' = (1 - z) n + z h
 * (s the logistic sigmoid). y[:, t] is the state after the step at position
 * t. With `reverse` = 1 the steps run t = T-1 .. 0 over the same x, as
 * PyTorch's reverse direction of a bidirectional layer does: y[:, t] has
 * then seen x[:, t .. T-1], and hT (cT) is the state after t = 0.
 *
 * The calls (real = float or double; sizes int literals in generated code;
 * `saved` a caller's buffer of dlrt_NAME_saved_size(n, T, H) values):
 *
 *   size_t dlrt_lstm_saved_size(n, T, H)      n H (7 T + 2)
 *   dlrt_lstm_forward_R(y, hT, cT, saved, x, h0, c0, w_ih, w_hh, b_ih, b_hh,
 *                       n, T, D, H, reverse)
 *   dlrt_lstm_backward_R(dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh, dy, dhT, dcT,
 *                        saved, x, w_ih, w_hh, n, T, D, H, reverse,
 *                        accumulate_x, accumulate_w)
 *
 *   size_t dlrt_gru_saved_size(n, T, H)       n H (5 T + 4)
 *   dlrt_gru_forward_R(y, hT, saved, x, h0, w_ih, w_hh, b_ih, b_hh,
 *                      n, T, D, H, reverse)
 *   dlrt_gru_backward_R(dx, dh0, dw_ih, dw_hh, db_ih, db_hh, dy, dhT, saved,
 *                       x, w_ih, w_hh, n, T, D, H, reverse,
 *                       accumulate_x, accumulate_w)
 *
 *   size_t dlrt_rnn_saved_size(n, T, H)       n H (2 T + 1)
 *   dlrt_rnn_forward_R(y, hT, saved, x, h0, w_ih, w_hh, b_ih, b_hh,
 *                      n, T, D, H, relu, reverse)
 *   dlrt_rnn_backward_R(dx, dh0, dw_ih, dw_hh, db_ih, db_hh, dy, dhT, saved,
 *                       x, w_ih, w_hh, n, T, D, H, relu, reverse,
 *                       accumulate_x, accumulate_w)
 *
 * NULL is allowed for: h0, c0 (a zero initial state); y, hT, cT (outputs
 * not wanted); b_ih, b_hh (bias=False); dy (no gradient on the sequence
 * output, e.g. only the last step's, passed as dhT); dhT, dcT (no gradient
 * into the final state: truncated BPTT's chunk boundary); dx, dh0, dc0,
 * dw_ih, dw_hh, db_ih, db_hh (gradients not wanted). `accumulate_x` (0 or
 * 1) writes or adds dx, dh0 and dc0; `accumulate_w` the weight and bias
 * gradients (a weight shared between calls, gradients summed over chunks).
 *
 * The same in two halves, for an op that computes the input projection
 * itself (G = 4 H, 3 H or H; `gates` is saved's first n T G values, rows
 * [n, T, G] in x's order: row s T + t is sample s, position t):
 *
 *   1. the caller writes gates = W_ih x + b_ih (b_hh NOT included), with
 *      one of (rows = n T, tokens int32_t [n, T] as the rows):
 *      a float sequence x [n, T, D]:
 *        dlrt_rnn_project_input_R(gates, x, w_ih, b_ih, rows, D, G)
 *      one-hot tokens (x = one_hot(tokens, V), w_ih [G, V]):
 *        dlrt_rnn_project_tokens_R(gates, scratch, tokens, w_ih, b_ih,
 *                                  rows, V, G)
 *      an embedding x = table[tokens] (table [V, E], w_ih [G, E]):
 *        dlrt_rnn_project_embedding_R(gates, scratch, tokens, table, w_ih,
 *                                     b_ih, rows, V, E, G)
 *      (scratch: dlrt_rnn_tokens_scratch_size(V, G) values, free between
 *      calls. A token outside 0 .. V-1 is what one_hot_forward and
 *      embedding_forward make of it: an all-zero x row (gates b_ih) for
 *      one-hot tokens, a NaN row for the embedding; it adds no gradient.
 *      padding_idx as embedding_backward's: that row of dtable gets no
 *      gradient, -1 for none.)
 *   2. the recurrence, which adds b_hh itself:
 *        dlrt_lstm_forward_projected_R(y, hT, cT, saved, h0, c0, w_hh, b_hh,
 *                                      n, T, H, reverse)
 *        dlrt_gru_forward_projected_R(y, hT, saved, h0, w_hh, b_hh,
 *                                     n, T, H, reverse)
 *        dlrt_rnn_forward_projected_R(y, hT, saved, h0, w_hh, b_hh,
 *                                     n, T, H, relu, reverse)
 *   3. backward, which leaves the gradient of the projection (d gates,
 *      [n T, G] as above) in saved's gate area and sums db_ih from it:
 *        dlrt_lstm_backward_projected_R(dh0, dc0, dw_hh, db_ih, db_hh, dy,
 *              dhT, dcT, saved, w_hh, n, T, H, reverse, accumulate_x,
 *              accumulate_w)
 *        dlrt_gru_backward_projected_R(dh0, dw_hh, db_ih, db_hh, dy, dhT,
 *              saved, w_hh, n, T, H, reverse, accumulate_x, accumulate_w)
 *        dlrt_rnn_backward_projected_R(dh0, dw_hh, db_ih, db_hh, dy, dhT,
 *              saved, w_hh, n, T, H, relu, reverse, accumulate_x,
 *              accumulate_w)
 *   4. the caller turns d gates (dg = saved) into the input side's
 *      gradients, with the call that matches step 1:
 *        dlrt_rnn_input_grads_R(dx, dw_ih, dg, x, w_ih, rows, D, G,
 *                               accumulate_x, accumulate_w)
 *        dlrt_rnn_project_tokens_backward_R(dw_ih, scratch, dg, tokens,
 *                                           rows, V, G, accumulate_w)
 *        dlrt_rnn_project_embedding_backward_R(dtable, dw_ih, scratch, dg,
 *              tokens, table, w_ih, rows, V, E, G, padding_idx,
 *              accumulate_table, accumulate_w)
 * dlrt_NAME_forward_R is exactly steps 1 (float sequence) and 2, and
 * dlrt_NAME_backward_R steps 3 and 4; but an x that is a one-hot in
 * floats (every row zeros and at most one 1, as one_hot_forward makes it)
 * they project and differentiate as tokens (the same sums, up to their
 * order in dw_ih) when saved has room for w_ih^T [D, G]: D G <= 3 n T H
 * (LSTM), 2 n T H (GRU), n T H (RNN). Found out at x's first row, so
 * other data costs nothing.
 *
 * One-hot tokens skip the [n T, V] float array and two GEMMs with it (a
 * gather of w_ih^T's rows instead, and a scatter-add of dg's rows for
 * dw_ih). An embedding followed by the layer is a one-hot by w_ih
 * table^T: the projection is one [V, E] x [E, G] GEMM and a gather, its
 * backward a scatter-add and two GEMMs of V rows (dtable (+)= S w_ih, the
 * layer's share of the table's gradient; another consumer of the
 * embedding adds its own with accumulate_table = 1). That pays while V <=
 * n T; for a larger vocabulary gather the table's rows into x and use the
 * float-sequence calls.
 *
 * `saved` is written by forward and read by backward, which needs nothing
 * else from forward (not y, h0 or c0: the states each step started from are
 * in `saved`). Backward also uses it as scratch: it overwrites the saved
 * gate activations with the gates' gradients, so it runs once per forward.
 * Offsets in values, per kernel (nTH = n T H, rows [n, T, .] like y):
 *   lstm  gates [n,T,4H] at 0: i, f, g, o after their nonlinearity
 *         hprev [n,T,H] at 4 nTH: the h step t started from (h0 or a y)
 *         cprev [n,T,H] at 5 nTH: the c step t started from
 *         work [n,T,H] at 6 nTH: forward's w_hh^T [H,4H] and b_hh [4H]
 *           (zeros for NULL) when they fit (n T >= 4 (H + 1)), backward's
 *           copy of the last step's c
 *         backward's scratch: dh [n,H] at 7 nTH, dc [n,H] after it (where
 *           forward leaves the last step's h and c)
 *   gru   gates [n,T,3H] at 0: r, z, n after their nonlinearity
 *         hn [n,T,H] at 3 nTH: W_hn h + b_hn, which r multiplies
 *         hprev [n,T,H] at 4 nTH
 *         scratch [n,3H] at 5 nTH (the step's W_hh h), dh [n,H] after it
 *   rnn   h [n,T,H] at 0 (the step's output), hprev [n,T,H] at nTH,
 *         backward's dh [n,H] at 2 nTH
 *
 * How: the input projections of all steps are one GEMM, x [n T, D] times
 * w_ih^T into the gates array [n T, G H] (b_ih added there); each step is
 * a GEMM of the [n, H] states it starts from (rows T H apart in hprev) by
 * w_hh^T (the LSTM's transposed once per call into saved's work area, so
 * that OpenBLAS packs it as it lies, in dlrt_rnn_chunk's column blocks),
 * added in place into that step's gate rows (rows T G H apart), then the
 * gates' nonlinearities with b_hh, one sample's row at a time in a loop
 * that vectorizes (float: no libm call, no branch, `restrict`). Backward
 * walks the steps the other way turning each step's gates into their
 * pre-activation gradients (the LSTM's tanh(c) computed again) and the
 * recurrent gradient into the previous state with GEMMs by w_hh
 * (dlrt_rnn_chunk gates each); then, over all steps at once, dw_ih =
 * dgates^T x, dw_hh = dgates^T hprev, dx = dgates w_ih (one GEMM each)
 * and the bias gradients are dgates' column sums. The GRU's n gate
 * differs between its input and hidden sides (r multiplies W_hn h +
 * b_hn), so its hidden-side gradient dgates_n r is kept apart, in the hn
 * array.
 */

#ifndef DLRT_RNN_SIZES
#define DLRT_RNN_SIZES
/* The saved buffers' sizes in values (either precision): n times a
 * per-sample size (op emitters size them per sample). */
static inline size_t dlrt_lstm_saved_size(int n, int T, int H)
{
    return (size_t)n * H * (7 * (size_t)T + 2);
}

static inline size_t dlrt_gru_saved_size(int n, int T, int H)
{
    return (size_t)n * H * (5 * (size_t)T + 4);
}

static inline size_t dlrt_rnn_saved_size(int n, int T, int H)
{
    return (size_t)n * H * (2 * (size_t)T + 1);
}

/* The recurrent products' chunk: the columns (forward) or the depth
 * (backward) of one GEMM by w_hh such that it has n H chunk <= 64^3
 * multiply-adds, the shapes OpenBLAS runs through its small-matrix
 * kernel, which packs nothing (on SkylakeX a third faster at n = 32, H =
 * 128: bench/rnn_kernels.c); 0 (one GEMM) when that would leave chunks
 * under 32. */
static inline int dlrt_rnn_chunk(int n, int H)
{
#ifdef DLRT_RNN_CHUNK   /* tests/kernels/test_rnn.c: several chunks on small shapes */
    (void)n, (void)H;
    return DLRT_RNN_CHUNK;
#else
    long c = 262144L / ((long)n * H);
    c -= c % 16;
    return c >= 32 ? (int)c : 0;
#endif
}

/* The token projections' scratch, [V, G] values (G = gates x H). */
static inline size_t dlrt_rnn_tokens_scratch_size(int V, int G)
{
    return (size_t)V * G;
}

/* a b + c in one rounding where the machine has FMA (GCC then inlines and
 * vectorizes fmaf; -std=c99 turns off contracting a * b + c by itself),
 * else the two operations (a libm fmaf would be a slow exact emulation). */
#if defined(__FMA__)
#define DLRT_RNN_FMAF(a, b, c) fmaf(a, b, c)
#else
#define DLRT_RNN_FMAF(a, b, c) ((a) * (b) + (c))
#endif

/* DLRT_RNN_CELL: the gate loops in 512-bit vectors where GCC targets
 * AVX-512 (it prefers 256 bits there by default): they are arithmetic on
 * rows in L1, and the reference LSTM's step takes 5% less
 * (bench/rnn_kernels.c). Functions of their own, called once per sample
 * and step: inlined, they would take their caller's preference. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__AVX512F__)
#define DLRT_RNN_CELL static __attribute__((noinline, unused, target("prefer-vector-width=512")))
#else
#define DLRT_RNN_CELL static inline
#endif

/* exp(x) in float without a branch or a call, so that GCC vectorizes the
 * gate loops (libm's expf is one call per element, and the forward pass
 * takes five transcendentals per LSTM unit and step): x = k ln2 + r with
 * |r| <= ln2/2 (k rounded by adding 1.5 2^23, read back from the bits; ln2
 * in two parts, Cephes's, so k ln2 is exact), exp(r) by its Taylor
 * polynomial to r^7 (truncation under 1e-8; fused multiply-adds where
 * there are), times 2^k built in the exponent bits. Within a few ulp of
 * exp (tests/kernels/test_rnn.c measures it); 0 below -87, inf above 88
 * (where exp is within 2e-38 of 0, or near float's largest: the gates
 * saturate either way), NaN for NaN. */
static inline float dlrt_rnn_expf(float x)
{
    union {
        float f;
        uint32_t u;
    } t, scale;
    const float xc = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
    t.f = DLRT_RNN_FMAF(xc, 1.44269504088896341f, 12582912.0f);
    const float k = t.f - 12582912.0f;
    const float r = DLRT_RNN_FMAF(k, 2.12194440e-4f, DLRT_RNN_FMAF(k, -0.693359375f, xc));
    float p = 1.0f / 5040;   /* Horner, from r^7 down */
    p = DLRT_RNN_FMAF(p, r, 1.0f / 720);
    p = DLRT_RNN_FMAF(p, r, 1.0f / 120);
    p = DLRT_RNN_FMAF(p, r, 1.0f / 24);
    p = DLRT_RNN_FMAF(p, r, 1.0f / 6);
    p = DLRT_RNN_FMAF(p, r, 0.5f);
    p = DLRT_RNN_FMAF(p, r, 1);
    p = DLRT_RNN_FMAF(p, r, 1);
    /* t's low bits hold k + 2^22; unsigned: a NaN's garbage stays defined */
    scale.u = (t.u - 0x4B400000u + 127u) << 23;
    const float e = p * scale.f;
    return x < -87.0f ? 0 : x > 88.0f ? (float)HUGE_VAL : e;
}
#endif

/* exp, sigmoid and tanh for the gates: libm's in double (the kernels agree
 * with PyTorch to 1e-14 there), the vectorizable expf above in float, with
 * tanh(a) = 1 - 2 / (1 + exp(2a)) (within 2e-7 of tanh, absolute). The
 * sizeof test is a constant: each precision keeps one branch. */
static inline real KERNEL(rnn_exp)(real a)
{
    return sizeof(real) == sizeof(float) ? (real)dlrt_rnn_expf((float)a) : FN(exp)(a);
}

static inline real KERNEL(rnn_sigmoid)(real a)
{
    return 1 / (1 + KERNEL(rnn_exp)(-a));
}

static inline real KERNEL(rnn_tanh)(real a)
{
    return sizeof(real) == sizeof(float) ? 1 - 2 / (1 + KERNEL(rnn_exp)(2 * a)) : FN(tanh)(a);
}

/* g [rows, G] = x [rows, D] w_ih^T + b_ih + b_hh (b_hh's first nbhh
 * columns only: the GRU adds b_hn inside its n gate). */
static inline void KERNEL(rnn_project)(real *g, const real *x, const real *w_ih, const real *b_ih,
                                       const real *b_hh, int rows, int D, int G, int nbhh)
{
    GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, rows, G, D, 1, x, D, w_ih, D, 0, g, G);
    if (!b_ih && !b_hh)
        return;
    for (int r = 0; r < rows; r++) {
        real *gr = g + (size_t)r * G;
        if (b_ih)
            for (int j = 0; j < G; j++)
                gr[j] += b_ih[j];
        if (b_hh)
            for (int j = 0; j < nbhh; j++)
                gr[j] += b_hh[j];
    }
}

/* A float sequence's input projection for the *_projected calls: gates
 * [rows, G] = x [rows, D] w_ih^T + b_ih (b_hh is the recurrence's). Its
 * backward is dlrt_rnn_input_grads. */
static inline void KERNEL(rnn_project_input)(real *gates, const real *x, const real *w_ih,
                                             const real *b_ih, int rows, int D, int G)
{
    KERNEL(rnn_project)(gates, x, w_ih, b_ih, NULL, rows, D, G, 0);
}

/* The state the first step starts from: dst's n rows (ld apart) = src [n,
 * H], or zeros for NULL. */
static inline void KERNEL(rnn_state_in)(real *dst, size_t ld, const real *src, int n, int H)
{
    for (int s = 0; s < n; s++)
        for (int j = 0; j < H; j++)
            dst[s * ld + j] = src ? src[(size_t)s * H + j] : 0;
}

/* A NULL-tolerant copy (or sum) of a [n, H] state, for dh0 and dc0. */
static inline void KERNEL(rnn_state_out)(real *dst, const real *src, int count, int accumulate)
{
    if (!dst)
        return;
    for (int i = 0; i < count; i++)
        dst[i] = accumulate ? dst[i] + src[i] : src[i];
}

/* db[j] (= or +=) sum over the rows of a[r, j] (rows lda apart). */
static inline void KERNEL(rnn_colsum)(real *db, const real *a, size_t lda, int rows, int cols,
                                      int accumulate)
{
    if (!db)
        return;
    if (!accumulate)
        for (int j = 0; j < cols; j++)
            db[j] = 0;
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < cols; j++)
            db[j] += a[r * lda + j];
}

/* dw [M, N] (= or +=) a^T b over `rows` rows: a [rows, M] (lda), b [rows, N]. */
static inline void KERNEL(rnn_dw)(real *dw, const real *a, int lda, const real *b, int rows,
                                  int M, int N, int accumulate)
{
    if (dw)
        GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, M, N, rows, 1, a, lda, b, N,
             accumulate ? 1 : 0, dw, N);
}

/* db_ih and db_hh when both are dg's column sums (LSTM, RNN): one pass. */
static inline void KERNEL(rnn_bias_grads)(real *db_ih, real *db_hh, const real *dg, int rows,
                                          int G, int accumulate)
{
    KERNEL(rnn_colsum)(db_ih, dg, (size_t)G, rows, G, accumulate);
    if (db_ih && db_hh && !accumulate)
        memcpy(db_hh, db_ih, (size_t)G * sizeof *db_hh);
    else
        KERNEL(rnn_colsum)(db_hh, dg, (size_t)G, rows, G, accumulate);
}

/* The input side's gradients from the input-side gate gradients dg [rows,
 * G]: dw_ih = dg^T x, dx = dg w_ih. */
static inline void KERNEL(rnn_input_grads)(real *dx, real *dw_ih, const real *dg, const real *x,
                                           const real *w_ih, int rows, int D, int G,
                                           int accumulate_x, int accumulate_w)
{
    KERNEL(rnn_dw)(dw_ih, dg, G, x, rows, G, D, accumulate_w);
    if (dx)
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, D, G, 1, dg, G, w_ih, D,
             accumulate_x ? 1 : 0, dx, D);
}

/* ---- the recurrence's shared pieces -------------------------------------- */

/* The LSTM's hidden-side constants for one forward call, in saved's work
 * area when they fit: w_hh^T [H, G] in blocks of `chunk` columns (so that
 * each step's product is NoTrans GEMMs of dlrt_rnn_chunk's size: OpenBLAS
 * packs a transposed B more slowly, and at n = 32 the packing is a good
 * part of the step) and b_hh [G] (zeros for NULL). Returns the bias. */
static inline real *KERNEL(rnn_hidden_consts)(real *wt, const real *w_hh, const real *b_hh,
                                              int G, int H, int chunk)
{
    /* in blocks of `chunk` columns, [H, chunk] each, for rnn_gemm_steps */
    for (int q = 0; q < G; q += chunk) {
        const int width = G - q < chunk ? G - q : chunk;
        real *blk = wt + (size_t)q * H;
        for (int i = 0; i < H; i++)
            for (int j = 0; j < width; j++)
                blk[(size_t)i * width + j] = w_hh[(size_t)(q + j) * H + i];
    }
    real *b = wt + (size_t)G * H;
    for (int j = 0; j < G; j++)
        b[j] = b_hh ? b_hh[j] : 0;
    return b;
}

/* One sample's LSTM step after the step's GEMM: g [4H] holds the gates'
 * pre-activations without b_hh (b, NULL for none); they become i, f, g,
 * o; c' and h' go to cn and hn. `restrict` and no branch but b's, which
 * GCC takes out of the loop: the loop vectorizes (in float; the double
 * kernels call libm). */
DLRT_RNN_CELL void KERNEL(lstm_cell)(real *restrict g, const real *restrict b,
                                     const real *restrict cp, real *restrict cn,
                                     real *restrict hn, int H)
{
    for (int j = 0; j < H; j++) {
        const real i = KERNEL(rnn_sigmoid)(g[j] + (b ? b[j] : 0)),
                   f = KERNEL(rnn_sigmoid)(g[H + j] + (b ? b[H + j] : 0)),
                   gg = KERNEL(rnn_tanh)(g[2 * H + j] + (b ? b[2 * H + j] : 0)),
                   o = KERNEL(rnn_sigmoid)(g[3 * H + j] + (b ? b[3 * H + j] : 0));
        const real c = f * cp[j] + i * gg;
        g[j] = i, g[H + j] = f, g[2 * H + j] = gg, g[3 * H + j] = o;
        cn[j] = c;
        hn[j] = o * KERNEL(rnn_tanh)(c);
    }
}

/* Its backward: dh (the gradient into h', dy's part included) and dc
 * (into c') become the gates' pre-activation gradients in g and dc's part
 * into the previous c; cn is c' (tanh(c') again, as forward had it). */
DLRT_RNN_CELL void KERNEL(lstm_cell_backward)(real *restrict g, const real *restrict cn,
                                              const real *restrict cp, const real *restrict dh,
                                              real *restrict dc, int H)
{
    for (int j = 0; j < H; j++) {
        const real i = g[j], f = g[H + j], gg = g[2 * H + j], o = g[3 * H + j];
        const real th = KERNEL(rnn_tanh)(cn[j]), d = dh[j];
        const real dcj = dc[j] + d * o * (1 - th * th);
        g[j] = dcj * gg * i * (1 - i);
        g[H + j] = dcj * cp[j] * f * (1 - f);
        g[2 * H + j] = dcj * i * (1 - gg * gg);
        g[3 * H + j] = d * th * o * (1 - o);
        dc[j] = dcj * f;
    }
}

/* dh [n, H] (= or +=) dg [n, G] (rows ldg apart) w_hh [G, H], the
 * recurrent gradient of one step, as GEMMs over dlrt_rnn_chunk of the G
 * columns at a time. */
static inline void KERNEL(rnn_gemm_dh)(real *dh, const real *dg, int ldg, const real *w_hh, int n,
                                       int G, int H, int accumulate)
{
    const int chunk = dlrt_rnn_chunk(n, H) ? dlrt_rnn_chunk(n, H) : G;
    for (int k = 0; k < G; k += chunk)
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, H, G - k < chunk ? G - k : chunk, 1,
             dg + k, ldg, w_hh + (size_t)k * H, H, k > 0 || accumulate ? 1 : 0, dh, H);
}

/* g [n, G] (rows ldg apart) += h [n, H] (rows ldh apart) w_hh^T, one
 * step's recurrent product, from rnn_hidden_consts's blocks of w_hh^T. */
static inline void KERNEL(rnn_gemm_steps)(real *g, int ldg, const real *h, int ldh,
                                          const real *wt, int n, int G, int H, int chunk)
{
    for (int q = 0; q < G; q += chunk) {
        const int width = G - q < chunk ? G - q : chunk;
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, width, H, 1, h, ldh,
             wt + (size_t)q * H, width, 1, g + q, ldg);
    }
}

/* dh [n, H] += dy's rows of step t (rows T H apart), when there is a dy. */
static inline void KERNEL(rnn_add_dy)(real *dh, const real *dy, int n, int T, int t, int H)
{
    if (!dy)
        return;
    for (int s = 0; s < n; s++) {
        real *restrict d = dh + (size_t)s * H;
        const real *restrict a = dy + ((size_t)s * T + t) * H;
        for (int j = 0; j < H; j++)
            d[j] += a[j];
    }
}

/* ---- the input projection, for the *_projected calls --------------------- */

/* scratch [V, G] = w_ih^T + b_ih, w_ih [G, V]. */
static inline void KERNEL(rnn_tokens_table)(real *scratch, const real *w_ih, const real *b_ih,
                                            int V, int G)
{
    for (int v = 0; v < V; v++)
        for (int j = 0; j < G; j++)
            scratch[(size_t)v * G + j] = w_ih[(size_t)j * V + v] + (b_ih ? b_ih[j] : 0);
}

/* gates row gr [G] = the table's row v, or b_ih for v outside 0 .. V-1. */
static inline void KERNEL(rnn_gather_row)(real *gr, const real *scratch, int v, int V,
                                          const real *b_ih, int G)
{
    if (v >= 0 && v < V)
        memcpy(gr, scratch + (size_t)v * G, (size_t)G * sizeof *gr);
    else
        for (int j = 0; j < G; j++)
            gr[j] = b_ih ? b_ih[j] : 0;
}

/* One-hot tokens: gates row r = row tokens[r] of w_ih^T, + b_ih: the
 * table in scratch (one pass over w_ih), then every row is a contiguous
 * copy. A token outside 0 .. V-1 is an all-zero one-hot row: its gates
 * row is b_ih alone (the backward skips it). */
static inline void KERNEL(rnn_project_tokens)(real *gates, real *scratch, const int32_t *tokens,
                                              const real *w_ih, const real *b_ih, int rows,
                                              int V, int G)
{
    KERNEL(rnn_tokens_table)(scratch, w_ih, b_ih, V, G);
    for (int r = 0; r < rows; r++)
        KERNEL(rnn_gather_row)(gates + (size_t)r * G, scratch, tokens[r], V, b_ih, G);
}

/* scratch's row v [G] += dg's row; v outside 0 .. V-1 adds nothing. */
static inline void KERNEL(rnn_scatter_row)(real *scratch, const real *dg, int v, int V, int G)
{
    if (v < 0 || v >= V)
        return;
    real *restrict sv = scratch + (size_t)v * G;
    const real *restrict d = dg;
    for (int j = 0; j < G; j++)
        sv[j] += d[j];
}

/* scratch [V, G] = the rows of dg [rows, G] summed per token (the one-hot's
 * dg^T x, transposed); out-of-range tokens add nothing. */
static inline void KERNEL(rnn_scatter_tokens)(real *scratch, const real *dg, const int32_t *tokens,
                                              int rows, int V, int G)
{
    memset(scratch, 0, (size_t)V * G * sizeof *scratch);
    for (int r = 0; r < rows; r++)
        KERNEL(rnn_scatter_row)(scratch, dg + (size_t)r * G, tokens[r], V, G);
}

/* dw_ih [G, V] (= or +=) scratch [V, G] transposed. */
static inline void KERNEL(rnn_tokens_dw)(real *dw_ih, const real *scratch, int V, int G,
                                         int accumulate_w)
{
    for (int j = 0; j < G; j++)
        for (int v = 0; v < V; v++) {
            const real d = scratch[(size_t)v * G + j];
            dw_ih[(size_t)j * V + v] = accumulate_w ? dw_ih[(size_t)j * V + v] + d : d;
        }
}

/* dw_ih [G, V] (= or +=) the one-hot's weight gradient from the gate
 * gradients dg [rows, G] (the *_backward_projected calls leave them in
 * saved): a scatter-add into scratch [V, G], then one transposed pass. */
static inline void KERNEL(rnn_project_tokens_backward)(real *dw_ih, real *scratch, const real *dg,
                                                       const int32_t *tokens, int rows, int V,
                                                       int G, int accumulate_w)
{
    if (!dw_ih)
        return;
    KERNEL(rnn_scatter_tokens)(scratch, dg, tokens, rows, V, G);
    KERNEL(rnn_tokens_dw)(dw_ih, scratch, V, G, accumulate_w);
}

/* The plain calls' x when it is a one-hot in floats (one_hot's output):
 * the index of the 1 in row xr [D], -1 for a row of zeros, -2 for a row
 * that is no one-hot (any other value, or two 1s). */
static inline int KERNEL(rnn_onehot_index)(const real *xr, int D)
{
    int v = -1;
    for (int j = 0; j < D; j++) {
        if (xr[j] == 0)
            continue;
        if (xr[j] != 1 || v >= 0)
            return -2;
        v = j;
    }
    return v;
}

/* The plain calls' input projection, gates = x w_ih^T + b_ih: as one-hot
 * tokens when every row of x is a one-hot and scratch (`room` values)
 * holds w_ih^T [D, G]; else (found out at the first row, for data that
 * is no one-hot) one GEMM. The same sums either way: a one-hot row picks
 * a weight exactly. */
static inline void KERNEL(rnn_project_x)(real *gates, real *scratch, size_t room, const real *x,
                                         const real *w_ih, const real *b_ih, int rows, int D,
                                         int G)
{
    if ((size_t)D * G <= room && rows > 0 && KERNEL(rnn_onehot_index)(x, D) > -2) {
        KERNEL(rnn_tokens_table)(scratch, w_ih, b_ih, D, G);
        int r = 0, v;
        for (; r < rows && (v = KERNEL(rnn_onehot_index)(x + (size_t)r * D, D)) > -2; r++)
            KERNEL(rnn_gather_row)(gates + (size_t)r * G, scratch, v, D, b_ih, G);
        if (r == rows)
            return;
    }
    KERNEL(rnn_project)(gates, x, w_ih, b_ih, NULL, rows, D, G, 0);
}

/* Its backward, dlrt_rnn_input_grads with dw_ih = dg^T x a scatter-add
 * (in scratch) when x is a one-hot. */
static inline void KERNEL(rnn_input_grads_x)(real *dx, real *dw_ih, const real *dg, const real *x,
                                             const real *w_ih, int rows, int D, int G,
                                             int accumulate_x, int accumulate_w, real *scratch,
                                             size_t room)
{
    if (dw_ih && (size_t)D * G <= room && rows > 0 && KERNEL(rnn_onehot_index)(x, D) > -2) {
        memset(scratch, 0, (size_t)D * G * sizeof *scratch);
        int r = 0, v;
        for (; r < rows && (v = KERNEL(rnn_onehot_index)(x + (size_t)r * D, D)) > -2; r++)
            KERNEL(rnn_scatter_row)(scratch, dg + (size_t)r * G, v, D, G);
        if (r == rows) {
            KERNEL(rnn_tokens_dw)(dw_ih, scratch, D, G, accumulate_w);
            dw_ih = NULL;   /* done */
        }
    }
    KERNEL(rnn_input_grads)(dx, dw_ih, dg, x, w_ih, rows, D, G, accumulate_x, accumulate_w);
}

/* An embedding table [V, E] looked up by the tokens and fed to the layer:
 * x w_ih^T = (table w_ih^T)[token], so scratch [V, G] = table w_ih^T +
 * b_ih (one GEMM of V rows instead of `rows`) and every gates row is a
 * copy, as for one-hot tokens. Worth it while V <= rows (n T); otherwise
 * gather the table's rows into x and project with dlrt_rnn_project_input. */
static inline void KERNEL(rnn_project_embedding)(real *gates, real *scratch,
                                                 const int32_t *tokens, const real *table,
                                                 const real *w_ih, const real *b_ih, int rows,
                                                 int V, int E, int G)
{
    GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, V, G, E, 1, table, E, w_ih, E, 0, scratch, G);
    for (int v = 0; v < V; v++)
        for (int j = 0; b_ih && j < G; j++)
            scratch[(size_t)v * G + j] += b_ih[j];
    for (int r = 0; r < rows; r++) {
        real *gr = gates + (size_t)r * G;
        const int v = tokens[r];
        if (v >= 0 && v < V)
            memcpy(gr, scratch + (size_t)v * G, (size_t)G * sizeof *gr);
        else   /* embedding_forward's NaN row, projected */
            for (int j = 0; j < G; j++)
                gr[j] = (real)NAN;
    }
}

/* Its backward: S [V, G] = dg's rows summed per token (in scratch), then
 * dw_ih [G, E] (= or +=) S^T table and dtable [V, E] (= or +=) S w_ih: the
 * layer's share of the table's gradient (another consumer of the
 * embedding adds its own with accumulate_table = 1). Row padding_idx of
 * dtable (-1: none) gets nothing, as embedding_backward's. */
static inline void KERNEL(rnn_project_embedding_backward)(real *dtable, real *dw_ih,
                                                          real *scratch, const real *dg,
                                                          const int32_t *tokens,
                                                          const real *table, const real *w_ih,
                                                          int rows, int V, int E, int G,
                                                          int padding_idx, int accumulate_table,
                                                          int accumulate_w)
{
    if (!dtable && !dw_ih)
        return;
    KERNEL(rnn_scatter_tokens)(scratch, dg, tokens, rows, V, G);
    if (dw_ih)
        GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, G, E, V, 1, scratch, G, table, E,
             accumulate_w ? 1 : 0, dw_ih, E);
    if (!dtable)
        return;
    if (padding_idx >= 0 && padding_idx < V)   /* nothing into the padding row */
        memset(scratch + (size_t)padding_idx * G, 0, (size_t)G * sizeof *scratch);
    GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, V, E, G, 1, scratch, G, w_ih, E,
         accumulate_table ? 1 : 0, dtable, E);
}

/* ---- LSTM --------------------------------------------------------------- */

static inline void KERNEL(lstm_forward_projected)(real *y, real *hT, real *cT, real *saved,
                                                  const real *h0, const real *c0,
                                                  const real *w_hh, const real *b_hh, int n,
                                                  int T, int H, int reverse)
{
    const int G = 4 * H;
    const size_t nTH = (size_t)n * T * H, ldg = (size_t)T * G, ldh = (size_t)T * H;
    real *gates = saved, *hprev = saved + 4 * nTH, *cprev = saved + 5 * nTH,
         *work = saved + 6 * nTH, *dh = saved + 7 * nTH, *dc = dh + (size_t)n * H;
    /* w_hh^T and b_hh in the work area if n T >= 4 (H + 1) */
    const int fits = nTH >= (size_t)G * (H + 1);
    const int chunk = dlrt_rnn_chunk(n, H) ? dlrt_rnn_chunk(n, H) : G;
    const real *b = fits ? KERNEL(rnn_hidden_consts)(work, w_hh, b_hh, G, H, chunk) : b_hh;
    const int first = reverse ? T - 1 : 0;
    KERNEL(rnn_state_in)(hprev + (size_t)first * H, ldh, h0, n, H);
    KERNEL(rnn_state_in)(cprev + (size_t)first * H, ldh, c0, n, H);
    for (int k = 0; k < T; k++) {
        const int t = reverse ? T - 1 - k : k, next = reverse ? t - 1 : t + 1;
        const int last = k == T - 1;
        if ((k > 0 || h0) && n == 1 &&   /* one sample: no GEMM (dense.h) */
            KERNEL(dense_one)(gates + (size_t)t * G, hprev + (size_t)t * H, w_hh, G, H, 1))
            ;
        else if ((k > 0 || h0) && fits)   /* a zero state adds nothing */
            KERNEL(rnn_gemm_steps)(gates + (size_t)t * G, (int)ldg, hprev + (size_t)t * H,
                                   (int)ldh, work, n, G, H, chunk);
        else if (k > 0 || h0)
            GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, n, G, H, 1, hprev + (size_t)t * H,
                 (int)ldh, w_hh, H, 1, gates + (size_t)t * G, (int)ldg);
        for (int s = 0; s < n; s++) {
            const size_t row = (size_t)s * T + t, nrow = (size_t)s * T + next;
            /* the new state goes where the next step starts from, the last
             * one into backward's scratch */
            real *hd = last ? dh + (size_t)s * H : hprev + nrow * H,
                 *cd = last ? dc + (size_t)s * H : cprev + nrow * H;
            KERNEL(lstm_cell)(gates + row * G, b, cprev + row * H, cd, hd, H);
            if (y)
                memcpy(y + row * H, hd, (size_t)H * sizeof *y);
        }
    }
    if (hT)
        memcpy(hT, dh, (size_t)n * H * sizeof *hT);
    if (cT)
        memcpy(cT, dc, (size_t)n * H * sizeof *cT);
}

static inline void KERNEL(lstm_forward)(real *y, real *hT, real *cT, real *saved, const real *x,
                                        const real *h0, const real *c0, const real *w_ih,
                                        const real *w_hh, const real *b_ih, const real *b_hh,
                                        int n, int T, int D, int H, int reverse)
{
    const size_t nTH = (size_t)n * T * H;   /* hprev, cprev, work: free until the steps */
    KERNEL(rnn_project_x)(saved, saved + 4 * nTH, 3 * nTH, x, w_ih, b_ih, n * T, D, 4 * H);
    KERNEL(lstm_forward_projected)(y, hT, cT, saved, h0, c0, w_hh, b_hh, n, T, H, reverse);
}

static inline void KERNEL(lstm_backward_projected)(real *dh0, real *dc0, real *dw_hh, real *db_ih,
                                                   real *db_hh, const real *dy, const real *dhT,
                                                   const real *dcT, real *saved,
                                                   const real *w_hh, int n, int T, int H,
                                                   int reverse, int accumulate_x,
                                                   int accumulate_w)
{
    const int G = 4 * H;
    const size_t nTH = (size_t)n * T * H, ldg = (size_t)T * G;
    real *gates = saved, *hprev = saved + 4 * nTH, *cprev = saved + 5 * nTH,
         *clast = saved + 6 * nTH, *dh = saved + 7 * nTH, *dc = dh + (size_t)n * H;
    /* the last step's c' (forward left it in dc) into the work area */
    memcpy(clast, dc, (size_t)n * H * sizeof *clast);
    KERNEL(rnn_state_in)(dh, (size_t)H, dhT, n, H);
    KERNEL(rnn_state_in)(dc, (size_t)H, dcT, n, H);
    for (int k = T - 1; k >= 0; k--) {
        const int t = reverse ? T - 1 - k : k, next = reverse ? t - 1 : t + 1;
        KERNEL(rnn_add_dy)(dh, dy, n, T, t, H);   /* dh is the recurrent part so far */
        for (int s = 0; s < n; s++) {
            const size_t row = (size_t)s * T + t;
            /* c' is where the next step started from */
            const real *cn = k == T - 1 ? clast + (size_t)s * H
                                        : cprev + ((size_t)s * T + next) * H;
            KERNEL(lstm_cell_backward)(gates + row * G, cn, cprev + row * H, dh + (size_t)s * H,
                                       dc + (size_t)s * H, H);
        }
        if (k > 0 || dh0)   /* dh = dgates_t w_hh, into the previous step */
            KERNEL(rnn_gemm_dh)(dh, gates + (size_t)t * G, (int)ldg, w_hh, n, G, H, 0);
    }
    KERNEL(rnn_state_out)(dh0, dh, n * H, accumulate_x);
    KERNEL(rnn_state_out)(dc0, dc, n * H, accumulate_x);
    KERNEL(rnn_dw)(dw_hh, gates, G, hprev, n * T, G, H, accumulate_w);
    KERNEL(rnn_bias_grads)(db_ih, db_hh, gates, n * T, G, accumulate_w);
}

static inline void KERNEL(lstm_backward)(real *dx, real *dh0, real *dc0, real *dw_ih, real *dw_hh,
                                         real *db_ih, real *db_hh, const real *dy,
                                         const real *dhT, const real *dcT, real *saved,
                                         const real *x, const real *w_ih, const real *w_hh, int n,
                                         int T, int D, int H, int reverse, int accumulate_x,
                                         int accumulate_w)
{
    KERNEL(lstm_backward_projected)(dh0, dc0, dw_hh, db_ih, db_hh, dy, dhT, dcT, saved, w_hh, n, T,
                                    H, reverse, accumulate_x, accumulate_w);
    const size_t nTH = (size_t)n * T * H;   /* hprev, cprev, work: read */
    KERNEL(rnn_input_grads_x)(dx, dw_ih, saved, x, w_ih, n * T, D, 4 * H, accumulate_x,
                              accumulate_w, saved + 4 * nTH, 3 * nTH);
}

/* ---- GRU ---------------------------------------------------------------- */

/* One sample's GRU step: g [3H] the input side's pre-activations (W_i x +
 * b_i), sc [3H] the hidden side's W_h h (b_h added here, b NULL for
 * none); g becomes r, z, n, hn gets W_hn h + b_hn, h' goes to hd. */
DLRT_RNN_CELL void KERNEL(gru_cell)(real *restrict g, const real *restrict sc,
                                    const real *restrict b, const real *restrict hp,
                                    real *restrict hns, real *restrict hd, int H)
{
    for (int j = 0; j < H; j++) {
        const real r = KERNEL(rnn_sigmoid)(g[j] + sc[j] + (b ? b[j] : 0)),
                   z = KERNEL(rnn_sigmoid)(g[H + j] + sc[H + j] + (b ? b[H + j] : 0));
        const real hnj = sc[2 * H + j] + (b ? b[2 * H + j] : 0);
        const real nn = KERNEL(rnn_tanh)(g[2 * H + j] + r * hnj);
        g[j] = r, g[H + j] = z, g[2 * H + j] = nn;
        hns[j] = hnj;
        hd[j] = (1 - z) * nn + z * hp[j];
    }
}

DLRT_RNN_CELL void KERNEL(gru_cell_backward)(real *restrict g, real *restrict hns,
                                             real *restrict scs, real *restrict dh,
                                             const real *restrict hp, int H)
{
    for (int j = 0; j < H; j++) {
        const real r = g[j], z = g[H + j], nn = g[2 * H + j];
        const real d = dh[j];
        const real dn = d * (1 - z) * (1 - nn * nn);   /* n's pre-activation */
        const real dr = dn * hns[j] * r * (1 - r), dz = d * (hp[j] - nn) * z * (1 - z);
        g[j] = scs[j] = dr;
        g[H + j] = scs[H + j] = dz;
        g[2 * H + j] = dn;
        hns[j] = scs[2 * H + j] = dn * r;   /* into W_hn h + b_hn */
        dh[j] = d * z;
    }
}

static inline void KERNEL(gru_forward_projected)(real *y, real *hT, real *saved, const real *h0,
                                                 const real *w_hh, const real *b_hh, int n,
                                                 int T, int H, int reverse)
{
    const int G = 3 * H;
    const size_t nTH = (size_t)n * T * H, ldh = (size_t)T * H;
    real *gates = saved, *hn = saved + 3 * nTH, *hprev = saved + 4 * nTH, *sc = saved + 5 * nTH,
         *dh = sc + (size_t)n * G;
    const int first = reverse ? T - 1 : 0;
    KERNEL(rnn_state_in)(hprev + (size_t)first * H, ldh, h0, n, H);
    for (int k = 0; k < T; k++) {
        const int t = reverse ? T - 1 - k : k, next = reverse ? t - 1 : t + 1;
        const int last = k == T - 1;
        if ((k > 0 || h0) && n == 1 &&   /* one sample: no GEMM (dense.h) */
            KERNEL(dense_one)(sc, hprev + (size_t)t * H, w_hh, G, H, 0))
            ;
        else if (k > 0 || h0)
            GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, n, G, H, 1, hprev + (size_t)t * H,
                 (int)ldh, w_hh, H, 0, sc, G);
        else
            memset(sc, 0, (size_t)n * G * sizeof *sc);
        for (int s = 0; s < n; s++) {
            const size_t row = (size_t)s * T + t, nrow = (size_t)s * T + next;
            /* as the LSTM's: the last state into backward's scratch */
            real *hd = last ? dh + (size_t)s * H : hprev + nrow * H;
            KERNEL(gru_cell)(gates + row * G, sc + (size_t)s * G, b_hh, hprev + row * H,
                             hn + row * H, hd, H);
            if (y)
                memcpy(y + row * H, hd, (size_t)H * sizeof *y);
        }
    }
    if (hT)
        memcpy(hT, dh, (size_t)n * H * sizeof *hT);
}

static inline void KERNEL(gru_forward)(real *y, real *hT, real *saved, const real *x,
                                       const real *h0, const real *w_ih, const real *w_hh,
                                       const real *b_ih, const real *b_hh, int n, int T, int D,
                                       int H, int reverse)
{
    const size_t nTH = (size_t)n * T * H;   /* hn, hprev: free until the steps */
    KERNEL(rnn_project_x)(saved, saved + 3 * nTH, 2 * nTH, x, w_ih, b_ih, n * T, D, 3 * H);
    KERNEL(gru_forward_projected)(y, hT, saved, h0, w_hh, b_hh, n, T, H, reverse);
}

static inline void KERNEL(gru_backward_projected)(real *dh0, real *dw_hh, real *db_ih,
                                                  real *db_hh, const real *dy, const real *dhT,
                                                  real *saved, const real *w_hh, int n, int T,
                                                  int H, int reverse, int accumulate_x,
                                                  int accumulate_w)
{
    const int G = 3 * H;
    const size_t nTH = (size_t)n * T * H;
    real *gates = saved, *hn = saved + 3 * nTH, *hprev = saved + 4 * nTH, *sc = saved + 5 * nTH,
         *dh = sc + (size_t)n * G;
    KERNEL(rnn_state_in)(dh, (size_t)H, dhT, n, H);
    for (int k = T - 1; k >= 0; k--) {
        const int t = reverse ? T - 1 - k : k;
        KERNEL(rnn_add_dy)(dh, dy, n, T, t, H);   /* dh is the recurrent part so far */
        for (int s = 0; s < n; s++) {
            const size_t row = (size_t)s * T + t;
            KERNEL(gru_cell_backward)(gates + row * G, hn + row * H, sc + (size_t)s * G,
                                      dh + (size_t)s * H, hprev + row * H, H);
        }
        if (k > 0 || dh0)   /* dh += [dr, dz, dn r] w_hh */
            KERNEL(rnn_gemm_dh)(dh, sc, G, w_hh, n, G, H, 1);
    }
    KERNEL(rnn_state_out)(dh0, dh, n * H, accumulate_x);
    /* the hidden side: r and z as the input side, n from the hn array */
    KERNEL(rnn_dw)(dw_hh, gates, G, hprev, n * T, 2 * H, H, accumulate_w);
    KERNEL(rnn_dw)(dw_hh ? dw_hh + (size_t)2 * H * H : NULL, hn, H, hprev, n * T, H, H,
                   accumulate_w);
    KERNEL(rnn_colsum)(db_hh, gates, (size_t)G, n * T, 2 * H, accumulate_w);
    KERNEL(rnn_colsum)(db_hh ? db_hh + 2 * H : NULL, hn, (size_t)H, n * T, H, accumulate_w);
    KERNEL(rnn_colsum)(db_ih, gates, (size_t)G, n * T, G, accumulate_w);
}

static inline void KERNEL(gru_backward)(real *dx, real *dh0, real *dw_ih, real *dw_hh, real *db_ih,
                                        real *db_hh, const real *dy, const real *dhT, real *saved,
                                        const real *x, const real *w_ih, const real *w_hh, int n,
                                        int T, int D, int H, int reverse, int accumulate_x,
                                        int accumulate_w)
{
    KERNEL(gru_backward_projected)(dh0, dw_hh, db_ih, db_hh, dy, dhT, saved, w_hh, n, T, H,
                                   reverse, accumulate_x, accumulate_w);
    const size_t nTH = (size_t)n * T * H;   /* hn, hprev: read */
    KERNEL(rnn_input_grads_x)(dx, dw_ih, saved, x, w_ih, n * T, D, 3 * H, accumulate_x,
                              accumulate_w, saved + 3 * nTH, 2 * nTH);
}

/* ---- plain RNN (tanh or relu) ------------------------------------------- */

DLRT_RNN_CELL void KERNEL(rnn_cell)(real *restrict hr, const real *restrict b,
                                    real *restrict hd, int H, int relu)
{
    if (relu)
        for (int j = 0; j < H; j++) {
            const real a = hr[j] + (b ? b[j] : 0);
            hd[j] = hr[j] = a < 0 ? 0 : a;   /* relu keeps a NaN, as PyTorch's does */
        }
    else
        for (int j = 0; j < H; j++)
            hd[j] = hr[j] = KERNEL(rnn_tanh)(hr[j] + (b ? b[j] : 0));
}

static inline void KERNEL(rnn_forward_projected)(real *y, real *hT, real *saved, const real *h0,
                                                 const real *w_hh, const real *b_hh, int n,
                                                 int T, int H, int relu, int reverse)
{
    const size_t nTH = (size_t)n * T * H, ldh = (size_t)T * H;
    real *hs = saved, *hprev = saved + nTH, *dh = saved + 2 * nTH;
    const int first = reverse ? T - 1 : 0;
    KERNEL(rnn_state_in)(hprev + (size_t)first * H, ldh, h0, n, H);
    for (int k = 0; k < T; k++) {
        const int t = reverse ? T - 1 - k : k, next = reverse ? t - 1 : t + 1;
        const int last = k == T - 1;
        if ((k > 0 || h0) && n == 1 &&   /* one sample: no GEMM (dense.h) */
            KERNEL(dense_one)(hs + (size_t)t * H, hprev + (size_t)t * H, w_hh, H, H, 1))
            ;
        else if (k > 0 || h0)
            GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, n, H, H, 1, hprev + (size_t)t * H,
                 (int)ldh, w_hh, H, 1, hs + (size_t)t * H, (int)ldh);
        for (int s = 0; s < n; s++) {
            const size_t row = (size_t)s * T + t, nrow = (size_t)s * T + next;
            real *hd = last ? dh + (size_t)s * H : hprev + nrow * H;
            KERNEL(rnn_cell)(hs + row * H, b_hh, hd, H, relu);
            if (y)
                memcpy(y + row * H, hd, (size_t)H * sizeof *y);
        }
    }
    if (hT)
        memcpy(hT, dh, (size_t)n * H * sizeof *hT);
}

static inline void KERNEL(rnn_forward)(real *y, real *hT, real *saved, const real *x,
                                       const real *h0, const real *w_ih, const real *w_hh,
                                       const real *b_ih, const real *b_hh, int n, int T, int D,
                                       int H, int relu, int reverse)
{
    const size_t nTH = (size_t)n * T * H;   /* hprev: free until the steps */
    KERNEL(rnn_project_x)(saved, saved + nTH, nTH, x, w_ih, b_ih, n * T, D, H);
    KERNEL(rnn_forward_projected)(y, hT, saved, h0, w_hh, b_hh, n, T, H, relu, reverse);
}

static inline void KERNEL(rnn_backward_projected)(real *dh0, real *dw_hh, real *db_ih,
                                                  real *db_hh, const real *dy, const real *dhT,
                                                  real *saved, const real *w_hh, int n, int T,
                                                  int H, int relu, int reverse, int accumulate_x,
                                                  int accumulate_w)
{
    const size_t nTH = (size_t)n * T * H, ldh = (size_t)T * H;
    real *hs = saved, *hprev = saved + nTH, *dh = saved + 2 * nTH;
    KERNEL(rnn_state_in)(dh, (size_t)H, dhT, n, H);
    for (int k = T - 1; k >= 0; k--) {
        const int t = reverse ? T - 1 - k : k;
        KERNEL(rnn_add_dy)(dh, dy, n, T, t, H);
        for (int s = 0; s < n; s++) {
            real *restrict hr = hs + ((size_t)s * T + t) * H;
            const real *restrict dhs = dh + (size_t)s * H;
            for (int j = 0; j < H; j++) {
                const real d = dhs[j], h = hr[j];
                hr[j] = relu ? (h <= 0 ? 0 : d) : d * (1 - h * h);   /* NaN passes d, as in PyTorch */
            }
        }
        if (k > 0 || dh0)
            KERNEL(rnn_gemm_dh)(dh, hs + (size_t)t * H, (int)ldh, w_hh, n, H, H, 0);
    }
    KERNEL(rnn_state_out)(dh0, dh, n * H, accumulate_x);
    KERNEL(rnn_dw)(dw_hh, hs, H, hprev, n * T, H, H, accumulate_w);
    KERNEL(rnn_bias_grads)(db_ih, db_hh, hs, n * T, H, accumulate_w);
}

static inline void KERNEL(rnn_backward)(real *dx, real *dh0, real *dw_ih, real *dw_hh, real *db_ih,
                                        real *db_hh, const real *dy, const real *dhT, real *saved,
                                        const real *x, const real *w_ih, const real *w_hh, int n,
                                        int T, int D, int H, int relu, int reverse,
                                        int accumulate_x, int accumulate_w)
{
    KERNEL(rnn_backward_projected)(dh0, dw_hh, db_ih, db_hh, dy, dhT, saved, w_hh, n, T, H, relu,
                                   reverse, accumulate_x, accumulate_w);
    const size_t nTH = (size_t)n * T * H;   /* hprev: read */
    KERNEL(rnn_input_grads_x)(dx, dw_ih, saved, x, w_ih, n * T, D, H, accumulate_x, accumulate_w,
                              saved + nTH, nTH);
}
