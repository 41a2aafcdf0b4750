/* ops/softplus.c: a smooth relu, PyTorch's F.softplus.
 *
 *   softplus(x, beta = 1, threshold = 20)
 *        y  = beta x > threshold ? x  : log(1 + e^(beta x)) / beta
 *        dx = beta x > threshold ? dy : dy z / (z + 1)      z = e^(beta x)
 *
 * Above the threshold the function is taken as linear, which keeps
 * e^(beta x) from overflowing; the test is strict, so beta x = threshold
 * exactly is on the log side, as in PyTorch. NaN stays NaN (value and
 * gradient), softplus(-inf) = 0 with gradient 0, softplus(inf) = inf with
 * gradient dy.
 *
 * Attributes: SoftplusAttr (beta, threshold).
 */
#include "ops.h"

/* softplus's attributes (node->attr). */
typedef struct SoftplusAttr {
    double beta;
    double threshold;
} SoftplusAttr;

static SoftplusAttr *attr(const Node *n)
{
    return n->attr;
}

static const ArgSpec softplus_args[] = {
    {.name = "x", .kind = ARG_TENSOR},
    {.name = "beta", .kind = ARG_NUMBER, .optional = true, .def = 1, .has_min = true,
     .min_open = true, .min = 0},
    {.name = "threshold", .kind = ARG_NUMBER, .optional = true, .def = 20},
};

static int softplus_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    if (!ok)
        return -1;
    Node *node = build_get(b, op_unary_node(b, OP_SOFTPLUS, call, a[0].node));
    build_attr(b, node, sizeof(SoftplusAttr));
    attr(node)->beta = a[1].num;
    attr(node)->threshold = a[2].num;
    node->hyper_set = a[1].expr || a[2].expr;
    node->hyper_loc = a[1].expr ? a[1].expr->loc : a[2].expr ? a[2].expr->loc : NOLOC;
    return node->id;
}

/* "xv * 2.0f", or "xv" when beta is 1 (xv * 1 is exact: the same result). */
static const char *scaled(Emit *e, char *buf, size_t size, double beta)
{
    if (beta == 1)
        return "xv";
    snprintf(buf, size, "xv * %s", emit_lit(e, beta));
    return buf;
}

static void softplus_forward(Emit *e, const Node *n)
{
    const char *x = emit_buf(e, n->in[0]), *y = emit_buf(e, n->id);
    double beta = attr(n)->beta;
    char buf[48];
    const char *bx = scaled(e, buf, sizeof buf, beta);
    emit_line(e, "for (int i = 0; i < %s; i++) {", op_count(e, n->id));
    emit_indent(e, 1);
    emit_line(e, "const %s xv = %s[i];", emit_real(e), x);
    if (beta == 1)
        emit_line(e, "%s[i] = %s > %s ? xv : %s(%s(%s));", y, bx, emit_lit(e, attr(n)->threshold),
                  emit_fn(e, "log1p"), emit_fn(e, "exp"), bx);
    else
        emit_line(e, "%s[i] = %s > %s ? xv : %s(%s(%s)) / %s;", y, bx, emit_lit(e, attr(n)->threshold),
                  emit_fn(e, "log1p"), emit_fn(e, "exp"), bx, emit_lit(e, beta));
    emit_indent(e, -1);
    emit_line(e, "}");
}

static void softplus_backward(Emit *e, const Node *n, const bool *accumulate)
{
    if (!op_needs_grad(e, n->in[0]))
        return;
    const char *x = emit_buf(e, n->in[0]), *dy = emit_grad(e, n->id);
    const char *dx = emit_grad(e, n->in[0]);
    const char *real = emit_real(e);
    char buf[48];
    const char *bx = scaled(e, buf, sizeof buf, attr(n)->beta);
    emit_line(e, "for (int i = 0; i < n * %d; i++) {", op_elems(e, n->id));
    emit_indent(e, 1);
    emit_line(e, "const %s xv = %s[i];", real, x);
    emit_line(e, "const %s ez = %s(%s);", real, emit_fn(e, "exp"), bx);
    emit_line(e, "%s[i] %s %s > %s ? %s[i] : %s[i] * ez / (ez + 1);", dx, op_assign(accumulate[0]),
              bx, emit_lit(e, attr(n)->threshold), dy, dy);
    emit_indent(e, -1);
    emit_line(e, "}");
}

static void softplus_torch(TorchEmit *t, const Node *n)
{
    char beta[32], threshold[32];
    torch_line(t, "%s = F.softplus(%s, beta=%s, threshold=%s)", torch_name(t, n->id),
               torch_name(t, n->in[0]), op_double(beta, attr(n)->beta), op_double(threshold, attr(n)->threshold));
}

static void softplus_dump(FILE *out, const Node *n)
{
    fprintf(out, " beta=%g threshold=%g", attr(n)->beta, attr(n)->threshold);
}

static const char *softplus_explain(Arena *a, const Node *n)
{
    return arena_printf(a, "beta %g, threshold %g", attr(n)->beta, attr(n)->threshold);
}

const OpInfo op_softplus = {
    .summary = "softplus(x, beta=1, threshold=20): log(1 + exp(beta x)) / beta, x above the threshold",
    .args = softplus_args,
    .nargs = 3,
    .lower = softplus_lower,
    .flags = OPF_ELEMENTWISE,
    .forward = softplus_forward,
    .backward = softplus_backward,
    .torch = softplus_torch,
    .dump = softplus_dump,
    .explain = softplus_explain,
};
