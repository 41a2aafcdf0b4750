/* ops/upsample.c: nearest-neighbour upsampling by whole factors.
 *
 *   upsample(x, scale = 2, mode = "nearest")
 *                              [C, H, W] -> [C, H sh, W sw]   (scale: s or [sh, sw])
 *                              [C, L]    -> [C, L s]          (scale: s)
 *
 * y[c, oy, ox] = x[c, oy / sh, ox / sw]: each value repeated over an
 * sh x sw block, as F.interpolate(x, scale_factor=..., mode="nearest");
 * backward sums each block of dy into its source. The loops are runtime
 * kernels (runtime/kernels/upsample.h).
 *
 * Attributes: UpsampleAttr (input sizes, factors).
 */
#include "ops.h"

/* Per-sample values the output may hold: every index in the kernels is an int. */
#define UPSAMPLE_MAX_ELEMS 1000000000L

typedef struct UpsampleAttr {
    int C, H, W, sh, sw;
    bool one_d;       /* [C, L]: H = sh = 1 */
} UpsampleAttr;

static UpsampleAttr *attr(const Node *n)
{
    return n->attr;
}

/* PyTorch's modes; only nearest so far (bilinear would be another kernel). */
static const char *const upsample_modes[] = {"nearest", NULL};

static const ArgSpec upsample_args[] = {
    {.name = "x", .kind = ARG_TENSOR},
    {.name = "scale", .kind = ARG_INTS, .optional = true, .def = 2, .has_min = true, .min = 1,
     .max_len = 2},
    {.name = "mode", .kind = ARG_WORD, .optional = true, .def = 0, .words = upsample_modes},
};

static int upsample_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    int x = a[0].node;
    if (!ok || x < 0)
        return -1;
    const Expr *xe = a[0].expr;
    Shape xs = build_get(b, x)->shape;
    if (xs.rank != 3 && xs.rank != 2) {
        diag_error(b->diag, xe->loc, "upsample expects an image [C, H, W] or a sequence [C, L] "
                   "per sample, '%s' has shape %s", build_expr_text(b, xe),
                   shape_str(b->arena, xs));
        build_note_shape(b, x, "input");
        return -1;
    }
    UpsampleAttr g = {.C = xs.dim[0], .one_d = xs.rank == 2};
    g.H = g.one_d ? 1 : xs.dim[1];
    g.W = xs.dim[xs.rank - 1];
    if (a[1].nints == 0) {
        g.sh = g.sw = (int)a[1].num;
    } else {
        g.sh = a[1].ints[0];
        g.sw = a[1].nints > 1 ? a[1].ints[1] : a[1].ints[0];
    }
    if (g.one_d) {
        if (a[1].nints > 1) {
            diag_error(b->diag, a[1].expr->loc, "upsample of a sequence [C, L] takes one scale, "
                       "not a list of %d", a[1].nints);
            build_note_shape(b, x, "input");
            return -1;
        }
        g.sh = 1;
    }
    if ((double)g.C * g.H * g.sh * g.W * g.sw > UPSAMPLE_MAX_ELEMS) {
        build_value_error(b, a[1].expr ? a[1].expr->loc : call->loc, "upsample makes too large a "
                          "tensor: %d*%d*%d*%d*%d values per sample, at most %ld", g.C, g.H, g.sh,
                          g.W, g.sw, UPSAMPLE_MAX_ELEMS);
        return -1;
    }
    Node *node = build_node(b, OP_UPSAMPLE, call);
    node->in[0] = x;
    node->nin = 1;
    node->batched = true;
    node->shape = g.one_d ? (Shape){.rank = 2, .dim = {g.C, g.W * g.sw}}
                          : (Shape){.rank = 3, .dim = {g.C, g.H * g.sh, g.W * g.sw}};
    *(UpsampleAttr *)build_attr(b, node, sizeof(UpsampleAttr)) = g;
    return node->id;
}

static void upsample_forward(Emit *e, const Node *n)
{
    const UpsampleAttr *g = attr(n);
    const char *y = emit_buf(e, n->id), *x = emit_buf(e, n->in[0]);
    if (g->one_d)
        emit_line(e, "dlrt_upsample_nearest1d_forward_%s(%s, %s, n, %d, %d, %d);", op_prec(e), y,
                  x, g->C, g->W, g->sw);
    else
        emit_line(e, "dlrt_upsample_nearest2d_forward_%s(%s, %s, n, %d, %d, %d, %d, %d);",
                  op_prec(e), y, x, g->C, g->H, g->W, g->sh, g->sw);
}

static void upsample_backward(Emit *e, const Node *n, const bool *accumulate)
{
    if (!op_needs_grad(e, n->in[0]))
        return;
    const UpsampleAttr *g = attr(n);
    const char *dx = emit_grad(e, n->in[0]), *dy = emit_grad(e, n->id);
    if (g->one_d)
        emit_line(e, "dlrt_upsample_nearest1d_backward_%s(%s, %s, n, %d, %d, %d, %d);",
                  op_prec(e), dx, dy, g->C, g->W, g->sw, accumulate[0]);
    else
        emit_line(e, "dlrt_upsample_nearest2d_backward_%s(%s, %s, n, %d, %d, %d, %d, %d, %d);",
                  op_prec(e), dx, dy, g->C, g->H, g->W, g->sh, g->sw, accumulate[0]);
}

static void upsample_torch(TorchEmit *t, const Node *n)
{
    const UpsampleAttr *g = attr(n);
    if (g->one_d)
        torch_line(t, "%s = F.interpolate(%s, scale_factor=%d.0, mode=\"nearest\")",
                   torch_name(t, n->id), torch_name(t, n->in[0]), g->sw);
    else
        torch_line(t, "%s = F.interpolate(%s, scale_factor=(%d.0, %d.0), mode=\"nearest\")",
                   torch_name(t, n->id), torch_name(t, n->in[0]), g->sh, g->sw);
}

static void upsample_dump(FILE *out, const Node *n)
{
    const UpsampleAttr *g = attr(n);
    if (g->one_d)
        fprintf(out, " scale=%d", g->sw);
    else
        fprintf(out, " scale=%dx%d", g->sh, g->sw);
}

/* No arithmetic: copies only. */
static double upsample_flops(const IR *ir, const Node *n)
{
    (void)ir;
    (void)n;
    return 0;
}

const OpInfo op_upsample = {
    .summary = "upsample(x, scale=2, mode=\"nearest\"): nearest-neighbour, [C, H, W] -> [C, H*sh, W*sw] or "
               "[C, L] -> [C, L*s]",
    .args = upsample_args,
    .nargs = 3,
    .lower = upsample_lower,
    .forward = upsample_forward,
    .backward = upsample_backward,
    .torch = upsample_torch,
    .dump = upsample_dump,
    .flops = upsample_flops,
};
