/* ops/pool.c: pooling, PyTorch's semantics (floor mode).
 *
 *   maxpool2d(x, kernel, stride = kernel, padding = 0, dilation = 1)   [C, H, W] -> [C, OH, OW]
 *   avgpool2d(x, kernel, stride = kernel, padding = 0)                 [C, H, W] -> [C, OH, OW]
 *   maxpool1d(x, kernel, stride = kernel, padding = 0, dilation = 1)   [C, L] -> [C, OL]
 *   global_avgpool(x)                                                  [C, H, W] or [C, L] -> [C]
 *
 * kernel, stride, padding and dilation of the 2d ops are one number for
 * both dimensions or [h, w]; stride defaults to the kernel, as in
 * F.max_pool2d. Along each dimension
 *
 *   out = (size + 2 padding - dilation (kernel - 1) - 1) / stride + 1   (floor)
 *
 * Padding is at most half the kernel, as PyTorch requires, so every window
 * holds a real element; max pooling pads with -inf, average pooling counts
 * the padding in the divisor (count_include_pad = True, PyTorch's default).
 * Max pooling keeps the winner's index in its plane (SAVED int32 scratch
 * "argmax", one per output value) for backward, which sends each output's
 * gradient there; a NaN in a window wins, as in PyTorch.
 *
 * The loops are runtime kernels (runtime/kernels/pool.h, tested in
 * tests/kernels); 1d pooling is the 2d kernel with H = 1.
 *
 * Attributes: PoolAttr (the geometry, input and output sizes).
 */
#include "ops.h"

#include <math.h>

/* A pooling node's geometry: [C, H, W] -> [C, OH, OW] (1d: H = OH = 1). */
typedef struct PoolAttr {
    int C, H, W, OH, OW;
    int kh, kw, sh, sw, ph, pw, dh, dw;
    bool one_d;       /* [C, L] (maxpool1d; global_avgpool of a sequence) */
} PoolAttr;

static PoolAttr *attr(const Node *n)
{
    return n->attr;
}

/* The two values of a [h, w] argument: one number for both, or the list;
 * def when defaulted. */
static void pair(const ArgVal *v, int def, int *h, int *w)
{
    if (v->nints == 0) {
        *h = *w = def;
    } else {
        *h = v->ints[0];
        *w = v->nints > 1 ? v->ints[1] : v->ints[0];
    }
}

/* The shared argument specs. kernel, stride, padding and dilation of the
 * 2d ops take one number or [h, w]; the 1d op's one number. */
#define POOL_X {.name = "x", .kind = ARG_TENSOR}
#define POOL_KERNEL(len) {.name = "kernel", .kind = ARG_INTS, .has_min = true, .min = 1, .max_len = (len)}
/* def 0: the kernel (nints == 0 tells a defaulted stride). */
#define POOL_STRIDE(len) {.name = "stride", .kind = ARG_INTS, .optional = true, .def = 0, \
                          .has_min = true, .min = 1, .max_len = (len)}
#define POOL_PADDING(len) {.name = "padding", .kind = ARG_INTS, .optional = true, .def = 0, \
                           .has_min = true, .min = 0, .max_len = (len)}
#define POOL_DILATION(len) {.name = "dilation", .kind = ARG_INTS, .optional = true, .def = 1, \
                            .has_min = true, .min = 1, .max_len = (len)}

static const ArgSpec maxpool2d_args[] = {POOL_X, POOL_KERNEL(2), POOL_STRIDE(2), POOL_PADDING(2),
                                         POOL_DILATION(2)};
static const ArgSpec avgpool2d_args[] = {POOL_X, POOL_KERNEL(2), POOL_STRIDE(2), POOL_PADDING(2)};
static const ArgSpec maxpool1d_args[] = {POOL_X, POOL_KERNEL(1), POOL_STRIDE(1), POOL_PADDING(1),
                                         POOL_DILATION(1)};

/* PyTorch's rule: padding at most half the kernel, so that every window
 * holds a real element. dim names the dimension ("height") or is NULL
 * when both dimensions have the same kernel and padding. */
static bool pool_padding_ok(Build *b, const Expr *call, const ArgVal *a, const char *dim, int k,
                            int p)
{
    if (p <= k / 2)
        return true;
    const Expr *at = a[3].expr ? a[3].expr : call;
    diag_error(b->diag, at->loc, "%s's padding %d is more than half the kernel%s%s %d: at most "
               "%d / 2 = %d, as PyTorch requires", call->name, p, dim ? " " : "", dim ? dim : "",
               k, k, k / 2);
    return false;
}

/* One dimension's output size into *out, or an error showing the formula
 * with the numbers filled in. dim names it ("height", "width", "length");
 * with_dilation: the op takes a dilation (the formula shows it). */
static bool pool_dim(Build *b, const Expr *call, const char *dim, int size, int k, int s, int p,
                     int d, bool with_dilation, int *out)
{
    Diag *diag = b->diag;
    long span = (long)size + 2L * p - (long)d * (k - 1) - 1;   /* long: d*(k-1) may be large */
    if (span >= 0) {
        *out = (int)(span / s + 1);
        return true;
    }
    const char *kernel = with_dilation && d > 1
        ? arena_printf(b->arena, "%d with dilation %d spans %ld and", k, d, (long)d * (k - 1) + 1)
        : arena_printf(b->arena, "%d", k);
    diag_error(diag, call->loc, "%s leaves no output %s: the kernel %s is larger than the padded "
               "input %s %d + 2*%d = %ld", call->name, dim, kernel, dim, size, p,
               (long)size + 2L * p);
    long shown = (long)floor((double)span / s) + 1;   /* what the floor division gives */
    const char *letter = dim[0] == 'l' ? "L" : dim[0] == 'h' ? "H" : "W";
    if (with_dilation)
        diag_note(diag, call->loc, "output %s = (%s + 2*padding - dilation*(kernel - 1) - 1) / "
                  "stride + 1 = (%d + 2*%d - %d*(%d - 1) - 1) / %d + 1 = %ld", dim, letter, size,
                  p, d, k, s, shown);
    else
        diag_note(diag, call->loc, "output %s = (%s + 2*padding - kernel) / stride + 1 = "
                  "(%d + 2*%d - %d) / %d + 1 = %ld", dim, letter, size, p, k, s, shown);
    return false;
}

/* The rank check: image (rank 3) or sequence (rank 2) per sample. */
static bool pool_rank(Build *b, const Expr *call, const ArgVal *a, int rank, const char *what)
{
    Shape xs = build_get(b, a[0].node)->shape;
    if (xs.rank == rank)
        return true;
    const Expr *xe = a[0].expr;
    diag_error(b->diag, xe->loc, "%s expects %s per sample, '%s' has shape %s", call->name, what,
               build_expr_text(b, xe), shape_str(b->arena, xs));
    build_note_shape(b, a[0].node, "input");
    const char *text = build_expr_text(b, xe);
    if (rank == 3 && xs.rank == 1)
        diag_note(b->diag, xe->loc, "reshape(%s, [C, H, W]) makes a vector an image", text);
    else if (rank == 3 && xs.rank == 2 && !strcmp(call->name, "maxpool2d"))
        diag_note(b->diag, call->loc, "maxpool1d pools a sequence [C, L]");
    else if (rank == 3 && xs.rank == 2)
        diag_note(b->diag, xe->loc, "reshape(%s, [%d, 1, %d]) makes it an image of height 1", text,
                  xs.dim[0], xs.dim[1]);
    else if (rank == 2 && xs.rank == 3)
        diag_note(b->diag, call->loc, "maxpool2d pools an image [C, H, W]");
    return false;
}

/* The shape rule of the three windowed pools: max (dilation in a[4]) or
 * average, 2d on [C, H, W] or 1d on [C, L]. */
static int pool_lower(Build *b, OpKind op, const Expr *call, const ArgVal *a, bool ok, bool one_d,
                      bool with_dilation)
{
    int x = a[0].node;
    if (x < 0 || !ok)
        return -1;   /* the argument errors are reported; nothing to check the shape against */
    if (!pool_rank(b, call, a, one_d ? 2 : 3, one_d ? "a sequence [C, L]" : "an image [C, H, W]"))
        return -1;
    Shape xs = build_get(b, x)->shape;
    PoolAttr g = {0};
    g.C = xs.dim[0];
    g.H = one_d ? 1 : xs.dim[1];
    g.W = one_d ? xs.dim[1] : xs.dim[2];
    int kh, kw, sh, sw, ph, pw, dh = 1, dw = 1;
    pair(&a[1], 1, &kh, &kw);
    pair(&a[2], 0, &sh, &sw);
    if (a[2].nints == 0) {   /* stride defaults to the kernel */
        sh = kh;
        sw = kw;
    }
    pair(&a[3], 0, &ph, &pw);
    if (with_dilation)
        pair(&a[4], 1, &dh, &dw);
    if (one_d) {   /* the 2d kernel with a height of 1 */
        g.kh = g.sh = g.dh = 1;
        g.ph = 0;
        g.kw = kw, g.sw = sw, g.pw = pw, g.dw = dw;
        g.OH = 1;
        ok = pool_padding_ok(b, call, a, NULL, kw, pw) &&
             pool_dim(b, call, "length", g.W, kw, sw, pw, dw, with_dilation, &g.OW);
    } else {
        g.kh = kh, g.kw = kw, g.sh = sh, g.sw = sw, g.ph = ph, g.pw = pw, g.dh = dh, g.dw = dw;
        bool same = kh == kw && ph == pw;   /* one message for both dimensions */
        ok = pool_padding_ok(b, call, a, same ? NULL : "height", kh, ph);
        if (!same)
            ok &= pool_padding_ok(b, call, a, "width", kw, pw);
        if (ok) {
            ok = pool_dim(b, call, "height", g.H, kh, sh, ph, dh, with_dilation, &g.OH);
            ok &= pool_dim(b, call, "width", g.W, kw, sw, pw, dw, with_dilation, &g.OW);
        }
    }
    if (!ok) {
        build_note_shape(b, x, "input");
        return -1;
    }
    g.one_d = one_d;
    Node *node = build_node(b, op, call);
    node->in[0] = x;
    node->nin = 1;
    node->batched = true;
    node->shape = one_d ? (Shape){.rank = 2, .dim = {g.C, g.OW}}
                        : (Shape){.rank = 3, .dim = {g.C, g.OH, g.OW}};
    *(PoolAttr *)build_attr(b, node, sizeof(PoolAttr)) = g;
    if (op != OP_AVGPOOL2D)
        node->scratch_size[0] = (size_t)shape_size(node->shape);   /* argmax, one per output */
    return node->id;
}

static int maxpool2d_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    return pool_lower(b, OP_MAXPOOL2D, call, a, ok, false, true);
}

static int avgpool2d_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    return pool_lower(b, OP_AVGPOOL2D, call, a, ok, false, false);
}

static int maxpool1d_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    return pool_lower(b, OP_MAXPOOL1D, call, a, ok, true, true);
}

/* ---- max pooling --------------------------------------------------------- */

static void maxpool_forward(Emit *e, const Node *n)
{
    const PoolAttr *g = attr(n);
    const char *y = emit_buf(e, n->id), *x = emit_buf(e, n->in[0]);
    const char *argmax = emit_scratch(e, n->id, 0);
    emit_line(e, "/* %s: where each window's max is in its plane, for backward */", argmax);
    if (g->one_d)
        emit_line(e, "dlrt_maxpool1d_forward_%s(%s, %s, %s, n, %d, %d, %d, %d, %d, %d);",
                  op_prec(e), y, argmax, x, g->C, g->W, g->kw, g->sw, g->pw, g->dw);
    else
        emit_line(e, "dlrt_maxpool2d_forward_%s(%s, %s, %s, n, %d, %d, %d, %d, %d, %d, %d, %d, %d, "
                  "%d, %d);", op_prec(e), y, argmax, x, g->C, g->H, g->W, g->kh, g->kw, g->sh,
                  g->sw, g->ph, g->pw, g->dh, g->dw);
}

static void maxpool_backward(Emit *e, const Node *n, const bool *accumulate)
{
    if (!op_needs_grad(e, n->in[0]))
        return;
    const PoolAttr *g = attr(n);
    const char *dx = emit_grad(e, n->in[0]), *dy = emit_grad(e, n->id);
    const char *argmax = emit_scratch(e, n->id, 0);
    if (g->one_d)
        emit_line(e, "dlrt_maxpool1d_backward_%s(%s, %s, %s, n, %d, %d, %d, %d, %d, %d, %d);",
                  op_prec(e), dx, dy, argmax, g->C, g->W, g->kw, g->sw, g->pw, g->dw,
                  accumulate[0]);
    else
        emit_line(e, "dlrt_maxpool2d_backward_%s(%s, %s, %s, n, %d, %d, %d, %d, %d, %d, %d, %d, "
                  "%d, %d, %d, %d);", op_prec(e), dx, dy, argmax, g->C, g->H, g->W, g->kh, g->kw,
                  g->sh, g->sw, g->ph, g->pw, g->dh, g->dw, accumulate[0]);
}

static void maxpool_torch(TorchEmit *t, const Node *n)
{
    const PoolAttr *g = attr(n);
    if (g->one_d)
        torch_line(t, "%s = F.max_pool1d(%s, kernel_size=%d, stride=%d, padding=%d, dilation=%d)",
                   torch_name(t, n->id), torch_name(t, n->in[0]), g->kw, g->sw, g->pw, g->dw);
    else
        torch_line(t, "%s = F.max_pool2d(%s, kernel_size=(%d, %d), stride=(%d, %d), "
                   "padding=(%d, %d), dilation=(%d, %d))", torch_name(t, n->id),
                   torch_name(t, n->in[0]), g->kh, g->kw, g->sh, g->sw, g->ph, g->pw, g->dh, g->dw);
}

/* ---- average pooling ----------------------------------------------------- */

static void avgpool_forward(Emit *e, const Node *n)
{
    const PoolAttr *g = attr(n);
    emit_line(e, "dlrt_avgpool2d_forward_%s(%s, %s, n, %d, %d, %d, %d, %d, %d, %d, %d, %d);",
              op_prec(e), emit_buf(e, n->id), emit_buf(e, n->in[0]), g->C, g->H, g->W, g->kh,
              g->kw, g->sh, g->sw, g->ph, g->pw);
}

static void avgpool_backward(Emit *e, const Node *n, const bool *accumulate)
{
    if (!op_needs_grad(e, n->in[0]))
        return;
    const PoolAttr *g = attr(n);
    emit_line(e, "dlrt_avgpool2d_backward_%s(%s, %s, n, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d);",
              op_prec(e), emit_grad(e, n->in[0]), emit_grad(e, n->id), g->C, g->H, g->W, g->kh,
              g->kw, g->sh, g->sw, g->ph, g->pw, accumulate[0]);
}

static void avgpool_torch(TorchEmit *t, const Node *n)
{
    const PoolAttr *g = attr(n);
    torch_line(t, "%s = F.avg_pool2d(%s, kernel_size=(%d, %d), stride=(%d, %d), padding=(%d, %d))",
               torch_name(t, n->id), torch_name(t, n->in[0]), g->kh, g->kw, g->sh, g->sw, g->ph,
               g->pw);
}

/* ---- shared hooks ---------------------------------------------------------- */

static void pool_dump(FILE *out, const Node *n)
{
    const PoolAttr *g = attr(n);
    if (g->one_d)
        fprintf(out, " kernel=%d stride=%d padding=%d", g->kw, g->sw, g->pw);
    else
        fprintf(out, " kernel=%dx%d stride=%dx%d padding=%dx%d", g->kh, g->kw, g->sh, g->sw,
                g->ph, g->pw);
    if (g->one_d && g->dw > 1)
        fprintf(out, " dilation=%d", g->dw);
    else if (!g->one_d && (g->dh > 1 || g->dw > 1))
        fprintf(out, " dilation=%dx%d", g->dh, g->dw);
}

/* One comparison or addition per window element per output value. */
static double pool_flops(const IR *ir, const Node *n)
{
    (void)ir;
    const PoolAttr *g = attr(n);
    return (double)g->C * g->OH * g->OW * g->kh * g->kw;
}

static const ScratchSpec argmax_scratch[] = {{"argmax", SCRATCH_SAVED, SCRATCH_INT32}};

const OpInfo op_maxpool2d = {
    .summary = "maxpool2d(x, kernel, stride=kernel, padding=0, dilation=1): max over windows "
               "of [C, H, W]",
    .args = maxpool2d_args,
    .nargs = 5,
    .lower = maxpool2d_lower,
    .forward = maxpool_forward,
    .backward = maxpool_backward,
    .torch = maxpool_torch,
    .dump = pool_dump,
    .flops = pool_flops,
    .scratch = argmax_scratch,
    .nscratch = 1,
};

const OpInfo op_avgpool2d = {
    .summary = "avgpool2d(x, kernel, stride=kernel, padding=0): mean over windows of [C, H, W], "
               "padding counted",
    .args = avgpool2d_args,
    .nargs = 4,
    .lower = avgpool2d_lower,
    .forward = avgpool_forward,
    .backward = avgpool_backward,
    .torch = avgpool_torch,
    .dump = pool_dump,
    .flops = pool_flops,
};

const OpInfo op_maxpool1d = {
    .summary = "maxpool1d(x, kernel, stride=kernel, padding=0, dilation=1): max over windows "
               "of [C, L]",
    .args = maxpool1d_args,
    .nargs = 5,
    .lower = maxpool1d_lower,
    .forward = maxpool_forward,
    .backward = maxpool_backward,
    .torch = maxpool_torch,
    .dump = pool_dump,
    .flops = pool_flops,
    .scratch = argmax_scratch,
    .nscratch = 1,
};

/* ---- global average pooling ---------------------------------------------- */

static int global_avgpool_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    int x = a[0].node;
    if (!ok || x < 0)
        return -1;
    Shape xs = build_get(b, x)->shape;
    if (xs.rank != 3 && xs.rank != 2) {
        const Expr *xe = a[0].expr;
        diag_error(b->diag, xe->loc, "global_avgpool expects an image [C, H, W] or a sequence "
                   "[C, L] per sample, '%s' has shape %s", build_expr_text(b, xe),
                   shape_str(b->arena, xs));
        build_note_shape(b, x, "input");
        return -1;
    }
    Node *node = build_node(b, OP_GLOBAL_AVGPOOL, call);
    node->in[0] = x;
    node->nin = 1;
    node->batched = true;
    node->shape = (Shape){.rank = 1, .dim = {xs.dim[0]}};
    PoolAttr *g = build_attr(b, node, sizeof(PoolAttr));
    g->C = xs.dim[0];
    g->one_d = xs.rank == 2;
    g->H = g->one_d ? 1 : xs.dim[1];
    g->W = xs.dim[xs.rank - 1];
    g->OH = g->OW = 1;
    g->kh = g->H, g->kw = g->W;   /* one window over the whole plane */
    return node->id;
}

static void global_avgpool_forward(Emit *e, const Node *n)
{
    const PoolAttr *g = attr(n);
    emit_line(e, "dlrt_global_avgpool_forward_%s(%s, %s, n, %d, %d);", op_prec(e),
              emit_buf(e, n->id), emit_buf(e, n->in[0]), g->C, g->H * g->W);
}

static void global_avgpool_backward(Emit *e, const Node *n, const bool *accumulate)
{
    if (!op_needs_grad(e, n->in[0]))
        return;
    const PoolAttr *g = attr(n);
    emit_line(e, "dlrt_global_avgpool_backward_%s(%s, %s, n, %d, %d, %d);", op_prec(e),
              emit_grad(e, n->in[0]), emit_grad(e, n->id), g->C, g->H * g->W, accumulate[0]);
}

static void global_avgpool_torch(TorchEmit *t, const Node *n)
{
    torch_line(t, "%s = F.adaptive_avg_pool%dd(%s, 1).flatten(1)", torch_name(t, n->id),
               attr(n)->one_d ? 1 : 2, torch_name(t, n->in[0]));
}

static void global_avgpool_dump(FILE *out, const Node *n)
{
    const PoolAttr *g = attr(n);
    fprintf(out, " over=%d", g->H * g->W);
}

const OpInfo op_global_avgpool = {
    .summary = "global_avgpool(x): the mean of each channel, [C, H, W] or [C, L] -> [C]",
    .args = op_x_arg,
    .nargs = 1,
    .lower = global_avgpool_lower,
    .forward = global_avgpool_forward,
    .backward = global_avgpool_backward,
    .torch = global_avgpool_torch,
    .dump = global_avgpool_dump,
    .flops = pool_flops,
};
