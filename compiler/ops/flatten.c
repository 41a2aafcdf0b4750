/* ops/flatten.c: flatten(x) turns each sample [a, b, ...] into [a*b*...].
 *
 * Row-major storage makes this a view: the values and their order do not
 * change. If plan.c gives the node its input's buffer (same offset), the
 * forward has nothing to do; otherwise it copies. Backward is the identity. */
#include "ops.h"

static int flatten_lower(Lower *l, const Expr *call)
{
    static const char *const names[] = {"x"};
    const Expr *arg[1];
    if (!lower_bind_args(l, call, names, 1, 1, arg))
        return -1;
    int x = op_real_arg(l, arg[0], "flatten");
    if (x < 0)
        return -1;
    Node *node = lower_node(l, OP_FLATTEN, call);
    node->in[0] = x;
    node->nin = 1;
    node->shape = (Shape){.rank = 1, .dim = {shape_size(lower_get(l, x)->shape)}};
    node->batched = true;
    node->param[0] = node->param[1] = -1;
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
    .lower = flatten_lower,
    .forward = flatten_forward,
    .backward = flatten_backward,
    .torch = flatten_torch,
    .flags = OPF_VIEW,
};
