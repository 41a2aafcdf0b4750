/* ops/loss.c: loss terms, each one number for the whole batch.
 *
 *   cross_entropy(logits, y, ignore_index = none)   logits [K], y a label class(K):
 *        L = 1/n sum_s (log sum_j e^(z_sj) - z_s,y_s)       (stable: minus the row max)
 *        dz_sj = (p_sj - [j = y_s]) dL / n                  p = softmax(z), kept in scratch
 *     over a sequence: logits [T, K], y class(K)[T]: the mean over steps and
 *     batch, F.cross_entropy(logits.reshape(-1, K), y.reshape(-1)) (the same
 *     kernel on n T rows); ignore_index: steps whose label is that value
 *     count for nothing, the mean is over the others (padding of
 *     variable-length sequences); every step ignored: 0 (PyTorch: NaN).
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
 * Attributes: ClassLossAttr (ops.h: classes K, rows per sample, ignore_index);
 * scratch_size[0] = rows K (the probabilities, SAVED).
 */
#include "ops.h"

/* cross_entropy's attributes (node->attr): ClassLossAttr, shared with nll. */
static ClassLossAttr *attr(const Node *n)
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
    {.name = "ignore_index", .kind = ARG_INT, .optional = true, .def = -100},   /* absent: none */
};

/* The shape rule of a loss on class labels (cross_entropy, nll): scores
 * a[0] of shape label dims + [K] for label a[1] of class(K): [K] for one
 * class per sample, [T, K] for class(K)[T]. `what` names the scores
 * ("logits"), `role` them in notes. Returns the label elements per sample
 * (1, or T), or -1 after an error: the "vocab mismatch" between the
 * scores and the labels, a step count mismatch, or a sequence of scores
 * against one label per sample. */
static int class_loss_rows(Build *b, const Expr *call, const ArgVal *a, const char *what,
                           const char *role)
{
    int z = a[0].node, y = a[1].node;
    Shape zs = build_get(b, z)->shape, ys = build_get(b, y)->shape;
    int k = build_get(b, y)->i[0];
    Shape want = ys;
    want.dim[want.rank++] = k;
    if (ys.rank < DLC_MAX_RANK && shape_eq(zs, want))
        return shape_size(ys);
    const char *op = call->name, *zt = build_expr_text(b, a[0].expr);
    const char *name = build_input_decl(b, y)->name, *ytype = shape_str(b->arena, ys);
    Loc at = a[0].expr->loc;
    bool prefix = zs.rank == ys.rank + 1;
    for (int d = 0; prefix && d < ys.rank; d++)
        prefix = zs.dim[d] == ys.dim[d];
    if (ys.rank == 0 && zs.rank == 2 && zs.dim[1] == k) {
        diag_error(b->diag, at, "%s's %s '%s' are a sequence %s, but label '%s' is one "
                   "class(%d) per sample", op, what, zt, shape_str(b->arena, zs), name, k);
    } else if (ys.rank > 0 && zs.rank == ys.rank + 1 && zs.dim[ys.rank] != k) {
        diag_error(b->diag, at, "vocab mismatch: %s's %s '%s' have %d classes per step (shape "
                   "%s), but label '%s' is class(%d)%s", op, what, zt, zs.dim[ys.rank],
                   shape_str(b->arena, zs), name, k, ytype);
    } else if (ys.rank > 0 && zs.rank == ys.rank + 1 && !prefix) {
        diag_error(b->diag, at, "%s's %s '%s' have %d steps (shape %s), but label '%s' has %d "
                   "(class(%d)%s)", op, what, zt, zs.dim[0], shape_str(b->arena, zs), name,
                   ys.dim[0], k, ytype);
    } else {
        diag_error(b->diag, at, "%s expects %s of shape %s for label '%s', '%s' has shape %s", op,
                   what, shape_str(b->arena, want), name, zt, shape_str(b->arena, zs));
    }
    build_note_shape(b, z, role);
    build_note_shape(b, y, "label");
    if (ys.rank == 0 && zs.rank == 2 && zs.dim[1] == k) {
        diag_note(b->diag, at, "%s(step(%s, -1), %s) is the loss at the last step", op, zt, name);
        diag_note(b->diag, at, "a label class(%d)[%d] gives the loss at every step", k, zs.dim[0]);
    }
    return -1;
}

/* The shape rule above, then ignore_index (a[2], absent: none) into the
 * attributes, and the label's check told to let that value through. */
bool class_loss_bind(Build *b, const Expr *call, const ArgVal *a, const char *what,
                     const char *role, ClassLossAttr *out)
{
    int rows = class_loss_rows(b, call, a, what, role);
    if (rows < 0)
        return false;
    const Node *y = build_get(b, a[1].node);
    *out = (ClassLossAttr){.classes = y->i[0], .rows = rows, .sequence = y->shape.rank > 0,
                           .has_ignore = a[2].expr != NULL, .ignore_index = (int)a[2].num};
    return !out->has_ignore || build_label_ignore(b, a[1].node, out->ignore_index, a[2].expr->loc);
}

static int cross_entropy_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    if (!ok)
        return -1;
    int z = a[0].node, y = a[1].node;
    ClassLossAttr at;
    if (!class_loss_bind(b, call, a, "logits", "logits", &at))
        return -1;
    Node *node = loss_node(b, OP_CROSS_ENTROPY, call, z, y);
    build_attr(b, node, sizeof(ClassLossAttr));
    *attr(node) = at;
    node->scratch_size[0] = (size_t)at.rows * at.classes;
    return node->id;
}

static const ArgSpec regression_args[] = {
    {.name = "pred", .kind = ARG_TENSOR},
    {.name = "target", .kind = ARG_TENSOR, .or_number = true},
};

/* mse and l1 against a number (mse(d_fake, 1), a least-squares GAN): the
 * target of every element; NULL attr: a target tensor. */
typedef struct RegressionAttr {
    double target;
} RegressionAttr;

static const RegressionAttr *regression_const(const Node *n)
{
    return (n->op == OP_MSE || n->op == OP_L1) ? n->attr : NULL;
}

static int regression_lower(Build *b, const Expr *call, const ArgVal *a, bool ok, OpKind op,
                            const char *name)
{
    if (!ok)
        return -1;
    int p = a[0].node, t = a[1].node;
    if (t < 0) {
        Node *node = loss_node(b, op, call, p, -1);
        node->nin = 1;
        RegressionAttr *at = build_attr(b, node, sizeof(RegressionAttr));
        at->target = a[1].num;
        return node->id;
    }
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

const char *class_loss_rows_text(Emit *e, const ClassLossAttr *at)
{
    return at->rows > 1 ? arena_printf(emit_arena(e), "n * %d", at->rows) : "n";
}

/* The kernels are runtime/kernels/loss.h; one call per term, literal sizes. */
static void cross_entropy_forward(Emit *e, const Node *n)
{
    int k = attr(n)->classes;
    const char *rows = class_loss_rows_text(e, attr(n));
    const char *p = emit_scratch(e, n->id, 0);
    emit_line(e, "/* probabilities kept in %s for backward%s */", p,
              attr(n)->rows > 1 ? "; the mean over steps and batch" : "");
    if (attr(n)->has_ignore) {
        emit_line(e, "/* steps labelled %d (ignore_index) count for nothing */", attr(n)->ignore_index);
        emit_line(e, "dlrt_cross_entropy_ignore_forward_%s(%s, %s, %s, %s, %s, %d, %d);", op_prec(e),
                  emit_buf(e, n->id), p, emit_buf(e, n->in[0]), emit_buf(e, n->in[1]), rows, k,
                  attr(n)->ignore_index);
        return;
    }
    emit_line(e, "dlrt_cross_entropy_forward_%s(%s, %s, %s, %s, %s, %d);", op_prec(e),
              emit_buf(e, n->id), p, emit_buf(e, n->in[0]), emit_buf(e, n->in[1]), rows, k);
}

static void cross_entropy_backward(Emit *e, const Node *n, const bool *accumulate)
{
    if (!node_of(e, n->in[0])->needs_grad)
        return;
    const char *rows = class_loss_rows_text(e, attr(n));
    const char *dz = emit_grad(e, n->in[0]);
    if (attr(n)->has_ignore) {
        emit_line(e, "/* %s %s (%s - onehot(%s)) %s / (steps not %d), 0 at those */", dz,
                  op_assign(accumulate[0]), emit_scratch(e, n->id, 0), emit_buf(e, n->in[1]),
                  emit_grad(e, n->id), attr(n)->ignore_index);
        emit_line(e, "dlrt_cross_entropy_ignore_backward_%s(%s, %s, %s, %s, %s, %d, %d, %d);",
                  op_prec(e), dz, emit_scratch(e, n->id, 0), emit_buf(e, n->in[1]),
                  emit_grad(e, n->id), rows, attr(n)->classes, attr(n)->ignore_index,
                  accumulate[0]);
        return;
    }
    emit_line(e, "/* %s %s (%s - onehot(%s)) %s / %s */", dz, op_assign(accumulate[0]),
              emit_scratch(e, n->id, 0), emit_buf(e, n->in[1]), emit_grad(e, n->id),
              attr(n)->rows > 1 ? "(n T)" : "n");
    emit_line(e, "dlrt_cross_entropy_backward_%s(%s, %s, %s, %s, %s, %d, %d);", op_prec(e), dz,
              emit_scratch(e, n->id, 0), emit_buf(e, n->in[1]), emit_grad(e, n->id), rows,
              attr(n)->classes, accumulate[0]);
}

/* mse and l1 forward: the mean of (p - t)^2 or |p - t| over all n * S values. */
static void regression_forward(Emit *e, const Node *n, const char *name)
{
    if (regression_const(n)) {
        emit_line(e, "dlrt_%s_const_forward_%s(%s, %s, %s, n, %d);", name, op_prec(e),
                  emit_buf(e, n->id), emit_buf(e, n->in[0]), emit_lit(e, regression_const(n)->target),
                  shape_size(node_of(e, n->in[0])->shape));
        return;
    }
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
    if (regression_const(n)) {
        if (node_of(e, n->in[0])->needs_grad)
            emit_line(e, "dlrt_%s_const_backward_%s(%s, %s, %s, %s, n, %d, %d);", name, op_prec(e),
                      emit_grad(e, n->in[0]), emit_buf(e, n->in[0]),
                      emit_lit(e, regression_const(n)->target), emit_grad(e, n->id),
                      shape_size(node_of(e, n->in[0])->shape), accumulate[0]);
        return;
    }
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

/* The twin of a loss on class labels: fn(scores, labels), over a sequence
 * (even of one step: PyTorch would read [N, 1, K] as K-dimensional) on the
 * rows reshaped (-1, K), with ignore_index when given. */
void class_loss_torch(TorchEmit *t, const Node *n, const char *fn, const ClassLossAttr *at)
{
    char ignore[48] = "";
    if (at->has_ignore)
        snprintf(ignore, sizeof ignore, ", ignore_index=%d", at->ignore_index);
    const char *z = torch_name(t, n->in[0]), *y = torch_name(t, n->in[1]);
    if (at->sequence)
        torch_line(t, "%s = %s(%s.reshape(-1, %d), %s.reshape(-1)%s)", torch_name(t, n->id), fn, z,
                   at->classes, y, ignore);
    else
        torch_line(t, "%s = %s(%s, %s%s)", torch_name(t, n->id), fn, z, y, ignore);
}

void class_loss_dump(FILE *out, const ClassLossAttr *at)
{
    fprintf(out, " classes=%d", at->classes);
    if (at->sequence)
        fprintf(out, " steps=%d", at->rows);
    if (at->has_ignore)
        fprintf(out, " ignore_index=%d", at->ignore_index);
}

static void cross_entropy_torch(TorchEmit *t, const Node *n)
{
    class_loss_torch(t, n, "F.cross_entropy", attr(n));
}

/* The twin's target: the tensor, or torch.full_like(pred, c). */
static const char *regression_target(TorchEmit *t, const Node *n)
{
    if (!regression_const(n))
        return torch_name(t, n->in[1]);
    char c[32];
    op_double(c, regression_const(n)->target);
    static char text[160];
    snprintf(text, sizeof text, "torch.full_like(%s, %s)", torch_name(t, n->in[0]), c);
    return text;
}

static void mse_torch(TorchEmit *t, const Node *n)
{
    torch_line(t, "%s = F.mse_loss(%s, %s)", torch_name(t, n->id), torch_name(t, n->in[0]),
               regression_target(t, n));
}

static void l1_torch(TorchEmit *t, const Node *n)
{
    torch_line(t, "%s = F.l1_loss(%s, %s)", torch_name(t, n->id), torch_name(t, n->in[0]),
               regression_target(t, n));
}

static void cross_entropy_dump(FILE *out, const Node *n)
{
    class_loss_dump(out, attr(n));
}

const OpInfo op_cross_entropy = {
    .summary = "cross_entropy(logits, label, ignore_index=none): mean over the batch (and steps) "
               "of -log softmax(logits)[label]",
    .flags = OPF_LOSS | OPF_ACCURACY,
    .dump = cross_entropy_dump,
    .scratch = (const ScratchSpec[]){{"probs", SCRATCH_SAVED, SCRATCH_REAL}},
    .nscratch = 1,
    .args = cross_entropy_args,
    .nargs = 3,
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
