/* ops/softmax.c: softmax and log_softmax over the last axis.
 *
 * A sample of shape [..., C] is a stack of rows of C values; both ops work
 * row by row, subtracting the row's max before exponentiating so that no
 * exp overflows:
 *
 *   softmax       y_j = e^(x_j - m) / s               s = sum_k e^(x_k - m)
 *   log_softmax   y_j = (x_j - m) - log s
 *
 * (x_j - m) first: m + log s would round away log s next to a large m
 * (logits of 1e4 in float). A NaN anywhere in a row makes the max, and so
 * the whole row, NaN, as in PyTorch; so does +inf (inf - inf).
 *
 * and backward, from the saved output y:
 *
 *   softmax       dx_j = y_j (dy_j - sum_k dy_k y_k)
 *   log_softmax   dx_j = dy_j - e^(y_j) sum_k dy_k
 *
 * The loops are runtime kernels (runtime/kernels/softmax.h, tested in
 * tests/kernels); this file emits one call per op with literal sizes.
 */
#include "ops.h"

static int softmax_lower_op(Build *b, const Expr *call, const ArgVal *a, bool ok, OpKind op,
                            const char *name)
{
    if (!ok)
        return -1;
    int x = a[0].node;
    if (build_get(b, x)->shape.rank == 0) {
        diag_error(b->diag, a[0].expr->loc,
                   "%s works over the last axis, but '%s' is one number per sample",
                   name, build_expr_text(b, a[0].expr));
        build_note_shape(b, x, "input");
        return -1;
    }
    return op_unary_node(b, op, call, x);
}

static int softmax_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    return softmax_lower_op(b, call, a, ok, OP_SOFTMAX, "softmax");
}

static int log_softmax_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    return softmax_lower_op(b, call, a, ok, OP_LOG_SOFTMAX, "log_softmax");
}

/* Row length C (the last axis) and rows per sample. */
static void rows_of(const Node *n, int *cols, int *rows)
{
    *cols = n->shape.dim[n->shape.rank - 1];
    *rows = shape_size(n->shape) / *cols;
}

/* "n" or "n * 4": the number of rows in the batch. */
static const char *batch_rows(char *buf, int rows)
{
    if (rows == 1)
        return "n";
    snprintf(buf, 32, "n * %d", rows);
    return buf;
}

/* The kernels are runtime/kernels/softmax.h. */
static void softmax_forward_op(Emit *e, const Node *n, const char *name)
{
    int c, rows;
    char buf[32];
    rows_of(n, &c, &rows);
    emit_line(e, "dlrt_%s_forward_%s(%s, %s, %s, %d);   /* rows of %d */", name, op_prec(e),
              emit_buf(e, n->id), emit_buf(e, n->in[0]), batch_rows(buf, rows), c, c);
}

static void softmax_forward(Emit *e, const Node *n)
{
    softmax_forward_op(e, n, "softmax");
}

static void log_softmax_forward(Emit *e, const Node *n)
{
    softmax_forward_op(e, n, "log_softmax");
}

static void softmax_backward_op(Emit *e, const Node *n, const bool *accumulate, const char *name)
{
    if (!op_needs_grad(e, n->in[0]))
        return;
    int c, rows;
    char buf[32];
    rows_of(n, &c, &rows);
    const char *dx = emit_grad(e, n->in[0]);
    emit_line(e, "dlrt_%s_backward_%s(%s, %s, %s, %s, %d, %d);   /* %d: %s %s */", name,
              op_prec(e), dx, emit_buf(e, n->id), emit_grad(e, n->id), batch_rows(buf, rows), c,
              accumulate[0], accumulate[0], accumulate[0] ? "add to" : "overwrite", dx);
}

static void softmax_backward(Emit *e, const Node *n, const bool *accumulate)
{
    softmax_backward_op(e, n, accumulate, "softmax");
}

static void log_softmax_backward(Emit *e, const Node *n, const bool *accumulate)
{
    softmax_backward_op(e, n, accumulate, "log_softmax");
}

static void softmax_torch(TorchEmit *t, const Node *n)
{
    torch_line(t, "%s = torch.softmax(%s, dim=-1)", torch_name(t, n->id), torch_name(t, n->in[0]));
}

static void log_softmax_torch(TorchEmit *t, const Node *n)
{
    torch_line(t, "%s = torch.log_softmax(%s, dim=-1)", torch_name(t, n->id),
               torch_name(t, n->in[0]));
}

const OpInfo op_softmax = {
    .summary = "softmax(x): exp(x) / sum(exp(x)) over the last axis, stable",
    .args = op_x_arg,
    .nargs = 1,
    .lower = softmax_lower,
    .forward = softmax_forward,
    .backward = softmax_backward,
    .torch = softmax_torch,
};

const OpInfo op_log_softmax = {
    .summary = "log_softmax(x): x - log(sum(exp(x))) over the last axis, stable",
    .args = op_x_arg,
    .nargs = 1,
    .lower = log_softmax_lower,
    .forward = log_softmax_forward,
    .backward = log_softmax_backward,
    .torch = log_softmax_torch,
};
