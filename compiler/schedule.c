/* schedule.c: the learning-rate schedules, one row each, as
 * torch.optim.lr_scheduler has them (names, defaults, ranges); and the
 * learning-rate groups every emitter agrees on. train.c reads the
 * `schedule NAME(args)` setting against this table; runtime/schedule.c
 * computes the values (its table has the same rows in the same order). */
#include "schedule.h"
#include "optim/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRED NAN

static const SchedArg step_args[] = {
    {"step_size", SARG_INT, REQUIRED, 1, 1e9, false, false, "a whole number from 1", {0}},
    {"gamma", SARG_REAL, 0.1, 0, INFINITY, true, true, "positive", {0}},
};
static const SchedArg multistep_args[] = {
    {"milestones", SARG_LIST, REQUIRED, 1, 1e9, false, false, "increasing whole numbers from 1", {0}},
    {"gamma", SARG_REAL, 0.1, 0, INFINITY, true, true, "positive", {0}},
};
static const SchedArg exponential_args[] = {
    {"gamma", SARG_REAL, REQUIRED, 0, INFINITY, true, true, "positive", {0}},
};
static const SchedArg cosine_args[] = {
    {"t_max", SARG_INT, REQUIRED, 1, 1e9, false, false, "a whole number from 1", {0}},
    {"eta_min", SARG_REAL, 0, 0, INFINITY, false, true, "zero or positive", {0}},
};
static const SchedArg restarts_args[] = {
    {"t_0", SARG_INT, REQUIRED, 1, 1e9, false, false, "a whole number from 1", {0}},
    {"t_mult", SARG_INT, 1, 1, 1e6, false, false, "a whole number from 1", {0}},
    {"eta_min", SARG_REAL, 0, 0, INFINITY, false, true, "zero or positive", {0}},
};
static const SchedArg onecycle_args[] = {
    {"max_lr", SARG_REAL, REQUIRED, 0, INFINITY, true, true, "positive", {0}},
    {"pct_start", SARG_REAL, 0.3, 0, 1, true, true, "in (0, 1)", {0}},
    {"div_factor", SARG_REAL, 25, 0, INFINITY, true, true, "positive", {0}},
    {"final_div_factor", SARG_REAL, 1e4, 0, INFINITY, true, true, "positive", {0}},
    {"anneal_strategy", SARG_CHOICE, 0, 0, 1, false, false, "cos or linear", {"cos", "linear"}},
    {"three_phase", SARG_BOOL, 0, 0, 1, false, false, "true or false", {0}},
    /* NAN: true when the optimizer has a momentum (or beta1), else false */
    {"cycle_momentum", SARG_BOOL, NAN, 0, 1, false, false, "true or false", {0}},
    {"base_momentum", SARG_REAL, 0.85, 0, 1, false, true, "in [0, 1)", {0}},
    {"max_momentum", SARG_REAL, 0.95, 0, 1, false, true, "in [0, 1)", {0}},
};
static const SchedArg plateau_args[] = {
    {"factor", SARG_REAL, 0.1, 0, 1, false, true, "in [0, 1)", {0}},
    {"patience", SARG_INT, 10, 0, 1e9, false, false, "a whole number from 0", {0}},
    {"threshold", SARG_REAL, 1e-4, 0, INFINITY, false, true, "zero or positive", {0}},
    {"mode", SARG_CHOICE, 0, 0, 1, false, false, "min or max", {"min", "max"}},
    {"threshold_mode", SARG_CHOICE, 0, 0, 1, false, false, "rel or abs", {"rel", "abs"}},
    {"cooldown", SARG_INT, 0, 0, 1e9, false, false, "a whole number from 0", {0}},
    {"min_lr", SARG_REAL, 0, 0, INFINITY, false, true, "zero or positive", {0}},
    {"eps", SARG_REAL, 1e-8, 0, INFINITY, false, true, "zero or positive", {0}},
};

#define ARGS(a) a, (int)(sizeof a / sizeof a[0])

static const SchedInfo table[SCHED__COUNT] = {
    [SCHED_CONSTANT] = {"constant", "DLRT_SCHED_CONSTANT", NULL,
                        "the optimizer's lr throughout (no scheduler)", "constant", false, NULL, 0},
    [SCHED_STEP] = {"step", "DLRT_SCHED_STEP", "StepLR",
                    "lr times gamma every step_size epochs", "step(step_size = 30, gamma = 0.1)", false,
                    ARGS(step_args)},
    [SCHED_MULTISTEP] = {"multistep", "DLRT_SCHED_MULTISTEP", "MultiStepLR",
                         "lr times gamma at each milestone epoch",
                         "multistep(milestones = (30, 80), gamma = 0.1)", false, ARGS(multistep_args)},
    [SCHED_EXPONENTIAL] = {"exponential", "DLRT_SCHED_EXPONENTIAL", "ExponentialLR",
                           "lr times gamma every epoch", "exponential(gamma = 0.95)", false,
                           ARGS(exponential_args)},
    [SCHED_COSINE] = {"cosine", "DLRT_SCHED_COSINE", "CosineAnnealingLR",
                      "cosine annealing from lr to eta_min over t_max epochs",
                      "cosine(t_max = 20, eta_min = 0)", false, ARGS(cosine_args)},
    [SCHED_COSINE_RESTARTS] = {"cosine_restarts", "DLRT_SCHED_COSINE_RESTARTS",
                               "CosineAnnealingWarmRestarts",
                               "cosine annealing restarted after t_0, t_0 * t_mult, ... epochs",
                               "cosine_restarts(t_0 = 10, t_mult = 2)", false, ARGS(restarts_args)},
    [SCHED_ONECYCLE] = {"onecycle", "DLRT_SCHED_ONECYCLE", "OneCycleLR",
                        "one cycle up to max_lr and down, per batch, momentum the other way",
                        "onecycle(max_lr = 0.1)", true, ARGS(onecycle_args)},
    [SCHED_PLATEAU] = {"plateau", "DLRT_SCHED_PLATEAU", "ReduceLROnPlateau",
                       "lr times factor when the validation loss stops improving",
                       "plateau(factor = 0.1, patience = 10)", false, ARGS(plateau_args)},
};

static const char *const names[SCHED__COUNT + 1] = {
    "constant", "step", "multistep", "exponential", "cosine", "cosine_restarts", "onecycle",
    "plateau", NULL,
};

const SchedInfo *sched_info(int kind)
{
    return kind >= 0 && kind < SCHED__COUNT ? &table[kind] : &table[0];
}

const SchedInfo *sched_lookup(const char *name, int *kind)
{
    for (int k = 0; k < SCHED__COUNT; k++)
        if (!strcmp(table[k].name, name)) {
            if (kind)
                *kind = k;
            return &table[k];
        }
    return NULL;
}

const char *const *sched_names(void)
{
    return names;
}

int sched_arg_index(const SchedInfo *info, const char *name)
{
    for (int k = 0; k < info->nargs; k++)
        if (!strcmp(info->args[k].name, name))
            return k;
    return -1;
}

double sched_arg(const Schedule *s, const char *name)
{
    int k = sched_arg_index(sched_info(s->kind), name);
    return k >= 0 ? s->arg[k] : NAN;
}

const char *sched_text(Arena *a, const Schedule *s)
{
    const SchedInfo *info = sched_info(s->kind);
    if (!info->nargs)
        return info->name;
    const char *t = arena_printf(a, "%s(", info->name);
    for (int k = 0; k < info->nargs; k++) {
        const SchedArg *arg = &info->args[k];
        const char *v;
        if (arg->kind == SARG_LIST) {
            v = "(";
            for (int j = 0; j < s->nmilestones; j++)
                v = arena_printf(a, "%s%s%d", v, j ? ", " : "", s->milestones[j]);
            v = arena_printf(a, "%s)", v);
        } else if (arg->kind == SARG_BOOL) {
            v = s->arg[k] != 0 ? "true" : "false";
        } else if (arg->kind == SARG_CHOICE) {
            v = arg->choices[(int)s->arg[k]];
        } else {
            v = number_text(a, s->arg[k]);
        }
        t = arena_printf(a, "%s%s%s = %s", t, k ? ", " : "", arg->name, v);
    }
    return arena_printf(a, "%s)", t);
}

int momentum_arg(const Optimizer *o)
{
    const OptInfo *info = optim_info(o->kind);
    int k = optim_arg_index(info, "beta1");
    if (k >= 0)
        return k;
    k = optim_arg_index(info, "momentum");
    if (k < 0)
        return -1;
    for (int s = 0; s < info->nslots; s++)
        if (!strcmp(info->slots[s].key, "momentum_buffer") && optim_slot_used(o, s))
            return k;
    return -1;
}

static void add_group(const IR *ir, LrGroup *groups, int n, int g, int p)
{
    if (!groups)
        return;
    const Optimizer *opt = group_opt(ir, g);
    const Param *pr = &ir->params.items[p];
    groups[n].group = g;
    groups[n].first_param = p;
    groups[n].lr = pr->lr >= 0 ? pr->lr : opt->lr;
    groups[n].momentum = momentum_arg(opt);
    groups[n].mom = groups[n].momentum >= 0 ? opt->arg[groups[n].momentum] : 0;
}

int lr_groups(const IR *ir, int *param_lr, LrGroup *groups)
{
    int n = 0, np = ir->params.len;
    int *own = param_lr ? NULL : malloc(sizeof *own * (size_t)(np + 1));
    if (!param_lr && !own)
        abort();
    if (own)
        param_lr = own;
    for (int p = 0; p < np; p++)
        param_lr[p] = -1;
    if (ir->losses.len <= 1) {
        /* emit_torch's make_optimizer: every parameter that takes the block's
         * lr and weight decay, then one group per distinct (lr, weight_decay). */
        int plain = -1;
        for (int p = 0; p < np; p++) {
            const Param *pr = &ir->params.items[p];
            if (pr->lr < 0 && pr->weight_decay < 0) {
                if (plain < 0)
                    add_group(ir, groups, plain = n++, 0, p);
                param_lr[p] = plain;
            }
        }
        for (int p = 0; p < np; p++) {
            const Param *pr = &ir->params.items[p];
            if (pr->lr < 0 && pr->weight_decay < 0)
                continue;
            int same = -1;
            for (int q = 0; q < p && same < 0; q++) {
                const Param *qr = &ir->params.items[q];
                if ((qr->lr >= 0 || qr->weight_decay >= 0) && qr->lr == pr->lr
                    && qr->weight_decay == pr->weight_decay)
                    same = q;
            }
            int k = same >= 0 ? param_lr[same] : -1;
            if (k < 0)
                add_group(ir, groups, k = n++, 0, p);
            param_lr[p] = k;
        }
        free(own);
        return n;
    }
    /* Several losses: make_optimizer_<loss>, loss by loss: the group's
     * parameters that take its lr, then each layer with its own. */
    for (int l = 0; l < ir->losses.len; l++) {
        int g = ir->losses.items[l].group, plain = -1;
        for (int p = 0; p < np; p++) {
            const Param *pr = &ir->params.items[p];
            if (pr->group != g || pr->frozen || pr->lr >= 0 || pr->weight_decay >= 0)
                continue;
            if (plain < 0)
                add_group(ir, groups, plain = n++, g, p);
            param_lr[p] = plain;
        }
        for (int p = 0; p < np; p++) {
            const Param *pr = &ir->params.items[p];
            if (pr->group != g || pr->frozen || (pr->lr < 0 && pr->weight_decay < 0))
                continue;
            add_group(ir, groups, n, g, p);
            param_lr[p] = n++;
        }
    }
    free(own);
    return n;
}

bool any_momentum(const IR *ir)
{
    for (int g = 0; g < group_count(ir); g++)
        if (momentum_arg(group_opt(ir, g)) >= 0)
            return true;
    return false;
}
