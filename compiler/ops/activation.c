/* ops/activation.c: elementwise nonlinearities, same shape in and out.
 *
 *   relu(x)                 y = x < 0 ? 0 : x           dx = y <= 0 ? 0 : dy
 *   leaky_relu(x, alpha)    y = x > 0 ? x : alpha x     dx = dy * (y > 0 ? 1 : alpha)
 *   sigmoid(x)              y = 1 / (1 + e^-x)          dx = dy * y (1 - y)
 *   tanh(x)                 y = tanh x                  dx = dy * (1 - y^2)
 *
 * Every derivative is written in terms of the saved output y, so backward
 * never needs the input. (For leaky_relu with alpha >= 0, y > 0 exactly
 * when x > 0.) Attributes: LeakyReluAttr (below).
 *
 * NaN and infinities go through as in PyTorch (tests/torch/probe.py checks
 * it): every comparison is written so that a NaN takes the branch PyTorch
 * takes. relu(NaN) is NaN and its backward passes dy where y is NaN, like
 * torch's threshold_backward (y <= 0 ? 0 : dy); leaky_relu(NaN) = alpha NaN.
 * sigmoid exponentiates only -|x|, so it neither overflows to inf / inf nor
 * loses the tiny values near x = -89 in float.
 */
#include "ops.h"

#include <math.h>

/* leaky_relu's attributes (node->attr). */
typedef struct LeakyReluAttr {
    double alpha;
} LeakyReluAttr;

static LeakyReluAttr *attr(const Node *n)
{
    return n->attr;
}

/* The shape rule of them all: one real tensor in, the same shape out. */
static int relu_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    return ok ? op_unary_node(b, OP_RELU, call, a[0].node) : -1;
}

static int sigmoid_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    return ok ? op_unary_node(b, OP_SIGMOID, call, a[0].node) : -1;
}

static int tanh_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    return ok ? op_unary_node(b, OP_TANH, call, a[0].node) : -1;
}

static const ArgSpec leaky_relu_args[] = {
    {.name = "x", .kind = ARG_TENSOR},
    /* PyTorch's default negative slope */
    {.name = "alpha", .kind = ARG_NUMBER, .optional = true, .def = 0.01, .has_min = true,
     .min = 0, .range_msg = "leaky_relu's alpha must be zero or positive"},
};

static int leaky_relu_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    if (!ok)
        return -1;
    Node *node = build_get(b, op_unary_node(b, OP_LEAKY_RELU, call, a[0].node));
    build_attr(b, node, sizeof(LeakyReluAttr));
    attr(node)->alpha = a[1].num;
    node->hyper_set = a[1].expr != NULL;
    node->hyper_loc = a[1].expr ? a[1].expr->loc : NOLOC;
    return node->id;
}

/* Each pass is one call of its kernel (runtime/kernels/activation.h: the
 * loops, not inlined, so a deep network compiles fast). */
static void relu_forward(Emit *e, const Node *n)
{
    emit_line(e, "dlrt_relu_forward_%s(%s, %s, %s);   /* NaN stays NaN */", op_prec(e),
              emit_buf(e, n->id), emit_buf(e, n->in[0]), op_count(e, n->id));
}

static void leaky_relu_forward(Emit *e, const Node *n)
{
    emit_line(e, "dlrt_leaky_relu_forward_%s(%s, %s, %s, %s);", op_prec(e), emit_buf(e, n->id),
              emit_buf(e, n->in[0]), op_count(e, n->id), emit_lit(e, attr(n)->alpha));
}

static void sigmoid_forward(Emit *e, const Node *n)
{
    emit_line(e, "dlrt_sigmoid_forward_%s(%s, %s, %s);", op_prec(e), emit_buf(e, n->id),
              emit_buf(e, n->in[0]), op_count(e, n->id));
}

static void tanh_forward(Emit *e, const Node *n)
{
    emit_line(e, "dlrt_tanh_forward_%s(%s, %s, %s);", op_prec(e), emit_buf(e, n->id),
              emit_buf(e, n->in[0]), op_count(e, n->id));
}

/* Each backward: dx (+)= dy * f'(x), f' written in terms of y. Inputs that
 * no parameter depends on have no gradient buffer: nothing to do. */
static void relu_backward(Emit *e, const Node *n, const bool *accumulate)
{
    if (!op_needs_grad(e, n->in[0]))
        return;
    emit_line(e, "dlrt_relu_backward_%s(%s, %s, %s, n * %d, %d);   /* y NaN: dy, as torch */",
              op_prec(e), emit_grad(e, n->in[0]), emit_buf(e, n->id), emit_grad(e, n->id),
              op_elems(e, n->id), accumulate[0] ? 1 : 0);
}

static void leaky_relu_backward(Emit *e, const Node *n, const bool *accumulate)
{
    if (!op_needs_grad(e, n->in[0]))
        return;
    emit_line(e, "dlrt_leaky_relu_backward_%s(%s, %s, %s, n * %d, %s, %d);", op_prec(e),
              emit_grad(e, n->in[0]), emit_buf(e, n->id), emit_grad(e, n->id), op_elems(e, n->id),
              emit_lit(e, attr(n)->alpha), accumulate[0] ? 1 : 0);
}

static void sigmoid_backward(Emit *e, const Node *n, const bool *accumulate)
{
    if (!op_needs_grad(e, n->in[0]))
        return;
    emit_line(e, "dlrt_sigmoid_backward_%s(%s, %s, %s, n * %d, %d);", op_prec(e),
              emit_grad(e, n->in[0]), emit_buf(e, n->id), emit_grad(e, n->id), op_elems(e, n->id),
              accumulate[0] ? 1 : 0);
}

static void tanh_backward(Emit *e, const Node *n, const bool *accumulate)
{
    if (!op_needs_grad(e, n->in[0]))
        return;
    emit_line(e, "dlrt_tanh_backward_%s(%s, %s, %s, n * %d, %d);", op_prec(e),
              emit_grad(e, n->in[0]), emit_buf(e, n->id), emit_grad(e, n->id), op_elems(e, n->id),
              accumulate[0] ? 1 : 0);
}

static void relu_torch(TorchEmit *t, const Node *n)
{
    torch_line(t, "%s = torch.relu(%s)", torch_name(t, n->id), torch_name(t, n->in[0]));
}

static void leaky_relu_torch(TorchEmit *t, const Node *n)
{
    char alpha[32];
    torch_line(t, "%s = F.leaky_relu(%s, %s)", torch_name(t, n->id), torch_name(t, n->in[0]),
               op_double(alpha, attr(n)->alpha));
}

static void sigmoid_torch(TorchEmit *t, const Node *n)
{
    torch_line(t, "%s = torch.sigmoid(%s)", torch_name(t, n->id), torch_name(t, n->in[0]));
}

static void tanh_torch(TorchEmit *t, const Node *n)
{
    torch_line(t, "%s = torch.tanh(%s)", torch_name(t, n->id), torch_name(t, n->in[0]));
}

static void leaky_relu_dump(FILE *out, const Node *n)
{
    fprintf(out, " alpha=%g", attr(n)->alpha);
}

static const char *leaky_relu_explain(Arena *a, const Node *n)
{
    return arena_printf(a, "alpha %g", attr(n)->alpha);
}

const OpInfo op_relu = {
    .summary = "relu(x): max(x, 0)",
    .args = op_x_arg,
    .nargs = 1,
    .lower = relu_lower,
    .flags = OPF_ELEMENTWISE,
    .forward = relu_forward,
    .backward = relu_backward,
    .torch = relu_torch,
};

const OpInfo op_leaky_relu = {
    .summary = "leaky_relu(x, alpha=0.01): x if x > 0, else alpha x",
    .args = leaky_relu_args,
    .nargs = 2,
    .lower = leaky_relu_lower,
    .flags = OPF_ELEMENTWISE,
    .forward = leaky_relu_forward,
    .backward = leaky_relu_backward,
    .torch = leaky_relu_torch,
    .dump = leaky_relu_dump,
    .explain = leaky_relu_explain,
};

const OpInfo op_sigmoid = {
    .summary = "sigmoid(x): 1 / (1 + exp(-x))",
    .args = op_x_arg,
    .nargs = 1,
    .lower = sigmoid_lower,
    .flags = OPF_ELEMENTWISE,
    .forward = sigmoid_forward,
    .backward = sigmoid_backward,
    .torch = sigmoid_torch,
};

const OpInfo op_tanh = {
    .summary = "tanh(x)",
    .args = op_x_arg,
    .nargs = 1,
    .lower = tanh_lower,
    .flags = OPF_ELEMENTWISE,
    .forward = tanh_forward,
    .backward = tanh_backward,
    .torch = tanh_torch,
};
