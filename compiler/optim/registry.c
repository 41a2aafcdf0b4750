/* registry.c: the optimizer table, built from optim.def, and the helpers
 * every stage uses to read it. Nothing here knows a particular optimizer. */
#include "optim.h"

#include <stdlib.h>
#include <string.h>

#define OPTIMIZER(kind, file) extern const OptInfo optim_##file;
#include "optim.def"
#undef OPTIMIZER

static const OptInfo *const table[OPT__COUNT] = {
#define OPTIMIZER(kind, file) [kind] = &optim_##file,
#include "optim.def"
#undef OPTIMIZER
};

static const char *const names[OPT__COUNT + 1] = {
#define OPTIMIZER(kind, file) [kind] = #file,
#include "optim.def"
#undef OPTIMIZER
};

const OptInfo *optim_info(OptKind k)
{
    if (k < 0 || k >= OPT__COUNT)
        return NULL;
    /* The fixed arrays in Optimizer and OptStep bound every table. */
    if (table[k]->nargs > OPT_MAX_ARGS || table[k]->nslots > OPT_MAX_SLOTS) {
        fprintf(stderr, "dlc: internal error: optimizer %s has more than %d arguments or %d "
                "state slots (OPT_MAX_ARGS, OPT_MAX_SLOTS in dlc.h)\n", table[k]->name,
                OPT_MAX_ARGS, OPT_MAX_SLOTS);
        abort();
    }
    return table[k];
}

const OptInfo *optim_lookup(const char *name, OptKind *kind)
{
    for (int k = 0; k < OPT__COUNT; k++)
        if (strcmp(table[k]->name, name) == 0) {
            if (kind)
                *kind = (OptKind)k;
            return table[k];
        }
    return NULL;
}

const char *const *optim_names(void)
{
    return names;
}

int optim_arg_index(const OptInfo *info, const char *name)
{
    for (int k = 0; k < info->nargs; k++)
        if (strcmp(info->args[k].name, name) == 0)
            return k;
    return -1;
}

double optim_arg(const Optimizer *o, const char *name)
{
    int k = optim_arg_index(optim_info(o->kind), name);
    if (k < 0)
        abort();    /* a typo in an optimizer's file */
    return o->arg[k];
}

bool optim_slot_used(const Optimizer *o, int slot)
{
    const OptSlot *s = &optim_info(o->kind)->slots[slot];
    return !s->used || s->used(o);
}

const char *optim_text(Arena *a, const Optimizer *o)
{
    const OptInfo *info = optim_info(o->kind);
    const char *s = arena_printf(a, "%s(", info->name);
    bool first = true;
    for (int k = 0; k < info->nargs; k++) {
        const OptArg *arg = &info->args[k];
        if ((arg->kind == OPTARG_BOOL || arg->kind == OPTARG_INT) && o->arg[k] == 0)
            continue;   /* false; a whole number's 0: not given (lbfgs's max_eval) */
        const char *v = arg->kind == OPTARG_BOOL ? "true" : number_text(a, o->arg[k]);
        if (arg->kind == OPTARG_INT)
            v = arena_printf(a, "%.0f", o->arg[k]);
        if (arg->kind == OPTARG_WORD)   /* a string as written; none as a name */
            v = o->arg[k] ? arena_printf(a, "\"%s\"", info->words[(int)o->arg[k]]) : info->words[0];
        s = arena_printf(a, "%s%s%s = %s", s, first ? "" : ", ", arg->name, v);
        first = false;
    }
    return arena_printf(a, "%s)", s);
}

/* ------------------------------------- the optimizers of a model's groups */

/* Group g's optimizer (the train block's when there are no groups). */
const Optimizer *group_opt(const IR *ir, int g)
{
    return g < ir->groups.len ? &ir->groups.items[g].opt : &ir->train.opt;
}

int group_count(const IR *ir)
{
    return ir->groups.len > 0 ? ir->groups.len : 1;
}

/* An optimizer's state slots in use, in table order: slot[k] is the index
 * in its OptInfo.slots. Returns how many. */
int opt_slots(const Optimizer *opt, int *slot)
{
    const OptInfo *info = optim_info(opt->kind);
    int n = 0;
    for (int k = 0; k < info->nslots; k++)
        if (optim_slot_used(opt, k)) {
            if (slot)
                slot[n] = k;
            n++;
        }
    return n;
}

/* The model's state buffers: every state key some group's optimizer uses,
 * group by group in table order, each once (groups with different
 * optimizers each use their own keys over their own range). One group:
 * its optimizer's slots. Returns how many; keys may be NULL. */
int state_slots(const IR *ir, const char **keys)
{
    const char *found[MODEL_MAX_SLOTS];
    int n = 0;
    for (int g = 0; g < group_count(ir); g++) {
        const Optimizer *opt = group_opt(ir, g);
        int slot[OPT_MAX_SLOTS], used = opt_slots(opt, slot);
        for (int k = 0; k < used; k++) {
            const char *key = optim_info(opt->kind)->slots[slot[k]].key;
            bool seen = false;
            for (int j = 0; j < n; j++)
                seen |= !strcmp(found[j], key);
            if (!seen && n < MODEL_MAX_SLOTS)
                found[n++] = key;
        }
    }
    for (int j = 0; keys && j < n; j++)
        keys[j] = found[j];
    return n;
}
