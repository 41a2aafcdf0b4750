/* ops/reshape.c: reshape(x, [d1, d2, ...]) gives each sample a new shape
 * holding the same number of values, as torch.reshape on the per-sample
 * dims (the batch dim stays first). One size may be -1: it is inferred.
 *
 * Row-major storage makes this a view, like flatten: the values and their
 * order do not change. plan.c gives a view its input's buffer when it can
 * (OPF_VIEW), and then the forward has nothing to do; otherwise it copies.
 * Backward is the identity.
 *
 * Attributes: none; the node's shape is the result.
 *
 * An unbatched tensor (a parameter, h.bias) is reshaped whole, with no
 * batch: reshape(c.bias, [C, 1, 1]) broadcasts per channel (arith.c).
 */
#include "ops.h"

static const ArgSpec reshape_args[] = {
    {.name = "x", .kind = ARG_TENSOR},
    {.name = "shape", .kind = ARG_INTS, .has_min = true, .min = -1, .max_len = DLC_MAX_RANK,
     .range_msg = "reshape's sizes must be positive, or -1 for the one to infer"},
};

/* "2*6*6 = 72" (or "72" for one dim). */
static const char *product_text(Arena *a, Shape s)
{
    if (s.rank == 1)
        return arena_printf(a, "%d", s.dim[0]);
    const char *text = "";
    for (int k = 0; k < s.rank; k++)
        text = arena_printf(a, "%s%s%d", text, k ? "*" : "", s.dim[k]);
    return arena_printf(a, "%s = %ld", text, (long)shape_size(s));
}

/* ", 2, 6, 6": the per-sample dims after the batch's, into buf. */
static const char *dims_text(char *buf, size_t cap, Shape s)
{
    size_t o = 0;
    buf[0] = 0;
    for (int k = 0; k < s.rank && o < cap; k++)
        o += (size_t)snprintf(buf + o, cap - o, ", %d", s.dim[k]);
    return buf;
}

/* "[5, -1]" as written. */
static const char *list_text(Arena *a, const ArgVal *v)
{
    const char *text = "[";
    for (int k = 0; k < v->nints; k++)
        text = arena_printf(a, "%s%s%d", text, k ? ", " : "", v->ints[k]);
    return arena_printf(a, "%s]", text);
}

static int reshape_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    int x = a[0].node;
    const ArgVal *sv = &a[1];
    if (!ok || x < 0)
        return -1;
    const Expr *se = sv->expr;
    const Expr *const *items = se->kind == EX_LIST ? (const Expr *const *)se->items : &se;
    Shape to = {.rank = sv->nints};
    int infer = -1;
    long known = 1;
    for (int k = 0; k < sv->nints; k++) {
        int d = sv->ints[k];
        if (d == 0) {
            build_value_error(b, items[k]->loc, "reshape's sizes must be positive, or -1 for the "
                              "one to infer, got 0");
            return -1;
        }
        if (d == -1) {
            if (infer >= 0) {
                diag_error(b->diag, items[k]->loc, "reshape can infer only one size, %s has more "
                           "than one -1", list_text(b->arena, sv));
                diag_note(b->diag, items[infer]->loc, "the first -1 is here");
                return -1;
            }
            infer = k;
            continue;
        }
        to.dim[k] = d;
        known *= d;
        if (known > 2147483647L)
            break;   /* reported below as a mismatch */
    }
    Shape xs = build_get(b, x)->shape;
    long have = shape_size(xs);
    const Expr *xe = a[0].expr;
    bool fits = infer >= 0 ? have % known == 0 && known <= have : known == have;
    if (!fits) {
        if (infer >= 0)
            diag_error(b->diag, se->loc, "cannot reshape '%s' of shape %s (%s values) into %s: "
                       "%ld is not a multiple of %ld", build_expr_text(b, xe),
                       shape_str(b->arena, xs), product_text(b->arena, xs),
                       list_text(b->arena, sv), have, known);
        else
            diag_error(b->diag, se->loc, "cannot reshape '%s' of shape %s (%s values) into %s "
                       "(%s values)", build_expr_text(b, xe), shape_str(b->arena, xs),
                       product_text(b->arena, xs), list_text(b->arena, sv),
                       product_text(b->arena, to));
        build_note_shape(b, x, "input");
        return -1;
    }
    if (infer >= 0)
        to.dim[infer] = (int)(have / known);
    Node *node = build_get(b, op_unary_node(b, OP_RESHAPE, call, x));
    node->shape = to;
    /* A parameter (h.bias, unbatched) reshaped whole: reshape(c.bias,
     * [C, 1, 1]) broadcasts per channel over an image. */
    node->batched = build_get(b, x)->batched;
    return node->id;
}

static void reshape_forward(Emit *e, const Node *n)
{
    const Node *xn = emit_ir(e)->nodes.items[n->in[0]];
    const char *x = emit_buf(e, n->in[0]), *y = emit_buf(e, n->id);
    if (xn->buf >= 0 && xn->buf == n->buf) {
        char dims[96];
        emit_line(e, "/* reshape: %s is %s's buffer, viewed as [n%s] */", y, x,
                  dims_text(dims, sizeof dims, n->shape));
        return;
    }
    emit_line(e, "memcpy(%s, %s, (size_t)%s%d * sizeof *%s);   /* reshape: same values */", y, x,
              n->batched ? "n * " : "", shape_size(n->shape), y);
}

static void reshape_backward(Emit *e, const Node *n, const bool *accumulate)
{
    const Node *xn = emit_ir(e)->nodes.items[n->in[0]];
    if (!xn->needs_grad)
        return;
    const char *dy = emit_grad(e, n->id), *dx = emit_grad(e, n->in[0]);
    if (xn->gbuf >= 0 && xn->gbuf == n->gbuf) {
        emit_line(e, "/* reshape: %s is %s's buffer */", dx, dy);
        return;
    }
    if (!accumulate[0]) {
        emit_line(e, "memcpy(%s, %s, (size_t)%s%d * sizeof *%s);   /* reshape: same values */", dx,
                  dy, n->batched ? "n * " : "", shape_size(n->shape), dx);
        return;
    }
    emit_line(e, "for (int i = 0; i < %s%d; i++)", n->batched ? "n * " : "", shape_size(n->shape));
    emit_line(e, "    %s[i] += %s[i];", dx, dy);
}

static void reshape_torch(TorchEmit *t, const Node *n)
{
    char dims[96];
    dims_text(dims, sizeof dims, n->shape);
    if (!n->batched) {   /* a parameter: its own shape, no batch */
        torch_line(t, "%s = %s.reshape(%s%s)", torch_name(t, n->id), torch_name(t, n->in[0]),
                   dims + 2, n->shape.rank == 1 ? "," : "");
        return;
    }
    torch_line(t, "%s = %s.reshape(%s.shape[0]%s)", torch_name(t, n->id), torch_name(t, n->in[0]),
               torch_name(t, n->in[0]), dims);
}

static void reshape_dump(FILE *out, const Node *n)
{
    (void)out;
    (void)n;   /* the node's shape says it all */
}

/* A view: no arithmetic. */
static double reshape_flops(const IR *ir, const Node *n)
{
    (void)ir;
    (void)n;
    return 0;
}

const OpInfo op_reshape = {
    .summary = "reshape(x, [d1, d2, ...]): each sample in a new shape of as many values (one "
               "size may be -1)",
    .args = reshape_args,
    .nargs = 2,
    .lower = reshape_lower,
    .forward = reshape_forward,
    .backward = reshape_backward,
    .torch = reshape_torch,
    .dump = reshape_dump,
    .flops = reshape_flops,
    .flags = OPF_VIEW | OPF_UNBATCHED,
};
