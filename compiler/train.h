/* train.h: the train block (train.c), for sema.c. */
#ifndef DLC_TRAIN_H
#define DLC_TRAIN_H

#include "dlc.h"

/* A train block being read: what it set and where. */
typedef struct TrainBlock TrainBlock;

TrainBlock *train_begin(Arena *a);
/* Reads one train statement's settings, reporting what is wrong. */
void train_lower(Lower *l, TrainBlock *tb, const Stmt *s);
/* Fills ir->train: defaults for what the block left out, the rules
 * between settings, and the Hyper list in the order --explain prints it. */
void train_finish(Lower *l, TrainBlock *tb);
/* Whether a name is an optimizer's (for "it goes in the train block"). */
bool train_is_optimizer(const char *name);

/* sema_lower.c services train.c uses (declared for ops in ops/ops.h too). */
bool lower_bind_args(Lower *l, const Expr *call, const char *const *names,
                     int nnames, int nrequired, const Expr **out);
bool lower_number(Lower *l, const Expr *e, double *out);
void lower_value_error(Lower *l, Loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool lower_init(Lower *l, const Expr *e, InitKind *kind, double *arg);
Arena *lower_arena(Lower *l);
Diag *lower_diag(Lower *l);
IR *lower_ir(Lower *l);
const char *op_expr_text(Lower *l, const Expr *e);

#endif
