/* ops/x_scratch.c: a test-only op (undocumented, like the --x-* flags)
 * that exercises scratch roles until issue 7's pooling and im2col use them.
 *
 *   x_scratch(x)
 *        y  = x                 via a WORKSPACE copy read through an int32 index
 *        dx = dy                the same way, in the backward kernel
 *
 * Scratch: "ws" (WORKSPACE, real, the per-sample size) and "idx"
 * (WORKSPACE, int32, the same size). Both are transient, so two x_scratch
 * nodes share one region of the arena (tests/golden/x_scratch shows the
 * offsets). The twin is the identity.
 */
#include "ops.h"

static const ArgSpec x_scratch_args[] = {
    {.name = "x", .kind = ARG_TENSOR},
};

static int x_scratch_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    if (!ok)
        return -1;
    Node *node = build_get(b, op_unary_node(b, OP_X_SCRATCH, call, a[0].node));
    node->scratch_size[0] = node->scratch_size[1] = (size_t)shape_size(node->shape);
    return node->id;
}

/* to[i] = from[idx[i]] with idx[i] = i, through the workspace. */
static void copy_through(Emit *e, const Node *n, const char *from, const char *to, const char *assign)
{
    const char *ws = emit_scratch(e, n->id, 0), *idx = emit_scratch(e, n->id, 1);
    int size = op_elems(e, n->id);
    emit_line(e, "for (int i = 0; i < n * %d; i++) {", size);
    emit_line(e, "    %s[i] = (int32_t)(n * %d - 1 - i);   /* reversed twice: the identity */", idx, size);
    emit_line(e, "    %s[n * %d - 1 - i] = %s[i];", ws, size, from);
    emit_line(e, "}");
    emit_line(e, "for (int i = 0; i < n * %d; i++)", size);
    emit_line(e, "    %s[i] %s %s[%s[i]];", to, assign, ws, idx);
}

static void x_scratch_forward(Emit *e, const Node *n)
{
    copy_through(e, n, emit_buf(e, n->in[0]), emit_buf(e, n->id), "=");
}

static void x_scratch_backward(Emit *e, const Node *n, const bool *accumulate)
{
    if (!op_needs_grad(e, n->in[0]))
        return;
    copy_through(e, n, emit_grad(e, n->id), emit_grad(e, n->in[0]), op_assign(accumulate[0]));
}

static void x_scratch_torch(TorchEmit *t, const Node *n)
{
    torch_line(t, "%s = %s", torch_name(t, n->id), torch_name(t, n->in[0]));
}

const OpInfo op_x_scratch = {
    .summary = "x_scratch(x): the identity through a workspace (test only)",
    .args = x_scratch_args,
    .nargs = 1,
    .lower = x_scratch_lower,
    .forward = x_scratch_forward,
    .backward = x_scratch_backward,
    .torch = x_scratch_torch,
    .scratch = (const ScratchSpec[]){{"ws", SCRATCH_WORKSPACE, SCRATCH_REAL},
                                     {"idx", SCRATCH_WORKSPACE, SCRATCH_INT32}},
    .nscratch = 2,
};
