/* ops/loss.c: loss terms, each one number for the whole batch.
 *
 *   cross_entropy(logits, y)   logits [K], y a label class(K):
 *        L = 1/n sum_s (log sum_j e^(z_sj) - z_s,y_s)       (stable: minus the row max)
 *        dz_sj = (p_sj - [j = y_s]) dL / n                  p = softmax(z), kept in scratch
 *   mse(pred, target)          same shapes, size S per sample:
 *        L = 1/(n S) sum (p - t)^2        dp = 2 (p - t) dL / (n S),  dt = -dp
 *   l1(pred, target)
 *        L = 1/(n S) sum |p - t|          dp = sign(p - t) dL / (n S), dt = -dp
 *
 * These are PyTorch's cross_entropy, MSELoss and L1Loss with 'mean'
 * reduction (sign(0) = 0 as in PyTorch, and sign(NaN) = 0 as in the
 * PyTorch the twin is tested with: the loss itself is NaN then). A NaN or
 * +inf logit makes its sample's loss NaN, as in PyTorch; the sums run in
 * double, so the mean of large finite terms does not overflow to inf.
 * A loss node is not batched, has
 * shape [] and one value in its buffer; its gradient buffer holds dL, the
 * term's weight in the loss sum (written by emit_c before backward). A label
 * outside 0..K-1 makes the loss NaN rather than read out of bounds.
 *
 * The loops are runtime kernels (runtime/kernels/loss.h, tested in
 * tests/kernels); this file emits one call per term with literal sizes.
 *
 * Attributes: CrossEntropyAttr (classes K); scratch_size[0] = K (the probabilities, SAVED).
 */
#include "ops.h"

/* cross_entropy's attributes (node->attr). */
typedef struct CrossEntropyAttr {
    int classes;
} CrossEntropyAttr;

static CrossEntropyAttr *attr(const Node *n)
{
    return n->attr;
}

static Node *loss_node(Build *b, OpKind op, const Expr *call, int x, int y)
{
    Node *node = build_node(b, op, call);
    node->in[0] = x;
    node->in[1] = y;
    node->nin = 2;
    node->shape = (Shape){.rank = 0};
    node->batched = false;
    return node;
}

static const ArgSpec cross_entropy_args[] = {
    {.name = "logits", .kind = ARG_TENSOR},
    {.name = "label", .kind = ARG_LABEL},
};

static int cross_entropy_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    if (!ok)
        return -1;
    int z = a[0].node, y = a[1].node;
    Shape zs = build_get(b, z)->shape;
    int k = build_get(b, y)->i[0];
    if (zs.rank != 1 || zs.dim[0] != k) {
        diag_error(b->diag, a[0].expr->loc, "cross_entropy expects logits of shape [%d] for "
                   "label '%s', '%s' has shape %s", k, build_input_decl(b, y)->name,
                   build_expr_text(b, a[0].expr), shape_str(b->arena, zs));
        build_note_shape(b, z, "logits");
        build_note_shape(b, y, "label");
        return -1;
    }
    Node *node = loss_node(b, OP_CROSS_ENTROPY, call, z, y);
    build_attr(b, node, sizeof(CrossEntropyAttr));
    attr(node)->classes = k;
    node->scratch_size[0] = (size_t)k;
    return node->id;
}

static const ArgSpec regression_args[] = {
    {.name = "pred", .kind = ARG_TENSOR},
    {.name = "target", .kind = ARG_TENSOR},
};

static int regression_lower(Build *b, const Expr *call, const ArgVal *a, bool ok, OpKind op,
                            const char *name)
{
    if (!ok)
        return -1;
    int p = a[0].node, t = a[1].node;
    Shape ps = build_get(b, p)->shape, ts = build_get(b, t)->shape;
    if (!shape_eq(ps, ts)) {
        Arena *ar = b->arena;
        diag_error(b->diag, call->loc, "%s needs a prediction and a target of the same "
                   "shape, got %s and %s", name, shape_str(ar, ps), shape_str(ar, ts));
        build_note_shape(b, p, "prediction");
        build_note_shape(b, t, "target");
        return -1;
    }
    return loss_node(b, op, call, p, t)->id;
}

static int mse_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    return regression_lower(b, call, a, ok, OP_MSE, "mse");
}

static int l1_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    return regression_lower(b, call, a, ok, OP_L1, "l1");
}

/* ---- kernels ------------------------------------------------------------ */

static const Node *node_of(Emit *e, int id)
{
    return emit_ir(e)->nodes.items[id];
}

/* The kernels are runtime/kernels/loss.h; one call per term, literal sizes. */
static void cross_entropy_forward(Emit *e, const Node *n)
{
    int k = attr(n)->classes;
    const char *p = emit_scratch(e, n->id, 0);
    emit_line(e, "/* probabilities kept in %s for backward */", p);
    emit_line(e, "dlrt_cross_entropy_forward_%s(%s, %s, %s, %s, n, %d);", op_prec(e),
              emit_buf(e, n->id), p, emit_buf(e, n->in[0]), emit_buf(e, n->in[1]), k);
}

static void cross_entropy_backward(Emit *e, const Node *n, const bool *accumulate)
{
    if (!node_of(e, n->in[0])->needs_grad)
        return;
    const char *dz = emit_grad(e, n->in[0]);
    emit_line(e, "/* %s %s (%s - onehot(%s)) %s / n */", dz, op_assign(accumulate[0]),
              emit_scratch(e, n->id, 0), emit_buf(e, n->in[1]), emit_grad(e, n->id));
    emit_line(e, "dlrt_cross_entropy_backward_%s(%s, %s, %s, %s, n, %d, %d);", op_prec(e), dz,
              emit_scratch(e, n->id, 0), emit_buf(e, n->in[1]), emit_grad(e, n->id), attr(n)->classes,
              accumulate[0]);
}

/* mse and l1 forward: the mean of (p - t)^2 or |p - t| over all n * S values. */
static void regression_forward(Emit *e, const Node *n, const char *name)
{
    emit_line(e, "dlrt_%s_forward_%s(%s, %s, %s, n, %d);", name, op_prec(e), emit_buf(e, n->id),
              emit_buf(e, n->in[0]), emit_buf(e, n->in[1]),
              shape_size(node_of(e, n->in[0])->shape));
}

static void mse_forward(Emit *e, const Node *n)
{
    regression_forward(e, n, "mse");
}

static void l1_forward(Emit *e, const Node *n)
{
    regression_forward(e, n, "l1");
}

/* dp = f'(p - t) dL / (n S), dt = -dp; only where a gradient is wanted
 * (NULL for the other). */
static void regression_backward(Emit *e, const Node *n, const bool *accumulate, const char *name)
{
    bool want_p = node_of(e, n->in[0])->needs_grad, want_t = node_of(e, n->in[1])->needs_grad;
    if (!want_p && !want_t)
        return;
    /* mse(x, x): both land in one buffer; the emitter sets accumulate[1]. */
    emit_line(e, "dlrt_%s_backward_%s(%s, %s, %s, %s, %s, n, %d, %d, %d);", name, op_prec(e),
              want_p ? emit_grad(e, n->in[0]) : "NULL", want_t ? emit_grad(e, n->in[1]) : "NULL",
              emit_buf(e, n->in[0]), emit_buf(e, n->in[1]), emit_grad(e, n->id),
              shape_size(node_of(e, n->in[0])->shape), want_p && accumulate[0], want_t && accumulate[1]);
}

static void mse_backward(Emit *e, const Node *n, const bool *accumulate)
{
    regression_backward(e, n, accumulate, "mse");
}

static void l1_backward(Emit *e, const Node *n, const bool *accumulate)
{
    regression_backward(e, n, accumulate, "l1");
}

static void cross_entropy_torch(TorchEmit *t, const Node *n)
{
    torch_line(t, "%s = F.cross_entropy(%s, %s)", torch_name(t, n->id),
               torch_name(t, n->in[0]), torch_name(t, n->in[1]));
}

static void mse_torch(TorchEmit *t, const Node *n)
{
    torch_line(t, "%s = F.mse_loss(%s, %s)", torch_name(t, n->id), torch_name(t, n->in[0]),
               torch_name(t, n->in[1]));
}

static void l1_torch(TorchEmit *t, const Node *n)
{
    torch_line(t, "%s = F.l1_loss(%s, %s)", torch_name(t, n->id), torch_name(t, n->in[0]),
               torch_name(t, n->in[1]));
}

static void cross_entropy_dump(FILE *out, const Node *n)
{
    fprintf(out, " classes=%d", attr(n)->classes);
}

const OpInfo op_cross_entropy = {
    .summary = "cross_entropy(logits, label): mean over the batch of -log softmax(logits)[label]",
    .flags = OPF_LOSS | OPF_ACCURACY,
    .dump = cross_entropy_dump,
    .scratch = (const ScratchSpec[]){{"probs", SCRATCH_SAVED, SCRATCH_REAL}},
    .nscratch = 1,
    .args = cross_entropy_args,
    .nargs = 2,
    .lower = cross_entropy_lower,
    .forward = cross_entropy_forward,
    .backward = cross_entropy_backward,
    .torch = cross_entropy_torch,
};

const OpInfo op_mse = {
    .summary = "mse(pred, target): mean of (pred - target)^2 over all elements",
    .flags = OPF_LOSS,
    .args = regression_args,
    .nargs = 2,
    .lower = mse_lower,
    .forward = mse_forward,
    .backward = mse_backward,
    .torch = mse_torch,
};

const OpInfo op_l1 = {
    .summary = "l1(pred, target): mean of |pred - target| over all elements",
    .flags = OPF_LOSS,
    .args = regression_args,
    .nargs = 2,
    .lower = l1_lower,
    .forward = l1_forward,
    .backward = l1_backward,
    .torch = l1_torch,
};
