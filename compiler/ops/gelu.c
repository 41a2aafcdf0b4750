/* ops/gelu.c: the Gaussian error linear unit, PyTorch's F.gelu.
 *
 *   gelu(x)                        y = x/2 (1 + erf(x / sqrt 2))          = x Phi(x)
 *   gelu(x, approximate = "tanh")  y = x/2 (1 + tanh(b (x + k x^3)))      b = sqrt(2/pi), k = 0.044715
 *
 * Derivatives, from the input x (the output does not determine it):
 *
 *   exact   dx = dy (Phi(x) + x phi(x))          phi(x) = e^(-x^2/2) / sqrt(2 pi)
 *   tanh    dx = dy (l' + r')                    t = tanh(b (x + k x^3))
 *           l' = (1 + t)/2,  r' = x/2 (1 - t^2) b (1 + 3 k x^2)
 *
 * Both written in the order PyTorch's CPU kernels compute them, so NaN and
 * infinities come out the same: gelu(-inf) is NaN (-inf times 0) and so is
 * every gradient at +-inf; with the tanh form, x^2 overflows for |x| above
 * about 1.8e19 in float, and the gradient there is NaN (0 times inf), as
 * in PyTorch (tests/torch/probe/gelu*.net).
 *
 * Attributes: GeluAttr (tanh: approximate = "tanh").
 */
#include "ops.h"

#include <math.h>

/* gelu's attributes (node->attr). */
typedef struct GeluAttr {
    bool tanh;
} GeluAttr;

static GeluAttr *attr(const Node *n)
{
    return n->attr;
}

static const char *const approximations[] = {"none", "tanh", NULL};

static const ArgSpec gelu_args[] = {
    {.name = "x", .kind = ARG_TENSOR},
    {.name = "approximate", .kind = ARG_WORD, .optional = true, .def = 0, .words = approximations},
};

static int gelu_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    if (!ok)
        return -1;
    Node *node = build_get(b, op_unary_node(b, OP_GELU, call, a[0].node));
    build_attr(b, node, sizeof(GeluAttr));
    attr(node)->tanh = (int)a[1].num;
    node->hyper_set = a[1].expr != NULL;
    node->hyper_loc = a[1].expr ? a[1].expr->loc : NOLOC;
    return node->id;
}

/* The constants as PyTorch writes them (M_SQRT2 * M_2_SQRTPI * 0.5 and so
 * on, in double, then rounded to the precision). */
#define GELU_BETA (1.41421356237309504880 * 1.12837916709551257390 * 0.5)   /* sqrt(2/pi) */
#define GELU_KAPPA 0.044715
#define GELU_SQRT1_2 0.70710678118654752440
#define GELU_PDF (1.12837916709551257390 * 0.70710678118654752440 * 0.5)    /* 1/sqrt(2 pi) */

static void gelu_forward(Emit *e, const Node *n)
{
    const char *x = emit_buf(e, n->in[0]), *y = emit_buf(e, n->id);
    const char *real = emit_real(e);
    emit_line(e, "for (int i = 0; i < %s; i++) {", op_count(e, n->id));
    emit_indent(e, 1);
    emit_line(e, "const %s xv = %s[i];", real, x);
    if (attr(n)->tanh) {
        emit_line(e, "const %s inner = %s * (xv + %s * (xv * xv * xv));", real,
                  emit_lit(e, GELU_BETA), emit_lit(e, GELU_KAPPA));
        emit_line(e, "%s[i] = %s * xv * (1 + %s(inner));", y, emit_lit(e, 0.5), emit_fn(e, "tanh"));
    } else {
        emit_line(e, "%s[i] = xv * %s * (1 + %s(xv * %s));", y, emit_lit(e, 0.5), emit_fn(e, "erf"),
                  emit_lit(e, GELU_SQRT1_2));
    }
    emit_indent(e, -1);
    emit_line(e, "}");
}

static void gelu_backward(Emit *e, const Node *n, const bool *accumulate)
{
    if (!op_needs_grad(e, n->in[0]))
        return;
    const char *x = emit_buf(e, n->in[0]), *dy = emit_grad(e, n->id);
    const char *dx = emit_grad(e, n->in[0]);
    const char *real = emit_real(e);
    emit_line(e, "for (int i = 0; i < n * %d; i++) {", op_elems(e, n->id));
    emit_indent(e, 1);
    emit_line(e, "const %s xv = %s[i];", real, x);
    if (attr(n)->tanh) {
        emit_line(e, "const %s xv2 = xv * xv;", real);
        emit_line(e, "const %s th = %s(%s * (xv + %s * (xv2 * xv)));", real, emit_fn(e, "tanh"),
                  emit_lit(e, GELU_BETA), emit_lit(e, GELU_KAPPA));
        emit_line(e, "const %s dl = %s * (1 + th);", real, emit_lit(e, 0.5));
        emit_line(e, "const %s dr = %s * xv * (1 - th * th) * (%s * (1 + 3 * %s * xv2));", real,
                  emit_lit(e, 0.5), emit_lit(e, GELU_BETA), emit_lit(e, GELU_KAPPA));
        emit_line(e, "%s[i] %s %s[i] * (dl + dr);", dx, op_assign(accumulate[0]), dy);
    } else {
        emit_line(e, "const %s cdf = %s * (1 + %s(xv * %s));", real, emit_lit(e, 0.5),
                  emit_fn(e, "erf"), emit_lit(e, GELU_SQRT1_2));
        emit_line(e, "const %s pdf = %s * %s(xv * xv * %s);", real, emit_lit(e, GELU_PDF),
                  emit_fn(e, "exp"), emit_lit(e, -0.5));
        emit_line(e, "%s[i] %s %s[i] * (cdf + xv * pdf);", dx, op_assign(accumulate[0]), dy);
    }
    emit_indent(e, -1);
    emit_line(e, "}");
}

static void gelu_torch(TorchEmit *t, const Node *n)
{
    torch_line(t, "%s = F.gelu(%s%s)", torch_name(t, n->id), torch_name(t, n->in[0]),
               attr(n)->tanh ? ", approximate='tanh'" : "");
}

static void gelu_dump(FILE *out, const Node *n)
{
    if (attr(n)->tanh)
        fputs(" approximate=tanh", out);
}

static const char *gelu_explain(Arena *a, const Node *n)
{
    return arena_printf(a, "approximate \"%s\"", approximations[attr(n)->tanh ? 1 : 0]);
}

const OpInfo op_gelu = {
    .summary = "gelu(x, approximate=\"none\"): x Phi(x), or its tanh approximation",
    .args = gelu_args,
    .nargs = 2,
    .lower = gelu_lower,
    .flags = OPF_ELEMENTWISE,
    .forward = gelu_forward,
    .backward = gelu_backward,
    .torch = gelu_torch,
    .dump = gelu_dump,
    .explain = gelu_explain,
};
