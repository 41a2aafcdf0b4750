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
 */
#include "ops.h"

static int softmax_lower_op(Lower *l, const Expr *call, const ArgVal *a, bool ok, OpKind op,
                            const char *name)
{
    if (!ok)
        return -1;
    int x = a[0].node;
    if (lower_get(l, x)->shape.rank == 0) {
        diag_error(lower_diag(l), a[0].expr->loc,
                   "%s works over the last axis, but '%s' is one number per sample",
                   name, op_expr_text(l, a[0].expr));
        lower_note_shape(l, x, "input");
        return -1;
    }
    return op_unary_node(l, op, call, x);
}

static int softmax_lower(Lower *l, const Expr *call, const ArgVal *a, bool ok)
{
    return softmax_lower_op(l, call, a, ok, OP_SOFTMAX, "softmax");
}

static int log_softmax_lower(Lower *l, const Expr *call, const ArgVal *a, bool ok)
{
    return softmax_lower_op(l, call, a, ok, OP_LOG_SOFTMAX, "log_softmax");
}

/* Row length C (the last axis) and rows per sample. */
static void rows_of(const Node *n, int *cols, int *rows)
{
    *cols = n->shape.dim[n->shape.rank - 1];
    *rows = shape_size(n->shape) / *cols;
}

/* "n" or "n * 4": the number of rows in the batch. */
static void emit_row_loop(Emit *e, int rows)
{
    if (rows == 1)
        emit_line(e, "for (int r = 0; r < n; r++) {");
    else
        emit_line(e, "for (int r = 0; r < n * %d; r++) {", rows);
}

static void softmax_forward_op(Emit *e, const Node *n, bool log)
{
    int c, rows;
    rows_of(n, &c, &rows);
    const char *x = emit_buf(e, n->in[0]), *y = emit_buf(e, n->id);
    const char *real = emit_real(e);
    emit_line(e, "/* row r is %s[r * %d + j], j < %d: subtract its max, exponentiate, %s */",
              x, c, c, log ? "take the log of the sum" : "normalize");
    emit_row_loop(e, rows);
    emit_indent(e, 1);
    emit_line(e, "const %s *xr = %s + r * %d;", real, x, c);
    emit_line(e, "%s *yr = %s + r * %d;", real, y, c);
    emit_line(e, "%s max = xr[0];", real);
    emit_line(e, "for (int j = 1; j < %d; j++)   /* a NaN wins: the row is NaN */", c);
    emit_line(e, "    max = xr[j] > max || isnan(xr[j]) ? xr[j] : max;");
    emit_line(e, "%s sum = 0;", real);
    if (log) {
        emit_line(e, "for (int j = 0; j < %d; j++)", c);
        emit_line(e, "    sum += %s(xr[j] - max);", emit_fn(e, "exp"));
        emit_line(e, "const %s lse = %s(sum);", real, emit_fn(e, "log"));
        emit_line(e, "for (int j = 0; j < %d; j++)", c);
        emit_line(e, "    yr[j] = (xr[j] - max) - lse;");
    } else {
        emit_line(e, "for (int j = 0; j < %d; j++) {", c);
        emit_line(e, "    yr[j] = %s(xr[j] - max);", emit_fn(e, "exp"));
        emit_line(e, "    sum += yr[j];");
        emit_line(e, "}");
        emit_line(e, "for (int j = 0; j < %d; j++)", c);
        emit_line(e, "    yr[j] /= sum;");
    }
    emit_indent(e, -1);
    emit_line(e, "}");
}

static void softmax_forward(Emit *e, const Node *n)
{
    softmax_forward_op(e, n, false);
}

static void log_softmax_forward(Emit *e, const Node *n)
{
    softmax_forward_op(e, n, true);
}

static void softmax_backward_op(Emit *e, const Node *n, const bool *accumulate, bool log)
{
    if (!emit_ir(e)->nodes.items[n->in[0]]->needs_grad)
        return;
    int c, rows;
    rows_of(n, &c, &rows);
    const char *y = emit_buf(e, n->id), *dy = emit_grad(e, n->id);
    const char *dx = emit_grad(e, n->in[0]);
    const char *real = emit_real(e), *set = op_assign(accumulate[0]);
    emit_line(e, "/* row by row: %s[r * %d + j] %s from %s and %s */", dx, c, set, y, dy);
    emit_row_loop(e, rows);
    emit_indent(e, 1);
    emit_line(e, "const %s *yr = %s + r * %d, *dyr = %s + r * %d;", real, y, c, dy, c);
    emit_line(e, "%s *dxr = %s + r * %d;", real, dx, c);
    emit_line(e, "%s dot = 0;", real);
    if (log) {
        emit_line(e, "for (int j = 0; j < %d; j++)   /* dot = sum_k dy_k */", c);
        emit_line(e, "    dot += dyr[j];");
        emit_line(e, "for (int j = 0; j < %d; j++)", c);
        emit_line(e, "    dxr[j] %s dyr[j] - %s(yr[j]) * dot;", set, emit_fn(e, "exp"));
    } else {
        emit_line(e, "for (int j = 0; j < %d; j++)   /* dot = sum_k dy_k y_k */", c);
        emit_line(e, "    dot += dyr[j] * yr[j];");
        emit_line(e, "for (int j = 0; j < %d; j++)", c);
        emit_line(e, "    dxr[j] %s yr[j] * (dyr[j] - dot);", set);
    }
    emit_indent(e, -1);
    emit_line(e, "}");
}

static void softmax_backward(Emit *e, const Node *n, const bool *accumulate)
{
    softmax_backward_op(e, n, accumulate, false);
}

static void log_softmax_backward(Emit *e, const Node *n, const bool *accumulate)
{
    softmax_backward_op(e, n, accumulate, true);
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
