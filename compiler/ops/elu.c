/* ops/elu.c: the exponential linear unit, PyTorch's F.elu.
 *
 *   elu(x, alpha = 1.0)    y = x > 0 ? x : alpha (e^x - 1)
 *                          dx = x > 0 ? dy : dy alpha e^x
 *
 * As in PyTorch, the derivative is taken from the input (not the output),
 * and at exactly x = 0 it is alpha's side: dy alpha (PyTorch tests x <= 0).
 * NaN goes through (NaN <= 0 is false, so y = NaN and dx = dy, PyTorch's
 * convention); elu(-inf) = -alpha with gradient 0.
 *
 * Attributes: EluAttr (alpha).
 */
#include "ops.h"

/* elu's attributes (node->attr). */
typedef struct EluAttr {
    double alpha;
} EluAttr;

static EluAttr *attr(const Node *n)
{
    return n->attr;
}

static const ArgSpec elu_args[] = {
    {.name = "x", .kind = ARG_TENSOR},
    {.name = "alpha", .kind = ARG_NUMBER, .optional = true, .def = 1.0},
};

static int elu_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    if (!ok)
        return -1;
    Node *node = build_get(b, op_unary_node(b, OP_ELU, call, a[0].node));
    build_attr(b, node, sizeof(EluAttr));
    attr(node)->alpha = a[1].num;
    node->hyper_set = a[1].expr != NULL;
    node->hyper_loc = a[1].expr ? a[1].expr->loc : NOLOC;
    return node->id;
}

static void elu_forward(Emit *e, const Node *n)
{
    const char *x = emit_buf(e, n->in[0]), *y = emit_buf(e, n->id);
    emit_line(e, "for (int i = 0; i < %s; i++)   /* x <= 0: alpha (e^x - 1), as torch */",
              op_count(e, n->id));
    emit_line(e, "    %s[i] = %s[i] <= 0 ? (%s(%s[i]) - 1) * %s : %s[i];", y, x, emit_fn(e, "exp"), x,
              emit_lit(e, attr(n)->alpha), x);
}

static void elu_backward(Emit *e, const Node *n, const bool *accumulate)
{
    if (!op_needs_grad(e, n->in[0]))
        return;
    const char *x = emit_buf(e, n->in[0]), *dy = emit_grad(e, n->id);
    const char *dx = emit_grad(e, n->in[0]);
    emit_line(e, "for (int i = 0; i < n * %d; i++)", op_elems(e, n->id));
    emit_line(e, "    %s[i] %s %s[i] <= 0 ? %s[i] * %s * %s(%s[i]) : %s[i];", dx,
              op_assign(accumulate[0]), x, dy, emit_lit(e, attr(n)->alpha), emit_fn(e, "exp"), x, dy);
}

static void elu_torch(TorchEmit *t, const Node *n)
{
    char alpha[32];
    torch_line(t, "%s = F.elu(%s, alpha=%s)", torch_name(t, n->id), torch_name(t, n->in[0]),
               op_double(alpha, attr(n)->alpha));
}

static void elu_dump(FILE *out, const Node *n)
{
    fprintf(out, " alpha=%g", attr(n)->alpha);
}

static const char *elu_explain(Arena *a, const Node *n)
{
    return arena_printf(a, "alpha %g", attr(n)->alpha);
}

const OpInfo op_elu = {
    .summary = "elu(x, alpha=1.0): x if x > 0, else alpha (exp(x) - 1)",
    .args = elu_args,
    .nargs = 2,
    .lower = elu_lower,
    .flags = OPF_ELEMENTWISE,
    .forward = elu_forward,
    .backward = elu_backward,
    .torch = elu_torch,
    .dump = elu_dump,
    .explain = elu_explain,
};
