/* train.h: the train block (train.c), for sema.c. */
#ifndef DLC_TRAIN_H
#define DLC_TRAIN_H

#include "dlc.h"

typedef struct Lower Lower;    /* sema's state (sema_internal.h) */

/* A train block being read: what it set and where. */
typedef struct TrainBlock TrainBlock;

TrainBlock *train_begin(Arena *a);
/* Reads one train statement's settings, reporting what is wrong. */
void train_lower(Lower *l, TrainBlock *tb, const Stmt *s);
/* Fills ir->train: defaults for what the block left out, the rules
 * between settings, and the Hyper list in the order --explain prints it. */
void train_finish(Lower *l, TrainBlock *tb);
/* A train block's `loss NAME { ... }` section: its optimizer, steps,
 * weight_decay, clip_norm and clip_value into g (which holds the train
 * block's values, the defaults). After train_finish. */
void train_lower_section(Lower *l, const Setting *sec, Group *g);
/* Whether a name is an optimizer's (for "it goes in the train block"). */
bool train_is_optimizer(const char *name);

#endif
