/* ops/silu.c: the sigmoid linear unit, PyTorch's F.silu, and its other
 * name swish (the same op: a swish call makes a silu node).
 *
 *   silu(x) = swish(x)    y  = x / (1 + e^-x)                 = x sigmoid(x)
 *                         dx = dy s (1 + x (1 - s))           s = 1 / (1 + e^-x)
 *
 * Written as PyTorch's CPU kernel writes it, so the edges agree: silu(-inf)
 * is NaN (-inf / inf) and so is the gradient at +-inf; silu(-1e4) = -0.
 * No attributes.
 */
#include "ops.h"

static int silu_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    return ok ? op_unary_node(b, OP_SILU, call, a[0].node) : -1;
}

static void silu_forward(Emit *e, const Node *n)
{
    const char *x = emit_buf(e, n->in[0]), *y = emit_buf(e, n->id);
    emit_line(e, "for (int i = 0; i < %s; i++)", op_count(e, n->id));
    emit_line(e, "    %s[i] = %s[i] / (1 + %s(-%s[i]));", y, x, emit_fn(e, "exp"), x);
}

static void silu_backward(Emit *e, const Node *n, const bool *accumulate)
{
    if (!op_needs_grad(e, n->in[0]))
        return;
    const char *x = emit_buf(e, n->in[0]), *dy = emit_grad(e, n->id);
    const char *dx = emit_grad(e, n->in[0]);
    emit_line(e, "for (int i = 0; i < n * %d; i++) {", op_elems(e, n->id));
    emit_indent(e, 1);
    emit_line(e, "const %s s = 1 / (1 + %s(-%s[i]));   /* sigmoid */", emit_real(e),
              emit_fn(e, "exp"), x);
    emit_line(e, "%s[i] %s %s[i] * s * (1 + %s[i] * (1 - s));", dx, op_assign(accumulate[0]), dy, x);
    emit_indent(e, -1);
    emit_line(e, "}");
}

static void silu_torch(TorchEmit *t, const Node *n)
{
    torch_line(t, "%s = F.silu(%s)", torch_name(t, n->id), torch_name(t, n->in[0]));
}

const OpInfo op_silu = {
    .summary = "silu(x): x sigmoid(x) (also called swish)",
    .args = op_x_arg,
    .nargs = 1,
    .lower = silu_lower,
    .flags = OPF_ELEMENTWISE,
    .forward = silu_forward,
    .backward = silu_backward,
    .torch = silu_torch,
};

/* swish: the same lowering (silu nodes), so its row never owns a node. */
const OpInfo op_swish = {
    .summary = "swish(x): silu(x), x sigmoid(x)",
    .args = op_x_arg,
    .nargs = 1,
    .lower = silu_lower,
    .forward = silu_forward,
    .backward = silu_backward,
    .torch = silu_torch,
};
