/* ops/likelihood.c: maximum-likelihood losses, each one number for the batch.
 *
 *   bce(logits, target)              binary cross-entropy from logits; the
 *                                    target a tensor or a number in [0, 1]
 *   nll(log_probs, label, ignore_index = none)   negative log-likelihood of log-probabilities
 *        (over a sequence too, [T, K] against class(K)[T], with
 *        ignore_index: as cross_entropy's, loss.c)
 *   poisson_nll(log_rate, target)    Poisson, the rate as its log
 *   gaussian_nll(mean, log_var, target)   Gaussian, mean and log-variance
 *
 * PyTorch's binary_cross_entropy_with_logits, nll_loss, poisson_nll_loss
 * (log_input = True) and gaussian_nll_loss (var = exp(log_var)), 'mean'
 * reduction; the formulas and their derivatives are in
 * runtime/kernels/likelihood.h, which the hooks call with literal sizes.
 * A loss node is not batched and holds one value (see loss.c).
 *
 * Attributes: nll's ClassLossAttr (ops.h, as cross_entropy's); the
 * others none.
 */
#include "ops.h"

static ClassLossAttr *nll_attr(const Node *n)
{
    return n->attr;
}

static Node *likelihood_node(Build *b, OpKind op, const Expr *call, const int *in, int nin)
{
    Node *node = build_node(b, op, call);
    for (int k = 0; k < nin; k++)
        node->in[k] = in[k];
    node->nin = nin;
    node->shape = (Shape){.rank = 0};
    node->batched = false;
    return node;
}

/* Every tensor argument has the first one's shape; roles name them in
 * the notes ("mean", "log-variance", "target"). */
static bool same_shapes(Build *b, const Expr *call, const ArgVal *a, int count, const char *what,
                        const char *const *roles)
{
    Shape s0 = build_get(b, a[0].node)->shape;
    for (int k = 1; k < count; k++) {
        Shape s = build_get(b, a[k].node)->shape;
        if (!shape_eq(s, s0)) {
            diag_error(b->diag, a[k].expr->loc, "%s needs %s of one shape, got %s and %s",
                       call->name, what, shape_str(b->arena, s0), shape_str(b->arena, s));
            build_note_shape(b, a[0].node, roles[0]);
            build_note_shape(b, a[k].node, roles[k]);
            return false;
        }
    }
    return true;
}

static const ArgSpec bce_args[] = {
    {.name = "logits", .kind = ARG_TENSOR},
    {.name = "target", .kind = ARG_TENSOR, .or_number = true},
};

/* bce's attributes when its target is a number (bce(d_fake, 1), a GAN's
 * labels): that constant for every element; NULL attr: a target tensor. */
typedef struct BceAttr {
    double target;
} BceAttr;

static const BceAttr *bce_const(const Node *n)
{
    return n->op == OP_BCE ? n->attr : NULL;
}

static int bce_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    if (ok && a[1].node < 0) {
        /* A constant target, the same for every element (torch.full_like). */
        if (!(a[1].num >= 0 && a[1].num <= 1)) {
            build_value_error(b, a[1].expr->loc, "bce's target must be in [0, 1], got %g",
                              a[1].num);
            return -1;
        }
        int in[1] = {a[0].node};
        Node *node = likelihood_node(b, OP_BCE, call, in, 1);
        BceAttr *at = build_attr(b, node, sizeof(BceAttr));
        at->target = a[1].num;
        return node->id;
    }
    if (!ok || !same_shapes(b, call, a, 2, "logits and targets",
                                  (const char *const[]){"logits input", "target"}))
        return -1;
    int in[2] = {a[0].node, a[1].node};
    return likelihood_node(b, OP_BCE, call, in, 2)->id;
}

static const ArgSpec poisson_args[] = {
    {.name = "log_rate", .kind = ARG_TENSOR},
    {.name = "target", .kind = ARG_TENSOR},
};

static int poisson_nll_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    if (!ok || !same_shapes(b, call, a, 2, "log-rates and targets",
                                  (const char *const[]){"log-rate", "target"}))
        return -1;
    int in[2] = {a[0].node, a[1].node};
    return likelihood_node(b, OP_POISSON_NLL, call, in, 2)->id;
}

static const ArgSpec gaussian_args[] = {
    {.name = "mean", .kind = ARG_TENSOR},
    {.name = "log_var", .kind = ARG_TENSOR},
    {.name = "target", .kind = ARG_TENSOR},
};

static int gaussian_nll_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    if (!ok || !same_shapes(b, call, a, 3, "means, log-variances and targets",
                                  (const char *const[]){"mean", "log-variance", "target"}))
        return -1;
    int in[3] = {a[0].node, a[1].node, a[2].node};
    return likelihood_node(b, OP_GAUSSIAN_NLL, call, in, 3)->id;
}

static const ArgSpec nll_args[] = {
    {.name = "log_probs", .kind = ARG_TENSOR},
    {.name = "label", .kind = ARG_LABEL},
    {.name = "ignore_index", .kind = ARG_INT, .optional = true, .def = -100},   /* absent: none */
};

static int nll_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    if (!ok)
        return -1;
    int lp = a[0].node, y = a[1].node;
    ClassLossAttr at;
    if (!class_loss_bind(b, call, a, "log-probabilities", "input", &at))
        return -1;
    int in[2] = {lp, y};
    Node *node = likelihood_node(b, OP_NLL, call, in, 2);
    build_attr(b, node, sizeof(ClassLossAttr));
    *nll_attr(node) = at;
    return node->id;
}

/* ---- kernels ------------------------------------------------------------ */

static int count_of(Emit *e, const Node *n)
{
    return op_elems(e, n->in[0]);
}

/* The gradient of input k, or NULL when it needs none. */
static const char *grad_or_null(Emit *e, const Node *n, int k)
{
    return op_needs_grad(e, n->in[k]) ? emit_grad(e, n->in[k]) : "NULL";
}

static bool any_grad(Emit *e, const Node *n)
{
    for (int k = 0; k < n->nin; k++)
        if (op_needs_grad(e, n->in[k]))
            return true;
    return false;
}

/* Forward of a loss whose arguments are all tensors of one shape. */
static void elementwise_forward(Emit *e, const Node *n, const char *name)
{
    const char *in[3] = {"", "", ""};
    for (int k = 0; k < n->nin && k < 3; k++)
        in[k] = emit_buf(e, n->in[k]);
    if (n->nin == 3)
        emit_line(e, "dlrt_%s_forward_%s(%s, %s, %s, %s, n * %d);", name, op_prec(e),
                  emit_buf(e, n->id), in[0], in[1], in[2], count_of(e, n));
    else
        emit_line(e, "dlrt_%s_forward_%s(%s, %s, %s, n * %d);", name, op_prec(e), emit_buf(e, n->id),
                  in[0], in[1], count_of(e, n));
}

/* Backward: the gradients wanted (NULL for the others), the inputs, dL,
 * the count and a write-or-add flag per gradient. */
static void elementwise_backward(Emit *e, const Node *n, const bool *accumulate, const char *name)
{
    if (!any_grad(e, n))
        return;
    const char *g[3], *in[3];
    int acc[3];
    for (int k = 0; k < n->nin && k < 3; k++) {
        g[k] = grad_or_null(e, n, k);
        in[k] = emit_buf(e, n->in[k]);
        acc[k] = op_needs_grad(e, n->in[k]) && accumulate[k];   /* repeats add: emit_passes.c */
    }
    if (n->nin == 3)
        emit_line(e, "dlrt_%s_backward_%s(%s, %s, %s, %s, %s, %s, %s, n * %d, %d, %d, %d);", name,
                  op_prec(e), g[0], g[1], g[2], in[0], in[1], in[2], emit_grad(e, n->id),
                  count_of(e, n), acc[0], acc[1], acc[2]);
    else
        emit_line(e, "dlrt_%s_backward_%s(%s, %s, %s, %s, %s, n * %d, %d, %d);", name, op_prec(e),
                  g[0], g[1], in[0], in[1], emit_grad(e, n->id), count_of(e, n), acc[0], acc[1]);
}

static void bce_forward(Emit *e, const Node *n)
{
    if (bce_const(n)) {
        emit_line(e, "dlrt_bce_const_forward_%s(%s, %s, %s, n * %d);", op_prec(e),
                  emit_buf(e, n->id), emit_buf(e, n->in[0]), emit_lit(e, bce_const(n)->target),
                  count_of(e, n));
        return;
    }
    elementwise_forward(e, n, "bce");
}

static void bce_backward(Emit *e, const Node *n, const bool *accumulate)
{
    if (bce_const(n)) {
        if (op_needs_grad(e, n->in[0]))
            emit_line(e, "dlrt_bce_const_backward_%s(%s, %s, %s, %s, n * %d, %d);", op_prec(e),
                      emit_grad(e, n->in[0]), emit_buf(e, n->in[0]),
                      emit_lit(e, bce_const(n)->target), emit_grad(e, n->id), count_of(e, n),
                      accumulate[0]);
        return;
    }
    elementwise_backward(e, n, accumulate, "bce");
}

static void poisson_nll_forward(Emit *e, const Node *n)
{
    elementwise_forward(e, n, "poisson_nll");
}

static void poisson_nll_backward(Emit *e, const Node *n, const bool *accumulate)
{
    elementwise_backward(e, n, accumulate, "poisson_nll");
}

static void gaussian_nll_forward(Emit *e, const Node *n)
{
    elementwise_forward(e, n, "gaussian_nll");
}

static void gaussian_nll_backward(Emit *e, const Node *n, const bool *accumulate)
{
    elementwise_backward(e, n, accumulate, "gaussian_nll");
}

static void nll_forward(Emit *e, const Node *n)
{
    const ClassLossAttr *at = nll_attr(n);
    const char *rows = class_loss_rows_text(e, at);
    if (at->has_ignore)
        emit_line(e, "dlrt_nll_ignore_forward_%s(%s, %s, %s, %s, %d, %d);   /* ignore_index %d */",
                  op_prec(e), emit_buf(e, n->id), emit_buf(e, n->in[0]), emit_buf(e, n->in[1]),
                  rows, at->classes, at->ignore_index, at->ignore_index);
    else
        emit_line(e, "dlrt_nll_forward_%s(%s, %s, %s, %s, %d);", op_prec(e), emit_buf(e, n->id),
                  emit_buf(e, n->in[0]), emit_buf(e, n->in[1]), rows,
                  at->classes);
}

static void nll_backward(Emit *e, const Node *n, const bool *accumulate)
{
    if (!op_needs_grad(e, n->in[0]))
        return;
    const ClassLossAttr *at = nll_attr(n);
    const char *rows = class_loss_rows_text(e, at);
    if (at->has_ignore)
        emit_line(e, "dlrt_nll_ignore_backward_%s(%s, %s, %s, %s, %d, %d, %d);", op_prec(e),
                  emit_grad(e, n->in[0]), emit_buf(e, n->in[1]), emit_grad(e, n->id),
                  rows, at->classes, at->ignore_index, accumulate[0]);
    else
        emit_line(e, "dlrt_nll_backward_%s(%s, %s, %s, %s, %d, %d);", op_prec(e),
                  emit_grad(e, n->in[0]), emit_buf(e, n->in[1]), emit_grad(e, n->id),
                  rows, at->classes, accumulate[0]);
}

static void bce_torch(TorchEmit *t, const Node *n)
{
    if (bce_const(n)) {
        char c[32];
        op_double(c, bce_const(n)->target);
        torch_line(t, "%s = F.binary_cross_entropy_with_logits(%s, torch.full_like(%s, %s))",
                   torch_name(t, n->id), torch_name(t, n->in[0]), torch_name(t, n->in[0]), c);
        return;
    }
    torch_line(t, "%s = F.binary_cross_entropy_with_logits(%s, %s)", torch_name(t, n->id),
               torch_name(t, n->in[0]), torch_name(t, n->in[1]));
}

static void nll_torch(TorchEmit *t, const Node *n)
{
    class_loss_torch(t, n, "F.nll_loss", nll_attr(n));
}

static void poisson_nll_torch(TorchEmit *t, const Node *n)
{
    torch_line(t, "%s = F.poisson_nll_loss(%s, %s, log_input=True, full=False)",
               torch_name(t, n->id), torch_name(t, n->in[0]), torch_name(t, n->in[1]));
}

static void gaussian_nll_torch(TorchEmit *t, const Node *n)
{
    torch_line(t, "%s = F.gaussian_nll_loss(%s, %s, torch.exp(%s), full=False, eps=1e-6)",
               torch_name(t, n->id), torch_name(t, n->in[0]), torch_name(t, n->in[2]),
               torch_name(t, n->in[1]));
}

static void nll_dump(FILE *out, const Node *n)
{
    class_loss_dump(out, nll_attr(n));
}

static void bce_dump(FILE *out, const Node *n)
{
    if (bce_const(n))
        fprintf(out, " target=%g", bce_const(n)->target);
}

const OpInfo op_bce = {
    .summary = "bce(logits, target): mean binary cross-entropy of sigmoid(logits) against targets in [0, 1] (a tensor or a number)",
    .dump = bce_dump,
    .flags = OPF_LOSS,
    .args = bce_args,
    .nargs = 2,
    .lower = bce_lower,
    .forward = bce_forward,
    .backward = bce_backward,
    .torch = bce_torch,
};

const OpInfo op_nll = {
    .summary = "nll(log_probs, label, ignore_index=none): mean over the batch (and steps) of -log_probs[label]",
    .flags = OPF_LOSS | OPF_ACCURACY,
    .args = nll_args,
    .nargs = 3,
    .lower = nll_lower,
    .dump = nll_dump,
    .forward = nll_forward,
    .backward = nll_backward,
    .torch = nll_torch,
};

const OpInfo op_poisson_nll = {
    .summary = "poisson_nll(log_rate, target): mean of exp(log_rate) - target * log_rate",
    .flags = OPF_LOSS,
    .args = poisson_args,
    .nargs = 2,
    .lower = poisson_nll_lower,
    .forward = poisson_nll_forward,
    .backward = poisson_nll_backward,
    .torch = poisson_nll_torch,
};

const OpInfo op_gaussian_nll = {
    .summary = "gaussian_nll(mean, log_var, target): mean of (log_var + (mean - target)^2 / exp(log_var)) / 2",
    .flags = OPF_LOSS,
    .args = gaussian_args,
    .nargs = 3,
    .lower = gaussian_nll_lower,
    .forward = gaussian_nll_forward,
    .backward = gaussian_nll_backward,
    .torch = gaussian_nll_torch,
};
