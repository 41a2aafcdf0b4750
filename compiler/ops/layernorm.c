/* ops/layernorm.c: layer normalization, torch.nn.LayerNorm.
 *
 *   layernorm(x, dims = 1, eps = 1e-5, affine = true)
 *
 * Normalizes each sample over its last `dims` dimensions: PyTorch's
 * normalized_shape = x.shape[-dims:] (the batch dimension never counts).
 * With x per sample [lead..., norm...], every one of the n * lead rows of
 * cols = prod(norm) values gets its own mean and biased variance:
 *
 *   forward   y = (x - mean) rstd weight + bias,  rstd = 1/sqrt(var + eps)
 *   backward  g = dy weight; dx = rstd (g - mean(g) - xh mean(g xh))
 *             dweight = sum over rows dy xh, dbias = sum over rows dy
 *
 * weight and bias have the normalized shape (ones and zeros at first;
 * none with affine = false). The same in training and inference. The loops
 * are runtime kernels (runtime/kernels/norm.h).
 *
 * Attributes: LayernormAttr. Scratch: mean and rstd, one per row (SAVED,
 * `lead` values per sample).
 */
#include "ops.h"

typedef struct LayernormAttr {
    int dims;
    double eps;
    bool affine;
    int lead, cols;           /* rows per sample, values per row */
} LayernormAttr;

static LayernormAttr *attr(const Node *n)
{
    return n->attr;
}

static const ArgSpec layernorm_args[] = {
    {.name = "x", .kind = ARG_TENSOR},
    {.name = "dims", .kind = ARG_INT, .optional = true, .def = 1, .has_min = true, .min = 1,
     .range_msg = "layernorm's dims (how many trailing dimensions to normalize) must be at least 1"},
    {.name = "eps", .kind = ARG_NUMBER, .optional = true, .def = 1e-5, .has_min = true,
     .min = 0, .min_open = true, .range_msg = "layernorm's eps must be positive"},
    {.name = "affine", .kind = ARG_BOOL, .optional = true, .def = 1},
};

static int layernorm_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    int x = a[0].node;
    int dims = (int)a[1].num;
    if (x >= 0 && a[1].expr) {
        Shape xs = build_get(b, x)->shape;
        if (dims > xs.rank) {
            build_value_error(b, a[1].expr->loc,
                              "layernorm normalizes over the last %d dimensions, but '%s' has "
                              "only %d: shape %s (the batch dimension does not count)",
                              dims, build_expr_text(b, a[0].expr), xs.rank,
                              shape_str(b->arena, xs));
            build_note_shape(b, x, "input");
            ok = false;
        }
    }
    if (!ok)
        return -1;
    Node *node = build_get(b, op_unary_node(b, OP_LAYERNORM, call, x));
    LayernormAttr *at = build_attr(b, node, sizeof(LayernormAttr));
    at->dims = dims;
    at->eps = a[2].num;
    at->affine = a[3].num != 0;
    Shape norm = {.rank = dims};
    at->cols = 1;
    for (int k = 0; k < dims; k++) {
        norm.dim[k] = node->shape.dim[node->shape.rank - dims + k];
        at->cols *= norm.dim[k];
    }
    at->lead = shape_size(node->shape) / at->cols;
    if (at->affine) {
        int w = build_param(b, node, "weight", norm, call->loc);
        Param *wp = &b->ir->params.items[w];
        wp->init = INIT_ONES;   /* PyTorch's: the identity at first */
        wp->fan_in = wp->fan_out = at->cols;
        int k = build_param(b, node, "bias", norm, call->loc);   /* zeros */
        b->ir->params.items[k].fan_in = b->ir->params.items[k].fan_out = at->cols;
    }
    node->scratch_size[0] = (size_t)at->lead;
    node->scratch_size[1] = (size_t)at->lead;
    return node->id;
}

static void layernorm_forward(Emit *e, const Node *n)
{
    const LayernormAttr *at = attr(n);
    char eps[32];
    const char *mean = emit_scratch(e, n->id, 0), *rstd = emit_scratch(e, n->id, 1);
    emit_line(e, "/* %d rows per sample of %d values; per-row mean and rstd into %s, %s */",
              at->lead, at->cols, mean, rstd);
    emit_line(e, "dlrt_layernorm_forward_%s(%s, %s, %s, %s, %s, %s, n * %d, %d, %s);", op_prec(e),
              emit_buf(e, n->id), mean, rstd, emit_buf(e, n->in[0]),
              at->affine ? emit_param(e, n->param[0]) : "NULL",
              at->affine ? emit_param(e, n->param[1]) : "NULL", at->lead, at->cols,
              op_double(eps, at->eps));
}

static void layernorm_backward(Emit *e, const Node *n, const bool *accumulate)
{
    const LayernormAttr *at = attr(n);
    const char *dw, *db;
    bool acc = op_pair_grads(e, n, at->affine, &dw, &db);
    bool dx_wanted = op_needs_grad(e, n->in[0]), dparams = strcmp(dw, "NULL") != 0;
    if (!dx_wanted && !dparams)
        return;
    emit_line(e, "/* per row (xh = (x - mean) rstd):%s%s%s */",
              dx_wanted ? " dx = rstd (g - mean g - xh mean(g xh)), g = dy w" : "",
              dx_wanted && dparams ? ";" : "", dparams ? " dw = sum dy xh, db = sum dy over rows" : "");
    emit_line(e, "dlrt_layernorm_backward_%s(%s, %s, %s, %s, %s, %s, %s, %s, n * %d, %d, %d, %d);",
              op_prec(e), dx_wanted ? emit_grad(e, n->in[0]) : "NULL", dw, db,
              emit_grad(e, n->id), emit_buf(e, n->in[0]), emit_scratch(e, n->id, 0),
              emit_scratch(e, n->id, 1), at->affine ? emit_param(e, n->param[0]) : "NULL",
              at->lead, at->cols, dx_wanted && accumulate[0], acc);
}

static void layernorm_torch(TorchEmit *t, const Node *n)
{
    const LayernormAttr *at = attr(n);
    char eps[32];
    const char *x = torch_name(t, n->in[0]);
    /* normalized_shape: the last dims of x, spelled out. */
    char shape[128] = "";
    size_t len = 0;
    for (int k = 0; k < at->dims && len < sizeof shape - 16; k++)
        len += (size_t)snprintf(shape + len, sizeof shape - len, "%d, ",
                                n->shape.dim[n->shape.rank - at->dims + k]);
    torch_line(t, "%s = F.layer_norm(%s, (%s), %s, %s, %s)", torch_name(t, n->id), x, shape,
               at->affine ? torch_param(t, n->param[0]) : "None",
               at->affine ? torch_param(t, n->param[1]) : "None", op_double(eps, at->eps));
}

static void layernorm_dump(FILE *out, const Node *n)
{
    fprintf(out, " dims=%d rows=%d cols=%d eps=%g%s", attr(n)->dims, attr(n)->lead,
            attr(n)->cols, attr(n)->eps, attr(n)->affine ? "" : " no-affine");
}

/* As batchnorm's: 3 multiply-adds per element (mean, variance, normalize). */
static double layernorm_flops(const IR *ir, const Node *n)
{
    (void)ir;
    return 6.0 * shape_size(n->shape);
}

const OpInfo op_layernorm = {
    .summary = "layernorm(x, dims=1, eps=1e-5, affine=true): layer normalization over the last "
               "dims dimensions (nn.LayerNorm(x.shape[-dims:]))",
    .args = layernorm_args,
    .nargs = 4,
    .lower = layernorm_lower,
    .forward = layernorm_forward,
    .backward = layernorm_backward,
    .torch = layernorm_torch,
    .dump = layernorm_dump,
    .flops = layernorm_flops,
    .scratch = (const ScratchSpec[]){{"mean", SCRATCH_SAVED, SCRATCH_REAL},
                                     {"rstd", SCRATCH_SAVED, SCRATCH_REAL}},
    .nscratch = 2,
};
