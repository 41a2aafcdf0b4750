/* ops/table.c: the op table, indexed by OpKind, and the helpers the op files
 * share. Adding an op: a row in ops.def, its `const OpInfo op_<name>` in
 * ops/<family>.c, and one line in the table below. */
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>

extern const OpInfo op_input;
extern const OpInfo op_dense;
extern const OpInfo op_relu, op_leaky_relu, op_sigmoid, op_tanh;
extern const OpInfo op_softmax, op_log_softmax;
extern const OpInfo op_dropout;
extern const OpInfo op_add, op_sub, op_mul, op_affine;
extern const OpInfo op_flatten;
extern const OpInfo op_cross_entropy, op_mse, op_l1;

static const OpInfo *const op_table[OP__COUNT] = {
    [OP_INPUT] = &op_input,
    [OP_DENSE] = &op_dense,
    [OP_RELU] = &op_relu,
    [OP_LEAKY_RELU] = &op_leaky_relu,
    [OP_SIGMOID] = &op_sigmoid,
    [OP_TANH] = &op_tanh,
    [OP_SOFTMAX] = &op_softmax,
    [OP_LOG_SOFTMAX] = &op_log_softmax,
    [OP_DROPOUT] = &op_dropout,
    [OP_ADD] = &op_add,
    [OP_SUB] = &op_sub,
    [OP_MUL] = &op_mul,
    [OP_AFFINE] = &op_affine,
    [OP_FLATTEN] = &op_flatten,
    [OP_CROSS_ENTROPY] = &op_cross_entropy,
    [OP_MSE] = &op_mse,
    [OP_L1] = &op_l1,
};

const OpInfo *op_info(OpKind k)
{
    if ((int)k < 0 || k >= OP__COUNT || !op_table[k])
        abort();   /* a row of ops.def without its OpInfo: a compiler bug */
    return op_table[k];
}

/* Callable ops are the ones with a .net name and a lowering: internal ops
 * (input placeholders, the arithmetic behind + - * /) have a name for
 * dumps but cannot be called. */
static bool callable(const OpInfo *op)
{
    return op && op->name && op->lower;
}

const OpInfo *op_lookup(const char *name)
{
    for (int k = 0; k < OP__COUNT; k++)
        if (callable(op_table[k]) && strcmp(op_table[k]->name, name) == 0)
            return op_table[k];
    return NULL;
}

/* The callable names, for "did you mean" suggestions; keep in step with
 * the table (every op with a name and a lowering). */
static const char *const callable_names[] = {
    "dense", "relu", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax",
    "dropout", "flatten", "cross_entropy", "mse", "l1", NULL,
};

const char *const *op_names(void)
{
    return callable_names;
}

/* ---- helpers for op files ------------------------------------------------ */

const Input *op_input_decl(Lower *l, int node)
{
    IR *ir = lower_ir(l);
    for (int k = 0; k < ir->inputs.len; k++)
        if (ir->inputs.items[k].node == node)
            return &ir->inputs.items[k];
    return NULL;
}

const char *op_expr_text(Lower *l, const Expr *e)
{
    const Source *src = lower_diag(l)->src;
    if (!src || e->loc.begin < 0 || e->loc.end <= e->loc.begin ||
        (size_t)e->loc.end > src->len)
        return e->kind == EX_NAME ? e->name : "expression";
    int len = e->loc.end - e->loc.begin;
    const char *text = src->text + e->loc.begin;
    /* A call keeps its callee's name and elides the arguments when long;
     * anything spanning lines is cut at the first newline. */
    const char *nl = memchr(text, '\n', (size_t)len);
    if (len > 24 || nl) {
        if (e->kind == EX_CALL && e->name)
            return arena_printf(lower_arena(l), "%s(...)", e->name);
        if (nl)
            len = (int)(nl - text);
        if (len > 24)
            len = 24;
        return arena_printf(lower_arena(l), "%.*s...", len, text);
    }
    return arena_strndup(lower_arena(l), text, (size_t)len);
}

int op_real_arg(Lower *l, const Expr *e, const char *op)
{
    int id = lower_tensor(l, e);
    if (id < 0)
        return -1;
    const Input *decl = op_input_decl(l, id);
    Diag *d = lower_diag(l);
    if (decl && decl->is_label) {
        diag_error(d, e->loc, "%s expects a tensor, but '%s' is a label (class indices)",
                   op, op_expr_text(l, e));
        lower_note_shape(l, id, "label");
        return -1;
    }
    if (!lower_get(l, id)->batched) {
        diag_error(d, e->loc, "%s expects a per-sample tensor, but '%s' is a loss "
                   "(one number for the whole batch)", op, op_expr_text(l, e));
        return -1;
    }
    return id;
}

const char *op_assign(bool accumulate)
{
    return accumulate ? "+=" : "=";
}

char *op_double(char *buf, double v)
{
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, 32, "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return buf;
}
