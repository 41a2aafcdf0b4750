/* ops/param_ref.c: a parameter named in an expression.
 *
 *   h1.weight, res1.conv1.weight     a dotted state_dict path (sema
 *                                    resolves it against the parameters
 *                                    made so far)
 *
 * The node is the parameter itself: an unbatched tensor (one for the
 * whole batch, batched = false) of the parameter's shape, with no buffer
 * of its own (plan.c): the emitters read the parameter (emit_buf) and its
 * consumers' backward kernels write straight into the parameter's gradient
 * (emit_grad), adding to what the layer's own backward pass and other
 * references write (the accumulate rule of shared weights,
 * emit_param_accumulate; emit_passes.c). The node lists the parameter in
 * node->param, so autodiff sees that it depends on it: a loss term reached
 * through the reference trains the parameter. No forward or backward
 * kernel; the twin names the module's tensor (`self.h1_w`), so autograd
 * adds the same contributions.
 *
 * Ops take an unbatched tensor only when they say so (OPF_UNBATCHED: the
 * penalties, mean) and in + - * (arith.c, broadcasting); sema refuses it
 * anywhere else.
 */
#include "ops.h"

int param_ref_node(Build *b, const Expr *e, int param)
{
    Node *node = build_node(b, OP_PARAM_REF, e);
    const Param *p = &b->ir->params.items[param];
    node->shape = p->shape;
    node->batched = false;
    node->param = arena_alloc(b->arena, sizeof *node->param);
    node->param[0] = param;
    node->nparam = 1;
    return node->id;
}

/* The parameter a reference node names. */
int param_ref_param(const Node *n)
{
    return n->op == OP_PARAM_REF && n->nparam == 1 ? n->param[0] : -1;
}

static void param_ref_torch(TorchEmit *t, const Node *n)
{
    torch_line(t, "%s = %s", torch_name(t, n->id), torch_param(t, n->param[0]));
}

static void param_ref_dump(FILE *out, const Node *n)
{
    (void)out;
    (void)n;
}

const OpInfo op_param_ref = {
    .summary = "h1.weight: a parameter by its path, one tensor for the whole batch",
    .torch = param_ref_torch,
    .dump = param_ref_dump,
};
