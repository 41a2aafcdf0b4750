/* ops/dropout.c: inverted dropout, active only while training.
 *
 *   dropout(x, rate)      rate in [0, 1)
 *
 * Training: for every element, in row-major order over the n samples, one
 * draw u = dlrt_rng_uniform(&m->rng); the element is kept when u >= rate
 * and then scaled by 1/(1 - rate). The mask (0 or 1/(1 - rate) per element)
 * lives in the node's SAVED scratch "mask" for backward: dx = dy * mask. The PyTorch
 * twin draws the same stream, so masks match after P_set_rng / set_rng.
 * Inference: y = x.
 *
 * The loops are runtime kernels (runtime/kernels/dropout.h, tested in
 * tests/kernels).
 *
 * Attributes: DropoutAttr (rate). scratch_size[0] (mask) = the per-sample size.
 */
#include "ops.h"

#include <math.h>

/* dropout's attributes (node->attr). */
typedef struct DropoutAttr {
    double rate;
} DropoutAttr;

static DropoutAttr *attr(const Node *n)
{
    return n->attr;
}

static const ArgSpec dropout_args[] = {
    {.name = "x", .kind = ARG_TENSOR},
    {.name = "rate", .kind = ARG_NUMBER, .has_min = true, .min = 0, .has_max = true,
     .max = 1, .max_open = true, .range_msg = "dropout rate must be in [0, 1)"},
};

static int dropout_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    if (!ok)
        return -1;
    Node *node = build_get(b, op_unary_node(b, OP_DROPOUT, call, a[0].node));
    build_attr(b, node, sizeof(DropoutAttr));
    attr(node)->rate = a[1].num;
    node->hyper_set = true;   /* the rate is required */
    node->hyper_loc = a[1].expr->loc;
    node->scratch_size[0] = (size_t)shape_size(node->shape);
    return node->id;
}

static void dropout_forward(Emit *e, const Node *n)
{
    int size = shape_size(n->shape);
    const char *x = emit_buf(e, n->in[0]), *y = emit_buf(e, n->id);
    if (!emit_training(e)) {
        emit_line(e, "memcpy(%s, %s, (size_t)%s * sizeof *%s);   /* dropout is off */",
                  y, x, op_count(e, n->id), y);
        return;
    }
    /* The rate stays a double: u is a double, and the twin compares the same way. */
    char rate_text[32];
    op_double(rate_text, attr(n)->rate);
    emit_line(e, "/* %s: 0 where u < %s, else 1/(1 - %s); one draw per element in order */",
              emit_scratch(e, n->id, 0), rate_text, rate_text);
    emit_line(e, "dlrt_dropout_forward_%s(%s, %s, %s, n * %d, %s, %s);", op_prec(e), y,
              emit_scratch(e, n->id, 0), x, size, rate_text, emit_rng(e));
}

static void dropout_backward(Emit *e, const Node *n, const bool *accumulate)
{
    if (!op_needs_grad(e, n->in[0]))
        return;
    emit_line(e, "dlrt_dropout_backward_%s(%s, %s, %s, n * %d, %d);", op_prec(e),
              emit_grad(e, n->in[0]), emit_grad(e, n->id), emit_scratch(e, n->id, 0),
              shape_size(n->shape), accumulate[0]);
}

static void dropout_torch(TorchEmit *t, const Node *n)
{
    /* The twin's own dropout draws from its copy of dlrt's RNG (emit_torch.c). */
    char rate[32];
    torch_line(t, "%s = self.dropout(%s, %s)", torch_name(t, n->id), torch_name(t, n->in[0]),
               op_double(rate, attr(n)->rate));
}

/* The twin's dropout, drawing from its copy of dlrt's RNG exactly as the
 * C code does (emit_torch.c writes class Rng and set_rng). */
static void dropout_torch_methods(TorchEmit *t)
{
    torch_line(t, "def dropout(self, x, rate, training=None):");
    torch_indent(t, 1);
    torch_line(t, "\"\"\"dropout(x, rate) exactly as the C code draws it: in training, one");
    torch_line(t, "uniform per element, row-major over the whole batch; keep when");
    torch_line(t, "u >= rate, scale what is kept by 1/(1-rate). Identity otherwise.");
    torch_line(t, "training=None: the mode of the forward()/loss() call under way.\"\"\"");
    torch_line(t, "if training is None:");
    torch_line(t, "    training = self.dropout_on");
    torch_line(t, "if not training:");
    torch_line(t, "    return x");
    torch_line(t, "scale = 1.0 / (1.0 - rate)");
    torch_line(t, "mask = [scale if u >= rate else 0.0 for u in self.rng.uniforms(x.numel())]");
    torch_line(t, "return x * torch.tensor(mask, dtype=x.dtype).reshape(x.shape)");
    torch_indent(t, -1);
}

static void dropout_dump(FILE *out, const Node *n)
{
    fprintf(out, " rate=%g", attr(n)->rate);
}

static const char *dropout_explain(Arena *a, const Node *n)
{
    return arena_printf(a, "rate %g", attr(n)->rate);
}

const OpInfo op_dropout = {
    .summary = "dropout(x, rate): zero each element with probability rate while training, "
               "scale the rest by 1/(1 - rate)",
    .args = dropout_args,
    .nargs = 2,
    .lower = dropout_lower,
    .forward = dropout_forward,
    .backward = dropout_backward,
    .torch = dropout_torch,
    .torch_methods = dropout_torch_methods,
    .dump = dropout_dump,
    .explain = dropout_explain,
    .scratch = (const ScratchSpec[]){{"mask", SCRATCH_SAVED, SCRATCH_REAL}},
    .nscratch = 1,
    .flags = OPF_STOCHASTIC | OPF_ELEMENTWISE,
};
