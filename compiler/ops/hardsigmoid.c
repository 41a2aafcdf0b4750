/* ops/hardsigmoid.c: sigmoid's piecewise-linear stand-in, PyTorch's
 * F.hardsigmoid.
 *
 *   hardsigmoid(x)    y  = min(max(x + 3, 0), 6) / 6          NaN stays NaN
 *                     dx = -3 < x < 3 ? dy / 6 : 0             0 at x = +-3 and at NaN
 *
 * PyTorch's conventions: the gradient is 0 at exactly -3 and 3 and at a
 * NaN input, and its 1/6 is the float 1.0f / 6.0f also in double
 * precision (0.1666666716337204...), so the f64 code uses that constant
 * too, to agree to the last bit. No attributes.
 */
#include "ops.h"

static int hardsigmoid_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    return ok ? op_unary_node(b, OP_HARDSIGMOID, call, a[0].node) : -1;
}

static void hardsigmoid_forward(Emit *e, const Node *n)
{
    const char *x = emit_buf(e, n->in[0]), *y = emit_buf(e, n->id);
    emit_line(e, "for (int i = 0; i < %s; i++) {", op_count(e, n->id));
    emit_indent(e, 1);
    emit_line(e, "const %s xp3 = %s[i] + 3;", emit_real(e), x);
    emit_line(e, "%s[i] = (xp3 < 0 ? 0 : xp3 > 6 ? 6 : xp3) / 6;   /* NaN stays NaN */", y);
    emit_indent(e, -1);
    emit_line(e, "}");
}

static void hardsigmoid_backward(Emit *e, const Node *n, const bool *accumulate)
{
    if (!op_needs_grad(e, n->in[0]))
        return;
    const char *x = emit_buf(e, n->in[0]), *dy = emit_grad(e, n->id);
    const char *dx = emit_grad(e, n->in[0]);
    const float one_sixth = 1.0f / 6.0f;   /* PyTorch's, in both precisions */
    emit_line(e, "for (int i = 0; i < n * %d; i++)   /* 0 at +-3 and at NaN, as torch */",
              op_elems(e, n->id));
    emit_line(e, "    %s[i] %s %s[i] > -3 && %s[i] < 3 ? %s[i] * %s : 0;", dx,
              op_assign(accumulate[0]), x, x, dy, emit_lit(e, (double)one_sixth));
}

static void hardsigmoid_torch(TorchEmit *t, const Node *n)
{
    torch_line(t, "%s = F.hardsigmoid(%s)", torch_name(t, n->id), torch_name(t, n->in[0]));
}

const OpInfo op_hardsigmoid = {
    .summary = "hardsigmoid(x): min(max(x + 3, 0), 6) / 6",
    .args = op_x_arg,
    .nargs = 1,
    .lower = hardsigmoid_lower,
    .flags = OPF_ELEMENTWISE,
    .forward = hardsigmoid_forward,
    .backward = hardsigmoid_backward,
    .torch = hardsigmoid_torch,
};
