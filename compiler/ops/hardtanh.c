/* ops/hardtanh.c: tanh's piecewise-linear stand-in, PyTorch's F.hardtanh.
 *
 *   hardtanh(x, min_val = -1, max_val = 1)
 *        y  = x clamped to [min_val, max_val]            NaN stays NaN
 *        dx = min_val < x < max_val ? dy : 0              0 at either bound and at NaN
 *
 * PyTorch's derivative convention: the gradient is 0 at exactly min_val
 * and max_val, and 0 at a NaN input, as its vectorized CPU kernel computes
 * it (min_val < x && x < max_val), which is what any layer of 16 values
 * or more runs (its scalar kernel, for the few elements left over, passes
 * dy at NaN instead; tests/torch/probe.py accepts either torch answer).
 * max_val must be above min_val, as nn.Hardtanh requires.
 *
 * Attributes: HardtanhAttr (min_val, max_val).
 */
#include "ops.h"

/* hardtanh's attributes (node->attr). */
typedef struct HardtanhAttr {
    double min_val;
    double max_val;
} HardtanhAttr;

static HardtanhAttr *attr(const Node *n)
{
    return n->attr;
}

static const ArgSpec hardtanh_args[] = {
    {.name = "x", .kind = ARG_TENSOR},
    {.name = "min_val", .kind = ARG_NUMBER, .optional = true, .def = -1},
    {.name = "max_val", .kind = ARG_NUMBER, .optional = true, .def = 1},
};

static int hardtanh_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    if (ok && !(a[2].num > a[1].num)) {
        const Expr *at = a[2].expr ? a[2].expr : a[1].expr;
        build_value_error(b, at->loc, "hardtanh's max_val must be greater than its min_val, "
                          "got min_val %g and max_val %g", a[1].num, a[2].num);
        ok = false;
    }
    if (!ok)
        return -1;
    Node *node = build_get(b, op_unary_node(b, OP_HARDTANH, call, a[0].node));
    build_attr(b, node, sizeof(HardtanhAttr));
    attr(node)->min_val = a[1].num;
    attr(node)->max_val = a[2].num;
    node->hyper_set = a[1].expr || a[2].expr;
    node->hyper_loc = a[1].expr ? a[1].expr->loc : a[2].expr ? a[2].expr->loc : NOLOC;
    return node->id;
}

static void hardtanh_forward(Emit *e, const Node *n)
{
    const char *x = emit_buf(e, n->in[0]), *y = emit_buf(e, n->id);
    const char *lo = emit_lit(e, attr(n)->min_val), *hi = emit_lit(e, attr(n)->max_val);
    emit_line(e, "for (int i = 0; i < %s; i++)   /* NaN: both tests false, stays NaN */",
              op_count(e, n->id));
    emit_line(e, "    %s[i] = %s[i] < %s ? %s : %s[i] > %s ? %s : %s[i];", y, x, lo, lo, x, hi, hi, x);
}

static void hardtanh_backward(Emit *e, const Node *n, const bool *accumulate)
{
    if (!op_needs_grad(e, n->in[0]))
        return;
    const char *x = emit_buf(e, n->in[0]), *dy = emit_grad(e, n->id);
    const char *dx = emit_grad(e, n->in[0]);
    emit_line(e, "for (int i = 0; i < n * %d; i++)   /* 0 at the bounds and at NaN, as torch */",
              op_elems(e, n->id));
    emit_line(e, "    %s[i] %s %s[i] > %s && %s[i] < %s ? %s[i] : 0;", dx, op_assign(accumulate[0]),
              x, emit_lit(e, attr(n)->min_val), x, emit_lit(e, attr(n)->max_val), dy);
}

static void hardtanh_torch(TorchEmit *t, const Node *n)
{
    char lo[32], hi[32];
    torch_line(t, "%s = F.hardtanh(%s, min_val=%s, max_val=%s)", torch_name(t, n->id),
               torch_name(t, n->in[0]), op_double(lo, attr(n)->min_val), op_double(hi, attr(n)->max_val));
}

static void hardtanh_dump(FILE *out, const Node *n)
{
    fprintf(out, " min_val=%g max_val=%g", attr(n)->min_val, attr(n)->max_val);
}

static const char *hardtanh_explain(Arena *a, const Node *n)
{
    return arena_printf(a, "min_val %g, max_val %g", attr(n)->min_val, attr(n)->max_val);
}

const OpInfo op_hardtanh = {
    .summary = "hardtanh(x, min_val=-1, max_val=1): x clamped to [min_val, max_val]",
    .args = hardtanh_args,
    .nargs = 3,
    .lower = hardtanh_lower,
    .flags = OPF_ELEMENTWISE,
    .forward = hardtanh_forward,
    .backward = hardtanh_backward,
    .torch = hardtanh_torch,
    .dump = hardtanh_dump,
    .explain = hardtanh_explain,
};
