/* build.h: the graph builder. An op's shape rule (OpInfo.lower) gets a
 * Build and makes its node, attributes, parameters and state through it;
 * it reports through the builder's diag. sema owns the one Build, fills in
 * what only it knows (the statement's binding name) and hands it to ops, so
 * ops depend on the builder, the IR and diag, never on sema.
 *
 * Names: each node that makes parameters or state gets a scope, the
 * statement's binding for its first such node, then binding_2,
 * binding_3 ...; its tensors get the scoped path "h1.weight" (PyTorch's
 * state_dict style, the op passes the local name) and the C name "h1_w"
 * (weight -> w, bias -> b, other local names unchanged).
 */
#ifndef DLC_BUILD_H
#define DLC_BUILD_H

#include "dlc.h"

typedef struct BuildShared {
    VEC(int) params;          /* indices in IR.params, in the order made */
    VEC(int) states;          /* indices in IR.states */
    int next_param, next_state;   /* while reused: the next to hand out */
    bool mismatch;            /* a reuse found a different shape (reported) */
} BuildShared;

struct Build {
    Arena *arena;
    Diag *diag;              /* diag->src: source text for messages and lines */
    IR *ir;
    /* Set by sema per statement (build_begin). */
    const char *binding;     /* the statement's binding name; NULL: "p" */
    const char *const *scope;  /* enclosing block instances, outermost first */
    int nscope;
    int nscoped;             /* nodes of this statement given a scope so far */
    /* The last node whose scope was numbered on for a clash, and the scope
     * it wanted: the rest of its C names come from that one. */
    const Node *numbered_node;
    const char *numbered_want;
    /* Parameters whose C name was taken (by a binding, or reserved), the
     * first of each node: sema warns about them at the end. */
    const Node *renamed_node;
    VEC(int) renamed;        /* parameter indices */
    VEC(const char *) wanted;  /* ... and the names they would have had */
    /* Shared networks (sema_block.c): while `record` is set, every new
     * trainable parameter's index goes to record->params, every STATE
     * tensor's to record->states (a net's first call); while `reuse` is
     * set, build_param and build_state hand out those tensors again in the
     * same order instead of making new ones (its later calls). */
    BuildShared *record;
    BuildShared *reuse;
};

void build_init(Build *b, Arena *a, Diag *d, IR *ir);
/* A new statement: binding is its name (NULL outside one). */
void build_begin(Build *b, const char *binding);

/* A new node of kind `op` for `call` (loc, source line, origin filled in). */
Node *build_node(Build *b, OpKind op, const Expr *call);
/* Node `node`, or NULL when out of range. */
Node *build_get(Build *b, int node);
/* Gives node n its attributes: `size` zeroed bytes at n->attr, for the
 * struct the op's file defines. */
void *build_attr(Build *b, Node *n, size_t size);
/* A trainable parameter of node n named `local` in PyTorch's words
 * ("weight", "bias"): path "h1.weight", C name "h1_w". Appended to
 * n->param; fan_in/fan_out as torch: off [out, in, k...]. Returns its index in
 * IR.params. */
int build_param(Build *b, Node *n, const char *local, Shape shape, Loc loc);
/* A STATE tensor of node n ("running_mean": "h1.running_mean",
 * "h1_running_mean"), filled with `fill` at creation; appended to n->state.
 * Returns its index in IR.states. */
int build_state(Build *b, Node *n, const char *local, Shape shape, double fill, Loc loc);

/* Reports an error about a value at loc (a size, a rate, a range), then
 * notes the params that gave it and the -D that set one. Every check of a
 * value a param may hold reports through this. */
void build_value_error(Build *b, Loc loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void build_vvalue_error(Build *b, Loc loc, const char *fmt, va_list ap);
/* Whether v, about to become a float constant in the generated code, fits
 * one; reports at loc when it does not. */
bool build_float_ok(Build *b, Loc loc, double v);
/* note: "'x' has shape [784], computed here" at where that node came from. */
void build_note_shape(Build *b, int node, const char *role);
/* The notes of build_value_error for a check at loc; defines_only: only
 * the -D params behind it. */
void build_note_values(Diag *d, const IR *ir, Loc loc, bool defines_only);
/* The source text of an expression, shortened for messages: "x", "dense(...)". */
const char *build_expr_text(Build *b, const Expr *e);
/* The declaration behind an input/label/target node, or NULL. */
const Input *build_input_decl(Build *b, int node);
/* A loss that skips the elements of label node `label` equal to `value`
 * (ignore_index): the entry points' label check then lets that value
 * through. False, after an error at loc, when another loss already gave
 * that label a different one. */
bool build_label_ignore(Build *b, int label, int value, Loc loc);

#endif
