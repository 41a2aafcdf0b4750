/* ops.h: what an op file may call. Each ops/<family>.c defines, for each of
 * its ops, one `const OpInfo op_<name>` (see dlc.h) holding its lowering +
 * shape rule (sema side), forward kernel, backward kernel (derivative) and
 * PyTorch twin, side by side. ops/table.c gathers them into the op table.
 *
 * Conventions in emitted kernels (see docs/design.md):
 *   - `n` is the number of samples in the current batch (a runtime int);
 *     every per-sample size is a literal constant.
 *   - buffers are row-major [n, per-sample dims...];
 *   - a backward kernel reads the node's gradient (emit_grad(e, n->id)) and
 *     writes or adds (accumulate[k]) into each input's gradient, and adds
 *     parameter gradients into emit_param_grad (accumulate: see
 *     emit_param_accumulate).
 */
#ifndef DLC_OPS_H
#define DLC_OPS_H

#include "../build.h"

#include <string.h>

/* ---- build.h: the graph builder, for shape rules ----------------------
 *
 * sema binds and checks an op's arguments from its declared signature
 * (OpInfo.args) and hands the lower hook their values with a Build; an
 * op's shape rule only checks shapes, makes its node (build_node,
 * build_attr), its parameters and state (build_param, build_state) and
 * reports through b->diag, build_value_error and build_note_shape. It
 * never lowers an expression: that is sema's. */

/* The arithmetic behind + - * / (arith.c). sema lowers the operands and
 * hands them bound: a[0] the left, a[1] the right, each a per-sample tensor
 * (node >= 0) or a compile-time number (node -1, num, checked to fit a
 * float), never two numbers; e is the expression (e->op). */
int arith_binary(Build *b, const Expr *e, const ArgVal *a);
/* -x: a[0] is the tensor x. */
int arith_neg(Build *b, const Expr *e, const ArgVal *a);
/* A parameter named by its path in an expression (param_ref.c): an
 * unbatched node that is the parameter itself. */
int param_ref_node(Build *b, const Expr *e, int param);
/* The parameter a PARAM_REF node names, or -1 for any other node. */
int param_ref_param(const Node *n);

/* ---- cwriter.c: services for kernels --------------------------------- */

/* Appends one line of C at the current indent; a trailing newline is added. */
void emit_line(Emit *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void emit_indent(Emit *e, int delta);
/* C names of buffers; each call marks the name as used in this function so
 * that only used pointers are declared. */
const char *emit_buf(Emit *e, int node);         /* forward value  */
const char *emit_grad(Emit *e, int node);        /* its gradient: "d_h1" */
/* Scratch k of the node (OpInfo.scratch[k]): "h2_mask", a real or
 * int32_t pointer as declared. */
const char *emit_scratch(Emit *e, int node, int k);
const char *emit_param(Emit *e, int param);      /* "h1_w" */
const char *emit_state(Emit *e, int state);      /* STATE tensor: "h1_running_mean" */
const char *torch_state(TorchEmit *t, int state); /* "self.h1_running_mean" */
const char *emit_param_grad(Emit *e, int param); /* "d_h1_w" */
/* Whether this backward pass already wrote param's gradient (shared weights):
 * false the first time it is asked for a param in one backward pass. */
bool emit_param_accumulate(Emit *e, int param);
const char *emit_real(Emit *e);                  /* "float" or "double" */
const char *emit_gemm(Emit *e);                  /* "cblas_sgemm" / "cblas_dgemm" */
/* A libm function in the right precision: emit_fn(e, "exp") -> "expf". */
const char *emit_fn(Emit *e, const char *f);
/* A literal in the right precision: 0.5f or 0.5 (round-trip exact). */
const char *emit_lit(Emit *e, double v);
/* The rng expression for a uniform [0,1) draw: "dlrt_rng_uniform(&m->rng)". */
const char *emit_rng_uniform(Emit *e);
/* The random stream a training-time kernel draws from: "&w->rng". */
const char *emit_rng(Emit *e);
/* The workspace's data-parallel hooks, a `const dlrt_dist *` that may be
 * NULL (runtime/dlrt.h): "w->dist". */
const char *emit_dist(Emit *e);
/* The workspace's thread pool for a kernel's parts, a `dlrt_pool *` that
 * may be NULL (runtime/dlrt.h, P_set_pool): "w->pool". */
const char *emit_pool(Emit *e);
bool emit_training(Emit *e);                     /* inside train_step/gradients */
/* Whether the kernel is written for one thread's part of a forward pass
 * on a pool (emit_passes.c): one sample, its elements first .. first +
 * count - 1 (the C names `first` and `count`). An OPF_ELEMENTWISE kernel
 * needs nothing more (op_count, emit_buf); dense computes those rows. */
bool emit_in_part(Emit *e);
const IR *emit_ir(Emit *e);
/* The compilation's arena, for text an emitter builds (arena_printf). */
Arena *emit_arena(Emit *e);

/* ---- emit_torch.c services -------------------------------------------- */

void torch_line(TorchEmit *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void torch_indent(TorchEmit *t, int delta);
const char *torch_name(TorchEmit *t, int node);   /* Python variable of a node */
const char *torch_param(TorchEmit *t, int param); /* "self.h1_w" */

/* ---- ops/table.c: small helpers the op files share --------------------- */

/* The signature {x: tensor} of one-tensor elementwise ops. */
extern const ArgSpec op_x_arg[1];
/* A node of kind op with the shape of x, its one input (elementwise ops). */
int op_unary_node(Build *b, OpKind op, const Expr *call, int x);
/* Per-sample element count of a node, for loops `i < n * that`. */
int op_elems(Emit *e, int node);
/* An OPF_ELEMENTWISE kernel's element count: "n * 256", or "count" in a
 * thread's part (emit_in_part). */
const char *op_count(Emit *e, int node);
/* Whether a node has a gradient buffer (a backward kernel writes its input's
 * gradient only then). */
bool op_needs_grad(Emit *e, int node);
/* A layer's weight and bias gradients (n->param[0] and [1]; both trained
 * or neither, one layer's pair): their names into *dw and *db when `has`
 * and trained, else "NULL"; returns whether they add (a shared layer). */
bool op_pair_grads(Emit *e, const Node *n, bool has, const char **dw, const char **db);
/* ops/loss.c, shared with nll (likelihood.c): a loss on class labels.
 * Its attributes (node->attr of cross_entropy and nll): */
typedef struct ClassLossAttr {
    int classes;           /* the label's K */
    int rows;              /* label elements per sample: 1, or T over a sequence */
    bool sequence;         /* the label has a shape (class(K)[T]), even of one step */
    bool has_ignore;       /* ignore_index given: those steps count for nothing */
    int ignore_index;
} ClassLossAttr;
/* The shape rule (scores a[0] of shape label dims + [K] for label a[1])
 * and ignore_index (a[2], absent: none) into *out; `what` names the
 * scores ("logits"), `role` them in notes. False after an error. */
bool class_loss_bind(Build *b, const Expr *call, const ArgVal *a, const char *what,
                     const char *role, ClassLossAttr *out);
/* The kernel's row count: "n", or "n * T" (every step of every sample). */
const char *class_loss_rows_text(Emit *e, const ClassLossAttr *at);
/* The twin's line fn(scores, labels), reshaped over a sequence. */
void class_loss_torch(TorchEmit *t, const Node *n, const char *fn, const ClassLossAttr *at);
/* --emit=ir: " classes=K steps=T ignore_index=I". */
void class_loss_dump(FILE *out, const ClassLossAttr *at);
/* "=" or "+=": how a backward kernel writes a gradient (accumulate flag). */
const char *op_assign(bool accumulate);
/* "f32" or "f64": the suffix of a runtime kernel in the model's precision,
 * as in dlrt_softmax_forward_f32 (runtime/dlrt_kernels.h). */
const char *op_prec(Emit *e);
/* The shortest decimal that reads back as exactly v ("0.1", "1e-08"), for a
 * double literal in C or Python; buf needs 32 chars. Returns buf. */
char *op_double(char *buf, double v);

/* ops/dense.c, for a forward pass on a pool (emit_passes.c): whether
 * node n is a dense layer a thread's part can compute rows of (one step
 * of a vector per sample, no mask), and then its W's [*out, *in]. */
bool dense_splits(const IR *ir, const Node *n, int *out, int *in);

/* ops/dense.c, shared with conv.c: a layer's fixed random connectivity
 * mask (density < 1). The signature's two arguments: */
#define OP_MASK_ARGS                                                                      \
    {.name = "density", .kind = ARG_NUMBER, .optional = true, .def = 1, .has_min = true,  \
     .min = 0, .min_open = true, .has_max = true, .max = 1,                                \
     .range_msg = "density must be in (0, 1]"},                                            \
    {.name = "mask_seed", .kind = ARG_INT, .optional = true, .def = 1, .has_min = true,   \
     .min = 0}
/* Checks density (a[0]) keeps at least one of the weight's values; false
 * after an error. count: the weight's elements. */
bool op_mask_check(Build *b, const Expr *call, const ArgVal *a, long count);
/* Gives the node's weight param (density < 1) its mask: the STATE tensor
 * "weight_mask" and the Param's mask fields. Returns whether it has one;
 * the caller sizes its workspace scratch for the masked copy. */
typedef struct OpMask {
    double density;        /* 1: no mask */
    long keep, count;      /* weights kept, of count */
    unsigned long long seed;
} OpMask;
bool op_mask_bind(Build *b, Node *node, int weight, const ArgVal *a, const Expr *call,
                  OpMask *out);
/* The weight a kernel should read: the param itself, or (masked) the
 * masked copy written into scratch k now. */
const char *op_mask_weight(Emit *e, const Node *n, int param, int k);
/* After a weight gradient kernel: zero its masked entries (a select). */
void op_mask_grad(Emit *e, int param);
/* The twin's weight: "self.h1_w", or with a mask (the node's STATE
 * tensor state >= 0) "self.h1_w.masked_fill(self.h1_weight_mask == 0, 0.0)"
 * (PyTorch's pruning multiplies; a select keeps NaN out of the gradient). */
const char *op_mask_torch(TorchEmit *t, int param, int state);
/* --explain: "density 0.1 (784 of 7840 weights, mask_seed 1)", or NULL
 * without a mask. */
const char *op_mask_explain(Arena *a, const OpMask *m);

#endif
