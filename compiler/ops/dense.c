/* ops/dense.c: the fully connected layer.
 *
 *   dense(x, units, bias = true, per_step = false, density = 1, mask_seed = 1,
 *         init = ..., lr = ..., weight_decay = ...)
 *
 * x is a vector per sample, [in]; the result is [units]. With per_step =
 * true x is a sequence [T, in] (or [T, ..., in]) and the same layer applies
 * at every step, [T, units]: nn.Linear on the last dim, one GEMM over the
 * n T rows (n below reads n T). The weight W is
 * [units, in] (PyTorch's nn.Linear layout) and the bias b is [units]:
 *
 *   forward   Y[n,out] = X[n,in] W^T + b            dlrt_dense_forward + dlrt_bias_forward
 *             (runtime/kernels/dense.h: for few rows, n dot products per
 *             weight row, each row read once; else one GEMM)
 *   backward  dW[out,in] (+)= dY^T X                 GEMM
 *             db[out]    (+)= column sums of dY      dlrt_bias_backward
 *             dX[n,in]   (+)= dY W                   GEMM, only if X needs it
 *
 * (The bias kernels are runtime/kernels/bias.h, shared with convolutions.)
 *
 * density < 1: a fixed random connectivity mask on W (op_mask_* below,
 * shared with conv.c): exactly round(density * count) weights kept, chosen
 * from mask_seed by runtime/kernels/mask.h's dlrt_sparse_mask at create and
 * load (which zero the others); the mask is the STATE tensor weight_mask.
 * The kernels read a masked copy of W (the WORKSPACE scratch "wmask",
 * a select), and the weight gradient is masked by a select after its GEMM,
 * so masked weights get exactly 0 and no optimizer moves them. The twin
 * reads W.masked_fill(weight_mask == 0, 0), the same select.
 *
 * Attributes: DenseAttr (units, bias, steps); parameters W, then b
 * unless bias = false (nparam 2 or 1); the mask's STATE tensor state[0].
 */
#include "ops.h"

#include <math.h>

/* dense's attributes (node->attr). */
typedef struct DenseAttr {
    int units;
    bool bias;
    int steps;             /* rows per sample: 1, or T (and any dims before in) with per_step */
    OpMask mask;           /* density < 1: the connectivity mask */
} DenseAttr;

static DenseAttr *attr(const Node *n)
{
    return n->attr;
}

/* Sizes the layer may not exceed: every index in the emitted code is an int. */
#define DENSE_MAX_ELEMS 1000000000L

static const ArgSpec dense_args[] = {
    {.name = "x", .kind = ARG_TENSOR},
    {.name = "units", .kind = ARG_INT, .has_min = true, .min = 0, .min_open = true,
     .range_msg = "dense needs a positive number of units"},
    {.name = "bias", .kind = ARG_BOOL, .optional = true, .def = 1},
    {.name = "per_step", .kind = ARG_BOOL, .optional = true, .def = 0},
    OP_MASK_ARGS,
    /* init, lr, weight_decay, trainable: the layer arguments sema adds (OPF_PARAMS) */
};

static int dense_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    Diag *d = b->diag;
    int x = a[0].node;
    long units = (long)a[1].num;
    bool bias = a[2].num != 0, per_step = a[3].num != 0;

    /* The shape rule: a vector in, a vector of `units` out; with per_step,
     * a sequence in, `units` per step out. Checked even when another
     * argument failed, to report everything at once. */
    int in = 0, steps = 1;
    Shape xs = {0};
    if (x >= 0) {
        const Expr *xe = a[0].expr;
        const char *xt = build_expr_text(b, xe);
        xs = build_get(b, x)->shape;
        if (per_step && xs.rank < 2) {
            diag_error(d, a[3].expr->loc, "dense's per_step applies the layer at every step of a "
                       "sequence [T, in], but '%s' has shape %s", xt, shape_str(b->arena, xs));
            build_note_shape(b, x, "input");
            if (xs.rank == 1)
                diag_note(d, a[3].expr->loc, "without per_step, dense(%s, %ld) takes the vector "
                          "as it is", xt, units);
            ok = false;
        } else if (per_step) {
            in = xs.dim[xs.rank - 1];
            steps = shape_size(xs) / in;
        } else if (xs.rank != 1) {
            diag_error(d, xe->loc, "dense expects a vector per sample, '%s' has shape %s",
                       xt, shape_str(b->arena, xs));
            build_note_shape(b, x, "input");
            if (xs.rank == 2) {
                diag_note(d, xe->loc, "dense(%s, %ld, per_step = true) applies it at every step "
                          "([%d, %ld])", xt, units, xs.dim[0], units);
                diag_note(d, xe->loc, "step(%s, -1) takes the last step ([%d])", xt, xs.dim[1]);
            }
            if (xs.rank > 1)
                diag_note(d, xe->loc, "flatten(%s) makes it one vector ([%d])", xt, shape_size(xs));
            ok = false;
        } else {
            in = xs.dim[0];
        }
    }
    if (ok && (long)in * units > DENSE_MAX_ELEMS) {
        build_value_error(b, call->loc, "dense layer too large: %d x %ld weights", in, units);
        ok = false;
    }
    if (ok && !op_mask_check(b, call, &a[4], (long)in * units))
        ok = false;
    if (!ok)
        return -1;

    Node *node = build_node(b, OP_DENSE, call);
    node->in[0] = x;
    node->nin = 1;
    node->shape = (Shape){.rank = 1, .dim = {(int)units}};
    if (per_step) {   /* [T, ..., in] -> [T, ..., units] */
        node->shape = xs;
        node->shape.dim[xs.rank - 1] = (int)units;
    }
    node->batched = true;
    build_attr(b, node, sizeof(DenseAttr));
    attr(node)->units = (int)units;
    attr(node)->bias = bias;
    attr(node)->steps = steps;
    /* fan_in = in, fan_out = units: build_param reads them off [units, in]. */
    int wk = build_param(b, node, "weight", (Shape){.rank = 2, .dim = {(int)units, in}}, call->loc);
    if (op_mask_bind(b, node, wk, &a[4], call, &attr(node)->mask)) {
        node->scratch_size[0] = (size_t)in * (size_t)units;
        node->scratch_whole[0] = true;
        node->hyper_set = a[4].expr != NULL;
        node->hyper_loc = a[4].expr ? a[4].expr->loc : call->loc;
    }
    if (bias) {
        int k = build_param(b, node, "bias", (Shape){.rank = 1, .dim = {(int)units}}, call->loc);
        Param *bp = &b->ir->params.items[k];
        bp->init = INIT_ZEROS;   /* biases always start at zero */
        bp->fan_in = in;
        bp->fan_out = (int)units;
    }
    return node->id;
}

/* The GEMMs' row count: "n", or "n * T" at every step of a sequence. */
typedef struct Rows {
    char text[32];
} Rows;

static Rows rows_of(const Node *n)
{
    Rows r;
    if (attr(n)->steps > 1)
        snprintf(r.text, sizeof r.text, "n * %d", attr(n)->steps);
    else
        snprintf(r.text, sizeof r.text, "n");
    return r;
}

/* in: the last dim of x. */
static int in_of(Emit *e, const Node *n)
{
    Shape xs = emit_ir(e)->nodes.items[n->in[0]]->shape;
    return xs.dim[xs.rank - 1];
}

bool dense_splits(const IR *ir, const Node *n, int *out, int *in)
{
    if (n->op != OP_DENSE || attr(n)->steps > 1 || attr(n)->mask.density < 1)
        return false;
    Shape xs = ir->nodes.items[n->in[0]]->shape;
    *out = attr(n)->units;
    *in = xs.dim[xs.rank - 1];
    return shape_size(xs) == *in;
}

/* A thread's part of a forward pass on a pool (emit_in_part): rows first
 * .. first + count - 1 of W times the one sample, and their bias. */
static void dense_forward_part(Emit *e, const Node *n)
{
    int out = attr(n)->units, in = in_of(e, n);
    const char *x = emit_buf(e, n->in[0]), *y = emit_buf(e, n->id);
    const char *w = emit_param(e, n->param[0]);
    emit_line(e, "/* %s[first .. first + count - 1] = %s[first .. first + count - 1, :] %s[%d]%s%s */",
              y, w, x, in, n->nparam > 1 ? " + " : "", n->nparam > 1 ? emit_param(e, n->param[1]) : "");
    emit_line(e, "dlrt_dense_rows_%s(%s, %s, %s, %d, %d, first, count);", op_prec(e), y, x, w, out,
              in);
    if (n->nparam > 1)
        emit_line(e, "dlrt_bias_forward_%s(%s + first, %s + first, 1, count, 1);", op_prec(e), y,
                  emit_param(e, n->param[1]));
}

static void dense_forward(Emit *e, const Node *n)
{
    if (emit_in_part(e)) {
        dense_forward_part(e, n);
        return;
    }
    int out = attr(n)->units, in = in_of(e, n);
    const char *x = emit_buf(e, n->in[0]), *y = emit_buf(e, n->id);
    const char *w = op_mask_weight(e, n, n->param[0], 0);
    Rows r = rows_of(n);
    const char *rows = r.text;
    if (attr(n)->steps > 1)
        emit_line(e, "/* at each of %d steps: %s[n,t,%d] = %s[n,t,%d] %s[%d,%d]^T%s%s */",
                  attr(n)->steps, y, out, x, in, w, out, in, n->nparam > 1 ? " + " : "",
                  n->nparam > 1 ? emit_param(e, n->param[1]) : "");
    else
        emit_line(e, "/* %s[n,%d] = %s[n,%d] %s[%d,%d]^T%s%s */", y, out, x, in, w, out, in,
                  n->nparam > 1 ? " + " : "",
                  n->nparam > 1 ? emit_param(e, n->param[1]) : "");
    /* SMALL (few rows: n dot products per weight row) or GEMM, by the
     * row count at run time, SMALL's rows split over the workspace's pool
     * when one is attached (runtime/kernels/dense.h) */
    emit_line(e, "dlrt_dense_forward_pool_%s(%s, %s, %s, %s, %d, %d, %s);", op_prec(e), y, x, w,
              rows, out, in, emit_pool(e));
    if (n->nparam < 2)
        return;
    emit_line(e, "dlrt_bias_forward_%s(%s, %s, %s, %d, 1);", op_prec(e), y,
              emit_param(e, n->param[1]), rows, out);
}

static void dense_backward(Emit *e, const Node *n, const bool *accumulate)
{
    const Node *xn = emit_ir(e)->nodes.items[n->in[0]];
    int out = attr(n)->units, in = in_of(e, n);
    Rows r = rows_of(n);
    const char *rows = r.text;
    const char *x = emit_buf(e, n->in[0]), *dy = emit_grad(e, n->id);
    const char *w;

    /* A frozen layer (trainable = false) passes the gradient through to
     * its input but computes none for its own parameters. */
    const IR *ir = emit_ir(e);
    if (ir->params.items[n->param[0]].trained) {
        bool acc_w = emit_param_accumulate(e, n->param[0]);
        const char *dw = emit_param_grad(e, n->param[0]);
        emit_line(e, "/* %s[%d,%d] %s %s[%s,%d]^T %s[%s,%d] */", dw, out, in, op_assign(acc_w), dy,
                  rows, out, x, rows, in);
        emit_line(e, "%s(CblasRowMajor, CblasTrans, CblasNoTrans, %d, %d, %s, %s, %s, %d, %s, %d, %s, %s, %d);",
                  emit_gemm(e), out, in, rows, emit_lit(e, 1), dy, out, x, in,
                  emit_lit(e, acc_w ? 1 : 0), dw, in);
        op_mask_grad(e, n->param[0]);
    }

    if (n->nparam > 1 && ir->params.items[n->param[1]].trained) {
        bool acc_b = emit_param_accumulate(e, n->param[1]);
        const char *db = emit_param_grad(e, n->param[1]);
        emit_line(e, "/* %s[%d] %s column sums of %s[%s,%d] */", db, out, op_assign(acc_b), dy, rows,
                  out);
        emit_line(e, "dlrt_bias_backward_%s(%s, %s, %s, %d, 1, %d);", op_prec(e), db, dy, rows, out,
                  acc_b);
    }

    if (xn->needs_grad) {
        const char *dx = emit_grad(e, n->in[0]);
        w = op_mask_weight(e, n, n->param[0], 0);
        emit_line(e, "/* %s[%s,%d] %s %s[%s,%d] %s[%d,%d] */", dx, rows, in, op_assign(accumulate[0]),
                  dy, rows, out, w, out, in);
        emit_line(e, "%s(CblasRowMajor, CblasNoTrans, CblasNoTrans, %s, %d, %d, %s, %s, %d, %s, %d, %s, %s, %d);",
                  emit_gemm(e), rows, in, out, emit_lit(e, 1), dy, out, w, in,
                  emit_lit(e, accumulate[0] ? 1 : 0), dx, in);
    }
}

static void dense_torch(TorchEmit *t, const Node *n)
{
    const char *w = op_mask_torch(t, n->param[0], n->nstate ? n->state[0] : -1);
    if (n->nparam > 1)
        torch_line(t, "%s = F.linear(%s, %s, %s)", torch_name(t, n->id), torch_name(t, n->in[0]),
                   w, torch_param(t, n->param[1]));
    else
        torch_line(t, "%s = F.linear(%s, %s)", torch_name(t, n->id), torch_name(t, n->in[0]), w);
}

static void dense_dump(FILE *out, const Node *n)
{
    fprintf(out, " units=%d%s", attr(n)->units, attr(n)->bias ? "" : " no-bias");
    if (attr(n)->steps > 1)
        fprintf(out, " per_step steps=%d", attr(n)->steps);
    if (attr(n)->mask.density < 1)
        fprintf(out, " density=%g keep=%ld mask_seed=%llu", attr(n)->mask.density,
                attr(n)->mask.keep, attr(n)->mask.seed);
}

/* 2 in out per sample (per step): one multiply-add per weight. */
static const char *dense_explain(Arena *a, const Node *n)
{
    return op_mask_explain(a, &attr(n)->mask);
}

static double dense_flops(const IR *ir, const Node *n)
{
    return 2.0 * (double)ir->params.items[n->param[0]].size * attr(n)->steps;
}

/* The masked copy of W (density < 1 only). */
static const ScratchSpec dense_scratch[] = {{"wmask", SCRATCH_WORKSPACE, SCRATCH_REAL}};

const OpInfo op_dense = {
    .summary = "dense(x, units, bias=true, per_step=false, density=1, mask_seed=1, init=, lr=, "
               "weight_decay=, trainable=): x W^T + b, W is [units, in]; per_step: at every step "
               "of [T, in]; density < 1: a fixed random sparse W",
    .args = dense_args,
    .nargs = 6,
    .lower = dense_lower,
    .flags = OPF_PARAMS,
    .forward = dense_forward,
    .backward = dense_backward,
    .torch = dense_torch,
    .dump = dense_dump,
    .explain = dense_explain,
    .flops = dense_flops,
    .scratch = dense_scratch,
    .nscratch = 1,
};

/* ---- connectivity masks (shared with conv.c; ops.h) -------------------- */

/* round(density * count), as the mask keeps them. */
static long mask_keep(double density, long count)
{
    return (long)floor(density * (double)count + 0.5);
}

bool op_mask_check(Build *b, const Expr *call, const ArgVal *a, long count)
{
    double density = a[0].num;
    if (density >= 1 || mask_keep(density, count) >= 1)
        return true;
    Loc at = a[0].expr ? a[0].expr->loc : call->loc;
    build_value_error(b, at, "density %g keeps no weight: round(%g * %ld) = 0", density, density,
                      count);
    diag_note(b->diag, at, "the layer has %ld weights: a density of at least 0.5 / %ld = %g keeps "
              "one", count, count, 0.5 / (double)count);
    return false;
}

bool op_mask_bind(Build *b, Node *node, int weight, const ArgVal *a, const Expr *call,
                  OpMask *out)
{
    Param *w = &b->ir->params.items[weight];
    double density = a[0].num;
    out->density = 1;
    out->count = (long)w->size;
    out->keep = out->count;
    out->seed = (unsigned long long)a[1].num;
    if (density >= 1)
        return false;
    Shape shape = w->shape;
    int st = build_state(b, node, "weight_mask", shape, 0, call->loc);
    w = &b->ir->params.items[weight];   /* build_state may grow nothing but be safe */
    out->density = density;
    out->keep = mask_keep(density, out->count);
    w->has_mask = true;
    w->mask = st;
    w->mask_keep = (size_t)out->keep;
    w->mask_seed = out->seed;
    w->mask_density = density;
    return true;
}

const char *op_mask_weight(Emit *e, const Node *n, int param, int k)
{
    const Param *p = &emit_ir(e)->params.items[param];
    const char *w = emit_param(e, param);
    if (!p->has_mask)
        return w;
    const char *wm = emit_scratch(e, n->id, k), *mask = emit_state(e, p->mask);
    emit_line(e, "/* %s: %s with the %zu of %zu weights its mask drops at zero */", wm, w,
              p->size - p->mask_keep, p->size);
    emit_line(e, "dlrt_mask_select_%s(%s, %s, %s, %zu);", op_prec(e), wm, w, mask, p->size);
    return wm;
}

void op_mask_grad(Emit *e, int param)
{
    const Param *p = &emit_ir(e)->params.items[param];
    if (!p->has_mask)
        return;
    const char *dw = emit_param_grad(e, param);
    emit_line(e, "dlrt_mask_select_%s(%s, %s, %s, %zu);   /* masked weights: gradient 0 */",
              op_prec(e), dw, dw, emit_state(e, p->mask), p->size);
}

const char *op_mask_torch(TorchEmit *t, int param, int state)
{
    static char buf[4][256];
    static int turn;
    if (state < 0)
        return torch_param(t, param);
    char *s = buf[turn++ & 3];
    /* masked_fill: a select, as in the C, so a masked weight's gradient is
     * exactly 0 even when the unmasked one is NaN (w * mask would leak it) */
    snprintf(s, sizeof buf[0], "%s.masked_fill(%s == 0, 0.0)", torch_param(t, param),
             torch_state(t, state));
    return s;
}

const char *op_mask_explain(Arena *a, const OpMask *m)
{
    if (m->density >= 1)
        return NULL;
    return arena_printf(a, "density %g (%ld of %ld weights, mask_seed %llu)", m->density, m->keep,
                        m->count, m->seed);
}
