/* ops/flatten.c: flatten(x) turns each sample [a, b, ...] into [a*b*...].
 *
 * Row-major storage makes this a view: the values and their order do not
 * change. If plan.c gives the node its input's buffer (same offset), the
 * forward has nothing to do; otherwise it copies. Backward is the identity. */
#include "ops.h"

static int flatten_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    if (!ok)
        return -1;
    Node *node = build_get(b, op_unary_node(b, OP_FLATTEN, call, a[0].node));
    node->shape = (Shape){.rank = 1, .dim = {shape_size(node->shape)}};
    return node->id;
}

static void flatten_forward(Emit *e, const Node *n)
{
    const Node *xn = emit_ir(e)->nodes.items[n->in[0]];
    const char *x = emit_buf(e, n->in[0]), *y = emit_buf(e, n->id);
    if (xn->buf >= 0 && xn->buf == n->buf) {
        emit_line(e, "/* flatten: %s is %s's buffer, viewed as [n,%d] */", y, x, shape_size(n->shape));
        return;
    }
    emit_line(e, "memcpy(%s, %s, (size_t)n * %d * sizeof *%s);   /* flatten: same values */",
              y, x, shape_size(n->shape), y);
}

static void flatten_backward(Emit *e, const Node *n, const bool *accumulate)
{
    const Node *xn = emit_ir(e)->nodes.items[n->in[0]];
    if (!xn->needs_grad)
        return;
    const char *dy = emit_grad(e, n->id), *dx = emit_grad(e, n->in[0]);
    if (xn->gbuf >= 0 && xn->gbuf == n->gbuf) {
        /* Shared gradient buffer: the values are already in place. */
        emit_line(e, "/* flatten: %s is %s's buffer */", dx, dy);
        return;
    }
    if (!accumulate[0]) {
        emit_line(e, "memcpy(%s, %s, (size_t)n * %d * sizeof *%s);", dx, dy, shape_size(n->shape), dx);
        return;
    }
    emit_line(e, "for (int i = 0; i < n * %d; i++)", shape_size(n->shape));
    emit_line(e, "    %s[i] += %s[i];", dx, dy);
}

static void flatten_torch(TorchEmit *t, const Node *n)
{
    torch_line(t, "%s = %s.reshape(%s.shape[0], -1)", torch_name(t, n->id), torch_name(t, n->in[0]),
               torch_name(t, n->in[0]));
}

const OpInfo op_flatten = {
    .summary = "flatten(x): each sample as a vector, [a, b] -> [a*b]",
    .args = op_x_arg,
    .nargs = 1,
    .lower = flatten_lower,
    .forward = flatten_forward,
    .backward = flatten_backward,
    .torch = flatten_torch,
    .flags = OPF_VIEW,
};
