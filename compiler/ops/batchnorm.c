/* ops/batchnorm.c: batch normalization, torch.nn.BatchNorm1d / BatchNorm2d.
 *
 *   batchnorm(x, momentum = 0.1, eps = 1e-5, affine = true)
 *
 * x per sample is [C] (BatchNorm1d on [N, C]), [C, L] (BatchNorm1d on
 * [N, C, L]) or [C, H, W] (BatchNorm2d); statistics are per channel c over
 * the M = n * inner values of the batch (inner = 1, L or H W).
 *
 *   training   mean, var (biased) from the batch; y = (x - mean) rstd w + b
 *              with rstd = 1/sqrt(var + eps); and, as PyTorch,
 *              running_mean = (1 - momentum) running_mean + momentum mean
 *              running_var  = (1 - momentum) running_var
 *                             + momentum var M/(M - 1)     (unbiased)
 *   inference  y = (x - running_mean) / sqrt(running_var + eps) w + b
 *   backward   (training statistics, from the SAVED mean and rstd)
 *              dx = w rstd (dy - mean(dy) - xh mean(dy xh)), xh = (x - mean) rstd
 *              dw = sum dy xh, db = sum dy
 *
 * Parameters weight [C] (ones) and bias [C] (zeros) unless affine = false;
 * running_mean [C] (0) and running_var [C] (1) are STATE tensors: saved in
 * checkpoints, registered buffers in the twin, written by the training
 * forward pass through m->state (the one thing a pass taking a const
 * network writes; docs/generated-api.md, Threads). PyTorch's
 * num_batches_tracked is not kept: with a fixed momentum it changes no
 * value. A training batch with one value per channel (n = 1 on [C])
 * normalizes to the bias and leaves the running statistics alone, where
 * PyTorch raises an error (M/(M - 1) is undefined).
 *
 * The loops are runtime kernels (runtime/kernels/norm.h). Both take the
 * workspace's data-parallel hooks (w->dist, P_set_dist): with an allreduce
 * there, the statistics and dx's sums span every rank's samples
 * (synchronized batchnorm, as torch.nn.SyncBatchNorm).
 *
 * Attributes: BatchnormAttr. Scratch: mean and rstd, C values each (SAVED;
 * sized per sample, so batch-capacity times more than needed: C is small).
 */
#include "ops.h"

typedef struct BatchnormAttr {
    double momentum, eps;
    bool affine;
    int channels, inner;      /* C, and the values per channel per sample */
} BatchnormAttr;

static BatchnormAttr *attr(const Node *n)
{
    return n->attr;
}

static const ArgSpec batchnorm_args[] = {
    {.name = "x", .kind = ARG_TENSOR},
    {.name = "momentum", .kind = ARG_NUMBER, .optional = true, .def = 0.1, .has_min = true,
     .min = 0, .has_max = true, .max = 1, .range_msg = "batchnorm's momentum must be in [0, 1]"},
    {.name = "eps", .kind = ARG_NUMBER, .optional = true, .def = 1e-5, .has_min = true,
     .min = 0, .min_open = true, .range_msg = "batchnorm's eps must be positive"},
    {.name = "affine", .kind = ARG_BOOL, .optional = true, .def = 1},
};

static int batchnorm_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    int x = a[0].node;
    if (x >= 0) {
        Shape xs = build_get(b, x)->shape;
        if (xs.rank < 1 || xs.rank > 3) {
            diag_error(b->diag, a[0].expr->loc,
                       "batchnorm expects [C], [C, L] or [C, H, W] per sample, '%s' has shape %s",
                       build_expr_text(b, a[0].expr), shape_str(b->arena, xs));
            build_note_shape(b, x, "input");
            ok = false;
        }
    }
    if (!ok)
        return -1;
    Node *node = build_get(b, op_unary_node(b, OP_BATCHNORM, call, x));
    BatchnormAttr *at = build_attr(b, node, sizeof(BatchnormAttr));
    at->momentum = a[1].num;
    at->eps = a[2].num;
    at->affine = a[3].num != 0;
    at->channels = node->shape.dim[0];
    at->inner = shape_size(node->shape) / at->channels;
    node->hyper_set = a[1].expr != NULL;
    if (a[1].expr)
        node->hyper_loc = a[1].expr->loc;
    Shape c = {.rank = 1, .dim = {at->channels}};
    if (at->affine) {
        int w = build_param(b, node, "weight", c, call->loc);
        b->ir->params.items[w].init = INIT_ONES;   /* PyTorch's: the identity at first */
        build_param(b, node, "bias", c, call->loc);   /* a bias starts at zero */
    }
    build_state(b, node, "running_mean", c, 0, call->loc);
    build_state(b, node, "running_var", c, 1, call->loc);
    node->scratch_size[0] = (size_t)at->channels;
    node->scratch_size[1] = (size_t)at->channels;
    return node->id;
}

static void batchnorm_forward(Emit *e, const Node *n)
{
    const BatchnormAttr *at = attr(n);
    const char *x = emit_buf(e, n->in[0]), *y = emit_buf(e, n->id);
    const char *w = at->affine ? emit_param(e, n->param[0]) : "NULL";
    const char *bias = at->affine ? emit_param(e, n->param[1]) : "NULL";
    const char *rm = emit_state(e, n->state[0]), *rv = emit_state(e, n->state[1]);
    char eps[32], mom[32];
    op_double(eps, at->eps);
    op_double(mom, at->momentum);
    if (!emit_training(e)) {
        emit_line(e, "/* inference: the running statistics */");
        emit_line(e, "dlrt_batchnorm_forward_eval_%s(%s, %s, %s, %s, %s, %s, n, %d, %d, %s);",
                  op_prec(e), y, x, w, bias, rm, rv, at->channels, at->inner, eps);
        return;
    }
    const char *mean = emit_scratch(e, n->id, 0), *rstd = emit_scratch(e, n->id, 1);
    emit_line(e, "/* training: batch statistics per channel into %s, %s (for backward); the", mean,
              rstd);
    emit_line(e, " * running statistics (STATE) move by momentum %s */", mom);
    /* One value per channel (n = 1 on [C]) leaves the running statistics
     * alone (PyTorch raises): the kernel checks M > 1, M over every rank's
     * samples when w->dist synchronizes the statistics. */
    emit_line(e, "dlrt_batchnorm_forward_train_%s(%s, %s, %s, %s, %s, %s, %s, %s, n, %d, %d, %s, %s,",
              op_prec(e), y, mean, rstd, rm, rv, x, w, bias, at->channels, at->inner, eps, mom);
    emit_line(e, "    %s);", emit_dist(e));
}

static void batchnorm_backward(Emit *e, const Node *n, const bool *accumulate)
{
    const BatchnormAttr *at = attr(n);
    const char *dw, *db;
    bool acc = op_pair_grads(e, n, at->affine, &dw, &db);
    bool dx_wanted = op_needs_grad(e, n->in[0]), dparams = strcmp(dw, "NULL") != 0;
    if (!dx_wanted && !dparams)
        return;
    emit_line(e, "/* per channel, from the saved batch statistics (xh = (x - mean) rstd):%s%s%s */",
              dx_wanted ? " dx = w rstd (dy - mean dy - xh mean(dy xh))" : "",
              dx_wanted && dparams ? ";" : "", dparams ? " dw = sum dy xh, db = sum dy" : "");
    emit_line(e, "dlrt_batchnorm_backward_%s(%s, %s, %s, %s, %s, %s, %s, %s, n, %d, %d, %d, %d,",
              op_prec(e), dx_wanted ? emit_grad(e, n->in[0]) : "NULL", dw, db,
              emit_grad(e, n->id), emit_buf(e, n->in[0]), emit_scratch(e, n->id, 0),
              emit_scratch(e, n->id, 1), at->affine ? emit_param(e, n->param[0]) : "NULL",
              at->channels, at->inner, dx_wanted && accumulate[0], acc);
    emit_line(e, "    %s);   /* synchronized batchnorm when it sets allreduce */", emit_dist(e));
}

static void batchnorm_torch(TorchEmit *t, const Node *n)
{
    const BatchnormAttr *at = attr(n);
    char eps[32], mom[32];
    op_double(eps, at->eps);
    op_double(mom, at->momentum);
    /* F.batch_norm updates the registered buffers in place while training. */
    torch_line(t, "%s = F.batch_norm(%s, %s, %s, %s, %s, self.dropout_on, %s, %s)",
               torch_name(t, n->id), torch_name(t, n->in[0]), torch_state(t, n->state[0]),
               torch_state(t, n->state[1]), at->affine ? torch_param(t, n->param[0]) : "None",
               at->affine ? torch_param(t, n->param[1]) : "None", mom, eps);
}

static void batchnorm_dump(FILE *out, const Node *n)
{
    fprintf(out, " C=%d inner=%d momentum=%g eps=%g%s", attr(n)->channels, attr(n)->inner,
            attr(n)->momentum, attr(n)->eps, attr(n)->affine ? "" : " no-affine");
}

static const char *batchnorm_explain(Arena *a, const Node *n)
{
    return arena_printf(a, "momentum %g, eps %g", attr(n)->momentum, attr(n)->eps);
}

/* Per sample and element: the mean (an add), the variance (a multiply-add)
 * and the normalization (a multiply-add): 3 multiply-adds, 6 FLOPs. */
static double batchnorm_flops(const IR *ir, const Node *n)
{
    (void)ir;
    return 6.0 * shape_size(n->shape);
}

const OpInfo op_batchnorm = {
    .summary = "batchnorm(x, momentum=0.1, eps=1e-5, affine=true): batch normalization over "
               "[C], [C, L] or [C, H, W] (BatchNorm1d/2d), running statistics as STATE",
    .args = batchnorm_args,
    .nargs = 4,
    .lower = batchnorm_lower,
    .forward = batchnorm_forward,
    .backward = batchnorm_backward,
    .torch = batchnorm_torch,
    .dump = batchnorm_dump,
    .explain = batchnorm_explain,
    .flops = batchnorm_flops,
    .scratch = (const ScratchSpec[]){{"mean", SCRATCH_SAVED, SCRATCH_REAL},
                                     {"rstd", SCRATCH_SAVED, SCRATCH_REAL}},
    .nscratch = 2,
};
