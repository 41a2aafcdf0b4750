/* optim.h: what an optimizer is, for compiler/optim/<name>.c.
 *
 * An optimizer is one file holding one OptInfo: its arguments (names,
 * ranges and defaults as torch.optim has them), its state slots (named with
 * torch.optim's state keys), the C it emits for one parameter tensor, and
 * its line in the PyTorch twin. registry.c builds the table from optim.def;
 * sema (train.c), --explain, the IR dump, the memory plan, emit_c and
 * emit_torch read everything from it. docs/design.md lists the steps to
 * add one.
 */
#ifndef DLC_OPTIM_H
#define DLC_OPTIM_H

#include "../dlc.h"

#include <math.h>

/* OPTARG_INT: a whole number; OPTARG_WORD: one of the optimizer's `words`
 * (a string or a name: line_search_fn = "strong_wolfe" or none), its
 * index the value. */
typedef enum OptArgKind { OPTARG_REAL, OPTARG_BOOL, OPTARG_INT, OPTARG_WORD } OptArgKind;

/* One argument: optimizer adam(lr = 1e-3, beta1 = 0.9, ...). */
typedef struct OptArg {
    const char *name;        /* as written and as torch.optim names it */
    OptArgKind kind;
    double def;              /* default (bool: 0 or 1) */
    double lo, hi;           /* range; lo_open/hi_open: excluded ends */
    bool lo_open, hi_open;
    const char *rule;        /* the range in words: "in [0, 1)" */
    const char *what;        /* for messages: "the learning rate lr" */
} OptArg;

/* One state slot: a vector as long as the parameters, zero at the start
 * unless init_arg names the argument that holds its initial value. */
typedef struct OptSlot {
    const char *key;         /* torch.optim's state key: "exp_avg" (also the C field) */
    const char *suffix;      /* the per-tensor C pointer: h1_w_<suffix> */
    int init_arg;            /* -1: starts at zero */
    /* Whether the slot exists with these arguments (NULL: always). */
    bool (*used)(const Optimizer *o);
} OptSlot;

/* What the update hooks see (emit_passes.c fills it). Per-parameter fields are
 * set before `before` and `body`. */
typedef struct OptStep {
    Emit *e;                 /* for emit_line, emit_lit, emit_fn */
    Arena *a;
    const Optimizer *opt;
    const char *real;        /* "float" or "double" */
    bool default_lr;         /* some parameter takes the optimizer's lr */
    const char *step;        /* the group's step count t, already incremented:
                              * "m->step" (one group), "m->group_steps[1]" */
    const char *w;           /* the parameter: "h1_w"; g is its gradient in the loop */
    const char *state[OPT_MAX_SLOTS];   /* its slots' pointers, by slot index */
    double lr;               /* its learning rate */
    bool own_lr;             /* set on the layer */
    double wd;               /* its weight decay */
    size_t size;             /* its values */
    /* The learning rate and momentum are runtime values of the model, one
     * per learning-rate group (compiler/schedule.h: m->lr[k],
     * m->momentum[k]; the trainer's schedule changes them). For the
     * parameter being updated, as C expressions: */
    const char *lr_d;        /* its lr in double: "m->lr[1]" */
    const char *lr_c;        /* in the parameter's type: a local, "lr" or "lr_1" */
    const char *mom_d;       /* its momentum (beta1 for Adam) in double, or NULL */
    const char *mom_c;       /* in the parameter's type: "momentum", "beta1_1" */
    const char *mom1_c;      /* 1 - momentum, worked out in double: "one_minus_beta1" */
    const char *group_lr_d;  /* the update's default group's (prologue): "m->lr[0]" */
    const char *group_mom_d;
} OptStep;

/* An optimizer whose step the runtime takes over the whole flat parameter
 * vector, calling the model's loss and gradients again (L-BFGS's line
 * search): no per-element body and no P_update; P_train_step is one
 * torch optimizer.step(closure) by dlrt_<type>_step, the closure being the
 * model's gradients on the step's batch. Its state slots (OptSlot, as long
 * as the parameters) are the model's as for any optimizer; what is sized
 * otherwise (L-BFGS's history) lives in a runtime struct in the model,
 * over `values` values of the model's block after the STATE tensors. */
/* One checkpoint section of a runtime step's state. */
enum { OPT_MAX_SECTIONS = 8 };
typedef struct OptSection {
    const char *name;        /* "lbfgs.old_dirs" */
    bool u64;                /* DLRT_SEC_U64, else DLRT_SEC_REAL */
    size_t count;            /* its values */
    const char *member;      /* the runtime struct's pointer or array: "old_dirs" */
} OptSection;

typedef struct OptFlat {
    const char *type;        /* the runtime's struct, "dlrt_lbfgs" (dlrt.h) */
    const char *field;       /* its field in the model struct, "lbfgs" */
    /* The values of the model's block it takes (dlrt_<type>_values). */
    size_t (*values)(const Optimizer *o, size_t count);
    /* create's lines setting its arguments, for the struct at `var`
     * ("m->lbfgs"), before dlrt_<type>_init. */
    const char *(*settings)(Arena *a, const Optimizer *o, const char *var);
    /* The checkpoint sections beyond the slots, into out[] (at most
     * OPT_MAX_SECTIONS); returns how many. count: the parameters' values. */
    int (*sections)(const Optimizer *o, size_t count, OptSection *out);
    /* The twin's two methods (Python lines, NULL-terminated):
     * flat_optimizer_state(self, optimizer) -> (slot vectors in STATE_KEYS
     * order, {section name: numpy array}) and load_flat_optimizer_state(
     * self, optimizer, get), get(name) giving a section's values: torch's
     * optimizer state as the C checkpoint holds it, both ways. */
    const char *const *torch_methods;
} OptFlat;

typedef struct OptInfo {
    const char *name;        /* "adam" */
    const char *summary;     /* one line: what it is */
    const char *example;     /* for "an optimizer is needed here: ..." */
    const OptArg *args;      /* args[0] is lr for every optimizer */
    int nargs;
    const OptSlot *slots;
    int nslots;
    /* Its own decoupled weight decay argument (adamw), or -1: the train
     * block's weight_decay, added to the gradient (coupled L2). */
    int decay_arg;
    /* torch.optim's tuple argument, betas = (0.9, 0.999): one name for
     * args[tuple_first .. tuple_first + tuple_count), or NULL. */
    const char *tuple;
    int tuple_first, tuple_count;
    /* torch.optim keeps a "step" in each parameter's state. */
    bool torch_step;
    /* The line of the twin that makes it, from the constants the twin
     * defines (LR, WEIGHT_DECAY and each argument's name in upper case). */
    const char *torch;
    /* A rule between arguments the ranges cannot say: NULL when the values
     * are fine, else the message, *bad the argument it is about and
     * *other the one it depends on (-1: none). */
    const char *(*check)(const Optimizer *o, int *bad, int *other);
    /* The comment above the emitted update: the rule, as torch.optim has it. */
    const char *(*comment)(Arena *a, const Optimizer *o);
    /* Lines at the top of the update (after m->step++), when some parameter
     * is trained (bias corrections); may be NULL. */
    void (*prologue)(OptStep *s);
    /* Lines before one parameter's loop; may be NULL. */
    void (*before)(OptStep *s);
    /* The loop body for value i of one parameter: g holds the gradient (with
     * coupled weight decay already added unless decay_arg >= 0). */
    void (*body)(OptStep *s);
    /* How --explain shows argument k when the number alone would mislead
     * (lbfgs's max_eval 0: "25 (max_iter * 5 / 4)"), or NULL; may be NULL. */
    const char *(*arg_text)(Arena *a, const Optimizer *o, int k);
    /* The words of its OPTARG_WORD argument (one at most), NULL-terminated. */
    const char *const *words;
    /* NULL, or the runtime takes the step (OptFlat above; body unused). */
    const OptFlat *flat;
} OptInfo;

const OptInfo *optim_info(OptKind k);
/* By name, or NULL; *kind set when found. */
const OptInfo *optim_lookup(const char *name, OptKind *kind);
const char *const *optim_names(void);           /* NULL-terminated */
/* The argument's index in the optimizer's table, or -1. */
int optim_arg_index(const OptInfo *info, const char *name);
/* The value of a named argument (it must exist). */
double optim_arg(const Optimizer *o, const char *name);
bool optim_slot_used(const Optimizer *o, int slot);
/* "adam(lr = 0.001, beta1 = 0.9, ...)": the values as C comments show them
 * (booleans only when true). */
const char *optim_text(Arena *a, const Optimizer *o);

/* cwriter.c services (declared in ops/ops.h too). */
void emit_line(Emit *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *emit_fn(Emit *e, const char *f);
const char *emit_lit(Emit *e, double v);
/* cwriter.c: the shortest double literal that reads back as v ("0.9", "1.0"). */
const char *emit_double(Emit *e, double v);

/* A model's groups and their optimizers (registry.c), for the plan, the
 * stats and the emitters alike. */
enum { MODEL_MAX_SLOTS = 32 };   /* state buffers of one model (emit_check) */
const Optimizer *group_opt(const IR *ir, int g);   /* the train block's without groups */
int group_count(const IR *ir);                     /* at least 1 */
int opt_slots(const Optimizer *opt, int *slot);    /* slots in use, their table indices */
int state_slots(const IR *ir, const char **keys);  /* the model's state buffers */

#endif
