/* ops/concat.c: concat(a, b, [c, d,] axis = 0) joins two to four tensors
 * along one per-sample axis, as torch.cat(..., dim = axis + 1) (the batch
 * dim stays first; axis = -1 is the last one). Every other dim must agree.
 *
 * Per sample, the axis splits each tensor into `outer` rows (the product
 * of the dims before it) of `inner_k` values (its size on the axis times
 * the dims after it); the result's row is the inputs' rows one after the
 * other:
 *
 *   forward   y[r, off_k .. off_k + inner_k) = x_k[r, ..]      r < n * outer
 *   backward  dx_k[r, ..] (+)= dy[r, off_k .. off_k + inner_k)
 *
 * Fan-in is the autodiff's business: each input gets its slice of the
 * gradient. Attributes: ConcatAttr (the axis, normalized to >= 0).
 */
#include "ops.h"

#include <string.h>

typedef struct ConcatAttr {
    int axis;
} ConcatAttr;

static ConcatAttr *attr(const Node *n)
{
    return n->attr;
}

static const ArgSpec concat_args[] = {
    {.name = "a", .kind = ARG_TENSOR},
    {.name = "b", .kind = ARG_TENSOR},
    {.name = "c", .kind = ARG_TENSOR, .optional = true},
    {.name = "d", .kind = ARG_TENSOR, .optional = true},
    {.name = "axis", .kind = ARG_INT, .optional = true, .def = 0},
};

static int concat_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    if (!ok)
        return -1;
    int in[4], nin = 0;
    const Expr *where[4];
    for (int k = 0; k < 4; k++)
        if (a[k].node >= 0) {
            where[nin] = a[k].expr;
            in[nin++] = a[k].node;
        }
    Shape s0 = build_get(b, in[0])->shape;
    long axis = (long)a[4].num;
    if (axis < -s0.rank || axis >= s0.rank) {
        build_value_error(b, a[4].expr ? a[4].expr->loc : call->loc, "concat's axis must be in "
                          "[%d, %d] for tensors of shape %s (the batch dim is not counted), got %ld",
                          -s0.rank, s0.rank - 1, shape_str(b->arena, s0), axis);
        return -1;
    }
    if (axis < 0)
        axis += s0.rank;
    Shape out = s0;
    for (int k = 1; k < nin; k++) {
        Shape s = build_get(b, in[k])->shape;
        bool fits = s.rank == s0.rank;
        for (int d = 0; fits && d < s.rank; d++)
            fits = d == axis || s.dim[d] == s0.dim[d];
        if (!fits) {
            diag_error(b->diag, where[k]->loc, "concat along axis %ld needs shapes that agree "
                       "everywhere else, got %s and %s", axis, shape_str(b->arena, s0),
                       shape_str(b->arena, s));
            build_note_shape(b, in[0], "first tensor");
            build_note_shape(b, in[k], "this tensor");
            return -1;
        }
        out.dim[axis] += s.dim[axis];
    }
    if ((long)shape_size(out) > 1000000000L) {
        build_value_error(b, call->loc, "concat's result is too large: %s", shape_str(b->arena, out));
        return -1;
    }
    Node *node = build_node(b, OP_CONCAT, call);
    for (int k = 0; k < nin; k++)
        node->in[k] = in[k];
    node->nin = nin;
    node->shape = out;
    node->batched = true;
    build_attr(b, node, sizeof(ConcatAttr));
    attr(node)->axis = (int)axis;
    return node->id;
}

/* The rows before the axis, per sample. */
static int outer_of(const Node *n)
{
    int outer = 1;
    for (int d = 0; d < attr(n)->axis; d++)
        outer *= n->shape.dim[d];
    return outer;
}

/* Input k's values per row. */
static int inner_of(Emit *e, const Node *n, int k)
{
    return op_elems(e, n->in[k]) / outer_of(n);
}

static void concat_forward(Emit *e, const Node *n)
{
    int outer = outer_of(n), width = shape_size(n->shape) / outer;
    const char *y = emit_buf(e, n->id);
    emit_line(e, "/* %s: rows of %d = %s */", y, width, "the inputs' rows side by side");
    emit_line(e, "for (int r = 0; r < n * %d; r++) {", outer);
    for (int k = 0, off = 0; k < n->nin; k++) {
        int inner = inner_of(e, n, k);
        emit_line(e, "    memcpy(%s + (size_t)r * %d + %d, %s + (size_t)r * %d, %d * sizeof *%s);", y,
                  width, off, emit_buf(e, n->in[k]), inner, inner, y);
        off += inner;
    }
    emit_line(e, "}");
}

static void concat_backward(Emit *e, const Node *n, const bool *accumulate)
{
    int outer = outer_of(n), width = shape_size(n->shape) / outer;
    const char *dy = emit_grad(e, n->id);
    for (int k = 0, off = 0; k < n->nin; k++) {
        int inner = inner_of(e, n, k);
        if (op_needs_grad(e, n->in[k])) {
            /* accumulate[k] is set for a tensor given twice (concat(x, x)) */
            bool acc = accumulate[k];
            const char *dx = emit_grad(e, n->in[k]);
            emit_line(e, "for (int r = 0; r < n * %d; r++)   /* %s's slice of %s */", outer, dx, dy);
            emit_line(e, "    for (int i = 0; i < %d; i++)", inner);
            emit_line(e, "        %s[(size_t)r * %d + i] %s %s[(size_t)r * %d + %d + i];", dx, inner,
                      op_assign(acc), dy, width, off);
        }
        off += inner;
    }
}

static void concat_torch(TorchEmit *t, const Node *n)
{
    char list[1024] = "";
    size_t o = 0;
    for (int k = 0; k < n->nin && o < sizeof list; k++)
        o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", k ? ", " : "", torch_name(t, n->in[k]));
    torch_line(t, "%s = torch.cat([%s], dim=%d)", torch_name(t, n->id), list, attr(n)->axis + 1);
}

static void concat_dump(FILE *out, const Node *n)
{
    fprintf(out, " axis=%d", attr(n)->axis);
}

const OpInfo op_concat = {
    .summary = "concat(a, b, [c, d,] axis = 0): tensors joined along a per-sample axis",
    .args = concat_args,
    .nargs = 5,
    .lower = concat_lower,
    .forward = concat_forward,
    .backward = concat_backward,
    .torch = concat_torch,
    .dump = concat_dump,
};
