/* ops/step.c: step(x, index) picks one step of a sequence, x[:, index] in
 * PyTorch: x is [T, ...] per sample, the result [...]. A negative index
 * counts from the end, as Python's: step(h, -1) is the last step (what an
 * RNN's last output is for a classifier or a last-step loss).
 *
 * Per sample x is T rows of `inner` values; the result is row `index`:
 *
 *   forward   y[s, i] = x[s, index, i]
 *   backward  dx[s, index, i] (+)= dy[s, i], zero at every other step
 *
 * Attributes: StepAttr (the index after normalizing).
 */
#include "ops.h"

typedef struct StepAttr {
    int index;
} StepAttr;

static StepAttr *attr(const Node *n)
{
    return n->attr;
}

static const ArgSpec step_args[] = {
    {.name = "x", .kind = ARG_TENSOR},
    {.name = "index", .kind = ARG_INT},
};

static int step_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    if (!ok)
        return -1;
    int x = a[0].node;
    Shape s = build_get(b, x)->shape;
    if (s.rank < 1) {
        diag_error(b->diag, a[0].expr->loc, "step expects a sequence [T, ...] per sample, '%s' "
                   "has shape %s", build_expr_text(b, a[0].expr), shape_str(b->arena, s));
        build_note_shape(b, x, "input");
        return -1;
    }
    long steps = s.dim[0], index = (long)a[1].num;
    if (index < -steps || index >= steps) {
        build_value_error(b, a[1].expr->loc, "step %ld is out of range for '%s' of %ld steps "
                          "(shape %s): the index is in [%ld, %ld], negative from the end",
                          index, build_expr_text(b, a[0].expr), steps, shape_str(b->arena, s),
                          -steps, steps - 1);
        build_note_shape(b, x, "input");
        return -1;
    }
    Node *node = build_node(b, OP_STEP, call);
    node->in[0] = x;
    node->nin = 1;
    node->shape.rank = s.rank - 1;
    for (int d = 1; d < s.rank; d++)
        node->shape.dim[d - 1] = s.dim[d];
    node->batched = true;
    build_attr(b, node, sizeof(StepAttr));
    attr(node)->index = (int)(index < 0 ? index + steps : index);
    return node->id;
}

static void step_forward(Emit *e, const Node *n)
{
    int inner = op_elems(e, n->id), width = op_elems(e, n->in[0]);
    const char *y = emit_buf(e, n->id);
    emit_line(e, "for (int s = 0; s < n; s++)   /* step %d of %d */", attr(n)->index, width / inner);
    emit_line(e, "    memcpy(%s + (size_t)s * %d, %s + (size_t)s * %d + %d, %d * sizeof *%s);", y,
              inner, emit_buf(e, n->in[0]), width, attr(n)->index * inner, inner, y);
}

static void step_backward(Emit *e, const Node *n, const bool *accumulate)
{
    if (!op_needs_grad(e, n->in[0]))
        return;
    int inner = op_elems(e, n->id), width = op_elems(e, n->in[0]);
    const char *dx = emit_grad(e, n->in[0]), *dy = emit_grad(e, n->id);
    if (!accumulate[0])   /* the other steps get no gradient from here */
        emit_line(e, "memset(%s, 0, (size_t)n * %d * sizeof *%s);", dx, width, dx);
    emit_line(e, "for (int s = 0; s < n; s++)");
    emit_line(e, "    for (int i = 0; i < %d; i++)", inner);
    emit_line(e, "        %s[(size_t)s * %d + %d + i] += %s[(size_t)s * %d + i];", dx, width,
              attr(n)->index * inner, dy, inner);
}

static void step_torch(TorchEmit *t, const Node *n)
{
    torch_line(t, "%s = %s[:, %d]", torch_name(t, n->id), torch_name(t, n->in[0]), attr(n)->index);
}

static void step_dump(FILE *out, const Node *n)
{
    fprintf(out, " index=%d", attr(n)->index);
}

const OpInfo op_step = {
    .summary = "step(x, index): x[index] of a sequence [T, ...] per sample; negative from the end",
    .args = step_args,
    .nargs = 2,
    .lower = step_lower,
    .forward = step_forward,
    .backward = step_backward,
    .torch = step_torch,
    .dump = step_dump,
};
