/* ops/variational.c: the two pieces of a variational autoencoder.
 *
 *   sample_normal(mu, log_var)   z = mu + exp(log_var / 2) eps while training
 *                                (eps ~ N(0, 1) from the workspace's stream,
 *                                one per element in memory order); z = mu in
 *                                forward and evaluate
 *   kl_normal(mu, log_var)       KL(N(mu, exp(log_var)) || N(0, 1)), summed
 *                                over each sample's values, mean over the batch
 *
 * The reparameterization trick makes z differentiable in mu and log_var:
 * dmu = dz, dlog_var = dz (z - mu) / 2. The formulas are in
 * runtime/kernels/likelihood.h. The ELBO is a weighted sum in `loss`, as
 * loss mse(decoded, x) + 0.001 * kl_normal(mu, lv). The twin replays the
 * normals from its copy of the runtime's stream, so C and PyTorch sample
 * the same z.
 *
 * Attributes: none.
 */
#include "ops.h"

static const ArgSpec normal_args[] = {
    {.name = "mu", .kind = ARG_TENSOR},
    {.name = "log_var", .kind = ARG_TENSOR},
};

/* mu and log_var of one shape: the node, or -1 after the error. */
static Node *normal_node(Build *b, OpKind op, const Expr *call, const ArgVal *a, bool ok)
{
    if (!ok)
        return NULL;
    Shape ms = build_get(b, a[0].node)->shape, vs = build_get(b, a[1].node)->shape;
    if (!shape_eq(ms, vs)) {
        diag_error(b->diag, a[1].expr->loc, "%s needs mu and log_var of one shape, got %s and %s",
                   call->name, shape_str(b->arena, ms), shape_str(b->arena, vs));
        build_note_shape(b, a[0].node, "mean");
        build_note_shape(b, a[1].node, "log-variance");
        return NULL;
    }
    Node *node = build_node(b, op, call);
    node->in[0] = a[0].node;
    node->in[1] = a[1].node;
    node->nin = 2;
    return node;
}

static int sample_normal_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    Node *node = normal_node(b, OP_SAMPLE_NORMAL, call, a, ok);
    if (!node)
        return -1;
    node->shape = build_get(b, a[0].node)->shape;
    node->batched = true;
    return node->id;
}

static int kl_normal_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    Node *node = normal_node(b, OP_KL_NORMAL, call, a, ok);
    if (!node)
        return -1;
    node->shape = (Shape){.rank = 0};
    node->batched = false;
    return node->id;
}

static void sample_normal_forward(Emit *e, const Node *n)
{
    const char *z = emit_buf(e, n->id), *mu = emit_buf(e, n->in[0]);
    int size = shape_size(n->shape);
    if (!emit_training(e)) {
        emit_line(e, "memcpy(%s, %s, (size_t)n * %d * sizeof *%s);   /* the mean: no sampling */",
                  z, mu, size, z);
        return;
    }
    emit_line(e, "/* %s = %s + exp(%s / 2) eps, one normal per element in order */", z, mu,
              emit_buf(e, n->in[1]));
    emit_line(e, "dlrt_sample_normal_forward_%s(%s, %s, %s, n * %d, %s);", op_prec(e), z, mu,
              emit_buf(e, n->in[1]), size, emit_rng(e));
}

static void sample_normal_backward(Emit *e, const Node *n, const bool *accumulate)
{
    bool want_mu = op_needs_grad(e, n->in[0]), want_lv = op_needs_grad(e, n->in[1]);
    if (!want_mu && !want_lv)
        return;
    emit_line(e, "dlrt_sample_normal_backward_%s(%s, %s, %s, %s, %s, n * %d, %d, %d);", op_prec(e),
              want_mu ? emit_grad(e, n->in[0]) : "NULL", want_lv ? emit_grad(e, n->in[1]) : "NULL",
              emit_grad(e, n->id), emit_buf(e, n->id), emit_buf(e, n->in[0]),
              shape_size(n->shape), want_mu && accumulate[0],
              want_lv && accumulate[1]);
}

static void kl_normal_forward(Emit *e, const Node *n)
{
    emit_line(e, "dlrt_kl_normal_forward_%s(%s, %s, %s, n, %d);", op_prec(e), emit_buf(e, n->id),
              emit_buf(e, n->in[0]), emit_buf(e, n->in[1]), op_elems(e, n->in[0]));
}

static void kl_normal_backward(Emit *e, const Node *n, const bool *accumulate)
{
    bool want_mu = op_needs_grad(e, n->in[0]), want_lv = op_needs_grad(e, n->in[1]);
    if (!want_mu && !want_lv)
        return;
    emit_line(e, "dlrt_kl_normal_backward_%s(%s, %s, %s, %s, %s, n, %d, %d, %d);", op_prec(e),
              want_mu ? emit_grad(e, n->in[0]) : "NULL", want_lv ? emit_grad(e, n->in[1]) : "NULL",
              emit_buf(e, n->in[0]), emit_buf(e, n->in[1]), emit_grad(e, n->id),
              op_elems(e, n->in[0]), want_mu && accumulate[0],
              want_lv && accumulate[1]);
}

static void sample_normal_torch(TorchEmit *t, const Node *n)
{
    torch_line(t, "%s = self.sample_normal(%s, %s)", torch_name(t, n->id), torch_name(t, n->in[0]),
               torch_name(t, n->in[1]));
}

/* The twin's sampler: the C kernel's draws, from its copy of dlrt's RNG. */
static void sample_normal_torch_methods(TorchEmit *t)
{
    static const char *const lines[] = {
        "def sample_normal(self, mu, log_var):",
        "    \"\"\"mu + exp(log_var / 2) eps while training (eps: one normal per element in",
        "    memory order from dlrt's stream), else mu.\"\"\"",
        "    if not self.dropout_on:",
        "        return mu",
        "    eps = [self.rng.normal() for _ in range(mu.numel())]",
        "    eps = torch.tensor(eps, dtype=torch.float64).to(mu.dtype).reshape(mu.shape)",
        "    return mu + torch.exp(log_var / 2) * eps",
        NULL,
    };
    for (int k = 0; lines[k]; k++)
        torch_line(t, "%s", lines[k]);
}

static void kl_normal_torch(TorchEmit *t, const Node *n)
{
    const char *mu = torch_name(t, n->in[0]), *lv = torch_name(t, n->in[1]);
    torch_line(t, "%s = -0.5 * torch.sum(1 + %s - %s ** 2 - torch.exp(%s)) / %s.shape[0]",
               torch_name(t, n->id), lv, mu, lv, mu);
}

const OpInfo op_sample_normal = {
    .summary = "sample_normal(mu, log_var): mu + exp(log_var / 2) N(0, 1) while training, mu otherwise",
    .flags = OPF_STOCHASTIC,
    .args = normal_args,
    .nargs = 2,
    .lower = sample_normal_lower,
    .forward = sample_normal_forward,
    .backward = sample_normal_backward,
    .torch = sample_normal_torch,
    .torch_methods = sample_normal_torch_methods,
};

const OpInfo op_kl_normal = {
    .summary = "kl_normal(mu, log_var): KL(N(mu, exp(log_var)) || N(0, 1)), summed per sample, mean over the batch",
    .flags = OPF_LOSS,
    .args = normal_args,
    .nargs = 2,
    .lower = kl_normal_lower,
    .forward = kl_normal_forward,
    .backward = kl_normal_backward,
    .torch = kl_normal_torch,
};
