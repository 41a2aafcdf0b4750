/* ops/mish.c: Mish, PyTorch's F.mish.
 *
 *   mish(x)    y  = x tanh(softplus(x))             softplus(x) = log(1 + e^x)
 *              dx = dy (t + x s (1 - t^2))          t = tanh(softplus(x)), s = sigmoid(x)
 *
 * In PyTorch's order (its softplus here has no threshold): mish(-inf) is
 * NaN (-inf times 0), and so is the gradient at +-inf.
 * No attributes.
 */
#include "ops.h"

static int mish_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    return ok ? op_unary_node(b, OP_MISH, call, a[0].node) : -1;
}

static void mish_forward(Emit *e, const Node *n)
{
    const char *x = emit_buf(e, n->in[0]), *y = emit_buf(e, n->id);
    emit_line(e, "for (int i = 0; i < %s; i++)", op_count(e, n->id));
    emit_line(e, "    %s[i] = %s[i] * %s(%s(%s(%s[i])));", y, x, emit_fn(e, "tanh"),
              emit_fn(e, "log1p"), emit_fn(e, "exp"), x);
}

static void mish_backward(Emit *e, const Node *n, const bool *accumulate)
{
    if (!op_needs_grad(e, n->in[0]))
        return;
    const char *x = emit_buf(e, n->in[0]), *dy = emit_grad(e, n->id);
    const char *dx = emit_grad(e, n->in[0]);
    const char *real = emit_real(e);
    emit_line(e, "for (int i = 0; i < n * %d; i++) {", op_elems(e, n->id));
    emit_indent(e, 1);
    emit_line(e, "const %s xv = %s[i];", real, x);
    emit_line(e, "const %s s = 1 / (1 + %s(-xv));   /* sigmoid */", real, emit_fn(e, "exp"));
    emit_line(e, "const %s th = %s(%s(%s(xv)));   /* tanh(softplus) */", real, emit_fn(e, "tanh"),
              emit_fn(e, "log1p"), emit_fn(e, "exp"));
    emit_line(e, "%s[i] %s %s[i] * (th + xv * s * (1 - th * th));", dx, op_assign(accumulate[0]), dy);
    emit_indent(e, -1);
    emit_line(e, "}");
}

static void mish_torch(TorchEmit *t, const Node *n)
{
    torch_line(t, "%s = F.mish(%s)", torch_name(t, n->id), torch_name(t, n->in[0]));
}

const OpInfo op_mish = {
    .summary = "mish(x): x tanh(log(1 + exp(x)))",
    .args = op_x_arg,
    .nargs = 1,
    .lower = mish_lower,
    .flags = OPF_ELEMENTWISE,
    .forward = mish_forward,
    .backward = mish_backward,
    .torch = mish_torch,
};
