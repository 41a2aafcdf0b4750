/* schedule.h: learning-rate schedules (schedule.c), for the train block
 * (train.c), the C emitter and the PyTorch twin.
 *
 * A schedule is one row of schedule.c's table: its name (torch.optim.
 * lr_scheduler's class in lower case), its arguments (torch's names,
 * defaults and ranges) and its runtime kind (runtime/schedule.c, which
 * steps it; DLRT_SCHED_* in dlrt.h, the same order). Adding one is a row
 * here, a row there and a branch in the twin's make_scheduler.
 */
#ifndef DLC_SCHEDULE_H
#define DLC_SCHEDULE_H

#include "dlc.h"

typedef enum SchedArgKind {
    SARG_REAL,
    SARG_INT,       /* a whole number */
    SARG_BOOL,
    SARG_CHOICE,    /* one of choices[], as a name: mode = min */
    SARG_LIST,      /* whole numbers, increasing: milestones = (30, 80) */
} SchedArgKind;

typedef struct SchedArg {
    const char *name;           /* as written, and torch's keyword */
    SchedArgKind kind;
    double def;                 /* NAN: required */
    double lo, hi;              /* range; *_open: the end is excluded */
    bool lo_open, hi_open;
    const char *rule;           /* the range in words */
    const char *choices[3];     /* SARG_CHOICE: the value is the index */
} SchedArg;

typedef struct SchedInfo {
    const char *name;           /* "cosine" */
    const char *cname;          /* "DLRT_SCHED_COSINE" */
    const char *torch;          /* "CosineAnnealingLR" (NULL: none) */
    const char *summary;
    const char *example;        /* "cosine(t_max = 20)" */
    bool per_batch;             /* stepped after every batch (onecycle), else per epoch */
    const SchedArg *args;
    int nargs;
} SchedInfo;

enum { SCHED_CONSTANT, SCHED_STEP, SCHED_MULTISTEP, SCHED_EXPONENTIAL, SCHED_COSINE,
       SCHED_COSINE_RESTARTS, SCHED_ONECYCLE, SCHED_PLATEAU, SCHED__COUNT };

const SchedInfo *sched_info(int kind);
const SchedInfo *sched_lookup(const char *name, int *kind);
const char *const *sched_names(void);          /* NULL-terminated */
int sched_arg_index(const SchedInfo *info, const char *name);
double sched_arg(const Schedule *s, const char *name);
/* "cosine(t_max = 20, eta_min = 0.0001)" */
const char *sched_text(Arena *a, const Schedule *s);

/* The optimizer's argument one-cycle cycles (beta1, or momentum when the
 * optimizer keeps a momentum buffer), or -1. */
int momentum_arg(const Optimizer *o);

/* The learning-rate groups: torch's param groups as the twin builds them
 * (make_optimizer: the parameters that take their group's lr, then the
 * layers with their own lr or weight_decay), across every loss's
 * optimizer, in order. Each has its lr (and momentum) as a runtime value
 * of the model, m->lr[k] (m->momentum[k]). */
typedef struct LrGroup {
    int group;                  /* its loss group (group_opt) */
    int first_param;            /* its first parameter */
    double lr;                  /* the compiled lr */
    int momentum;               /* its optimizer's momentum_arg, or -1 */
    double mom;                 /* that argument's value */
} LrGroup;
/* Returns how many; param_lr[p] (may be NULL) gets parameter p's lr group,
 * -1 for one no group holds (several losses: a frozen one). */
int lr_groups(const IR *ir, int *param_lr, LrGroup *groups);
/* Whether any lr group has a momentum (the model's momentum[] field). */
bool any_momentum(const IR *ir);

#endif
