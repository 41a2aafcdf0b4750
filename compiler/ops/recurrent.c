/* ops/recurrent.c: the recurrent layers, PyTorch's nn.RNN, nn.LSTM and
 * nn.GRU (batch_first=True) over a sequence x [T, D] per sample.
 *
 *   lstm(x, hidden_size, num_layers = 1, bias = true, bidirectional = false,
 *        dropout = 0, return_sequences = true, initial_state = "zeros",
 *        stateful = false, h0 = <tensor>, c0 = <tensor>)
 *   gru(... the same without c0)
 *   rnn(... as gru, nonlinearity = "tanh" | "relu")
 *   + the layer arguments init, lr, weight_decay, trainable (OPF_PARAMS).
 *
 * Result: [T, dirs*H], nn.LSTM's `output` (forward then backward halves),
 * or with return_sequences = false [dirs*H], the last layer's h_n
 * (forward's after t = T-1, then backward's after t = 0).
 *
 * Each layer and direction is one call to runtime/kernels/rnn.h
 * (dlrt_lstm_forward_R ...: the input projection of all steps in one GEMM,
 * one GEMM per step for the recurrence; backward is backpropagation through
 * time over the kernel's `saved` buffer). Layers stack as in nn.LSTM: layer
 * l > 0 reads layer l-1's [T, dirs*H] output, after dropout while training
 * (one draw per value, in order, as ops/dropout.c).
 *
 * Parameters, in nn.LSTM's state_dict order and names under the node's
 * scope: weight_ih_l0 [G H, D], weight_hh_l0 [G H, H], bias_ih_l0,
 * bias_hh_l0 [G H], then the _l0_reverse ones, then l1 ...; G = 1 (rnn),
 * 4 (lstm: i, f, g, o), 3 (gru: r, z, n). All start at PyTorch's
 * U(-1/sqrt(H), 1/sqrt(H)); a layer's init = ... replaces it for the
 * weights (biases keep it). initial_state = "learned" adds h0 (and c0)
 * [num_layers*dirs, H], starting at zero, shared by every sample.
 *
 * Scratch (per sample; regions inside one buffer at n * offset, except
 * the carry's, at batch_cap * offset so rows keep their place):
 *   "state" SAVED      each layer and direction's kernel `saved` buffer,
 *                      the inner layers' outputs and dropout masks
 *   "work"  WORKSPACE  forward: each direction's [T, H] output before they
 *                      are interleaved, initial states laid out [n, H];
 *                      backward: the gradients between layers, split per
 *                      direction, and the dh0/dc0 staging
 *   "carry" CARRY      stateful = true: each layer and direction's final h
 *                      (and c) per batch row, kept in the workspace from
 *                      call to call (P_reset_state zeroes it)
 */
#include "ops.h"

#include <math.h>
#include <stdlib.h>

typedef enum Cell { CELL_RNN, CELL_LSTM, CELL_GRU } Cell;

typedef struct RecurrentAttr {
    Cell cell;
    int T, D, H, layers, dirs;
    bool bias, return_sequences, stateful, learned, relu;
    double dropout;
    int h0_in, c0_in;          /* index in node->in of h0 / c0 given as tensors, or -1 */
    /* per-sample offsets in "state": [layer * dirs + dir], [layer] */
    size_t *saved_off, *out_off, *mask_off;
    /* per-sample offsets in "work" */
    size_t y_off[2], h0_off, c0_off, hT_off, ga_off, gb_off, dy_off[2], dhT_off, dh0_off, dc0_off;
} RecurrentAttr;

static RecurrentAttr *attr(const Node *n)
{
    return n->attr;
}

enum { S_STATE, S_WORK, S_CARRY };

/* Every index in the emitted code is an int. */
#define RECURRENT_MAX_ELEMS 1000000000L

static const char *const state_words[] = {"zeros", "learned", NULL};
static const char *const nonlinearity_words[] = {"tanh", "relu", NULL};

/* The arguments all three share, in this order; then c0 (lstm) or
 * nonlinearity (rnn). */
#define COMMON_ARGS                                                                      \
    {.name = "x", .kind = ARG_TENSOR},                                                   \
    {.name = "hidden_size", .kind = ARG_INT, .has_min = true, .min = 0, .min_open = true}, \
    {.name = "num_layers", .kind = ARG_INT, .optional = true, .def = 1, .has_min = true,  \
     .min = 0, .min_open = true},                                                        \
    {.name = "bias", .kind = ARG_BOOL, .optional = true, .def = 1},                      \
    {.name = "bidirectional", .kind = ARG_BOOL, .optional = true, .def = 0},             \
    {.name = "dropout", .kind = ARG_NUMBER, .optional = true, .def = 0, .has_min = true, \
     .min = 0, .has_max = true, .max = 1, .max_open = true},                             \
    {.name = "return_sequences", .kind = ARG_BOOL, .optional = true, .def = 1},          \
    {.name = "initial_state", .kind = ARG_WORD, .optional = true, .def = 0,              \
     .words = state_words},                                                              \
    {.name = "stateful", .kind = ARG_BOOL, .optional = true, .def = 0},                  \
    {.name = "h0", .kind = ARG_TENSOR, .optional = true}

enum { A_X, A_HIDDEN, A_LAYERS, A_BIAS, A_BIDIR, A_DROPOUT, A_RETSEQ, A_INITIAL, A_STATEFUL,
       A_H0, A_LAST };

static const ArgSpec lstm_args[] = {
    COMMON_ARGS,
    {.name = "c0", .kind = ARG_TENSOR, .optional = true},
    /* init, lr, weight_decay, trainable: the layer arguments sema adds (OPF_PARAMS) */
};

static const ArgSpec gru_args[] = {COMMON_ARGS};

static const ArgSpec rnn_args[] = {
    COMMON_ARGS,
    {.name = "nonlinearity", .kind = ARG_WORD, .optional = true, .def = 0,
     .words = nonlinearity_words},
};

static const char *cell_name(Cell c)
{
    return c == CELL_LSTM ? "lstm" : c == CELL_GRU ? "gru" : "rnn";
}

static int gates(Cell c)
{
    return c == CELL_LSTM ? 4 : c == CELL_GRU ? 3 : 1;
}

/* The kernel's saved buffer per sample: dlrt_NAME_saved_size(1, T, H). */
static size_t saved_per_sample(Cell c, int T, int H)
{
    size_t t = (size_t)T, h = (size_t)H;
    return c == CELL_LSTM ? h * (7 * t + 2) : c == CELL_GRU ? h * (5 * t + 4) : h * (2 * t + 1);
}

/* The input size of layer l. */
static int layer_in(const RecurrentAttr *r, int l)
{
    return l == 0 ? r->D : r->dirs * r->H;
}

/* The per-sample shape an initial state tensor has: [H] for one layer and
 * direction (also [1, H]), else [num_layers*dirs, H]. */
static bool state_shape_ok(Shape s, int count, int H)
{
    if (count == 1 && s.rank == 1)
        return s.dim[0] == H;
    return s.rank == 2 && s.dim[0] == count && s.dim[1] == H;
}

/* x must be [T, D]: the error and a note on how to make one. */
static void not_a_sequence(Build *b, Cell cell, const Expr *xe, int x, Shape xs)
{
    Diag *d = b->diag;
    const char *text = build_expr_text(b, xe);
    diag_error(d, xe->loc, "%s expects a sequence [T, D] per sample (T steps of D values), '%s' "
               "has shape %s", cell_name(cell), text, shape_str(b->arena, xs));
    build_note_shape(b, x, "input");
    if (xs.rank == 1) {
        int size = xs.dim[0], r = (int)sqrt((double)size);
        while (r > 1 && size % r)
            r--;
        diag_note(d, xe->loc, "a vector is one step: reshape(%s, [T, D]) makes it T steps of D "
                  "values, as reshape(%s, [%d, %d])", text, text, size / r, r);
    } else if (xs.rank == 3) {
        if (xs.dim[0] == 1)
            diag_note(d, xe->loc, "an image [1, H, W] reads as H steps of W pixels: "
                      "reshape(%s, [%d, %d])", text, xs.dim[1], xs.dim[2]);
        else
            diag_note(d, xe->loc, "an image [C, H, W] is a sequence of its channels with "
                      "reshape(%s, [%d, %d]); for its rows as steps, the channels must come last",
                      text, xs.dim[0], xs.dim[1] * xs.dim[2]);
    } else if (xs.rank == 0) {
        diag_note(d, xe->loc, "one number per sample is no sequence");
    }
}

/* h0 or c0 given as a tensor: its shape against the state's. */
static bool check_state(Build *b, Cell cell, const ArgVal *v, const char *what, int count, int H,
                        long layers, bool bidir)
{
    if (v->node < 0)
        return true;
    Shape s = build_get(b, v->node)->shape;
    if (state_shape_ok(s, count, H))
        return true;
    Shape want = count == 1 ? (Shape){.rank = 1, .dim = {H}}
                            : (Shape){.rank = 2, .dim = {count, H}};
    const char *why = count == 1
        ? arena_printf(b->arena, "one layer, one direction, hidden_size %d", H)
        : arena_printf(b->arena, "num_layers*directions = %ld*%d = %d states of hidden_size %d",
                       layers, bidir ? 2 : 1, count, H);
    diag_error(b->diag, v->expr->loc, "state size mismatch: %s's %s must be %s per sample (%s), "
               "'%s' has shape %s", cell_name(cell), what, shape_str(b->arena, want), why,
               build_expr_text(b, v->expr), shape_str(b->arena, s));
    build_note_shape(b, v->node, what);
    return false;
}

/* Sizes the scratch regions (per sample) and records their offsets. */
static void plan_scratch(Build *b, Node *node, RecurrentAttr *r)
{
    int L = r->layers, dirs = r->dirs, T = r->T, H = r->H;
    size_t TH = (size_t)T * H, TdH = TH * (size_t)dirs;
    r->saved_off = arena_alloc(b->arena, sizeof(size_t) * (size_t)(L * dirs));
    r->out_off = arena_alloc(b->arena, sizeof(size_t) * (size_t)L);
    r->mask_off = arena_alloc(b->arena, sizeof(size_t) * (size_t)L);
    size_t at = 0;
    for (int l = 0; l < L; l++) {
        for (int d = 0; d < dirs; d++) {
            r->saved_off[l * dirs + d] = at;
            at += saved_per_sample(r->cell, T, H);
        }
        if (l < L - 1) {   /* the next layer's input, kept for its backward */
            r->out_off[l] = at;
            at += TdH;
            if (r->dropout > 0) {
                r->mask_off[l] = at;
                at += TdH;
            }
        }
    }
    node->scratch_size[S_STATE] = at;

    /* forward: the directions' outputs, initial states laid out [n, H],
     * the final states of a bidirectional last layer; each only when
     * used */
    bool staged[2] = {r->learned || (r->h0_in >= 0 && L * dirs > 1),
                      r->learned || (r->c0_in >= 0 && L * dirs > 1)};
    bool last_pair = dirs == 2 && !r->return_sequences;
    size_t fw = 0;
    r->y_off[0] = fw, fw += dirs == 2 ? TH : 0;
    r->y_off[1] = fw, fw += dirs == 2 ? TH : 0;
    r->h0_off = fw, fw += staged[0] ? (size_t)H : 0;
    r->c0_off = fw, fw += staged[1] && r->cell == CELL_LSTM ? (size_t)H : 0;
    r->hT_off = fw, fw += last_pair ? (size_t)(2 * H) : 0;
    /* backward: two gradients between layers, the directions' shares,
     * the initial states' gradients */
    size_t bw = 0;
    r->ga_off = bw, bw += L > 1 ? TdH : 0;
    r->gb_off = bw, bw += L > 2 ? TdH : 0;
    r->dy_off[0] = bw, bw += dirs == 2 ? TH : 0;
    r->dy_off[1] = bw, bw += dirs == 2 ? TH : 0;
    r->dhT_off = bw, bw += last_pair ? (size_t)(2 * H) : 0;
    r->dh0_off = bw, bw += r->learned || r->h0_in >= 0 ? (size_t)H : 0;
    r->dc0_off = bw, bw += (r->learned || r->c0_in >= 0) && r->cell == CELL_LSTM ? (size_t)H : 0;
    node->scratch_size[S_WORK] = fw > bw ? fw : bw;

    if (r->stateful)
        node->scratch_size[S_CARRY] = (size_t)(L * dirs * H * (r->cell == CELL_LSTM ? 2 : 1));
}

/* The PyTorch name of weight k (0 weight_ih, 1 weight_hh, 2 bias_ih, 3
 * bias_hh) of layer l, direction d: "weight_ih_l0_reverse". */
static const char *param_local(Arena *a, int k, int l, int d)
{
    static const char *const base[] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    return arena_printf(a, "%s_l%d%s", base[k], l, d ? "_reverse" : "");
}

static int recurrent_lower(Build *b, Cell cell, const Expr *call, const ArgVal *a, bool ok)
{
    Diag *d = b->diag;
    const char *name = cell_name(cell);
    int x = a[A_X].node;
    long H = (long)a[A_HIDDEN].num, L = (long)a[A_LAYERS].num;
    bool bidir = a[A_BIDIR].num != 0, stateful = a[A_STATEFUL].num != 0;
    bool learned = a[A_INITIAL].num == 1;
    double dropout = a[A_DROPOUT].num;
    const ArgVal *h0 = &a[A_H0], *c0 = cell == CELL_LSTM ? &a[A_LAST] : NULL;
    int dirs = bidir ? 2 : 1;

    int T = 0, D = 0;
    if (x >= 0) {
        Shape xs = build_get(b, x)->shape;
        if (xs.rank != 2) {
            not_a_sequence(b, cell, a[A_X].expr, x, xs);
            ok = false;
        } else {
            T = xs.dim[0];
            D = xs.dim[1];
        }
    }
    if (dropout > 0 && L == 1)   /* PyTorch warns the same */
        diag_warning(d, a[A_DROPOUT].expr->loc, "%s: dropout applies between stacked layers; with "
                     "num_layers = 1 it does nothing", name);
    if (stateful && bidir) {
        diag_error(d, a[A_STATEFUL].expr->loc, "%s: stateful = true cannot be bidirectional: "
                   "the backward direction starts from the end of each chunk", name);
        diag_note(d, a[A_BIDIR].expr->loc, "bidirectional set here");
        ok = false;
    }
    if (stateful && learned) {
        diag_error(d, a[A_INITIAL].expr->loc, "%s: initial_state = \"learned\" and stateful = true: "
                   "a stateful layer starts from the state its previous call left", name);
        ok = false;
    }
    const ArgVal *given[2] = {h0, c0};
    for (int k = 0; k < 2; k++) {
        const ArgVal *v = given[k];
        if (!v || !v->expr)
            continue;
        if (learned) {
            diag_error(d, v->expr->loc, "%s: %s given as a tensor and initial_state = \"learned\": "
                       "the initial state is one or the other", name, k ? "c0" : "h0");
            ok = false;
        } else if (stateful) {
            diag_error(d, v->expr->loc, "%s: %s given as a tensor and stateful = true: a stateful "
                       "layer starts from the state its previous call left", name, k ? "c0" : "h0");
            ok = false;
        }
    }
    if (H > 0 && L > 0 && H * L * dirs <= RECURRENT_MAX_ELEMS) {
        int count = (int)(L * dirs);
        if (!check_state(b, cell, h0, "h0", count, (int)H, L, bidir))
            ok = false;
        if (c0 && !check_state(b, cell, c0, "c0", count, (int)H, L, bidir))
            ok = false;
    }
    if (ok) {
        long G = gates(cell) * H, widest = D > dirs * H ? D : dirs * H;
        if ((long)T * (G > widest ? G : widest) * dirs > RECURRENT_MAX_ELEMS / 8 ||
            G * (widest + H) > RECURRENT_MAX_ELEMS || L * dirs * G * (widest + H) > RECURRENT_MAX_ELEMS) {
            build_value_error(b, call->loc, "%s layer too large: %d steps of %d values, "
                              "hidden_size %ld, %ld layers", name, T, D, H, L);
            ok = false;
        }
    }
    if (!ok)
        return -1;

    OpKind op = cell == CELL_LSTM ? OP_LSTM : cell == CELL_GRU ? OP_GRU : OP_RNN;
    Node *node = build_node(b, op, call);
    node->in[0] = x;
    node->nin = 1;
    RecurrentAttr *r = build_attr(b, node, sizeof(RecurrentAttr));
    r->cell = cell;
    r->T = T, r->D = D, r->H = (int)H, r->layers = (int)L, r->dirs = dirs;
    r->bias = a[A_BIAS].num != 0;
    r->return_sequences = a[A_RETSEQ].num != 0;
    r->stateful = stateful;
    r->learned = learned;
    r->relu = cell == CELL_RNN && a[A_LAST].num == 1;
    r->dropout = L > 1 ? dropout : 0;   /* between layers: nothing to drop with one */
    r->h0_in = r->c0_in = -1;
    if (h0->node >= 0) {
        r->h0_in = node->nin;
        node->in[node->nin++] = h0->node;
    }
    if (c0 && c0->node >= 0) {
        r->c0_in = node->nin;
        node->in[node->nin++] = c0->node;
    }
    if (a[A_DROPOUT].expr) {
        node->hyper_set = true;
        node->hyper_loc = a[A_DROPOUT].expr->loc;
    }
    node->shape = r->return_sequences ? (Shape){.rank = 2, .dim = {T, dirs * (int)H}}
                                      : (Shape){.rank = 1, .dim = {dirs * (int)H}};
    node->batched = true;

    /* nn.LSTM's parameters, in its state_dict order. PyTorch draws every
     * one from U(-k, k), k = 1/sqrt(hidden_size); biases too (so they are
     * marked as biases: a layer's init = ... leaves them at that). */
    double bound = 1.0 / sqrt((double)H);
    int G = gates(cell) * (int)H;
    for (int l = 0; l < L; l++)
        for (int dd = 0; dd < dirs; dd++)
            for (int k = 0; k < (r->bias ? 4 : 2); k++) {
                Shape s = k == 0   ? (Shape){.rank = 2, .dim = {G, layer_in(r, l)}}
                          : k == 1 ? (Shape){.rank = 2, .dim = {G, (int)H}}
                                   : (Shape){.rank = 1, .dim = {G}};
                int p = build_param(b, node, param_local(b->arena, k, l, dd), s, call->loc);
                Param *pr = &b->ir->params.items[p];
                pr->init = INIT_UNIFORM;
                pr->init_arg = bound;
                pr->is_bias = k >= 2;
            }
    if (learned)
        for (int k = 0; k < (cell == CELL_LSTM ? 2 : 1); k++) {
            int p = build_param(b, node, k ? "c0" : "h0",
                                (Shape){.rank = 2, .dim = {(int)(L * dirs), (int)H}}, call->loc);
            Param *pr = &b->ir->params.items[p];
            pr->init = INIT_ZEROS;
            pr->is_bias = true;   /* not a weight: init = ... leaves it at zero */
        }
    plan_scratch(b, node, r);
    return node->id;
}

static int rnn_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    return recurrent_lower(b, CELL_RNN, call, a, ok);
}

static int lstm_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    return recurrent_lower(b, CELL_LSTM, call, a, ok);
}

static int gru_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    return recurrent_lower(b, CELL_GRU, call, a, ok);
}

/* ------------------------------------------------------------ emission */

/* Parameter k (0 w_ih, 1 w_hh, 2 b_ih, 3 b_hh) of layer l, direction d, or -1. */
static int param_at(const Node *n, int l, int d, int k)
{
    const RecurrentAttr *r = attr(n);
    int per = r->bias ? 4 : 2;
    if (k >= per)
        return -1;
    return n->param[(l * r->dirs + d) * per + k];
}

/* The learned h0 (k = 0) or c0 (k = 1) parameter. */
static int learned_param(const Node *n, int k)
{
    const RecurrentAttr *r = attr(n);
    return n->param[r->layers * r->dirs * (r->bias ? 4 : 2) + k];
}

/* "base + (size_t)n * off", a region of a per-sample scratch buffer. */
static const char *region(Emit *e, const char *base, size_t off)
{
    if (off == 0)
        return base;
    return arena_printf(emit_arena(e), "%s + (size_t)n * %zu", base, off);
}

/* The carry of state k (0 h, 1 c) of layer l, direction d: [batch, H] at a
 * place that does not move with n. */
static const char *carry_at(Emit *e, const Node *n, int k, int l, int d)
{
    const RecurrentAttr *r = attr(n);
    size_t slot = (size_t)(k * r->layers * r->dirs + l * r->dirs + d);
    size_t off = slot * (size_t)emit_ir(e)->batch_cap * (size_t)r->H;
    const char *base = emit_scratch(e, n->id, S_CARRY);
    return off ? arena_printf(emit_arena(e), "%s + %zu", base, off) : base;
}

/* The initial state k (0 h, 1 c) of layer l, direction d, for the kernel:
 * "NULL" (zeros), the carry, or the learned or given state laid out
 * [n, H] in the workspace. */
static const char *initial_state(Emit *e, const Node *n, int k, int l, int d)
{
    const RecurrentAttr *r = attr(n);
    int H = r->H, count = r->layers * r->dirs, row = l * r->dirs + d;
    if (r->stateful)
        return carry_at(e, n, k, l, d);
    const char *stage = region(e, emit_scratch(e, n->id, S_WORK), k ? r->c0_off : r->h0_off);
    const char *real = emit_real(e);
    if (r->learned) {
        const char *p = emit_param(e, learned_param(n, k));
        emit_line(e, "for (int s = 0; s < n; s++)   /* learned %s, row %d, for every sample */",
                  k ? "c0" : "h0", row);
        emit_line(e, "    memcpy(%s + (size_t)s * %d, %s + %d, %d * sizeof(%s));", stage, H, p,
                  row * H, H, real);
        return stage;
    }
    int in = k ? r->c0_in : r->h0_in;
    if (in < 0)
        return "NULL";
    const char *src = emit_buf(e, n->in[in]);
    if (count == 1)
        return src;
    emit_line(e, "for (int s = 0; s < n; s++)   /* %s[:, %d], as [n, %d] */", src, row, H);
    emit_line(e, "    memcpy(%s + (size_t)s * %d, %s + (size_t)s * %d + %d, %d * sizeof(%s));",
              stage, H, src, count * H, row * H, H, real);
    return stage;
}

/* dst [n*rows, 2H] from the two directions' a, b [n*rows, H]. */
static void interleave(Emit *e, const RecurrentAttr *r, const char *dst, const char *fwd,
                       const char *bwd, const char *rows)
{
    int H = r->H;
    const char *real = emit_real(e);
    emit_line(e, "for (int r = 0; r < %s; r++) {   /* [forward | backward] halves */", rows);
    emit_line(e, "    memcpy(%s + (size_t)r * %d, %s + (size_t)r * %d, %d * sizeof(%s));", dst, 2 * H,
              fwd, H, H, real);
    emit_line(e, "    memcpy(%s + (size_t)r * %d + %d, %s + (size_t)r * %d, %d * sizeof(%s));", dst,
              2 * H, H, bwd, H, H, real);
    emit_line(e, "}");
}

/* The inverse: each direction's half of src [n*rows, 2H] into a, b. */
static void split(Emit *e, const RecurrentAttr *r, const char *src, const char *fwd,
                  const char *bwd, const char *rows)
{
    int H = r->H;
    const char *real = emit_real(e);
    emit_line(e, "for (int r = 0; r < %s; r++) {   /* each direction's half */", rows);
    emit_line(e, "    memcpy(%s + (size_t)r * %d, %s + (size_t)r * %d, %d * sizeof(%s));", fwd, H,
              src, 2 * H, H, real);
    emit_line(e, "    memcpy(%s + (size_t)r * %d, %s + (size_t)r * %d + %d, %d * sizeof(%s));", bwd,
              H, src, 2 * H, H, H, real);
    emit_line(e, "}");
}

static const char *torch_class(const RecurrentAttr *r)
{
    return r->cell == CELL_LSTM ? "nn.LSTM" : r->cell == CELL_GRU ? "nn.GRU" : "nn.RNN";
}

static void recurrent_forward(Emit *e, const Node *n)
{
    const RecurrentAttr *r = attr(n);
    Arena *a = emit_arena(e);
    int L = r->layers, dirs = r->dirs, T = r->T, H = r->H;
    const char *prec = op_prec(e), *real = emit_real(e);
    const char *state = emit_scratch(e, n->id, S_STATE), *work = emit_scratch(e, n->id, S_WORK);
    const char *out = emit_buf(e, n->id);
    const char *rows = arena_printf(a, "n * %d", T);
    char rate[32];
    op_double(rate, r->dropout);
    emit_line(e, "/* %s(%d, %d%s%s%s%s%s%s, batch_first=True) over %d steps */", torch_class(r), r->D, H,
              L > 1 ? arena_printf(a, ", num_layers=%d", L) : "", r->bias ? "" : ", bias=False",
              dirs == 2 ? ", bidirectional=True" : "", r->dropout > 0 ? ", dropout=" : "",
              r->dropout > 0 ? rate : "", r->relu ? ", nonlinearity='relu'" : "", T);
    if (r->stateful)
        emit_line(e, "/* stateful: each row starts from the final state the previous call left in "
                  "%s (the kernel reads h0%s before it writes hT%s there); no gradient crosses */",
                  emit_scratch(e, n->id, S_CARRY), r->cell == CELL_LSTM ? ", c0" : "",
                  r->cell == CELL_LSTM ? ", cT" : "");
    for (int l = 0; l < L; l++) {
        bool last = l == L - 1;
        const char *x = l == 0 ? emit_buf(e, n->in[0]) : region(e, state, r->out_off[l - 1]);
        /* Where this layer's [n, T, dirs*H] output goes: the node's value
         * (last layer), the next layer's input (kept in "state"), or
         * nowhere (last layer, return_sequences = false). */
        const char *lout = last ? (r->return_sequences ? out : NULL) : region(e, state, r->out_off[l]);
        for (int d = 0; d < dirs; d++) {
            const char *y = !lout ? "NULL" : dirs == 1 ? lout : region(e, work, r->y_off[d]);
            const char *hT = "NULL", *cT = "NULL";
            if (r->stateful) {
                hT = carry_at(e, n, 0, l, d);
                if (r->cell == CELL_LSTM)
                    cT = carry_at(e, n, 1, l, d);
            } else if (last && !r->return_sequences) {
                hT = dirs == 1 ? out : region(e, work, r->hT_off + (size_t)(d * H));
            }
            const char *h0 = initial_state(e, n, 0, l, d);
            const char *c0 = r->cell == CELL_LSTM ? initial_state(e, n, 1, l, d) : NULL;
            const char *w[4];
            for (int k = 0; k < 4; k++)
                w[k] = param_at(n, l, d, k) >= 0 ? emit_param(e, param_at(n, l, d, k)) : "NULL";
            emit_line(e, "/* layer %d, %s: weight_ih_l%d%s, weight_hh_l%d%s%s; state after each "
                      "step into %s */", l, d ? "reverse" : "forward", l, d ? "_reverse" : "", l,
                      d ? "_reverse" : "", r->bias ? " and their biases" : "",
                      strcmp(y, "NULL") ? y : "the final state only");
            const char *saved = region(e, state, r->saved_off[l * dirs + d]);
            if (r->cell == CELL_LSTM)
                emit_line(e, "dlrt_lstm_forward_%s(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, n, %d, "
                          "%d, %d, %d);", prec, y, hT, cT, saved, x, h0, c0, w[0], w[1], w[2],
                          w[3], T, layer_in(r, l), H, d);
            else if (r->cell == CELL_GRU)
                emit_line(e, "dlrt_gru_forward_%s(%s, %s, %s, %s, %s, %s, %s, %s, %s, n, %d, %d, "
                          "%d, %d);", prec, y, hT, saved, x, h0, w[0], w[1], w[2], w[3], T,
                          layer_in(r, l), H, d);
            else
                emit_line(e, "dlrt_rnn_forward_%s(%s, %s, %s, %s, %s, %s, %s, %s, %s, n, %d, %d, "
                          "%d, %d, %d);", prec, y, hT, saved, x, h0, w[0], w[1], w[2], w[3], T,
                          layer_in(r, l), H, r->relu, d);
        }
        if (lout && dirs == 2)
            interleave(e, r, lout, region(e, work, r->y_off[0]), region(e, work, r->y_off[1]), rows);
        if (last && !r->return_sequences) {
            if (dirs == 2)
                interleave(e, r, out, region(e, work, r->hT_off), region(e, work, r->hT_off + (size_t)H),
                           "n");
            else if (r->stateful)
                emit_line(e, "memcpy(%s, %s, (size_t)n * %d * sizeof(%s));   /* h_n */", out,
                          carry_at(e, n, 0, l, 0), H, real);
        }
        if (!last && r->dropout > 0 && emit_training(e)) {
            emit_line(e, "/* dropout(%s) on layer %d's output, as %s(dropout = %s) while training */",
                      rate, l, torch_class(r), rate);
            emit_line(e, "dlrt_dropout_forward_%s(%s, %s, %s, n * %d, %s, %s);", prec, lout,
                      region(e, state, r->mask_off[l]), lout, T * dirs * H, rate, emit_rng(e));
        }
    }
}

/* Whether the gradient of the initial state k (0 h, 1 c) is wanted. */
static bool wants_state_grad(Emit *e, const Node *n, int k)
{
    const RecurrentAttr *r = attr(n);
    if (r->stateful)
        return false;
    if (r->learned)
        return emit_ir(e)->params.items[learned_param(n, k)].trained;
    int in = k ? r->c0_in : r->h0_in;
    return in >= 0 && op_needs_grad(e, n->in[in]);
}

/* After a kernel wrote dh0 (k = 0) or dc0 of layer l, direction d into its
 * staging [n, H]: into the learned parameter (summed over the batch) or
 * into the given tensor's gradient. */
static void state_grad_out(Emit *e, const Node *n, int k, int l, int d, const char *stage,
                           const bool *accumulate, bool acc_param)
{
    const RecurrentAttr *r = attr(n);
    int H = r->H, count = r->layers * r->dirs, row = l * r->dirs + d;
    if (r->learned) {
        const char *dp = emit_param_grad(e, learned_param(n, k));
        emit_line(e, "dlrt_bias_backward_%s(%s + %d, %s, n, %d, 1, %d);   /* d%s row %d: summed "
                  "over the batch */", op_prec(e), dp, row * H, stage, H, acc_param, k ? "c0" : "h0",
                  row);
        return;
    }
    int in = k ? r->c0_in : r->h0_in;
    const char *dst = emit_grad(e, n->in[in]);
    stage = arena_printf(emit_arena(e), "(%s)", stage);   /* subscripted below */
    const char *assign = op_assign(accumulate[in]);
    if (count == 1) {
        emit_line(e, "for (int i = 0; i < n * %d; i++)", H);
        emit_line(e, "    %s[i] %s %s[i];", dst, assign, stage);
        return;
    }
    emit_line(e, "for (int s = 0; s < n; s++)   /* into %s[:, %d] */", dst, row);
    emit_line(e, "    for (int j = 0; j < %d; j++)", H);
    emit_line(e, "        %s[(size_t)s * %d + %d + j] %s %s[(size_t)s * %d + j];", dst, count * H,
              row * H, assign, stage, H);
}

static void recurrent_backward(Emit *e, const Node *n, const bool *accumulate)
{
    const RecurrentAttr *r = attr(n);
    const IR *ir = emit_ir(e);
    Arena *a = emit_arena(e);
    int L = r->layers, dirs = r->dirs, T = r->T, H = r->H;
    const char *prec = op_prec(e), *real = emit_real(e);
    const char *state = emit_scratch(e, n->id, S_STATE), *work = emit_scratch(e, n->id, S_WORK);
    const char *dout = emit_grad(e, n->id);
    const char *rows = arena_printf(a, "n * %d", T);
    const char *dy[2] = {"NULL", "NULL"}, *dhT[2] = {"NULL", "NULL"};
    const char *split_dy[2] = {region(e, work, r->dy_off[0]), region(e, work, r->dy_off[1])};

    /* The acc flags of the learned states' gradients: asked once per pass. */
    bool acc_state[2] = {false, false};
    if (r->learned)
        for (int k = 0; k < (r->cell == CELL_LSTM ? 2 : 1); k++)
            if (ir->params.items[learned_param(n, k)].trained)
                acc_state[k] = emit_param_accumulate(e, learned_param(n, k));

    emit_line(e, "/* the last layer first; each direction's gradients from its saved states */");
    /* The last layer's gradient: on every step, or on the final state. */
    if (r->return_sequences) {
        if (dirs == 1)
            dy[0] = dout;
        else {
            split(e, r, dout, split_dy[0], split_dy[1], rows);
            dy[0] = split_dy[0], dy[1] = split_dy[1];
        }
    } else if (dirs == 1) {
        dhT[0] = dout;
    } else {
        dhT[0] = region(e, work, r->dhT_off);
        dhT[1] = region(e, work, r->dhT_off + (size_t)H);
        split(e, r, dout, dhT[0], dhT[1], "n");
    }
    const char *gprev = NULL;   /* the gradient of layer l's output, from layer l + 1 */
    for (int l = L - 1; l >= 0; l--) {
        if (l < L - 1) {
            if (r->dropout > 0)
                emit_line(e, "dlrt_dropout_backward_%s(%s, %s, %s, n * %d, 0);   /* layer %d's "
                          "dropout */", prec, gprev, gprev, region(e, state, r->mask_off[l]),
                          T * dirs * H, l);
            if (dirs == 1)
                dy[0] = gprev;
            else {
                split(e, r, gprev, split_dy[0], split_dy[1], rows);
                dy[0] = split_dy[0], dy[1] = split_dy[1];
            }
            dhT[0] = dhT[1] = "NULL";
        }
        const char *dx;
        if (l == 0)
            dx = op_needs_grad(e, n->in[0]) ? emit_grad(e, n->in[0]) : "NULL";
        else
            dx = region(e, work, (L - 1 - l) % 2 == 0 ? r->ga_off : r->gb_off);
        for (int d = 0; d < dirs; d++) {
            bool has_dx = strcmp(dx, "NULL") != 0;
            int acc_x = has_dx && (d > 0 || (l == 0 && accumulate[0]));
            const char *dstate[2] = {"NULL", "NULL"};
            bool direct[2] = {false, false};
            for (int k = 0; k < (r->cell == CELL_LSTM ? 2 : 1); k++)
                if (wants_state_grad(e, n, k)) {
                    int in = k ? r->c0_in : r->h0_in;
                    /* a given [H] state whose gradient is written as dx is:
                     * the kernel writes it in place */
                    if (!r->learned && L * dirs == 1 && accumulate[in] == acc_x) {
                        dstate[k] = emit_grad(e, n->in[in]);
                        direct[k] = true;
                        continue;
                    }
                    dstate[k] = region(e, work, k ? r->dc0_off : r->dh0_off);
                    if (acc_x)   /* the kernel adds into dh0 as into dx */
                        emit_line(e, "memset(%s, 0, (size_t)n * %d * sizeof(%s));", dstate[k], H,
                                  real);
                }
            const char *dw[4] = {"NULL", "NULL", "NULL", "NULL"};
            int acc_w = 0;
            bool asked = false, mixed = false, acc_k[4] = {false, false, false, false};
            for (int k = 0; k < 4; k++) {
                int p = param_at(n, l, d, k);
                if (p < 0 || !ir->params.items[p].trained)
                    continue;
                bool acc = emit_param_accumulate(e, p);
                acc_k[k] = acc;
                if (asked && acc != acc_w)
                    mixed = true;
                if (!asked)
                    acc_w = acc;
                asked = true;
                dw[k] = emit_param_grad(e, p);
            }
            /* One flag for the four: when a reference (enc.bias_hh_l0)
             * already wrote some, the others start at zero and all add. */
            for (int k = 0; mixed && k < 4; k++) {
                int p = param_at(n, l, d, k);
                if (p >= 0 && strcmp(dw[k], "NULL") != 0 && !acc_k[k])
                    emit_line(e, "memset(%s, 0, %zu * sizeof *%s);", dw[k],
                              ir->params.items[p].size, dw[k]);
            }
            if (mixed)
                acc_w = 1;
            const char *saved = region(e, state, r->saved_off[l * dirs + d]);
            const char *x = l == 0 ? emit_buf(e, n->in[0]) : region(e, state, r->out_off[l - 1]);
            const char *w_ih = emit_param(e, param_at(n, l, d, 0)),
                       *w_hh = emit_param(e, param_at(n, l, d, 1));
            emit_line(e, "/* layer %d, %s: backpropagation through its %d steps */", l,
                      d ? "reverse" : "forward", T);
            if (r->cell == CELL_LSTM)
                emit_line(e, "dlrt_lstm_backward_%s(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
                          "%s, %s, n, %d, %d, %d, %d, %d, %d);", prec, dx, dstate[0], dstate[1],
                          dw[0], dw[1], dw[2], dw[3], dy[d], dhT[d], "NULL", saved, x, w_ih, w_hh,
                          T, layer_in(r, l), H, d, acc_x, acc_w);
            else if (r->cell == CELL_GRU)
                emit_line(e, "dlrt_gru_backward_%s(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
                          "n, %d, %d, %d, %d, %d, %d);", prec, dx, dstate[0], dw[0], dw[1], dw[2],
                          dw[3], dy[d], dhT[d], saved, x, w_ih, w_hh, T, layer_in(r, l), H, d,
                          acc_x, acc_w);
            else
                emit_line(e, "dlrt_rnn_backward_%s(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
                          "n, %d, %d, %d, %d, %d, %d, %d);", prec, dx, dstate[0], dw[0], dw[1],
                          dw[2], dw[3], dy[d], dhT[d], saved, x, w_ih, w_hh, T, layer_in(r, l), H,
                          r->relu, d, acc_x, acc_w);
            for (int k = 0; k < 2; k++)
                if (strcmp(dstate[k], "NULL") && !direct[k])
                    /* each row of a learned state is written once per pass */
                    state_grad_out(e, n, k, l, d, dstate[k], accumulate, acc_state[k]);
        }
        gprev = dx;
    }
}

/* ------------------------------------------------------------ twin */

static void recurrent_torch(TorchEmit *t, const Node *n)
{
    const RecurrentAttr *r = attr(n);
    const char *mode = r->cell == CELL_LSTM ? "lstm" : r->cell == CELL_GRU ? "gru"
                     : r->relu ? "rnn_relu" : "rnn_tanh";
    /* [[layer 0's weights, both directions], [layer 1's], ...] */
    char *weights = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&weights, &len);
    fputc('[', f);
    for (int l = 0; l < r->layers; l++) {
        fprintf(f, "%s[", l ? ", " : "");
        int first = 1;
        for (int d = 0; d < r->dirs; d++)
            for (int k = 0; k < 4; k++)
                if (param_at(n, l, d, k) >= 0) {
                    fprintf(f, "%s%s", first ? "" : ", ", torch_param(t, param_at(n, l, d, k)));
                    first = 0;
                }
        fputc(']', f);
    }
    fputc(']', f);
    fclose(f);
    char rate[32];
    op_double(rate, r->dropout);
    const char *h0 = r->learned ? torch_param(t, learned_param(n, 0))
                   : r->h0_in >= 0 ? torch_name(t, n->in[r->h0_in]) : "None";
    const char *c0 = r->cell != CELL_LSTM ? "None"
                   : r->learned ? torch_param(t, learned_param(n, 1))
                   : r->c0_in >= 0 ? torch_name(t, n->in[r->c0_in]) : "None";
    char key[160] = "None";   /* the carry's key: the node's variable */
    if (r->stateful)
        snprintf(key, sizeof key, "\"%s\"", torch_name(t, n->id));
    torch_line(t, "# %s(%d, num_layers=%d, bias=%s, batch_first=True, bidirectional=%s%s), "
               "layer by layer", torch_class(r), r->H, r->layers, r->bias ? "True" : "False",
               r->dirs == 2 ? "True" : "False", r->relu ? ", nonlinearity='relu'" : "");
    torch_line(t, "%s = self.recurrent(\"%s\", %s, %s, %d, %s, h0=%s, c0=%s, learned=%s, "
               "dropout=%s, return_sequences=%s, carry=%s)", torch_name(t, n->id), mode,
               torch_name(t, n->in[0]), weights, r->H, r->dirs == 2 ? "True" : "False", h0, c0,
               r->learned ? "True" : "False", rate, r->return_sequences ? "True" : "False",
               key);
    free(weights);
}

/* The twin's recurrent layers: torch.lstm / torch.gru / torch.rnn_tanh /
 * torch.rnn_relu (the functions nn.LSTM, nn.GRU and nn.RNN call), one
 * layer at a time so that the dropout between layers draws from the twin's
 * copy of the C stream; the stateful carry per layer, detached. */
static void recurrent_torch_methods(TorchEmit *t)
{
    static const char *const lines[] = {
        "def recurrent(self, mode, x, weights, hidden, bidirectional, h0=None, c0=None,",
        "              learned=False, dropout=0.0, return_sequences=True, carry=None):",
        "    \"\"\"rnn, lstm, gru as nn.RNN/nn.LSTM/nn.GRU(batch_first=True) on x [n, T, D]:",
        "    weights[l] is layer l's [weight_ih, weight_hh, bias_ih, bias_hh] (bias",
        "    optional), then the _reverse ones. h0, c0: None (zeros), a learned",
        "    [layers*dirs, H] parameter, or a tensor [n, H] or [n, layers*dirs, H].",
        "    carry: stateful, the key of the state kept between calls (detached).\"\"\"",
        "    n, dirs, layers = x.shape[0], 2 if bidirectional else 1, len(weights)",
        "    count = layers * dirs",
        "    fn = {\"lstm\": torch.lstm, \"gru\": torch.gru, \"rnn_tanh\": torch.rnn_tanh,",
        "          \"rnn_relu\": torch.rnn_relu}[mode]",
        "    has_bias = len(weights[0]) == 4 * dirs",
        "",
        "    def initial(s):",
        "        if s is None:",
        "            return torch.zeros(count, n, hidden, dtype=x.dtype)",
        "        if learned:",
        "            return s.unsqueeze(1).expand(count, n, hidden)",
        "        return s.reshape(n, count, hidden).transpose(0, 1)",
        "",
        "    if not hasattr(self, \"carry\"):",
        "        self.carry = {}",
        "    if carry is not None:",
        "        kept = self.carry.get(carry)   # [count, rows, H]: the rows of every call so far",
        "        if kept is None:",
        "            kept = [torch.zeros(count, n, hidden, dtype=x.dtype)",
        "                    for _ in range(2 if mode == \"lstm\" else 1)]",
        "        kept = [torch.cat([k, k.new_zeros(count, n - k.shape[1], hidden)], 1)",
        "                if k.shape[1] < n else k for k in kept]",
        "        h0 = kept[0][:, :n].clone()",
        "        c0 = kept[1][:, :n].clone() if mode == \"lstm\" else None",
        "        learned = False",
        "        h0s, c0s = h0, c0",
        "    else:",
        "        h0s, c0s = initial(h0), initial(c0) if mode == \"lstm\" else None",
        "    out, hs, cs = x, [], []",
        "    for l in range(layers):",
        "        if l > 0 and dropout > 0:",
        "            out = self.dropout(out, dropout)",
        "        hx = h0s[l * dirs:(l + 1) * dirs].contiguous()",
        "        if mode == \"lstm\":",
        "            hx = (hx, c0s[l * dirs:(l + 1) * dirs].contiguous())",
        "        res = fn(out, hx, weights[l], has_bias, 1, 0.0, self.dropout_on, bidirectional, True)",
        "        out = res[0]",
        "        hs.append(res[1])",
        "        if mode == \"lstm\":",
        "            cs.append(res[2])",
        "    if carry is not None:",
        "        new = [torch.cat(hs).detach()] + ([torch.cat(cs).detach()] if mode == \"lstm\" else [])",
        "        self.carry[carry] = [torch.cat([v, k[:, n:]], 1) for v, k in zip(new, kept)]",
        "    if return_sequences:",
        "        return out",
        "    return hs[-1].transpose(0, 1).reshape(n, dirs * hidden)",
        "",
        "def reset_state(self):",
        "    \"\"\"P_reset_state: every stateful layer starts again from zeros.\"\"\"",
        "    self.carry = {}",
    };
    for (size_t k = 0; k < sizeof lines / sizeof lines[0]; k++)
        torch_line(t, "%s", lines[k]);
}

/* ------------------------------------------------------------ the rest */

static void recurrent_dump(FILE *out, const Node *n)
{
    const RecurrentAttr *r = attr(n);
    fprintf(out, " hidden_size=%d num_layers=%d%s%s%s", r->H, r->layers, r->bias ? "" : " no-bias",
            r->dirs == 2 ? " bidirectional" : "", r->relu ? " relu" : "");
    if (r->dropout > 0)
        fprintf(out, " dropout=%g", r->dropout);
    fprintf(out, "%s%s%s%s%s", r->return_sequences ? "" : " last-state",
            r->learned ? " learned-state" : "", r->h0_in >= 0 ? " h0-given" : "",
            r->c0_in >= 0 ? " c0-given" : "", r->stateful ? " stateful" : "");
}

static const char *recurrent_explain(Arena *a, const Node *n)
{
    const RecurrentAttr *r = attr(n);
    if (r->layers < 2)
        return NULL;
    return arena_printf(a, "dropout %g", r->dropout);
}

/* Per sample and step, per layer and direction: the input and recurrent
 * products, G H (D + H) multiply-adds, times 2. */
static double recurrent_flops(const IR *ir, const Node *n)
{
    (void)ir;
    const RecurrentAttr *r = attr(n);
    double f = 0, G = gates(r->cell) * (double)r->H;
    for (int l = 0; l < r->layers; l++)
        f += r->dirs * 2.0 * r->T * G * (layer_in(r, l) + r->H);
    return f;
}

static const ScratchSpec recurrent_scratch[] = {
    {"state", SCRATCH_SAVED, SCRATCH_REAL},
    {"work", SCRATCH_WORKSPACE, SCRATCH_REAL},
    {"carry", SCRATCH_CARRY, SCRATCH_REAL},
};

#define RECURRENT_OP(args_, lower_, summary_)                            \
    {.summary = summary_,                                                \
     .args = args_,                                                      \
     .nargs = sizeof args_ / sizeof args_[0],                            \
     .lower = lower_,                                                    \
     .flags = OPF_PARAMS | OPF_STOCHASTIC,                               \
     .forward = recurrent_forward,                                       \
     .backward = recurrent_backward,                                     \
     .torch = recurrent_torch,                                           \
     .dump = recurrent_dump,                                             \
     .explain = recurrent_explain,                                       \
     .flops = recurrent_flops,                                           \
     .scratch = recurrent_scratch,                                       \
     .nscratch = 3}

const OpInfo op_rnn = RECURRENT_OP(
    rnn_args, rnn_lower,
    "rnn(x, hidden_size, num_layers=1, bias=true, bidirectional=false, dropout=0, "
    "return_sequences=true, initial_state=\"zeros\", stateful=false, h0=, nonlinearity=\"tanh\"): "
    "nn.RNN over [T, D]");

const OpInfo op_lstm = {
    .summary = "lstm(x, hidden_size, num_layers=1, bias=true, bidirectional=false, dropout=0, "
               "return_sequences=true, initial_state=\"zeros\", stateful=false, h0=, c0=): "
               "nn.LSTM over [T, D]",
    .args = lstm_args,
    .nargs = sizeof lstm_args / sizeof lstm_args[0],
    .lower = lstm_lower,
    .flags = OPF_PARAMS | OPF_STOCHASTIC,
    .forward = recurrent_forward,
    .backward = recurrent_backward,
    .torch = recurrent_torch,
    .torch_methods = recurrent_torch_methods,
    .dump = recurrent_dump,
    .explain = recurrent_explain,
    .flops = recurrent_flops,
    .scratch = recurrent_scratch,
    .nscratch = 3,
};

const OpInfo op_gru = RECURRENT_OP(
    gru_args, gru_lower,
    "gru(x, hidden_size, num_layers=1, bias=true, bidirectional=false, dropout=0, "
    "return_sequences=true, initial_state=\"zeros\", stateful=false, h0=): nn.GRU over [T, D]");
