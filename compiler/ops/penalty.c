/* ops/penalty.c: loss terms on one tensor, each one number.
 *
 *   l1_penalty(x)    a parameter (h1.weight): sum |x|, as w.abs().sum();
 *                    a batch [n, ...]: the per-sample sum averaged over the
 *                    batch, x.abs().sum() / n
 *   l2_penalty(x)    the same with x^2: w.square().sum(), x.square().sum() / n
 *   mean(x)          PyTorch's x.mean(): every value, the batch included
 *                    (a WGAN critic's mean(d_fake) - mean(d_real))
 *
 * OPF_UNBATCHED: x may be a parameter reference (param_ref.c) or
 * arithmetic on parameters. Kernels: runtime/kernels/penalty.h. The node
 * is a loss term (not batched, one value), as loss.c's.
 */
#include "ops.h"

enum { KIND_MEAN = 0, KIND_L1 = 1, KIND_L2 = 2 };

/* node->attr: whether x is a batch (the twin needs it; it sees no IR). */
typedef struct PenaltyAttr {
    bool batched;
} PenaltyAttr;

static int kind_of(const Node *n)
{
    return n->op == OP_L1_PENALTY ? KIND_L1 : n->op == OP_L2_PENALTY ? KIND_L2 : KIND_MEAN;
}

static int penalty_lower_op(Build *b, OpKind op, const Expr *call, const ArgVal *a, bool ok)
{
    if (!ok)
        return -1;
    Node *node = build_node(b, op, call);
    node->in[0] = a[0].node;
    node->nin = 1;
    node->shape = (Shape){.rank = 0};
    node->batched = false;
    PenaltyAttr *at = build_attr(b, node, sizeof(PenaltyAttr));
    at->batched = build_get(b, a[0].node)->batched;
    return node->id;
}

static int l1_penalty_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    return penalty_lower_op(b, OP_L1_PENALTY, call, a, ok);
}

static int l2_penalty_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    return penalty_lower_op(b, OP_L2_PENALTY, call, a, ok);
}

static int mean_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    return penalty_lower_op(b, OP_MEAN, call, a, ok);
}

/* The count of x's values ("n * 784" or "784") and the divisor D
 * (penalty.h): 1 or n for the penalties, the count for mean. */
static void sizes(Emit *e, const Node *n, const char **count, const char **divisor)
{
    const Node *x = emit_ir(e)->nodes.items[n->in[0]];
    int size = shape_size(x->shape);
    *count = x->batched ? arena_printf(emit_arena(e), "(long)n * %d", size)
                        : arena_printf(emit_arena(e), "%d", size);
    if (kind_of(n) == KIND_MEAN)
        *divisor = arena_printf(emit_arena(e), "(double)%s", *count);
    else
        *divisor = x->batched ? "(double)n" : "1.0";
}

static void penalty_forward(Emit *e, const Node *n)
{
    const char *count, *divisor;
    sizes(e, n, &count, &divisor);
    emit_line(e, "dlrt_penalty_forward_%s(%s, %s, %s, %d, %s);", op_prec(e), emit_buf(e, n->id),
              emit_buf(e, n->in[0]), count, kind_of(n), divisor);
}

static void penalty_backward(Emit *e, const Node *n, const bool *accumulate)
{
    if (!op_needs_grad(e, n->in[0]))
        return;
    const char *count, *divisor;
    sizes(e, n, &count, &divisor);
    emit_line(e, "dlrt_penalty_backward_%s(%s, %s, %s, %s, %d, %s, %d);", op_prec(e),
              emit_grad(e, n->in[0]), emit_buf(e, n->in[0]), emit_grad(e, n->id), count,
              kind_of(n), divisor, accumulate[0]);
}

/* w.abs().sum(), x.square().sum() / x.shape[0], x.mean(). */
static void penalty_torch(TorchEmit *t, const Node *n)
{
    const char *y = torch_name(t, n->id), *x = torch_name(t, n->in[0]);
    bool batched = ((const PenaltyAttr *)n->attr)->batched;
    const char *f = kind_of(n) == KIND_L1 ? "abs" : "square";
    if (kind_of(n) == KIND_MEAN)
        torch_line(t, "%s = %s.mean()", y, x);
    else if (batched)
        torch_line(t, "%s = %s.%s().sum() / %s.shape[0]", y, x, f, x);
    else
        torch_line(t, "%s = %s.%s().sum()", y, x, f);
}

static void penalty_dump(FILE *out, const Node *n)
{
    fprintf(out, "%s", ((const PenaltyAttr *)n->attr)->batched ? " over=batch" : " over=tensor");
}

static const ArgSpec penalty_args[] = {{.name = "x", .kind = ARG_TENSOR}};

const OpInfo op_l1_penalty = {
    .summary = "l1_penalty(x): sum |x| of a parameter (h1.weight), or of each sample averaged over the batch",
    .flags = OPF_LOSS | OPF_UNBATCHED,
    .args = penalty_args,
    .nargs = 1,
    .lower = l1_penalty_lower,
    .forward = penalty_forward,
    .backward = penalty_backward,
    .torch = penalty_torch,
    .dump = penalty_dump,
};

const OpInfo op_l2_penalty = {
    .summary = "l2_penalty(x): sum x^2 of a parameter (h1.weight), or of each sample averaged over the batch",
    .flags = OPF_LOSS | OPF_UNBATCHED,
    .args = penalty_args,
    .nargs = 1,
    .lower = l2_penalty_lower,
    .forward = penalty_forward,
    .backward = penalty_backward,
    .torch = penalty_torch,
    .dump = penalty_dump,
};

const OpInfo op_mean = {
    .summary = "mean(x): the mean of every value of x, the batch included (x.mean())",
    .flags = OPF_LOSS | OPF_UNBATCHED,
    .args = penalty_args,
    .nargs = 1,
    .lower = mean_lower,
    .forward = penalty_forward,
    .backward = penalty_backward,
    .torch = penalty_torch,
    .dump = penalty_dump,
};
