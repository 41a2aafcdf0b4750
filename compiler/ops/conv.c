/* ops/conv.c: the convolutions, PyTorch's three functionals.
 *
 *   conv2d(x, filters, kernel, stride = 1, padding = 0, dilation = 1,
 *          groups = 1, bias = true, density = 1, mask_seed = 1)
 *                                                     x [C, H, W] -> [F, OH, OW]
 *   conv1d(the same)                                  x [C, L]    -> [F, OL]
 *   conv_transpose2d(x, filters, kernel, stride = 1, padding = 0,
 *          output_padding = 0, dilation = 1, groups = 1, bias = true)
 *                                                     x [C, H, W] -> [F, OH, OW]
 *   + the layer arguments (init, lr, weight_decay, trainable).
 *
 * kernel, stride, dilation (and output_padding): one whole number for both
 * sides or [h, w]. padding: one number, [ph, pw] or, for conv2d, per side
 * [top, bottom, left, right] (conv1d: [left, right]); or a word: "valid"
 * (none), "same" (PyTorch's: d (k - 1) in all, the odd one on the bottom or
 * right; stride 1 only), "causal" (conv1d: d (k - 1) on the left, none on
 * the right, as in WaveNet and TCNs). conv_transpose2d's padding is
 * PyTorch's: one number or [ph, pw], taken off both sides of the output.
 *
 * Sizes (floor division):
 *   conv   OH = (H + pad_t + pad_b - dh (kh - 1) - 1) / sh + 1
 *   transposed  OH = (H - 1) sh - 2 ph + dh (kh - 1) + oph + 1
 *
 * Parameters in PyTorch's layout: conv2d weight [F, C/groups, kh, kw],
 * conv1d [F, C/groups, k], conv_transpose2d [C, F/groups, kh, kw], bias
 * [F]. fan_in and fan_out are torch's (build_param): dim 1 and dim 0 times
 * the receptive field kh kw.
 *
 * The loops are runtime kernels (runtime/kernels/conv.h: im2col + GEMM or
 * direct, the scheme chosen per shape; tested in tests/kernels); this file
 * emits one call per pass with literal sizes:
 *   forward   y = conv(x, W) + b
 *   backward  dW (+)= ...          only when W is trained
 *             db (+)= sums of dy   only when b is trained (bias.h)
 *             dx (+)= ...          only when x needs a gradient
 * The im2col columns live in a WORKSPACE scratch ("ws"), sized with the
 * kernels' own dlrt_*_workspace (runtime/kernels/geometry.h): a chunk of
 * output rows of one sample at a time, so its size does not grow with the
 * batch (node->scratch_whole). The DIRECT scheme (1x1, stride 1, no padding) needs
 * none. density < 1: a fixed random connectivity mask over the weight,
 * as dense's (dense.c: op_mask_*), its masked copy in WORKSPACE "wmask".
 * Attributes: ConvAttr.
 */
#include "ops.h"

#include "../../runtime/kernels/geometry.h"

#include <math.h>

/* How padding was given: numbers, or one of the words. */
enum { PAD_NUMBERS = -1, PAD_SAME = 0, PAD_VALID = 1, PAD_CAUSAL = 2 };

/* Sizes the layer may not exceed: every index in the emitted code is an int. */
#define CONV_MAX_ELEMS 1000000000L

/* conv's attributes (node->attr). conv1d is conv2d with H = 1 and kh = 1. */
typedef struct ConvAttr {
    int C, H, W;               /* input per sample (conv1d: H = 1, W = L) */
    int F, OH, OW;             /* output per sample */
    int kh, kw, sh, sw, dh, dw;
    int pt, pb, pl, pr;        /* zeros added per side (transposed: pt = pb, pl = pr) */
    int oph, opw;              /* conv_transpose2d's output_padding */
    int groups;
    bool bias;
    int pad_word;              /* PAD_NUMBERS or the word padding was given as */
    bool x_is_input;           /* x is a declared input: the twin gives it its shape */
    OpMask mask;               /* density < 1: the connectivity mask */
} ConvAttr;

static ConvAttr *attr(const Node *n)
{
    return n->attr;
}

/* The shared pieces of the signatures. */
#define X_ARG {.name = "x", .kind = ARG_TENSOR}
#define FILTERS_ARG {.name = "filters", .kind = ARG_INT, .has_min = true, .min = 0, \
                     .min_open = true}
#define SIZES_ARG(nm, def_, most) {.name = nm, .kind = ARG_INTS, .optional = def_ >= 0, \
                                   .def = def_, .has_min = true, .min = 1, .max_len = most}
#define PAD_ARG(words_, most) {.name = "padding", .kind = ARG_INTS, .optional = true, .def = 0, \
                               .has_min = true, .min = 0, .max_len = most, .words = words_}
#define GROUPS_ARG {.name = "groups", .kind = ARG_INT, .optional = true, .def = 1, \
                    .has_min = true, .min = 1}
#define BIAS_ARG {.name = "bias", .kind = ARG_BOOL, .optional = true, .def = 1}
/* density, mask_seed: a fixed random connectivity mask (dense.c's op_mask_*) */

static const char *const conv2d_words[] = {"same", "valid", NULL};
static const char *const conv1d_words[] = {"same", "valid", "causal", NULL};

/* Argument indices: the same for conv2d and conv1d. */
enum { A_X, A_FILTERS, A_KERNEL, A_STRIDE, A_PADDING, A_DILATION, A_GROUPS, A_BIAS, A_DENSITY };
/* conv_transpose2d's: output_padding after padding, as in PyTorch. */
enum { T_X, T_FILTERS, T_KERNEL, T_STRIDE, T_PADDING, T_OUTPUT_PADDING, T_DILATION, T_GROUPS,
       T_BIAS, T_DENSITY };

static const ArgSpec conv2d_args[] = {
    X_ARG, FILTERS_ARG, SIZES_ARG("kernel", -1, 2), SIZES_ARG("stride", 1, 2),
    PAD_ARG(conv2d_words, 0), SIZES_ARG("dilation", 1, 2), GROUPS_ARG, BIAS_ARG, OP_MASK_ARGS,
    /* init, lr, weight_decay, trainable: the layer arguments sema adds (OPF_PARAMS) */
};

static const ArgSpec conv1d_args[] = {
    X_ARG, FILTERS_ARG, SIZES_ARG("kernel", -1, 1), SIZES_ARG("stride", 1, 1),
    PAD_ARG(conv1d_words, 0), SIZES_ARG("dilation", 1, 1), GROUPS_ARG, BIAS_ARG, OP_MASK_ARGS,
};

static const ArgSpec conv_transpose2d_args[] = {
    X_ARG, FILTERS_ARG, SIZES_ARG("kernel", -1, 2), SIZES_ARG("stride", 1, 2),
    PAD_ARG(NULL, 2),
    {.name = "output_padding", .kind = ARG_INTS, .optional = true, .def = 0, .has_min = true,
     .min = 0, .max_len = 2},
    SIZES_ARG("dilation", 1, 2), GROUPS_ARG, BIAS_ARG, OP_MASK_ARGS,
};

/* ---- the shape rule ---------------------------------------------------- */

/* What one call asks for, read off the bound arguments. */
typedef struct Want {
    const char *op;            /* "conv2d", "conv1d", "conv_transpose2d" */
    bool transposed, one_d;
    const ArgVal *x, *filters, *kernel, *stride, *padding, *outpad, *dilation, *groups, *bias;
    const ArgVal *density;     /* and mask_seed after it */
} Want;

/* Where to point for an argument: as written, else at the call. */
static Loc arg_loc(const Expr *call, const ArgVal *v)
{
    return v->expr ? v->expr->loc : call->loc;
}

/* The (h, w) pair of a sizes argument: one number for both, or [h, w]
 * (the lists' longest length is the signature's max_len). */
static void pair(const ArgVal *v, int *h, int *w)
{
    if (v->nints == 0)
        *h = *w = (int)v->num;
    else if (v->nints == 1)
        *h = *w = v->ints[0];
    else
        *h = v->ints[0], *w = v->ints[1];
}

/* "5" or "5x3": a pair in messages and dumps. */
static const char *pair_text(Arena *a, int h, int w)
{
    return h == w ? arena_printf(a, "%d", h) : arena_printf(a, "%dx%d", h, w);
}

/* The padding per side from the padding argument, or false after an
 * error (a list of the wrong length, "same" with a stride). */
static bool read_padding(Build *b, const Expr *call, const Want *q, ConvAttr *c)
{
    const ArgVal *p = q->padding;
    c->pad_word = p->expr && p->nints == 0 ? (int)p->num : PAD_NUMBERS;
    if (c->pad_word == PAD_SAME || c->pad_word == PAD_CAUSAL) {
        if (c->sh != 1 || c->sw != 1) {
            diag_error(b->diag, p->expr->loc, "%s's padding = \"%s\" needs stride 1, as in "
                       "PyTorch; stride is %s", q->op, c->pad_word == PAD_SAME ? "same" : "causal",
                       pair_text(b->arena, q->one_d ? c->sw : c->sh, c->sw));
            diag_note(b->diag, arg_loc(call, q->stride), "the stride is set here; with a stride, "
                      "give the padding as numbers");
            return false;
        }
        /* dilation (k - 1) in all: PyTorch puts the odd one after. */
        int th = c->dh * (c->kh - 1), tw = c->dw * (c->kw - 1);
        if (c->pad_word == PAD_CAUSAL) {
            c->pt = c->pb = c->pr = 0;
            c->pl = tw;
        } else {
            c->pt = th / 2, c->pb = th - th / 2;
            c->pl = tw / 2, c->pr = tw - tw / 2;
        }
        return true;
    }
    int n = p->nints;
    if (c->pad_word == PAD_VALID || n == 0) {
        int v = c->pad_word == PAD_VALID ? 0 : (int)p->num;
        c->pt = c->pb = c->pl = c->pr = q->one_d ? 0 : v;
        if (q->one_d)
            c->pl = c->pr = v;
        return true;
    }
    if (q->one_d) {          /* conv1d: one number, or [left, right] */
        if (n > 2) {
            diag_error(b->diag, p->expr->loc, "conv1d's padding takes one number or [left, "
                       "right], not a list of %d", n);
            return false;
        }
        c->pt = c->pb = 0;
        c->pl = p->ints[0];
        c->pr = p->ints[n - 1];
        return true;
    }
    if (n == 1) {
        c->pt = c->pb = c->pl = c->pr = p->ints[0];
    } else if (n == 2) {
        c->pt = c->pb = p->ints[0];
        c->pl = c->pr = p->ints[1];
    } else if (n == 4) {
        c->pt = p->ints[0], c->pb = p->ints[1], c->pl = p->ints[2], c->pr = p->ints[3];
    } else {
        diag_error(b->diag, p->expr->loc, "%s's padding takes one number, [ph, pw] or [top, "
                   "bottom, left, right], not a list of %d", q->op, n);
        return false;
    }
    return true;
}

/* The output size along one dimension of a convolution, or -1 after an
 * error: the kernel's span (dilated) must fit in the padded input. */
static long long conv_out(Build *b, const Expr *call, const Want *q, const char *dim, int size, int k,
                    int s, int lo, int hi, int d)
{
    /* In long long: sizes up to 2^31 each must not overflow here. */
    long long span = (long long)d * (k - 1) + 1, padded = (long long)size + lo + hi;
    if (span <= padded)
        return (padded - span) / s + 1;
    const char *spans = d == 1 ? "" : arena_printf(b->arena, " (dilation %d: it spans "
                                                   "%d*(%d - 1) + 1 = %lld)", d, d, k, span);
    diag_error(b->diag, arg_loc(call, q->kernel), "%s's kernel %s %d%s is larger than the padded "
               "input %s %d + %d + %d = %lld", q->op, dim, k, spans, dim, size, lo, hi, padded);
    /* floor division, as the formula means it (the span is negative here) */
    long long below = (padded - span - (s - 1)) / s;
    diag_note(b->diag, arg_loc(call, q->kernel), "output %s (%d + %d + %d - %d*(%d - 1) - 1) / %d "
              "+ 1 = %lld, less than 1", dim, size, lo, hi, d, k, s, below + 1);
    build_note_shape(b, q->x->node, "input");
    return -1;
}

/* conv_transpose2d's output size along one dimension, or -1 after an
 * error: output_padding must be below the stride or the dilation (PyTorch's
 * rule), and some output must be left. */
static long long transposed_out(Build *b, const Expr *call, const Want *q, const char *dim, int size,
                          int k, int s, int p, int op, int d)
{
    if (op >= s && op >= d) {
        build_value_error(b, arg_loc(call, q->outpad), "conv_transpose2d's output_padding %d "
                          "(%s) must be smaller than the stride %d or the dilation %d, as in "
                          "PyTorch", op, dim, s, d);
        return -1;
    }
    long long out = (long long)(size - 1) * s - 2LL * p + (long long)d * (k - 1) + op + 1;
    if (out >= 1)
        return out;
    diag_error(b->diag, arg_loc(call, q->padding), "conv_transpose2d leaves no output: output %s "
               "(%d - 1)*%d - 2*%d + %d*(%d - 1) + %d + 1 = %lld", dim, size, s, p, d, k, op, out);
    build_note_shape(b, q->x->node, "input");
    return -1;
}

/* "a / b = 1.5" or "a / b = 2": a division in a message. */
static const char *ratio(Arena *a, int num, int den)
{
    return arena_printf(a, "%d / %d = %.6g", num, den, (double)num / den);
}

/* A count for a message: exact up to 10^15, then "6.4e+37". */
static const char *count_text(Arena *a, double v)
{
    return v < 1e15 ? arena_printf(a, "%.0f", v) : arena_printf(a, "%.3g", v);
}

/* The workspace the kernels need, from their own arithmetic: for the
 * whole batch when it does not grow with n (every scheme the kernels pick
 * today), else per sample (as a + b n: a + b per sample covers any n). */
static void size_workspace(Node *node, const ConvAttr *c, bool transposed)
{
    size_t one, two;
    if (transposed) {
        one = dlrt_conv_transpose2d_workspace(1, c->C, c->H, c->W, c->F, c->kh, c->kw, c->sh,
                                              c->sw, c->pt, c->pl, c->oph, c->opw, c->dh, c->dw,
                                              c->groups);
        two = dlrt_conv_transpose2d_workspace(2, c->C, c->H, c->W, c->F, c->kh, c->kw, c->sh,
                                              c->sw, c->pt, c->pl, c->oph, c->opw, c->dh, c->dw,
                                              c->groups);
    } else {
        one = dlrt_conv2d_workspace(1, c->C, c->H, c->W, c->F, c->kh, c->kw, c->sh, c->sw, c->pt,
                                    c->pb, c->pl, c->pr, c->dh, c->dw, c->groups);
        two = dlrt_conv2d_workspace(2, c->C, c->H, c->W, c->F, c->kh, c->kw, c->sh, c->sw, c->pt,
                                    c->pb, c->pl, c->pr, c->dh, c->dw, c->groups);
    }
    node->scratch_size[0] = one;
    node->scratch_whole[0] = one == two;
}

static int conv_lower_op(Build *b, const Expr *call, const ArgVal *a, bool ok, OpKind op)
{
    Diag *d = b->diag;
    Want q = {.op = op_kind_name(op), .transposed = op == OP_CONV_TRANSPOSE2D,
              .one_d = op == OP_CONV1D};
    q.x = &a[A_X], q.filters = &a[A_FILTERS], q.kernel = &a[A_KERNEL], q.stride = &a[A_STRIDE];
    q.padding = &a[A_PADDING];
    if (q.transposed) {
        q.outpad = &a[T_OUTPUT_PADDING], q.dilation = &a[T_DILATION], q.groups = &a[T_GROUPS];
        q.bias = &a[T_BIAS], q.density = &a[T_DENSITY];
    } else {
        q.dilation = &a[A_DILATION], q.groups = &a[A_GROUPS], q.bias = &a[A_BIAS];
        q.density = &a[A_DENSITY];
    }

    /* The input: [C, H, W] per sample (conv1d: [C, L]). Checked even when
     * another argument failed, to report everything at once. */
    int x = q.x->node, rank = q.one_d ? 2 : 3;
    ConvAttr c = {0};
    if (x >= 0) {
        const Expr *xe = q.x->expr;
        Shape xs = build_get(b, x)->shape;
        if (xs.rank != rank) {
            diag_error(d, xe->loc, "%s expects %s per sample, '%s' has shape %s", q.op,
                       q.one_d ? "[channels, length]" : "[channels, height, width]",
                       build_expr_text(b, xe), shape_str(b->arena, xs));
            build_note_shape(b, x, "input");
            int side = (int)sqrt((double)shape_size(xs));
            if (!q.one_d && xs.rank == 1 && side * side == shape_size(xs) && build_input_decl(b, x))
                diag_note(d, xe->loc, "as one-channel %dx%d images, declare it f32[1, %d, %d]", side,
                          side, side, side);
            ok = false;
        } else {
            c.C = xs.dim[0];
            c.H = q.one_d ? 1 : xs.dim[1];
            c.W = xs.dim[rank - 1];
        }
    }
    if (!ok)
        return -1;

    c.F = (int)q.filters->num;
    c.groups = (int)q.groups->num;
    c.bias = q.bias->num != 0;
    pair(q.kernel, &c.kh, &c.kw);
    pair(q.stride, &c.sh, &c.sw);
    pair(q.dilation, &c.dh, &c.dw);
    if (q.one_d)
        c.kh = c.sh = c.dh = 1;
    if (c.C % c.groups != 0) {
        diag_error(d, arg_loc(call, q.groups), "%s's groups = %d must divide the %d input "
                   "channels of '%s' (%s)", q.op, c.groups, c.C, build_expr_text(b, q.x->expr),
                   ratio(b->arena, c.C, c.groups));
        build_note_shape(b, x, "input");
        ok = false;
    }
    if (c.F % c.groups != 0) {
        diag_error(d, arg_loc(call, q.groups), "%s's groups = %d must divide filters = %d (%s)",
                   q.op, c.groups, c.F, ratio(b->arena, c.F, c.groups));
        ok = false;
    }
    if (q.transposed) {
        pair(q.padding, &c.pt, &c.pl);
        c.pb = c.pt, c.pr = c.pl;
        c.pad_word = PAD_NUMBERS;
        pair(q.outpad, &c.oph, &c.opw);
    } else if (!read_padding(b, call, &q, &c)) {
        ok = false;
    }
    if (!ok)
        return -1;

    const char *hdim = q.one_d ? "length" : "height", *wdim = q.one_d ? "length" : "width";
    long long oh, ow;
    if (q.transposed) {
        oh = transposed_out(b, call, &q, hdim, c.H, c.kh, c.sh, c.pt, c.oph, c.dh);
        ow = oh < 0 ? -1 : transposed_out(b, call, &q, wdim, c.W, c.kw, c.sw, c.pl, c.opw, c.dw);
    } else {
        oh = q.one_d ? 1 : conv_out(b, call, &q, hdim, c.H, c.kh, c.sh, c.pt, c.pb, c.dh);
        ow = oh < 0 ? -1 : conv_out(b, call, &q, wdim, c.W, c.kw, c.sw, c.pl, c.pr, c.dw);
    }
    if (oh < 0 || ow < 0)
        return -1;
    /* In double: the products of sizes up to 2^31 each. */
    double wsize = (double)c.F * c.C / c.groups * c.kh * c.kw, out = (double)c.F * oh * ow;
    /* ... and every term of the kernels' int arithmetic (the padded
     * input, the dilated span, a transposed layer's stretched input). */
    double terms[] = {(double)c.H + c.pt + c.pb, (double)c.W + c.pl + c.pr,
                      (double)c.dh * c.kh, (double)c.dw * c.kw, (double)c.sh * c.H,
                      (double)c.sw * c.W, 2.0 * c.pt, 2.0 * c.pl};
    bool fits = true;
    for (size_t k = 0; k < sizeof terms / sizeof terms[0]; k++)
        fits &= terms[k] <= CONV_MAX_ELEMS;
    if (!fits || wsize > CONV_MAX_ELEMS || out > CONV_MAX_ELEMS ||
        (double)c.C * c.H * c.W > CONV_MAX_ELEMS) {
        build_value_error(b, call->loc, "%s layer too large: %s weights, %s outputs per sample "
                          "(at most %ld each)", q.op, count_text(b->arena, wsize),
                          count_text(b->arena, out), CONV_MAX_ELEMS);
        return -1;
    }
    c.OH = (int)oh, c.OW = (int)ow;

    Shape ws = q.transposed ? (Shape){.rank = 4, .dim = {c.C, c.F / c.groups, c.kh, c.kw}}
               : q.one_d    ? (Shape){.rank = 3, .dim = {c.F, c.C / c.groups, c.kw}}
                            : (Shape){.rank = 4, .dim = {c.F, c.C / c.groups, c.kh, c.kw}};
    if (!op_mask_check(b, call, q.density, shape_size(ws)))
        return -1;
    Node *node = build_node(b, op, call);
    node->in[0] = x;
    node->nin = 1;
    node->shape = q.one_d ? (Shape){.rank = 2, .dim = {c.F, c.OW}}
                          : (Shape){.rank = 3, .dim = {c.F, c.OH, c.OW}};
    node->batched = true;
    c.x_is_input = build_input_decl(b, x) != NULL;
    *(ConvAttr *)build_attr(b, node, sizeof(ConvAttr)) = c;
    /* PyTorch's layouts; torch's fans come with them (build_param). */
    int wk = build_param(b, node, "weight", ws, call->loc);
    if (op_mask_bind(b, node, wk, q.density, call, &attr(node)->mask)) {
        node->scratch_size[1] = (size_t)shape_size(ws);
        node->scratch_whole[1] = true;
    }
    if (c.bias) {
        int k = build_param(b, node, "bias", (Shape){.rank = 1, .dim = {c.F}}, call->loc);
        Param *bp = &b->ir->params.items[k];
        bp->init = INIT_ZEROS;   /* biases always start at zero */
        bp->fan_in = b->ir->params.items[wk].fan_in;
        bp->fan_out = b->ir->params.items[wk].fan_out;
    }
    node->hyper_set = q.kernel->expr != NULL;
    node->hyper_loc = q.kernel->expr ? q.kernel->expr->loc : call->loc;
    size_workspace(node, &c, q.transposed);
    return node->id;
}

static int conv2d_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    return conv_lower_op(b, call, a, ok, OP_CONV2D);
}

static int conv1d_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    return conv_lower_op(b, call, a, ok, OP_CONV1D);
}

static int conv_transpose2d_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    return conv_lower_op(b, call, a, ok, OP_CONV_TRANSPOSE2D);
}

/* ---- kernels ------------------------------------------------------------ */

/* The workspace pointer, or NULL for the DIRECT scheme. */
static const char *workspace(Emit *e, const Node *n)
{
    return n->scratch_size[0] > 0 ? emit_scratch(e, n->id, 0) : "NULL";
}

/* The kernel's sizes after n, as conv.h lists them: conv2d's
 * "C, H, W, F, kh, kw, sh, sw, pt, pb, pl, pr, dh, dw, groups", conv1d's
 * "C, L, F, k, stride, pl, pr, dilation, groups", conv_transpose2d's
 * "C, H, W, F, kh, kw, sh, sw, ph, pw, oph, opw, dh, dw, groups". */
static const char *sizes(Emit *e, const Node *n)
{
    const ConvAttr *c = attr(n);
    (void)e;
    static char buf[256];
    if (n->op == OP_CONV1D)
        snprintf(buf, sizeof buf, "%d, %d, %d, %d, %d, %d, %d, %d, %d", c->C, c->W, c->F, c->kw,
                 c->sw, c->pl, c->pr, c->dw, c->groups);
    else if (n->op == OP_CONV_TRANSPOSE2D)
        snprintf(buf, sizeof buf, "%d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d",
                 c->C, c->H, c->W, c->F, c->kh, c->kw, c->sh, c->sw, c->pt, c->pl, c->oph, c->opw,
                 c->dh, c->dw, c->groups);
    else
        snprintf(buf, sizeof buf, "%d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d",
                 c->C, c->H, c->W, c->F, c->kh, c->kw, c->sh, c->sw, c->pt, c->pb, c->pl, c->pr,
                 c->dh, c->dw, c->groups);
    return buf;
}

/* "[n,6,28,28]" / "[n,6,28]": a per-sample shape with the batch. */
static const char *dims(Emit *e, const Node *n, int C, int H, int W)
{
    static char buf[2][64];
    static int turn;
    char *s = buf[turn++ & 1];
    if (n->op == OP_CONV1D)
        snprintf(s, 64, "[n,%d,%d]", C, W);
    else
        snprintf(s, 64, "[n,%d,%d,%d]", C, H, W);
    (void)e;
    return s;
}

/* "3" or "3x2" into buf (32 chars). */
static const char *pair_buf(char *buf, int h, int w)
{
    snprintf(buf, 32, h == w ? "%d" : "%dx%d", h, w);
    return buf;
}

/* The geometry in words, for the comment above the forward call:
 * "conv2d [n,1,8,8] -> [n,4,8,8]: kernel 3, stride 1, padding 1,1,1,1 (same)". */
static void describe(Emit *e, const Node *n)
{
    const ConvAttr *c = attr(n);
    bool one_d = n->op == OP_CONV1D;
    char k[32], s[32], d[32], pad[64], more[96] = "";
    if (one_d)
        snprintf(pad, sizeof pad, "%d,%d", c->pl, c->pr);
    else if (n->op == OP_CONV_TRANSPOSE2D)
        snprintf(pad, sizeof pad, "%d,%d", c->pt, c->pl);
    else
        snprintf(pad, sizeof pad, "%d,%d,%d,%d", c->pt, c->pb, c->pl, c->pr);
    const char *word = c->pad_word == PAD_SAME ? " (same)" : c->pad_word == PAD_CAUSAL
                       ? " (causal)" : c->pad_word == PAD_VALID ? " (valid)" : "";
    size_t used = 0;
    if (n->op == OP_CONV_TRANSPOSE2D && (c->oph || c->opw))
        used += (size_t)snprintf(more + used, sizeof more - used, ", output_padding %d,%d",
                                 c->oph, c->opw);
    if (c->dh != 1 || c->dw != 1)
        used += (size_t)snprintf(more + used, sizeof more - used, ", dilation %s",
                                 pair_buf(d, one_d ? c->dw : c->dh, c->dw));
    if (c->groups != 1)
        snprintf(more + used, sizeof more - used, ", groups %d", c->groups);
    emit_line(e, "/* %s %s -> %s: kernel %s, stride %s, padding %s%s%s */", op_kind_name(n->op),
              dims(e, n, c->C, c->H, c->W), dims(e, n, c->F, c->OH, c->OW),
              pair_buf(k, one_d ? c->kw : c->kh, c->kw), pair_buf(s, one_d ? c->sw : c->sh, c->sw),
              pad, word, more);
}

static void conv_forward(Emit *e, const Node *n)
{
    const char *name = op_kind_name(n->op);
    describe(e, n);
    const char *w = op_mask_weight(e, n, n->param[0], 1);
    emit_line(e, "dlrt_%s_forward_%s(%s, %s, %s, %s, %s,", name, op_prec(e), emit_buf(e, n->id),
              workspace(e, n), emit_buf(e, n->in[0]), w,
              n->nparam > 1 ? emit_param(e, n->param[1]) : "NULL");
    emit_line(e, "    n, %s);", sizes(e, n));
}

/* "[8,2,3,3]": a parameter's shape, for comments. */
static const char *param_dims(const IR *ir, int param)
{
    static char buf[64];
    const Shape *sh = &ir->params.items[param].shape;
    size_t used = (size_t)snprintf(buf, sizeof buf, "[");
    for (int k = 0; k < sh->rank && used < sizeof buf; k++)
        used += (size_t)snprintf(buf + used, sizeof buf - used, k ? ",%d" : "%d", sh->dim[k]);
    if (used < sizeof buf)
        snprintf(buf + used, sizeof buf - used, "]");
    return buf;
}

static void conv_backward(Emit *e, const Node *n, const bool *accumulate)
{
    const IR *ir = emit_ir(e);
    const ConvAttr *c = attr(n);
    const char *name = op_kind_name(n->op), *dy = emit_grad(e, n->id);
    const Node *xn = ir->nodes.items[n->in[0]];

    /* A frozen layer (trainable = false) passes the gradient through to
     * its input but computes none for its own parameters. */
    if (ir->params.items[n->param[0]].trained) {
        bool acc = emit_param_accumulate(e, n->param[0]);
        const char *dw = emit_param_grad(e, n->param[0]);
        emit_line(e, "/* %s%s %s the weight gradient from %s and %s */", dw,
                  param_dims(ir, n->param[0]), op_assign(acc), dy, emit_buf(e, n->in[0]));
        emit_line(e, "dlrt_%s_backward_weight_%s(%s, %s, %s, %s,", name, op_prec(e), dw,
                  workspace(e, n), dy, emit_buf(e, n->in[0]));
        emit_line(e, "    n, %s, %d);", sizes(e, n), acc);
        op_mask_grad(e, n->param[0]);
    }
    if (n->nparam > 1 && ir->params.items[n->param[1]].trained) {
        bool acc = emit_param_accumulate(e, n->param[1]);
        const char *db = emit_param_grad(e, n->param[1]);
        emit_line(e, "/* %s[%d] %s sums of %s over the batch and its %d positions */", db, c->F,
                  op_assign(acc), dy, c->OH * c->OW);
        emit_line(e, "dlrt_bias_backward_%s(%s, %s, n, %d, %d, %d);", op_prec(e), db, dy, c->F,
                  c->OH * c->OW, acc);
    }
    if (xn->needs_grad) {
        const char *dx = emit_grad(e, n->in[0]);
        const char *w = op_mask_weight(e, n, n->param[0], 1);
        emit_line(e, "/* %s%s %s the input gradient from %s and %s */", dx,
                  dims(e, n, c->C, c->H, c->W), op_assign(accumulate[0]), dy, w);
        emit_line(e, "dlrt_%s_backward_data_%s(%s, %s, %s, %s,", name, op_prec(e), dx,
                  workspace(e, n), dy, w);
        emit_line(e, "    n, %s, %d);", sizes(e, n), accumulate[0]);
    }
}

/* ---- the twin ------------------------------------------------------------ */

/* "2" or "(2, 1)": a pair as a torch argument. */
static const char *py_pair(char *buf, int h, int w, bool one_d)
{
    if (one_d || h == w)
        snprintf(buf, 32, "%d", w);
    else
        snprintf(buf, 32, "(%d, %d)", h, w);
    return buf;
}

static void conv_torch(TorchEmit *t, const Node *n)
{
    const ConvAttr *c = attr(n);
    bool one_d = n->op == OP_CONV1D;
    const char *x = torch_name(t, n->in[0]);
    const char *w = op_mask_torch(t, n->param[0], n->nstate ? n->state[0] : -1);
    const char *bias = n->nparam > 1 ? torch_param(t, n->param[1]) : "None";
    char s[32], d[32], p[32], op[32], in[160];
    /* An input may come flat ([n, 784] as the trainer reads it): give it
     * its shape. */
    if (!c->x_is_input)
        snprintf(in, sizeof in, "%s", x);
    else if (one_d)
        snprintf(in, sizeof in, "%s.reshape(-1, %d, %d)", x, c->C, c->W);
    else
        snprintf(in, sizeof in, "%s.reshape(-1, %d, %d, %d)", x, c->C, c->H, c->W);
    if (n->op == OP_CONV_TRANSPOSE2D) {
        torch_line(t, "%s = F.conv_transpose2d(%s, %s, %s, stride=%s, padding=%s, "
                   "output_padding=%s, groups=%d, dilation=%s)", torch_name(t, n->id), in, w,
                   bias, py_pair(s, c->sh, c->sw, false), py_pair(p, c->pt, c->pl, false),
                   py_pair(op, c->oph, c->opw, false), c->groups, py_pair(d, c->dh, c->dw, false));
        return;
    }
    const char *fn = one_d ? "conv1d" : "conv2d";
    py_pair(s, c->sh, c->sw, one_d);
    py_pair(d, c->dh, c->dw, one_d);
    if (c->pt == c->pb && c->pl == c->pr) {
        /* The same on both sides: PyTorch's own padding argument. */
        if (c->pad_word == PAD_SAME)
            snprintf(p, sizeof p, "\"same\"");
        else
            py_pair(p, c->pt, c->pl, one_d);
        torch_line(t, "%s = F.%s(%s, %s, %s, stride=%s, padding=%s, dilation=%s, groups=%d)",
                   torch_name(t, n->id), fn, in, w, bias, s, p, d, c->groups);
        return;
    }
    /* Different sides ("same" with an even span, causal, or per side):
     * F.pad first, as PyTorch's own "same" does (the extra after). */
    char pads[64];
    if (one_d)
        snprintf(pads, sizeof pads, "(%d, %d)", c->pl, c->pr);
    else
        snprintf(pads, sizeof pads, "(%d, %d, %d, %d)", c->pl, c->pr, c->pt, c->pb);
    torch_line(t, "%s = F.%s(F.pad(%s, %s), %s, %s, stride=%s, padding=0, dilation=%s, "
               "groups=%d)", torch_name(t, n->id), fn, in, pads, w, bias, s, d, c->groups);
}

/* ---- dump, explain, flops ----------------------------------------------- */

static void conv_dump(FILE *out, const Node *n)
{
    const ConvAttr *c = attr(n);
    if (n->op == OP_CONV1D) {
        fprintf(out, " filters=%d kernel=%d stride=%d pad=%d,%d dil=%d", c->F, c->kw, c->sw,
                c->pl, c->pr, c->dw);
    } else {
        fprintf(out, " filters=%d kernel=%dx%d stride=", c->F, c->kh, c->kw);
        fprintf(out, c->sh == c->sw ? "%d" : "%dx%d", c->sh, c->sw);
        if (n->op == OP_CONV_TRANSPOSE2D)
            fprintf(out, " pad=%d,%d output_padding=%d,%d", c->pt, c->pl, c->oph, c->opw);
        else
            fprintf(out, " pad=%d,%d,%d,%d", c->pt, c->pb, c->pl, c->pr);
        fprintf(out, " dil=");
        fprintf(out, c->dh == c->dw ? "%d" : "%dx%d", c->dh, c->dw);
    }
    fprintf(out, " groups=%d%s%s", c->groups,
            c->pad_word == PAD_SAME ? " same" : c->pad_word == PAD_CAUSAL ? " causal" : "",
            c->bias ? "" : " no-bias");
    if (c->mask.density < 1)
        fprintf(out, " density=%g keep=%ld mask_seed=%llu", c->mask.density, c->mask.keep,
                c->mask.seed);
}

/* The geometry, for --explain: "kernel 5x5 stride 1 padding 2,2,2,2". */
static const char *conv_explain(Arena *a, const Node *n)
{
    const ConvAttr *c = attr(n);
    bool one_d = n->op == OP_CONV1D;
    char k[32], s[32], d[32];
    pair_buf(k, one_d ? c->kw : c->kh, c->kw);
    pair_buf(s, one_d ? c->sw : c->sh, c->sw);
    pair_buf(d, one_d ? c->dw : c->dh, c->dw);
    const char *text = arena_printf(a, "kernel %s stride %s padding ", k, s);
    if (one_d)
        text = arena_printf(a, "%s%d,%d", text, c->pl, c->pr);
    else if (n->op == OP_CONV_TRANSPOSE2D)
        text = arena_printf(a, "%s%d,%d output_padding %d,%d", text, c->pt, c->pl, c->oph, c->opw);
    else
        text = arena_printf(a, "%s%d,%d,%d,%d", text, c->pt, c->pb, c->pl, c->pr);
    text = arena_printf(a, "%s dilation %s groups %d", text, d, c->groups);
    const char *mask = op_mask_explain(a, &c->mask);
    return mask ? arena_printf(a, "%s %s", text, mask) : text;
}

/* 2 multiply-adds per weight per position: a convolution's weight meets
 * every output position; a transposed one's every input position. */
static double conv_flops(const IR *ir, const Node *n)
{
    const ConvAttr *c = attr(n);
    double weights = (double)ir->params.items[n->param[0]].size;
    double positions = n->op == OP_CONV_TRANSPOSE2D ? (double)c->H * c->W : (double)c->OH * c->OW;
    return 2.0 * weights * positions;
}

/* The im2col columns (a chunk of one sample's output rows at a time). */
static const ScratchSpec conv_scratch[] = {{"ws", SCRATCH_WORKSPACE, SCRATCH_REAL},
                                           /* the masked copy of the weight (density < 1) */
                                           {"wmask", SCRATCH_WORKSPACE, SCRATCH_REAL}};

const OpInfo op_conv2d = {
    .summary = "conv2d(x, filters, kernel, stride=1, padding=0, dilation=1, groups=1, bias=true, "
               "density=1, mask_seed=1, init=, lr=, weight_decay=, trainable=): [C, H, W] -> "
               "[filters, OH, OW], weight [filters, C/groups, kh, kw]",
    .args = conv2d_args,
    .nargs = 10,
    .lower = conv2d_lower,
    .flags = OPF_PARAMS,
    .forward = conv_forward,
    .backward = conv_backward,
    .torch = conv_torch,
    .dump = conv_dump,
    .explain = conv_explain,
    .flops = conv_flops,
    .scratch = conv_scratch,
    .nscratch = 2,
};

const OpInfo op_conv1d = {
    .summary = "conv1d(x, filters, kernel, stride=1, padding=0, dilation=1, groups=1, bias=true, "
               "density=1, mask_seed=1, init=, lr=, weight_decay=, trainable=): [C, L] -> [filters, OL], "
               "weight [filters, C/groups, k]; padding=\"causal\"",
    .args = conv1d_args,
    .nargs = 10,
    .lower = conv1d_lower,
    .flags = OPF_PARAMS,
    .forward = conv_forward,
    .backward = conv_backward,
    .torch = conv_torch,
    .dump = conv_dump,
    .explain = conv_explain,
    .flops = conv_flops,
    .scratch = conv_scratch,
    .nscratch = 2,
};

const OpInfo op_conv_transpose2d = {
    .summary = "conv_transpose2d(x, filters, kernel, stride=1, padding=0, output_padding=0, "
               "dilation=1, groups=1, bias=true, density=1, mask_seed=1, init=, lr=, weight_decay=, "
               "trainable=): [C, H, W] -> [filters, OH, OW], weight [C, filters/groups, kh, kw]",
    .args = conv_transpose2d_args,
    .nargs = 11,
    .lower = conv_transpose2d_lower,
    .flags = OPF_PARAMS,
    .forward = conv_forward,
    .backward = conv_backward,
    .torch = conv_torch,
    .dump = conv_dump,
    .explain = conv_explain,
    .flops = conv_flops,
    .scratch = conv_scratch,
    .nscratch = 2,
};
