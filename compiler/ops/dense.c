/* ops/dense.c: the fully connected layer.
 *
 *   dense(x, units, bias = true, init = ..., lr = ..., weight_decay = ...)
 *
 * x is a vector per sample, [in]; the result is [units]. The weight W is
 * [units, in] (PyTorch's nn.Linear layout) and the bias b is [units]:
 *
 *   forward   Y[n,out] = X[n,in] W^T + b            one GEMM + a bias loop
 *   backward  dW[out,in] (+)= dY^T X                 GEMM
 *             db[out]    (+)= column sums of dY
 *             dX[n,in]   (+)= dY W                   GEMM, only if X needs it
 *
 * Node attributes: i[0] = units, i[1] = has bias; param[0] = W, param[1] = b
 * (-1 without bias).
 */
#include "ops.h"

#include <math.h>

/* Sizes the layer may not exceed: every index in the emitted code is an int. */
#define DENSE_MAX_ELEMS 1000000000L

static bool is_bool(double v)
{
    return v == 0 || v == 1;
}

static int dense_lower(Lower *l, const Expr *call)
{
    static const char *const names[] = {"x", "units", "bias", "init", "lr", "weight_decay"};
    const Expr *arg[6];
    if (!lower_bind_args(l, call, names, 6, 2, arg))
        return -1;
    Diag *d = lower_diag(l);
    bool ok = true;

    int x = op_real_arg(l, arg[0], "dense");
    ok &= x >= 0;

    long units = 0;
    if (!lower_int(l, arg[1], &units)) {
        ok = false;
    } else if (units <= 0) {
        lower_value_error(l, arg[1]->loc, "dense needs a positive number of units, got %ld", units);
        ok = false;
    }

    double bias = 1;
    if (arg[2]) {
        if (!lower_number(l, arg[2], &bias)) {
            ok = false;
        } else if (!is_bool(bias)) {
            lower_value_error(l, arg[2]->loc, "bias must be true or false, got %g", bias);
            ok = false;
        }
    }

    InitKind init = INIT_DEFAULT;
    double init_arg = 0;
    if (arg[3] && !lower_init(l, arg[3], &init, &init_arg))
        ok = false;

    double lr = -1;   /* < 0: the optimizer's */
    if (arg[4]) {
        if (!lower_number(l, arg[4], &lr)) {
            ok = false;
        } else if (!(lr > 0) || !isfinite(lr)) {
            lower_value_error(l, arg[4]->loc, "lr must be a positive number, got %g", lr);
            ok = false;
        } else if (!lower_float_ok(l, arg[4]->loc, lr)) {
            ok = false;
        }
    }

    double decay = -1;   /* < 0: the train block's */
    if (arg[5]) {
        if (!lower_number(l, arg[5], &decay)) {
            ok = false;
        } else if (!(decay >= 0) || !isfinite(decay)) {
            lower_value_error(l, arg[5]->loc, "weight_decay must be zero or positive, got %g", decay);
            ok = false;
        } else if (!lower_float_ok(l, arg[5]->loc, decay)) {
            ok = false;
        }
    }

    /* The shape rule: a vector in, a vector of `units` out. */
    int in = 0;
    if (x >= 0) {
        Shape xs = lower_get(l, x)->shape;
        if (xs.rank != 1) {
            diag_error(d, arg[0]->loc, "dense expects a vector per sample, '%s' has shape %s",
                       op_expr_text(l, arg[0]), shape_str(lower_arena(l), xs));
            lower_note_shape(l, x, "input");
            if (xs.rank > 1)
                diag_note(d, arg[0]->loc, "flatten(%s) makes it a vector",
                          op_expr_text(l, arg[0]));
            ok = false;
        } else {
            in = xs.dim[0];
        }
    }
    if (ok && (long)in * units > DENSE_MAX_ELEMS) {
        lower_value_error(l, call->loc, "dense layer too large: %d x %ld weights", in, units);
        ok = false;
    }
    if (!ok)
        return -1;

    Node *node = lower_node(l, OP_DENSE, call);
    node->in[0] = x;
    node->nin = 1;
    node->shape = (Shape){.rank = 1, .dim = {(int)units}};
    node->batched = true;
    node->i[0] = (int)units;
    node->i[1] = bias != 0;

    /* lower_param may grow the params vector: look entries up afresh. */
    IR *ir = lower_ir(l);
    int w = lower_param(l, "w", (Shape){.rank = 2, .dim = {(int)units, in}}, call->loc);
    Param *wp = &ir->params.items[w];
    wp->init = init;
    wp->init_arg = init_arg;
    wp->fan_in = in;
    wp->fan_out = (int)units;
    wp->lr = lr;
    wp->weight_decay = decay;
    wp->is_bias = false;
    wp->init_explicit = arg[3] != NULL;
    wp->lr_explicit = arg[4] != NULL;
    wp->weight_decay_explicit = arg[5] != NULL;
    node->param[0] = w;
    node->param[1] = -1;
    if (bias != 0) {
        int b = lower_param(l, "b", (Shape){.rank = 1, .dim = {(int)units}}, call->loc);
        Param *bp = &ir->params.items[b];
        bp->init = INIT_ZEROS;   /* biases always start at zero */
        bp->init_arg = 0;
        bp->fan_in = in;
        bp->fan_out = (int)units;
        bp->lr = lr;
        bp->weight_decay = decay;
        bp->is_bias = true;
        bp->lr_explicit = arg[4] != NULL;
        bp->weight_decay_explicit = arg[5] != NULL;
        node->param[1] = b;
    }
    return node->id;
}

static void dense_forward(Emit *e, const Node *n)
{
    int out = n->i[0], in = emit_ir(e)->nodes.items[n->in[0]]->shape.dim[0];
    const char *x = emit_buf(e, n->in[0]), *y = emit_buf(e, n->id);
    const char *w = emit_param(e, n->param[0]);
    emit_line(e, "/* %s[n,%d] = %s[n,%d] %s[%d,%d]^T%s%s */", y, out, x, in, w, out, in,
              n->param[1] >= 0 ? " + " : "",
              n->param[1] >= 0 ? emit_param(e, n->param[1]) : "");
    emit_line(e, "%s(CblasRowMajor, CblasNoTrans, CblasTrans, n, %d, %d, %s, %s, %d, %s, %d, %s, %s, %d);",
              emit_gemm(e), out, in, emit_lit(e, 1), x, in, w, in, emit_lit(e, 0), y, out);
    if (n->param[1] < 0)
        return;
    const char *b = emit_param(e, n->param[1]);
    emit_line(e, "for (int i = 0; i < n; i++)");
    emit_line(e, "    for (int j = 0; j < %d; j++)", out);
    emit_line(e, "        %s[i * %d + j] += %s[j];", y, out, b);
}

static void dense_backward(Emit *e, const Node *n, const bool *accumulate)
{
    const Node *xn = emit_ir(e)->nodes.items[n->in[0]];
    int out = n->i[0], in = xn->shape.dim[0];
    const char *x = emit_buf(e, n->in[0]), *dy = emit_grad(e, n->id);
    const char *w = emit_param(e, n->param[0]);

    bool acc_w = emit_param_accumulate(e, n->param[0]);
    const char *dw = emit_param_grad(e, n->param[0]);
    emit_line(e, "/* %s[%d,%d] %s %s[n,%d]^T %s[n,%d] */", dw, out, in, op_assign(acc_w), dy, out, x, in);
    emit_line(e, "%s(CblasRowMajor, CblasTrans, CblasNoTrans, %d, %d, n, %s, %s, %d, %s, %d, %s, %s, %d);",
              emit_gemm(e), out, in, emit_lit(e, 1), dy, out, x, in,
              emit_lit(e, acc_w ? 1 : 0), dw, in);

    if (n->param[1] >= 0) {
        bool acc_b = emit_param_accumulate(e, n->param[1]);
        const char *db = emit_param_grad(e, n->param[1]);
        emit_line(e, "/* %s[%d] %s column sums of %s[n,%d], row by row for the cache */",
                  db, out, op_assign(acc_b), dy, out);
        if (!acc_b)
            emit_line(e, "memset(%s, 0, %d * sizeof *%s);", db, out, db);
        emit_line(e, "for (int i = 0; i < n; i++)");
        emit_line(e, "    for (int j = 0; j < %d; j++)", out);
        emit_line(e, "        %s[j] += %s[i * %d + j];", db, dy, out);
    }

    if (xn->needs_grad) {
        const char *dx = emit_grad(e, n->in[0]);
        emit_line(e, "/* %s[n,%d] %s %s[n,%d] %s[%d,%d] */", dx, in, op_assign(accumulate[0]),
                  dy, out, w, out, in);
        emit_line(e, "%s(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, %d, %d, %s, %s, %d, %s, %d, %s, %s, %d);",
                  emit_gemm(e), in, out, emit_lit(e, 1), dy, out, w, in,
                  emit_lit(e, accumulate[0] ? 1 : 0), dx, in);
    }
}

static void dense_torch(TorchEmit *t, const Node *n)
{
    if (n->param[1] >= 0)
        torch_line(t, "%s = F.linear(%s, %s, %s)", torch_name(t, n->id), torch_name(t, n->in[0]),
                   torch_param(t, n->param[0]), torch_param(t, n->param[1]));
    else
        torch_line(t, "%s = F.linear(%s, %s)", torch_name(t, n->id), torch_name(t, n->in[0]),
                   torch_param(t, n->param[0]));
}

static void dense_dump(FILE *out, const Node *n)
{
    fprintf(out, " units=%d%s", n->i[0], n->i[1] ? "" : " no-bias");
}

/* 2 in out per sample: one multiply-add per weight. */
static double dense_flops(const IR *ir, const Node *n)
{
    return n->param[0] >= 0 ? 2.0 * (double)ir->params.items[n->param[0]].size : 0;
}

const OpInfo op_dense = {
    .summary = "dense(x, units, bias=true, init=, lr=, weight_decay=): x W^T + b, W is [units, in]",
    .lower = dense_lower,
    .forward = dense_forward,
    .backward = dense_backward,
    .torch = dense_torch,
    .dump = dense_dump,
    .flops = dense_flops,
};
