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

/* The signature every one-tensor elementwise op shares. */
const ArgSpec op_x_arg[1] = {{.name = "x", .kind = ARG_TENSOR}};

int op_unary_node(Build *b, OpKind op, const Expr *call, int x)
{
    Node *node = build_node(b, op, call);
    node->in[0] = x;
    node->nin = 1;
    node->shape = build_get(b, x)->shape;
    node->batched = true;
    return node->id;
}

int op_elems(Emit *e, int node)
{
    return shape_size(emit_ir(e)->nodes.items[node]->shape);
}

const char *op_count(Emit *e, int node)
{
    if (emit_in_part(e))
        return "count";
    return arena_printf(emit_arena(e), "n * %d", op_elems(e, node));
}

bool op_needs_grad(Emit *e, int node)
{
    return emit_ir(e)->nodes.items[node]->needs_grad;
}

bool op_pair_grads(Emit *e, const Node *n, bool has, const char **dw, const char **db)
{
    *dw = *db = "NULL";
    if (!has || !emit_ir(e)->params.items[n->param[0]].trained)
        return false;
    bool acc = emit_param_accumulate(e, n->param[0]);
    bool acc_b = emit_param_accumulate(e, n->param[1]);
    *dw = emit_param_grad(e, n->param[0]);
    *db = emit_param_grad(e, n->param[1]);
    if (acc != acc_b) {
        /* One of the pair already has a gradient (a reference to it,
         * h.bias, wrote it): zero the other, then both add. */
        const Param *p = &emit_ir(e)->params.items[n->param[acc ? 1 : 0]];
        const char *d = acc ? *db : *dw;
        emit_line(e, "memset(%s, 0, %zu * sizeof *%s);   /* the pair adds: %s starts at 0 */", d,
                  p->size, d, p->name);
        acc = true;
    }
    return acc;
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
