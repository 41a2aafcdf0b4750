/* dlc.h: everything the compiler's stages share.
 *
 * The pipeline (main.c calls these in order; each stage is one file):
 *
 *   source --parse.c (grammars/lexer.l, grammars/parser.y)--> AST
 *          --sema.c--> IR (a flat list of typed tensor nodes, shapes checked)
 *          --autodiff.c--> backward schedule (which node needs which gradient)
 *          --plan.c--> every buffer placed in one arena
 *          --emit_c.c / emit_torch.c--> C99 source + header, or a PyTorch twin
 *
 * One banner per file below. Every exported name carries its file's prefix.
 * All compiler data lives in one Arena per compilation: nothing is freed
 * individually, everything goes at arena_free().
 */
#ifndef DLC_H
#define DLC_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define DLC_VERSION "0.1.0"

/* ------------------------------------------------------------ arena.c */

typedef struct Arena Arena;

Arena *arena_new(void);
void *arena_alloc(Arena *a, size_t size);       /* zeroed; never NULL (aborts on OOM) */
char *arena_strdup(Arena *a, const char *s);
char *arena_strndup(Arena *a, const char *s, size_t n);
/* "a, b, c": a NULL-terminated list of names joined for a message. */
const char *arena_join_names(Arena *a, const char *const *names);
char *arena_printf(Arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void arena_free(Arena *a);

/* A growable array of pointers or PODs kept in the arena (old storage is
 * simply abandoned on growth). Use as: VEC(Node *) nodes; vec_push(a, &v, x). */
#define VEC(T) struct { T *items; int len, cap; }
#define vec_push(arena, v, x)                                              \
    do {                                                                   \
        if ((v)->len == (v)->cap) {                                        \
            int ncap_ = (v)->cap ? 2 * (v)->cap : 8;                       \
            void *n_ = arena_alloc((arena), (size_t)ncap_ * sizeof *(v)->items); \
            if ((v)->len) memcpy(n_, (v)->items, (size_t)(v)->len * sizeof *(v)->items); \
            (v)->items = n_;                                               \
            (v)->cap = ncap_;                                              \
        }                                                                  \
        (v)->items[(v)->len++] = (x);                                      \
    } while (0)

/* ------------------------------------------------------------ diag.c */

/* A source location: byte offsets into Source.text, [begin, end).
 * Turned into line:col only when printed. NOLOC: no place in the source. */
typedef struct Loc {
    int begin, end;
} Loc;
#define NOLOC ((Loc){-1, -1})

typedef struct Source {
    const char *path;    /* as the user wrote it on the command line */
    const char *text;    /* NUL-terminated copy of the file (may hold NULs) */
    size_t len;
    /* Optional (diag_index_lines): offsets where lines start, so that
     * line:col costs a binary search, not a scan from the top. */
    const int *line_starts;
    int nlines;
} Source;

typedef struct Diag {
    const Source *src;
    FILE *out;           /* stderr, or a memory stream in tests */
    int errors, warnings;
    int max_errors;      /* after this many, print "too many errors" and stop counting */
    bool color;
} Diag;

void diag_init(Diag *d, const Source *src, FILE *out);
/* "path:line:col: error: msg", the source line, a caret with ~ under the range. */
void diag_error(Diag *d, Loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void diag_verror(Diag *d, Loc loc, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
void diag_warning(Diag *d, Loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A note attached to the previous error; printed with its own source line. */
void diag_note(Diag *d, Loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "dlc: error: msg" with no location (command line, files). */
void diag_fatal(Diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void diag_line_col(const Source *src, int offset, int *line, int *col);
/* Fills src->line_starts: diagnostics and line comments on a large file then
 * stay linear in its size. */
void diag_index_lines(Source *src, Arena *a);
/* The closest of `candidates` (NULL-terminated) to `word` by edit distance,
 * or NULL when nothing is close enough. For "did you mean 'x'?" notes. */
const char *diag_suggest(const char *word, const char *const *candidates);

/* ------------------------------------------------------------ ast (parse.c) */

typedef enum ExprKind {
    EX_NUM,      /* 3, 1e-3, 0x10, .5 */
    EX_NAME,     /* hidden, relu */
    EX_STR,      /* "path" */
    EX_CALL,     /* dense(x, 10, init = he_normal) */
    EX_BINARY,   /* a + b, a - b, a * b, a / b */
    EX_NEG,      /* -a */
    EX_LIST,     /* [3, 5], (0.9, 0.999): an argument with several values */
} ExprKind;

typedef struct Expr Expr;

typedef struct Arg {
    const char *name;   /* keyword argument name, or NULL when positional */
    Loc name_loc;
    Expr *value;
} Arg;

struct Expr {
    ExprKind kind;
    Loc loc;            /* the whole expression */
    double num;         /* EX_NUM */
    bool is_int;        /* EX_NUM written without '.', exponent or fraction */
    const char *name;   /* EX_NAME, EX_CALL (callee), EX_STR (contents) */
    Loc name_loc;       /* EX_CALL: the callee's name */
    int op;             /* EX_BINARY: '+', '-', '*', '/' */
    Expr *lhs, *rhs;    /* EX_BINARY; EX_NEG uses lhs */
    Arg *args;          /* EX_CALL */
    int nargs;
    Expr **items;       /* EX_LIST */
    int nitems;
};

typedef enum StmtKind {
    ST_MODEL,    /* model NAME */
    ST_PARAM,    /* param NAME = expr */
    ST_INPUT,    /* input NAME : f32[d, ...] */
    ST_LABEL,    /* label NAME : class(K) */
    ST_TARGET,   /* target NAME : f32[d, ...] */
    ST_LET,      /* NAME = expr;  output NAME = expr;  output NAME */
    ST_LOSS,     /* loss expr;  loss NAME = expr */
    ST_TRAIN,    /* train { key value ... } */
    ST_BLOCK,    /* block NAME(params) { ... return expr };  net NAME(params) { ... } */
    ST_RETURN,   /* return expr: only inside a block or net's body */
} StmtKind;

/* A parameter of a block or net: NAME or NAME = default. */
typedef struct BlockParam {
    const char *name;
    Loc loc;
    Expr *def;          /* NULL: required */
} BlockParam;

typedef struct TypeSpec {
    const char *elem;   /* "f32" or "class" */
    Loc elem_loc;
    Expr **dims;        /* f32[a, b]: a, b;  class(K): K */
    int ndims;
    Loc loc;
    /* class(K)[T]: a class index per element of a per-sample shape (a
     * token sequence); class(K) alone is one index per sample. */
    Expr **shape;
    int nshape;
    bool has_shape;
} TypeSpec;

typedef struct Setting {   /* one line of a train block: key value */
    const char *key;
    Loc key_loc;
    Expr *value;
    Loc loc;
    /* `loss NAME { settings }` (a loss's own settings): section set, key
     * the loss's name, value NULL, its lines in sub. */
    bool section;
    struct Setting *sub;
    int nsub;
} Setting;

typedef struct Stmt {
    StmtKind kind;
    Loc loc;            /* the whole statement */
    const char *name;   /* MODEL/PARAM/INPUT/LABEL/TARGET/LET; LOSS: optional */
    Loc name_loc;
    bool is_output;     /* LET: declared with `output` */
    Expr *value;        /* PARAM/LET/LOSS; NULL for `output NAME` alone */
    TypeSpec type;      /* INPUT/LABEL/TARGET */
    Setting *settings;  /* TRAIN */
    int nsettings;
    Expr *noise;        /* INPUT: `~ normal(0, 1)`, the distribution; else NULL */
    /* BLOCK: `net` (one parameter set shared by every call) or `block`
     * (new parameters per call); its parameters and its body (ST_LET and
     * ST_RETURN statements, in source order). RETURN: value. */
    bool is_net;
    BlockParam *params;
    int nparams;
    struct Stmt **body;
    int nbody;
    /* LOSS: `updates A, B`: names (prefixes of parameter paths) and where */
    const char **updates;
    Loc *updates_loc;
    int nupdates;
    Loc updates_kw;     /* the word `updates` (NOLOC-like {0,0} when absent) */
} Stmt;

typedef struct Program {
    Stmt **stmts;
    int nstmts;
} Program;

/* parse.c: runs the flex scanner and bison parser over src. Returns the
 * program (possibly partial) and reports syntax errors through d; several
 * per run thanks to error recovery. Never crashes on any bytes. */
Program *parse_program(Arena *a, const Source *src, Diag *d);
void ast_dump(FILE *out, const Source *src, const Program *p);

/* ------------------------------------------------------------ ir.c */

#define DLC_MAX_RANK 4

/* Shape of ONE sample; the batch dimension is implicit and leads.
 * rank 0 = one number per sample. */
typedef struct Shape {
    int rank;
    int dim[DLC_MAX_RANK];
} Shape;

typedef enum OpKind {
#define OP(KIND, name, file) OP_##KIND,
#include "ops/ops.def"
#undef OP
    OP__COUNT
} OpKind;

/* Init schemes: one row each in init.def; what each means, its argument
 * and how it draws are in its InitInfo (compiler/init.h, compiler/init/). */
typedef enum InitKind {
    INIT_DEFAULT,          /* not given: the train block's `init`, else he_uniform (weights) / zeros (biases) */
#define INIT_SCHEME(id, info) INIT_##id,
#include "init.def"
#undef INIT_SCHEME
    INIT__COUNT
} InitKind;

/* A parameter's role. TRAINABLE: learnt; in IR.params, the flat parameter
 * buffer and its gradient. STATE: non-trainable state an op's forward pass
 * updates while training (batchnorm's running statistics); in IR.states,
 * a flat buffer of its own (m->state), no gradient, never seen by the
 * optimizer, weight decay or clipping; initialized by its init scheme,
 * saved in checkpoints as a section named after it, a registered buffer
 * in the PyTorch twin. */
typedef enum ParamRole { ROLE_TRAINABLE, ROLE_STATE } ParamRole;

/* A learnable tensor. All parameters sit back to back in one flat buffer,
 * in declaration order; their gradients in a second flat buffer with the
 * same layout (a later all-reduce or L-BFGS sees one vector). */
typedef struct Param {
    const char *name;      /* C and PyTorch name: "h1_w", "h1_b" */
    const char *path;      /* scoped name, PyTorch state_dict style: "h1.weight",
                            * "h1.running_mean" (build.c); "enc.h1.weight" once
                            * blocks have instances */
    Loc loc;               /* the call that made it */
    Shape shape;           /* dense weight: [out, in] (PyTorch layout); bias: [out] */
    size_t size;           /* elements */
    size_t offset;         /* elements from the start of the flat buffer (plan.c) */
    InitKind init;
    double init_arg;       /* the scheme's argument (InitInfo.arg); 0: its default */
    int fan_in, fan_out;
    bool frozen;           /* trainable = false on its layer: no update, no gradient
                            * (requires_grad=False in the twin) */
    double lr;             /* per-layer learning rate; < 0: the optimizer's */
    double weight_decay;   /* per-layer weight decay; < 0: the train block's */
    bool is_bias;          /* biases start at zero unless init says otherwise */
    /* A row (along dim 0) zeroed after the init draws: embedding's
     * padding_idx, as nn.Embedding does. */
    bool has_zero_row;
    int zero_row;
    /* Given on the layer (for --explain's *), even when equal to the default. */
    bool init_explicit, lr_explicit, weight_decay_explicit;
    int group;             /* its parameter group (IR.groups): the loss that trains it */
    bool trained;          /* the loss of its group depends on it (autodiff.c); the update
                            * skips the others, as torch.optim skips a
                            * parameter whose grad is None */
    ParamRole role;        /* STATE: offset is in the state buffer (IR.states) */
    /* A fixed random connectivity mask (dense, conv: density < 1): exactly
     * mask_keep of the size weights kept, chosen by dlrt_sparse_mask from
     * mask_seed; the 0/1 values are the STATE tensor `mask` ("weight_mask",
     * torch.nn.utils.prune's name). Set on the weight; create and load
     * rebuild the mask and zero the masked weights. */
    bool has_mask;
    int mask;              /* its STATE tensor (IR.states index) */
    size_t mask_keep;
    unsigned long long mask_seed;
    double mask_density;
    /* Exempted from weight decay by `no_decay bias_and_norm` (a bias or a
     * normalization layer's parameter): weight_decay is 0 (sema_no_decay). */
    bool no_decay;
} Param;

/* Scratch an op declares (OpInfo.scratch). SAVED lives from the forward
 * pass to the backward pass (dropout's mask, softmax's probabilities);
 * WORKSPACE only within one op's forward or backward kernel, so the plan
 * overlaps the workspaces of all ops (im2col). INT32 buffers hold integers
 * (pooling's argmax): the emitter gives them an int32_t pointer. */
/* CARRY persists from call to call in the workspace (a stateful recurrent
 * layer's final state, the next call's initial one): its own arena range,
 * never shared or reused, zero when the workspace is created and when
 * P_reset_state zeroes it. */
typedef enum ScratchRole { SCRATCH_SAVED, SCRATCH_WORKSPACE, SCRATCH_CARRY } ScratchRole;
typedef enum ScratchType { SCRATCH_REAL, SCRATCH_INT32 } ScratchType;
typedef struct ScratchSpec {
    const char *name;      /* C name after the node's: "mask" gives "h2_mask" */
    ScratchRole role;
    ScratchType type;
} ScratchSpec;
#define NODE_MAX_SCRATCH 4

/* One tensor-valued node. Attributes are op-specific and documented in that
 * op's file. Inputs come first in `in`. */
typedef struct Node {
    int id;                /* index in IR.nodes: topological order */
    OpKind op;
    Loc loc;               /* the expression that made it */
    int line;              /* its source line, for comments in emitted code */
    const char *name;      /* binding name when the user named it, else NULL */
    const char *cname;     /* unique C identifier for its buffer: "h1", "t3" */
    int in[4];
    int nin;
    Shape shape;           /* per sample */
    bool batched;          /* false only for whole-batch scalars (losses) */
    void *attr;            /* the op's own attributes: a struct its file defines
                            * (ops/elu.c: EluAttr { alpha }), or NULL */
    double f[4];           /* input declarations' attributes (ir.c); ops use attr */
    int i[4];
    int *param;            /* its parameters (indices in IR.params), in the op's order */
    int nparam;            /* as many as the op makes (dense: W, then b unless bias = false) */
    int *state;            /* its STATE tensors (indices in IR.states), in the op's order */
    int nstate;
    const char *origin;    /* for notes: "input 'image' declared here" etc. */
    /* Its scope when it makes parameters or state (build.c): the prefix of
     * their paths, "h1" or "h1_2" (the statement's second such node). */
    const char *scope;
    /* Where f[0] was written when it is a hyperparameter the layer may set
     * (dropout's rate, leaky_relu's alpha), for --explain; hyper_set false:
     * the default. */
    bool hyper_set;
    Loc hyper_loc;

    /* autodiff.c */
    bool needs_grad;       /* some parameter's gradient flows through this node */
    /* plan.c: offsets in elements from the arena start; -1 = no buffer */
    long buf;              /* forward value, batch_cap * size(shape) */
    long gbuf;             /* its gradient */
    /* The op's scratch buffers, one per entry of its OpInfo.scratch (same
     * index): scratch_size per sample, set by the op's shape rule (0: not
     * needed this time); scratch the arena offset (plan.c), -1 = none. */
    size_t scratch_size[NODE_MAX_SCRATCH];
    /* ... or, when set, its size for the whole batch: a workspace that
     * does not grow with n (a chunked im2col), sized before the train
     * block's batch is known. */
    bool scratch_whole[NODE_MAX_SCRATCH];
    long scratch[NODE_MAX_SCRATCH];
} Node;

typedef enum LossKind { LOSS_CROSS_ENTROPY, LOSS_MSE, LOSS_L1 } LossKind;

/* loss c1 * f1(pred, target) + c2 * f2(...) : each term is a loss node
 * (whole-batch scalar), weighted. */
typedef struct LossTerm {
    int node;
    double weight;
    /* Its name in reports (trainer, API, twin): the op's, numbered from
     * the second on over the whole network ("bce", "bce_2"); sema_groups.c. */
    const char *name;
    /* warmup(term, epochs = N): N (its weight ramps as min(1, epoch / N),
     * epoch from 1, a runtime value: P_set_term_scale); 0: none. */
    int warmup;
} LossTerm;

typedef struct Loss {
    const char *name;      /* "loss" unless named */
    Loc loc;
    LossTerm *terms;
    int nterms;
    int group;             /* the parameter group it trains (IR.groups) */
    /* autodiff.c: its backward schedule, restricted to its group's
     * parameters (reverse topological order), and which nodes get a
     * gradient and which parameters a gradient in that schedule. */
    int *backward;
    int nbackward;
    bool *needs_grad;      /* per node */
    bool *trained;         /* per parameter */
} Loss;

/* Optimizers: one row each in optim/optim.def, one file each in optim/. */
typedef enum OptKind {
#define OPTIMIZER(kind, file) kind,
#include "optim/optim.def"
#undef OPTIMIZER
    OPT__COUNT
} OptKind;

#define OPT_MAX_ARGS 8     /* arguments of one optimizer */
#define OPT_MAX_SLOTS 8    /* state slots of one optimizer (the runtime takes any number) */

/* A hyperparameter's value and where it came from (for --explain). */
typedef struct Hyper {
    const char *name;
    double value;
    bool defaulted;
    Loc loc;
    const char *define;    /* a param set by -D NAME=VALUE: VALUE as typed, else NULL */
    const char *text;      /* shown instead of the number ("adam", "true"), or NULL */
} Hyper;

/* The train block's optimizer: its row and its arguments, in the order of
 * its table (optim/<name>.c), defaults filled in. */
typedef struct Optimizer {
    OptKind kind;
    Loc loc;
    double lr;                   /* arg[0]: every optimizer's first argument */
    double arg[OPT_MAX_ARGS];
} Optimizer;

/* The train block's learning-rate schedule (compiler/schedule.c's table;
 * runtime/schedule.c steps it): its row and its arguments in the table's
 * order, defaults filled in. kind 0 is `constant` (no schedule). */
#define SCHED_MAX_ARGS 10        /* = DLRT_SCHED_MAX_ARGS */
#define SCHED_MAX_MILESTONES 16  /* = DLRT_SCHED_MAX_MILESTONES */
typedef struct Schedule {
    int kind;
    Loc loc;                     /* the schedule's call; NOLOC: the default */
    double arg[SCHED_MAX_ARGS];
    int nmilestones;             /* multistep's milestones, increasing */
    int milestones[SCHED_MAX_MILESTONES];
} Schedule;

/* A parameter group: the parameters one loss trains, one contiguous range
 * of the flat buffers (plan.c), with their own optimizer (sema_groups.c:
 * `updates`, the default rule, the train block's loss sections). */
typedef struct Group {
    const char *name;      /* the loss's name: P_update_<name> */
    Optimizer opt;
    size_t offset, count;  /* values [offset, offset + count) of params and grads */
    /* The train block's values unless its `loss NAME { }` section sets
     * them (sema_groups.c); autodiff fills them for groups sema did not make. */
    int steps;             /* steps of this loss per round (docs/runtime.md) */
    double weight_decay;   /* as TrainConfig's, for this group */
    double clip_norm, clip_value;
    int no_decay;          /* as TrainConfig's, for this group */
} Group;

/* The train block, defaults filled in (train.c's table lists the settings). */
typedef struct TrainConfig {
    Optimizer opt;
    int batch, epochs;
    uint64_t seed;
    double weight_decay;   /* the optimizer's: coupled L2, or adamw's own (decoupled) */
    double validation;     /* fraction of training data held out */
    double clip_norm;      /* global L2 norm the gradients are scaled down to; 0: off */
    double clip_value;     /* each gradient clamped to [-clip_value, clip_value]; 0: off */
    InitKind init;         /* default init for weights */
    double init_arg;       /* its argument (InitInfo.arg); 0: its default */
    Hyper *hypers;         /* everything above, with defaulted flags */
    int nhypers;
    /* `no_decay`: NO_DECAY_NONE, or NO_DECAY_BIAS_AND_NORM: biases and
     * normalization parameters take no weight decay (sema_no_decay). */
    int no_decay;
    Loc no_decay_loc;      /* where it was set; NOLOC: the default */
    /* early_stopping(metric = val_loss, patience = 5, min_delta = 0): the
     * metric also chooses the best checkpoint. metric METRIC_DEFAULT when
     * the block does not name one. */
    int metric;            /* MetricKind */
    bool early_stopping;
    int patience;
    double min_delta;
    Schedule schedule;     /* the learning-rate schedule (constant by default) */
    int warmup_epochs;     /* linear warm-up epochs before it (torch LinearLR); 0: none */
    double warmup_start_factor;   /* the warm-up's first factor (LinearLR start_factor) */
} TrainConfig;

enum { NO_DECAY_NONE, NO_DECAY_BIAS_AND_NORM };

typedef enum MetricKind { METRIC_DEFAULT = 0, METRIC_VAL_LOSS = 1, METRIC_VAL_ACC = 2 } MetricKind;

typedef struct Input {     /* an input, label or target declaration */
    const char *name;
    int node;
    bool is_label;         /* declared with `label`: the truth a loss compares with */
    bool is_target;        /* real-valued target */
    /* class(K) or class(K)[dims]: int32 class indices, one per element of
     * the node's shape ([] for one per sample; [T] a token sequence), K in
     * the node's i[0]. Every label is; an `input` is when its tokens feed
     * embedding or one_hot. */
    bool is_class;
    /* Set by a loss that skips elements whose label is this value
     * (cross_entropy's ignore_index: padded steps); the label check lets
     * it through. */
    bool has_ignore;
    int ignore_index;
    /* A noise input (`input z : f32[100] ~ normal(0, 1)`): NOISE_NORMAL
     * (noise_arg: mean, std) or NOISE_UNIFORM (low, high); the runtime
     * draws it when the caller gives no data. NOISE_NONE otherwise. */
    int noise;
    double noise_arg[2];
    Loc noise_loc;
} Input;

enum { NOISE_NONE = 0, NOISE_NORMAL = 1, NOISE_UNIFORM = 2 };

typedef struct Output {
    const char *name;
    int node;
} Output;

typedef struct IR {
    const char *model;     /* model name: the default C prefix */
    Loc model_loc;         /* where it is written (NOLOC when missing) */
    VEC(Node *) nodes;
    VEC(Param) params;     /* TRAINABLE */
    VEC(Param) states;     /* STATE (role), in their own flat buffer */
    size_t state_count;    /* plan.c: elements in the state buffer */
    VEC(Input) inputs;     /* declaration order: inputs, labels, targets */
    VEC(Output) outputs;
    VEC(Loss) losses;
    VEC(Group) groups;     /* autodiff.c: one per loss, group g trained by loss g */
    TrainConfig train;
    Hyper *constants;      /* the file's `param`s with final values (loc NOLOC: set by -D) */
    int nconstants;
    size_t param_count;    /* elements in the flat parameter buffer */
    /* plan.c */
    size_t arena_size;     /* elements of the activation arena */
    int batch_cap;         /* samples one step can hold = train.batch */
    /* autodiff.c: every loss's backward schedule, one after the other (the
     * gradient buffers' timeline for plan.c); a node may appear in several */
    int *backward;
    int nbackward;
} IR;

Node *ir_node(Arena *a, IR *ir, OpKind op, Loc loc);
/* Gives a node its binding name; its C name becomes that name when no other
 * node or parameter holds it (and it does not start with d_ or dlrt). */
void ir_set_name(Arena *a, IR *ir, Node *n, const char *name);
/* Whether a C name is free for a new buffer or parameter. */
bool ir_cname_free(const IR *ir, const char *name);
/* `want`, or a variant of it no other node or parameter uses in C. */
const char *ir_unique_cname(Arena *a, const IR *ir, const char *want);
const char *ir_op_name(OpKind op);     /* "relu", "cross_entropy", "input" */
/* Marks the nodes that are terms of `loss` or feed one (ORs into reaches,
 * nodes.len + 1 entries). */
void ir_mark_reaches(const IR *ir, const Loss *loss, bool *reaches);
const char *ir_init_name(InitKind k);  /* "he_uniform", "zeros" */
const char *ir_opt_name(OptKind k);    /* "sgd", "momentum", "adam" (optim/ table) */
int shape_size(Shape s);               /* product of dims (1 for rank 0) */
bool shape_eq(Shape a, Shape b);
const char *shape_str(Arena *a, Shape s);  /* "[784]", "[]" */
void ir_dump(FILE *out, const Source *src, const IR *ir);
/* dot.c: the graph in Graphviz DOT (--emit=dot); nodes whose scopes share a
 * prefix (rw.node3.conv, rw.node3.bn) drawn in one box. */
void ir_dot(FILE *out, const IR *ir);

/* ------------------------------------------------------------ number.c */

/* Reads one number as the language writes it (docs/language.md): decimal,
 * 0x hex, 0b binary, fractions, exponents, underscores between digits;
 * integers at most 2^53, no leading zeros. No sign. Returns NULL with
 * *value and *is_int set, or the message saying why it is not a number
 * ("malformed number '1e'", "number out of range"). */
const char *number_parse(Arena *a, const char *text, size_t len, double *value, bool *is_int);
/* The shortest %g that reads back as exactly v: into buf (size >= 32), or
 * copied into the arena. For messages, comments and the twin. */
void number_format(char *buf, size_t size, double v);
const char *number_text(Arena *a, double v);
/* A -D NAME=VALUE value: number_parse's rules plus an optional sign. NULL
 * and *value, or why it is not a number ("'abc' is not a number"). */
const char *number_parse_define(Arena *a, const char *text, double *value);
/* NULL when v can become a float constant in the generated code (finite,
 * |v| <= FLT_MAX, 0 or |v| >= FLT_MIN); else the message saying why not. */
const char *number_float_problem(Arena *a, double v);

/* ------------------------------------------------------------ sema.c */

typedef struct Define {    /* -D name=value */
    const char *name;
    const char *value;
} Define;

/* Reports -D values that are not numbers and -D names that are not params
 * of the file; false after an error (a bad command line: exit status 2). */
bool sema_check_defines(Arena *a, const Program *p, const Define *defs, int ndefs, Diag *d);
/* Resolves names, evaluates params (with -D overrides), lowers every
 * expression to IR nodes through the op table, checks shapes and values,
 * reads the train block. Reports all errors it can through d. */
IR *sema_lower(Arena *a, const Program *p, const Define *defs, int ndefs, Diag *d);
void sema_explain(FILE *out, const Source *src, const IR *ir);
/* After an error about a value written at `loc`: a note for each param the
 * text there names, with its value and where it was set; a -D value always
 * gets "'h' is 2.5, set by -D h=2.5 on the command line", also when it
 * reaches loc through other params. For checks after sema (emit_check). */
void sema_note_values(Diag *d, const IR *ir, Loc loc);

/* ------------------------------------------------------------ ops/ */

typedef struct Build Build;    /* the graph builder ops make nodes with (build.h) */
typedef struct Emit Emit;      /* emit_c.c's state */
typedef struct TorchEmit TorchEmit;

/* One op's knowledge, side by side in ops/<file>.c. Its kind and name come
 * from its row in ops/ops.def (op_kind_name), not from here. */
/* What the rest of the compiler asks about an op, as flags. */
enum {
    OPF_LOSS = 1u << 0,        /* a loss term: whole-batch scalar, only in `loss` statements */
    OPF_VIEW = 1u << 1,        /* same values in the same order as in[0]: plan.c may give it
                                * in[0]'s buffer (flatten) */
    OPF_STOCHASTIC = 1u << 2,  /* draws from the model's RNG while training (dropout) */
    OPF_ACCURACY = 1u << 3,    /* in[0] are logits and in[1] a label: evaluate measures
                                * accuracy (argmax) on the first such loss term */
    OPF_PARAMS = 1u << 4,      /* makes parameters (node->param): sema adds and applies the
                                * layer hyperparameters init, lr, weight_decay, trainable */
    OPF_UNBATCHED = 1u << 5,   /* its tensor arguments may be unbatched (a parameter
                                * reference, h1.weight: one tensor for the whole batch) */
    OPF_ELEMENTWISE = 1u << 6, /* element i of its value reads only element i of each input
                                * of its own shape, and its forward kernel runs over
                                * op_count() elements of buffers named by emit_buf: a
                                * thread's part of a forward pass on a pool computes a
                                * slice of it (emit_passes.c) */
};

/* One argument in an op's declared signature. sema binds a call's
 * arguments to it (positional and keyword), checks kind and range, and
 * hands the op the values (ArgVal), so ops never parse arguments. */
typedef enum ArgKind {
    ARG_TENSOR,    /* a per-sample tensor of reals (not a label, not a loss) */
    ARG_LABEL,     /* a label input: class indices, class(K) */
    ARG_NUMBER,    /* a compile-time real that becomes a float constant */
    ARG_INT,       /* a compile-time whole number */
    ARG_BOOL,      /* true or false (1 or 0) */
    ARG_INIT,      /* an init scheme: he_normal, normal(std = 0.02) */
    ARG_WORD,      /* one of `words`, written as a string: approximate = "tanh" */
    ARG_INTS,      /* a whole number or a list of them: kernel = [3, 5]; with
                    * `words`, also one of them: padding = "same" */
} ArgKind;

enum { ARG_MAX_INTS = 8 };

typedef struct ArgSpec {
    const char *name;
    ArgKind kind;
    bool optional;             /* has a default; required arguments come first */
    double def;                /* NUMBER/INT/BOOL: the default; WORD: its index in words */
    /* The range (NUMBER, INT): min < v or min <= v, v < max or v <= max. */
    bool has_min, min_open, has_max, max_open;
    double min, max;
    /* The range error before ", got V": "dropout rate must be in [0, 1)";
     * NULL: "<op>'s <arg> must be positive" and the like, from the range. */
    const char *range_msg;
    const char *const *words;  /* WORD (and INTS' words): NULL-terminated */
    int max_len;               /* INTS: the longest list (0: ARG_MAX_INTS) */
    /* TENSOR: a compile-time number is taken too (node -1, num; it must
     * fit a float): bce(d_fake, 1), a constant target. */
    bool or_number;
} ArgSpec;

/* A bound argument, in signature order. */
typedef struct ArgVal {
    const Expr *expr;          /* as written; NULL when defaulted */
    int node;                  /* TENSOR, LABEL: its node, -1 when absent or bad */
    double num;                /* NUMBER, INT, BOOL: the value; WORD: index in words */
    InitKind init;             /* INIT: the scheme (INIT_DEFAULT when absent) */
    double init_arg;           /* INIT: its argument (see InitKind) */
    int ints[ARG_MAX_INTS];    /* INTS: the numbers as written (one, or a list) */
    int nints;                 /* INTS: how many; 0 for a word or a default */
} ArgVal;

typedef struct OpInfo {
    const char *summary;
    unsigned flags;            /* OPF_* */       /* one line for --help-ops / docs */
    /* Its arguments (see ArgSpec); OPF_PARAMS adds the layer's. */
    const ArgSpec *args;
    int nargs;
    /* sema: the shape rule. Given the bound arguments (ok: whether every
     * one bound and checked; the op may check the shapes of the good ones
     * to report more at once, but then returns -1), makes the node and its
     * params. Returns the node id, or -1 after an error. NULL: internal
     * op, not callable by name. */
    int (*lower)(Build *b, const Expr *call, const ArgVal *args, bool ok);
    /* emit_c: forward kernel for the node's whole batch (n samples). */
    void (*forward)(Emit *e, const Node *n);
    /* emit_c: backward kernel. accumulate[k]: whether input k's gradient
     * buffer already holds a value (then add) or not (then assign). */
    void (*backward)(Emit *e, const Node *n, const bool *accumulate);
    /* emit_torch: a Python expression for the node given its inputs' names. */
    void (*torch)(TorchEmit *t, const Node *n);
    /* emit_torch, optional: methods of the twin's Model class this op's
     * twin calls (dropout's RNG-exact mask). Emitted once per twin. */
    void (*torch_methods)(TorchEmit *t);
    /* ir.c, optional: the node's attributes for --emit=ir (" units=10");
     * without it the raw slots are shown. */
    void (*dump)(FILE *out, const Node *n);
    /* sema_explain.c --explain, optional: the layer's own hyperparameter as
     * "rate 0.5" (node->hyper_loc says where it was set), or NULL. */
    const char *(*explain)(Arena *a, const Node *n);
    /* plan.c --stats, optional: forward FLOPs for ONE sample. */
    double (*flops)(const IR *ir, const Node *n);
    /* Its scratch buffers (at most NODE_MAX_SCRATCH); the shape rule sets
     * each one's per-sample size in node->scratch_size (same index). */
    const ScratchSpec *scratch;
    int nscratch;
} OpInfo;

const OpInfo *op_info(OpKind k);
const char *op_kind_name(OpKind k);             /* "relu", "cross_entropy", "add", "input" */
const OpInfo *op_lookup(const char *name);      /* a callable op by .net name, or NULL */
const char *const *op_names(void);              /* callable names, NULL-terminated, for suggestions */

/* ------------------------------------------------------------ autodiff.c */

/* Makes one parameter group per loss, gives each loss its backward
 * schedule (Loss.backward, restricted to its group) and marks needs_grad
 * and trained (over all losses); ir->backward is the schedules in turn. */
void autodiff(Arena *a, IR *ir);

/* ------------------------------------------------------------ plan.c */

/* Places every forward, gradient and scratch buffer in one arena, reusing
 * gradient buffers whose lifetimes do not overlap. Sets param offsets too. */
void plan_memory(Arena *a, IR *ir);
/* `dlc --stats`: parameters, FLOPs per training step, arena bytes. */
void plan_stats(FILE *out, const IR *ir, int value_size);

/* ------------------------------------------------------------ emit_c.c */

typedef enum Precision { PREC_F32, PREC_F64 } Precision;

typedef struct EmitOptions {
    const char *prefix;        /* symbol prefix; defaults to the model name */
    Precision precision;
    bool main;                 /* emit a standalone trainer main() */
    const char *header_name;   /* "model.h": what the .c #includes */
    const char *source_name;   /* the .net path as given, for the banner */
    const char *command;       /* the dlc command line, for the banner (no abs paths) */
    const Source *src;         /* to quote .net lines in comments */
    bool check_numerics;       /* check every value and gradient for NaN/Inf */
} EmitOptions;

/* Reports what the chosen emission cannot do for this IR (e.g. --main on a
 * net with two inputs, or with --precision=f64). False after an error. */
bool emit_check(const IR *ir, const EmitOptions *o, Diag *d);

void emit_c_source(FILE *out, const IR *ir, const EmitOptions *o);
void emit_c_header(FILE *out, const IR *ir, const EmitOptions *o);
void emit_torch(FILE *out, const IR *ir, const EmitOptions *o);

#endif
