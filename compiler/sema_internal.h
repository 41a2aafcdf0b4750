/* sema_internal.h: what the files of sema share (not a public header).
 *
 *   sema.c           the driver: -D checks, the two passes, the checks and
 *                    warnings over the whole file (sema_lower)
 *   sema_resolve.c   names: the symbol table, "did you mean", uses before
 *                    definitions
 *   sema_lower.c     expressions: numbers, argument binding, init schemes,
 *                    op calls (the ops build through build.h), + - * /
 *   sema_stmt.c      statements: param, input, let (bindings, outputs), loss
 *   sema_explain.c   --explain
 *   sema_block.c     blocks, nets and repeat: checks, expansion per call
 *   train.c          the train block (train.h)
 */
#ifndef DLC_SEMA_INTERNAL_H
#define DLC_SEMA_INTERNAL_H

#include "ops/ops.h"
#include "build.h"
#include "init.h"
#include "train.h"

/* Expressions (sema_lower.c). */
/* A tensor-valued expression: lowers it, returns its node id or -1. */
int lower_tensor(Lower *l, const Expr *e);
/* A compile-time number (literals, params, arithmetic on them). */
bool lower_number(Lower *l, const Expr *e, double *out);
/* Whether e is a compile-time number (literals, params, true/false and
 * arithmetic on them), without reporting anything: tells `x * 0.5` (a
 * scalar constant) from `a * b` (two tensors). */
bool lower_is_number(Lower *l, const Expr *e);

/* Argument binding, used for op calls (from their signatures), init
 * scheme calls and the train block. */
/* Binds a call's arguments to `names` (positional args fill names in order,
 * keyword args by name). out[k] = the expression for names[k], or NULL when
 * absent. Reports unknown keywords (with a suggestion), duplicates, too many
 * positional arguments, and missing ones among the first `nrequired`.
 * Returns false after reporting. */
bool lower_bind_args(Lower *l, const Expr *call, const char *const *names,
                     int nnames, int nrequired, const Expr **out);
/* A compile-time integer; reports non-integers. */
bool lower_int(Lower *l, const Expr *e, long *out);
/* An init scheme: a name (he_normal) or a call (normal(std = 0.02)). */
bool lower_init(Lower *l, const Expr *e, InitKind *kind, double *arg);

#include <math.h>
#include <stdlib.h>

typedef enum SymKind { SYM_PARAM, SYM_TENSOR, SYM_LOSS, SYM_BLOCK } SymKind;

typedef VEC(const char *) NameVec;

/* A block or net definition's state across its calls (sema_block.c). */
typedef struct BlockInfo {
    bool broken;             /* recursive, or its body failed: calls stay quiet */
    int ncalls;
    /* A net: the tensors its first call made, handed out again later, and
     * that call's input shapes (later calls' must match). */
    BuildShared shared;
    Loc first_call;
    Shape *first_shape;      /* per block parameter (tensors) */
} BlockInfo;

/* The body of a block instance being lowered: its own names. */
typedef struct Frame {
    const Stmt *def;
    struct Frame *parent;
    VEC(struct Symbol *) locals;
    const char *prefix;      /* instance path of its nodes' names: "res1", "stage.0" */
} Frame;

typedef struct Symbol {
    const char *name;
    SymKind kind;
    const Stmt *stmt;   /* the statement that defines it */
    bool defined;       /* that statement has been lowered */
    bool ok;            /* ... without errors: value / node are good */
    double value;       /* SYM_PARAM */
    int node;           /* SYM_TENSOR */
    BlockInfo *block;   /* SYM_BLOCK */
    bool local;         /* a block's parameter or binding (Frame.locals) */
    int visit;          /* cycle search (sema_resolve.c) */
} Symbol;

struct Lower {
    Arena *arena;
    Diag *diag;
    IR *ir;
    const Source *src;
    VEC(Symbol *) syms;      /* in declaration order */
    Symbol **table;          /* the same, hashed by name (open addressing) */
    int table_cap;           /* a power of two, at least twice syms.len */
    const Define *defs;
    int ndefs;
    double *def_values;      /* -D values, parsed */
    bool *def_ok;            /* ... and whether they were numbers */
    const Stmt *stmt;        /* the statement being lowered */
    /* The graph builder the ops get: sema sets its binding per statement;
     * it collects the parameters renamed because their C name was taken
     * (warned about at the end when there is no error). */
    Build b;
    /* The one loss call the loss statement allows right now. */
    const Expr *loss_call;
    bool too_many_nodes;     /* MAX_NODES reached and reported */
    const char **names;      /* visible_names' buffer */
    int names_cap;
    /* Blocks (sema_block.c): the body being lowered, how deep, the scope
     * components of the enclosing instances (Build.scope points here). */
    Frame *frame;
    int depth;
    NameVec scope;
    int visit_mark;          /* cycle search's generation */
    const Program *program;
};

/* Most nodes a network may have: real ones have tens to hundreds; the
 * bound keeps every later stage (C names, memory plan) quick on any file. */
#define MAX_NODES 4096

/* Largest per-sample size: emitted indices are ints. */
#define MAX_ELEMS 2147483647.0
#define MAX_EXACT 9007199254740992.0   /* 2^53: integers a double holds exactly */

/* sema_resolve.c: symbols, "did you mean", definitions before uses */
int line_of(const Lower *l, Loc loc);
Symbol *find_symbol(const Lower *l, const char *name);
void add_symbol(Lower *l, Symbol *sym);
const char *suggestion(Lower *l, const char *word, unsigned kinds);
bool is_init_name(const char *name);
bool check_defined(Lower *l, const Symbol *s, Loc use);

/* sema_lower.c: expressions and op calls (lower_tensor and friends are
 * declared at the top) */
bool room_for_nodes(Lower *l, Loc loc);

/* sema_block.c: blocks, nets and repeat */
void declare_block(Lower *l, const Stmt *s);
void check_block_recursion(Lower *l);
/* A call of a block or net (sym) or of repeat: the node it returns, or -1. */
int lower_block_call(Lower *l, Symbol *sym, const Expr *call);
int lower_repeat(Lower *l, const Expr *call);
const char *const *block_names(Lower *l);   /* blocks and nets, NULL-terminated */
/* Notes where a name unknown here is defined inside a block. */
void note_block_local(Lower *l, const char *name);
/* Warns about blocks and nets no statement calls. */
void warn_unused_blocks(Lower *l);
/* Reports a use before a definition that depends back on the use site. */
bool report_cycle(Lower *l, const Symbol *s, Loc use);

/* sema_stmt.c: declarations, bindings, outputs, loss */
void declare(Lower *l, const Stmt *s, SymKind kind);
Symbol *own_symbol(Lower *l, const Stmt *s);
void lower_param_stmt(Lower *l, const Stmt *s);
void lower_input_stmt(Lower *l, const Stmt *s);
void lower_let_stmt(Lower *l, const Stmt *s);
void lower_loss_stmt(Lower *l, const Stmt *s);

/* sema_groups.c: `updates`, the default rule and the train block's loss
 * sections make IR.groups; parameters reordered by group. */
void sema_groups(Lower *l, const Program *prog, const Stmt *train);
/* no_decay bias_and_norm: weight decay 0 for biases and normalization
 * parameters (after sema_groups, which sets each group's switch). */
void sema_no_decay(Lower *l);

#endif
