/* ops/selu.c: the scaled exponential linear unit, PyTorch's F.selu.
 *
 *   selu(x)    y = x > 0 ? s x : s a (e^x - 1)       a = 1.6732632423543772848
 *              dx = x > 0 ? dy s : dy (s a) e^x       s = 1.0507009873554804934
 *
 * PyTorch computes it as elu with those constants; the product s a is
 * taken in the working precision (float(a) * float(s) in f32), and so is
 * it here: the emitted code multiplies the two literals. At exactly x = 0
 * the gradient is the negative side's, s a, as in PyTorch (x <= 0).
 * No attributes.
 */
#include "ops.h"

#define SELU_ALPHA 1.6732632423543772848170429916717
#define SELU_SCALE 1.0507009873554804934193349852946

static int selu_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    return ok ? op_unary_node(b, OP_SELU, call, a[0].node) : -1;
}

static void selu_forward(Emit *e, const Node *n)
{
    const char *x = emit_buf(e, n->in[0]), *y = emit_buf(e, n->id);
    emit_line(e, "for (int i = 0; i < %s; i++)   /* scale and scale * alpha */", op_count(e, n->id));
    emit_line(e, "    %s[i] = %s[i] <= 0 ? (%s(%s[i]) - 1) * (%s * %s) : %s[i] * %s;", y, x,
              emit_fn(e, "exp"), x, emit_lit(e, SELU_ALPHA), emit_lit(e, SELU_SCALE), x,
              emit_lit(e, SELU_SCALE));
}

static void selu_backward(Emit *e, const Node *n, const bool *accumulate)
{
    if (!op_needs_grad(e, n->in[0]))
        return;
    const char *x = emit_buf(e, n->in[0]), *dy = emit_grad(e, n->id);
    const char *dx = emit_grad(e, n->in[0]);
    emit_line(e, "for (int i = 0; i < n * %d; i++)", op_elems(e, n->id));
    emit_line(e, "    %s[i] %s %s[i] <= 0 ? %s[i] * (%s * %s) * %s(%s[i]) : %s[i] * %s;", dx,
              op_assign(accumulate[0]), x, dy, emit_lit(e, SELU_ALPHA), emit_lit(e, SELU_SCALE),
              emit_fn(e, "exp"), x, dy, emit_lit(e, SELU_SCALE));
}

static void selu_torch(TorchEmit *t, const Node *n)
{
    torch_line(t, "%s = F.selu(%s)", torch_name(t, n->id), torch_name(t, n->in[0]));
}

const OpInfo op_selu = {
    .summary = "selu(x): scale (x if x > 0, else alpha (exp(x) - 1)), PyTorch's constants",
    .args = op_x_arg,
    .nargs = 1,
    .lower = selu_lower,
    .flags = OPF_ELEMENTWISE,
    .forward = selu_forward,
    .backward = selu_backward,
    .torch = selu_torch,
};
