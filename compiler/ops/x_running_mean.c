/* ops/x_running_mean.c: a test-only op (undocumented, like the --x-* flags)
 * that exercises STATE tensors until issue 7's batchnorm uses them.
 *
 *   x_running_mean(x, momentum = 0.1)
 *        y  = x
 *        dx = dy
 *        while training: running_mean = (1 - momentum) running_mean
 *                                       + momentum * (x averaged over the batch)
 *
 * running_mean (the shape of x, starting at 0) is a STATE tensor: no
 * gradient, untouched by the optimizer, saved in checkpoints as the
 * section "<name>_running_mean", a registered buffer in the twin (the
 * update batchnorm's running statistics make, without the variance).
 *
 * Attributes: RunningMeanAttr (momentum).
 */
#include "ops.h"

typedef struct RunningMeanAttr {
    double momentum;
} RunningMeanAttr;

static RunningMeanAttr *attr(const Node *n)
{
    return n->attr;
}

static const ArgSpec x_running_mean_args[] = {
    {.name = "x", .kind = ARG_TENSOR},
    {.name = "momentum", .kind = ARG_NUMBER, .optional = true, .def = 0.1,
     .has_min = true, .has_max = true, .min = 0, .max = 1},
};

static int x_running_mean_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    if (!ok)
        return -1;
    Node *node = build_get(b, op_unary_node(b, OP_X_RUNNING_MEAN, call, a[0].node));
    build_attr(b, node, sizeof(RunningMeanAttr));
    attr(node)->momentum = a[1].num;
    build_state(b, node, "running_mean", node->shape, 0, call->loc);
    return node->id;
}

static void x_running_mean_forward(Emit *e, const Node *n)
{
    const char *x = emit_buf(e, n->in[0]), *y = emit_buf(e, n->id);
    int size = op_elems(e, n->id);
    emit_line(e, "memcpy(%s, %s, (size_t)n * %d * sizeof *%s);", y, x, size, y);
    if (!emit_training(e))
        return;
    const char *rm = emit_state(e, n->state[0]);
    char mom[32];
    op_double(mom, attr(n)->momentum);
    emit_line(e, "for (int j = 0; j < %d; j++) {   /* the running mean: STATE, not learnt */", size);
    emit_line(e, "    double sum = 0;");
    emit_line(e, "    for (int s = 0; s < n; s++)");
    emit_line(e, "        sum += %s[s * %d + j];", x, size);
    emit_line(e, "    %s[j] = (%s)((1 - %s) * %s[j] + %s * (sum / n));", rm, emit_real(e), mom, rm, mom);
    emit_line(e, "}");
}

static void x_running_mean_backward(Emit *e, const Node *n, const bool *accumulate)
{
    if (!op_needs_grad(e, n->in[0]))
        return;
    emit_line(e, "for (int i = 0; i < n * %d; i++)", op_elems(e, n->id));
    emit_line(e, "    %s[i] %s %s[i];", emit_grad(e, n->in[0]), op_assign(accumulate[0]), emit_grad(e, n->id));
}

static void x_running_mean_torch(TorchEmit *t, const Node *n)
{
    char mom[32];
    const char *x = torch_name(t, n->in[0]), *rm = torch_state(t, n->state[0]);
    torch_line(t, "if self.dropout_on:   # training");
    torch_line(t, "    with torch.no_grad():");
    torch_line(t, "        %s.mul_(1 - %s).add_(%s * %s.detach().mean(0))", rm, op_double(mom, attr(n)->momentum),
               mom, x);
    torch_line(t, "%s = %s", torch_name(t, n->id), x);
}

static void x_running_mean_dump(FILE *out, const Node *n)
{
    fprintf(out, " momentum=%g", attr(n)->momentum);
}

const OpInfo op_x_running_mean = {
    .summary = "x_running_mean(x, momentum=0.1): the identity keeping a running mean (test only)",
    .args = x_running_mean_args,
    .nargs = 2,
    .lower = x_running_mean_lower,
    .forward = x_running_mean_forward,
    .backward = x_running_mean_backward,
    .torch = x_running_mean_torch,
    .dump = x_running_mean_dump,
};
