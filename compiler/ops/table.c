/* ops/table.c: the op table, indexed by OpKind and built from ops.def, and
 * the helpers the op files share. Adding an op: a row in ops.def and its
 * `const OpInfo op_<name>` in ops/<file>.c; nothing here changes. */
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>

/* Every row of ops.def: its OpInfo (defined in ops/<file>.c) and its name. */
#define OP(KIND, name, file) extern const OpInfo op_##name;
#include "ops.def"
#undef OP

static const OpInfo *const op_table[OP__COUNT] = {
#define OP(KIND, name, file) [OP_##KIND] = &op_##name,
#include "ops.def"
#undef OP
};

static const char *const op_name_table[OP__COUNT] = {
#define OP(KIND, name, file) [OP_##KIND] = #name,
#include "ops.def"
#undef OP
};

const OpInfo *op_info(OpKind k)
{
    if ((int)k < 0 || k >= OP__COUNT)
        abort();   /* not a row of ops.def: a compiler bug */
    return op_table[k];
}

const char *op_kind_name(OpKind k)
{
    if ((int)k < 0 || k >= OP__COUNT)
        return "?";
    return op_name_table[k];
}

/* Callable ops are the ones with a lowering: internal ops (input
 * placeholders, the arithmetic behind + - * /) have a name for dumps but
 * cannot be called. */
const OpInfo *op_lookup(const char *name)
{
    for (int k = 0; k < OP__COUNT; k++)
        if (op_table[k]->lower && strcmp(op_name_table[k], name) == 0)
            return op_table[k];
    return NULL;
}

/* The callable names, for "did you mean" suggestions: built from the
 * table the first time they are asked for. Test-only ops (x_scratch,
 * x_running_mean: names starting "x_") are callable but never suggested. */
const char *const *op_names(void)
{
    static const char *names[OP__COUNT + 1];
    if (!names[0]) {
        int n = 0;
        for (int k = 0; k < OP__COUNT; k++)
            if (op_table[k]->lower && strncmp(op_name_table[k], "x_", 2) != 0)
                names[n++] = op_name_table[k];
        names[n] = NULL;
    }
    return names;
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

/* The signature every one-tensor elementwise op shares. */
const ArgSpec op_x_arg[1] = {{.name = "x", .kind = ARG_TENSOR}};

int op_unary_node(Lower *l, OpKind op, const Expr *call, int x)
{
    Node *node = lower_node(l, op, call);
    node->in[0] = x;
    node->nin = 1;
    node->shape = lower_get(l, x)->shape;
    node->batched = true;
    return node->id;
}

int op_elems(Emit *e, int node)
{
    return shape_size(emit_ir(e)->nodes.items[node]->shape);
}

bool op_needs_grad(Emit *e, int node)
{
    return emit_ir(e)->nodes.items[node]->needs_grad;
}

const char *op_assign(bool accumulate)
{
    return accumulate ? "+=" : "=";
}

const char *op_prec(Emit *e)
{
    return strcmp(emit_real(e), "double") == 0 ? "f64" : "f32";
}

char *op_double(char *buf, double v)
{
    number_format(buf, 32, v);
    return buf;
}
