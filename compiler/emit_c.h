/* emit_c.h: what the files of the C emitter share (not a public header).
 *
 *   emit_c.c        the driver: the model struct, create, setup, and the
 *                   order in which the parts of the source are written
 *   cwriter.c       C-writer services: names, literals, function bodies and
 *                   their declarations, signatures, model facts, and the
 *                   emit_* services the op table calls (ops/ops.h)
 *   emit_passes.c   --check-numerics and the forward, loss, backward and
 *                   update passes
 *   emit_api.c      the public API around them: training entry points,
 *                   parameter tables and checkpoints, the descriptor, --main,
 *                   and the header (emit_c_header)
 */
#ifndef DLC_EMIT_C_H
#define DLC_EMIT_C_H

#include "ops/ops.h"
#include "init.h"
#include "optim/optim.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct Emit {
    const IR *ir;
    const EmitOptions *o;
    Arena *a;
    FILE *body;            /* where emit_line writes: the current function's body */
    int indent;
    bool training;         /* emit_training(): which variant a kernel should write */
    bool asked_training;   /* the kernel asked: it has two variants */
    bool f64;
    const char *prefix;    /* fashion_mlp */
    const char *upper;     /* FASHION_MLP */
    const char *file;      /* fashion_mlp.net: the source's base name, for line refs */
    const char **node_name;    /* C name per node (inputs: the argument name) */
    const char **param_name;   /* C name per parameter */
    const char **state_name;   /* C name per STATE tensor (IR.states) */
    bool *use_state;
    const char **output_name;  /* C name per output (P_forward's arguments) */
    /* Per function: which pointers the body uses. */
    bool *use_buf, *use_grad, *use_param, *use_pgrad;
    unsigned char *use_scratch;   /* per node, bit k: scratch k is read */
    bool params_writable;      /* declare parameters without const (update) */
    const char *grads_base;    /* where parameter gradients live: "grads" in a
                                * backward pass (the caller's buffer), else
                                * NULL for "m->grads" */
    /* Per backward pass: parameter gradients written so far. */
    bool *pgrad_written;
    /* autodiff's union over losses of Node.needs_grad and Param.trained;
     * select_loss swaps one loss's view in while its passes are written. */
    bool *all_needs_grad, *all_trained;
    /* --check-numerics: checks after every op; `fail` is the statement that
     * leaves the current function when one finds a NaN or infinity. */
    bool check;
    const char *fail;
    const char *check_training;   /* "training", or "1" in the backward pass */
    /* A forward pass on a pool (emit_passes.c): kernels write their
     * inference variant only; in_part: for one thread's part, elementwise
     * kernels over op_count() = "count" elements; alias[node]: the name
     * emit_buf gives the node there, NULL for its own. */
    bool inference_only;
    bool in_part;
    const char **alias;
};

/* The C names taken so far: every node's and parameter's, and the names
 * derived from them (d_x, x_mask, w_avg, ...). A hash set: nets may have
 * thousands of nodes. */
typedef struct NameSet {
    const char **slot;
    size_t cap, len;
} NameSet;

/* A function is written in two steps: its body to memory (kernels mark the
 * pointers they use), then the signature, the declarations of exactly the
 * used pointers, and the body. */
typedef struct FuncBody {
    char *text;
    size_t len;
    FILE *saved;
} FuncBody;

typedef struct Decl {
    const char *text;      /* "float *const h1 = w->arena + 1024;" */
    const char *comment;   /* "[n, 256] relu, fashion_mlp.net:12" */
} Decl;

typedef VEC(Decl) DeclVec;

typedef enum ArgSet { ARGS_FEATURES, ARGS_ALL } ArgSet;


/* cwriter.c: names, literals, function bodies, signatures, model facts;
 * its services for ops are declared in ops/ops.h. */
const char *library_name(const char *s);
void nameset_add(Arena *a, NameSet *set, const char *s);
const char *claim_name(Emit *e, NameSet *taken, const char *want, const Node *node, bool param);
const char *upper_of(Arena *a, const char *s);
const Node *node_at(const IR *ir, int id);
const Input *input_of(const IR *ir, int node);
const char *op_name(OpKind k);
bool any_frozen(const IR *ir);
bool is_loss_op(OpKind k);
bool several_losses(const Emit *e);
/* The runtime's step over the flat parameters (L-BFGS), or NULL. */
const OptFlat *flat_step(const IR *ir);
const char *per_loss(Emit *e, const char *base, int l);
const char *per_group(Emit *e, const char *base, int g);
void select_loss(Emit *e, int l);
const char *double_text(Arena *a, double v);
const char *dims_text(Arena *a, Shape s);
const char *batch_dims_text(Arena *a, const Node *n);
void emit_line_ref(Emit *e, int line);
void func_begin(Emit *e, FuncBody *fb);
void collect_decls(Emit *e, const char *body, DeclVec *decls);
void func_end(Emit *e, FuncBody *fb, FILE *out, const char *signature,
              const char *const *params);
bool is_feature(const Input *in);
int arg_inputs(const IR *ir, ArgSet set, const Input **out);
const char *params_text(Emit *e, ArgSet set);
const char *args_text(Emit *e, ArgSet set, bool offset);
const char *const *param_names(Emit *e, ArgSet set, const char *const *extra);
const char *state_name(const IR *ir, int n);
size_t align16(size_t x);
const char *optimizer_text(Emit *e);
int param_line(Emit *e, const Param *p);
void emit_section(FILE *out, const char *title);

/* emit_passes.c: --check-numerics; forward, loss, backward, update passes */
void emit_check_function(Emit *e, FILE *out);
bool *label_dependent(Emit *e);
void emit_forward_pass(Emit *e, FILE *out, const bool *label_dep);
void emit_loss_pass(Emit *e, FILE *out, const bool *label_dep, int only);
void emit_backward_pass(Emit *e, FILE *out, int l);
void emit_update(Emit *e, FILE *out, int g);

/* emit_api.c: training entry points, tables and checkpoints, descriptor,
 * --main (emit_c_header is in dlc.h) */
void emit_steps(Emit *e, FILE *out);
void emit_tables(Emit *e, FILE *out);
void emit_descriptor(Emit *e, FILE *out);
void emit_main(Emit *e, FILE *out);
/* Loss terms one by one (P_loss_terms, P_evaluate_terms, warm-up scales). */
void emit_terms(Emit *e, FILE *out);
void emit_terms_header(Emit *e, FILE *out);
bool any_warmup(const IR *ir);
int term_index(const IR *ir, int l, int t);

/* emit_lr.c: the learning rates and momenta as runtime values (m->lr[k],
 * P_set_lr, ...) and the schedule in the descriptor. */
void emit_lr_fields(Emit *e, FILE *out);
void emit_lr_create(Emit *e, FILE *out);
void emit_lr_header(Emit *e, FILE *out);
void emit_lr(Emit *e, FILE *out);
void emit_lr_api(Emit *e, FILE *out);
void emit_lr_descriptor(Emit *e, FILE *out);

/* emit_c.c: the model struct, create, setup (emit_check, emit_c_source
 * are in dlc.h) */
void emit_ckpt_extra(Emit *e, FILE *out, const char *cast);
void emit_init(Emit *e, Arena *a, const IR *ir, const EmitOptions *o);

/* emit_c.c: the connectivity masks' lines, in create and load. */
void emit_masks(Emit *e, FILE *out);

#endif
