/* schedule.c: learning-rate schedules, stepped as torch.optim.lr_scheduler
 * steps them (PyTorch 1.13's recursive ("chainable") forms, evaluated in
 * the same order, so the values agree to the last bit or nearly).
 *
 * Every schedule but plateau is a function of (epoch, batch): the lr of a
 * group after k scheduler steps is computed from its compiled lr (torch's
 * initial_lr) by taking the k steps again, which costs nothing next to an
 * epoch and keeps no state a checkpoint must hold. Plateau depends on the
 * validation losses: its state is dlrt_plateau, plain doubles.
 *
 * One schedule is one row of `rows` (its name and its argument checks)
 * and one case in main_lr (or onecycle's own function).
 */
#include "dlrt.h"
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PI 3.141592653589793   /* math.pi */

typedef struct row {
    const char *name;
    int per_batch;
    int nargs;
} row;

static const row rows[DLRT_SCHED__COUNT] = {
    [DLRT_SCHED_CONSTANT] = {"constant", 0, 0},
    [DLRT_SCHED_STEP] = {"step", 0, 2},
    [DLRT_SCHED_MULTISTEP] = {"multistep", 0, 2},
    [DLRT_SCHED_EXPONENTIAL] = {"exponential", 0, 1},
    [DLRT_SCHED_COSINE] = {"cosine", 0, 2},
    [DLRT_SCHED_COSINE_RESTARTS] = {"cosine_restarts", 0, 3},
    [DLRT_SCHED_ONECYCLE] = {"onecycle", 1, 9},
    [DLRT_SCHED_PLATEAU] = {"plateau", 0, 8},
};

/* The arguments, by kind (dlrt.h lists them). */
enum { STEP_SIZE = 0, STEP_GAMMA = 1 };
enum { MULTI_GAMMA = 1 };
enum { EXP_GAMMA = 0 };
enum { COS_T_MAX = 0, COS_ETA_MIN = 1 };
enum { WR_T_0 = 0, WR_T_MULT = 1, WR_ETA_MIN = 2 };
enum { OC_MAX_LR, OC_PCT_START, OC_DIV, OC_FINAL_DIV, OC_ANNEAL, OC_THREE_PHASE, OC_CYCLE,
       OC_BASE_MOM, OC_MAX_MOM };
enum { PL_FACTOR, PL_PATIENCE, PL_THRESHOLD, PL_MODE, PL_THRESHOLD_MODE, PL_COOLDOWN, PL_MIN_LR,
       PL_EPS };

/* dlrt_plateau is DLRT_PLATEAU_DOUBLES doubles (save and restore copy it). */
typedef char plateau_size_check[sizeof(dlrt_plateau) == DLRT_PLATEAU_DOUBLES * sizeof(double) ? 1 : -1];

const char *dlrt_schedule_name(int kind)
{
    return kind >= 0 && kind < DLRT_SCHED__COUNT ? rows[kind].name : "?";
}

int dlrt_schedule_per_batch(const dlrt_schedule_info *info)
{
    return info->kind >= 0 && info->kind < DLRT_SCHED__COUNT && rows[info->kind].per_batch;
}

static int whole(double v, double lo)
{
    return v >= lo && v <= 1e9 && v == floor(v);
}

/* LinearLR(start_factor, end_factor = 1, total_iters = warmup) after k
 * steps from lr: torch's recursive form. */
static double warmup_lr(const dlrt_schedule_info *in, double lr, long k)
{
    const double sf = in->warmup_start_factor, ef = 1.0;
    long total = in->warmup_epochs, e;
    lr *= sf;
    for (e = 1; e <= k && e <= total; e++)
        lr *= 1. + (ef - sf) / ((double)total * sf + (double)(e - 1) * (ef - sf));
    return lr;
}

/* The lr of a group with compiled lr `base` after k steps of the main
 * schedule (k = 0: the schedule just made, or SequentialLR's switch to it,
 * which gives base). */
static double main_lr(const dlrt_schedule_info *in, double base, long k)
{
    const double *a = in->arg;
    double lr = base;
    long e, j;
    switch (in->kind) {
    case DLRT_SCHED_STEP:
        for (e = 1; e <= k; e++)
            if (e % (long)a[STEP_SIZE] == 0)
                lr *= a[STEP_GAMMA];
        return lr;
    case DLRT_SCHED_MULTISTEP:
        for (e = 1; e <= k; e++)
            for (j = 0; j < in->nmilestones; j++)
                if (in->milestones[j] == e)
                    lr *= a[MULTI_GAMMA];
        return lr;
    case DLRT_SCHED_EXPONENTIAL:
        for (e = 1; e <= k; e++)
            lr *= a[EXP_GAMMA];
        return lr;
    case DLRT_SCHED_COSINE: {
        const double t = a[COS_T_MAX], eta = a[COS_ETA_MIN];
        const long tl = (long)t;
        for (e = 1; e <= k; e++) {
            if (((e - 1 - tl) % (2 * tl) + 2 * tl) % (2 * tl) == 0)
                lr = lr + (base - eta) * (1 - cos(PI / t)) / 2;
            else
                lr = (1 + cos(PI * (double)e / t)) / (1 + cos(PI * (double)(e - 1) / t)) * (lr - eta) + eta;
        }
        return lr;
    }
    case DLRT_SCHED_COSINE_RESTARTS: {
        const double eta = a[WR_ETA_MIN];
        long t_cur = 0, t_i = (long)a[WR_T_0];
        for (e = 1; e <= k; e++)
            if (++t_cur >= t_i) {
                t_cur -= t_i;
                t_i *= (long)a[WR_T_MULT];
            }
        return eta + (base - eta) * (1 + cos(PI * (double)t_cur / (double)t_i)) / 2;
    }
    default:   /* constant; plateau keeps its own */
        return lr;
    }
}

static double anneal(int linear, double start, double end, double pct)
{
    if (linear)
        return (end - start) * pct + start;
    return end + (start - end) / 2.0 * (cos(PI * pct) + 1);
}

/* OneCycleLR at step `step` (from 0): lr, and the momentum when cycled. */
static void onecycle(const dlrt_schedule *s, long step, double *lr, double *momentum)
{
    const double *a = s->info.arg;
    const double total = (double)(s->epochs * s->steps_per_epoch);
    const double initial = a[OC_MAX_LR] / a[OC_DIV], max = a[OC_MAX_LR];
    const double min = initial / a[OC_FINAL_DIV];
    const double mom_max = a[OC_MAX_MOM], mom_base = a[OC_BASE_MOM];
    /* The phases: where each ends, its lr and momentum from and to. */
    double end[3], lr_from[3], lr_to[3], mom_from[3], mom_to[3];
    int nphases, i;
    if (a[OC_THREE_PHASE] != 0) {
        nphases = 3;
        end[0] = a[OC_PCT_START] * total - 1, lr_from[0] = initial, lr_to[0] = max;
        mom_from[0] = mom_max, mom_to[0] = mom_base;
        end[1] = 2 * a[OC_PCT_START] * total - 2, lr_from[1] = max, lr_to[1] = initial;
        mom_from[1] = mom_base, mom_to[1] = mom_max;
        end[2] = total - 1, lr_from[2] = initial, lr_to[2] = min;
        mom_from[2] = mom_max, mom_to[2] = mom_max;
    } else {
        nphases = 2;
        end[0] = a[OC_PCT_START] * total - 1, lr_from[0] = initial, lr_to[0] = max;
        mom_from[0] = mom_max, mom_to[0] = mom_base;
        end[1] = total - 1, lr_from[1] = max, lr_to[1] = min;
        mom_from[1] = mom_base, mom_to[1] = mom_max;
    }
    double start = 0;
    for (i = 0; i < nphases; i++) {
        if ((double)step <= end[i] || i == nphases - 1) {
            double pct = ((double)step - start) / (end[i] - start);
            int linear = a[OC_ANNEAL] != 0;
            *lr = anneal(linear, lr_from[i], lr_to[i], pct);
            *momentum = anneal(linear, mom_from[i], mom_to[i], pct);
            return;
        }
        start = end[i];
    }
}

int dlrt_schedule_init(dlrt_schedule *s, const dlrt_schedule_info *info, int ngroups,
                       const double *base_lr, const double *base_momentum, long epochs,
                       long steps_per_epoch, char **err)
{
    const double *a = info->arg;
    int g, j;
    memset(s, 0, sizeof *s);
    if (info->kind < 0 || info->kind >= DLRT_SCHED__COUNT)
        return dlrt_fail(err, "unknown learning-rate schedule %d", info->kind);
    if (ngroups < 1 || ngroups > DLRT_SCHED_MAX_GROUPS)
        return dlrt_fail(err, "a schedule takes 1 to %d learning-rate groups, not %d",
                    DLRT_SCHED_MAX_GROUPS, ngroups);
    if (epochs < 1 || steps_per_epoch < 1)
        return dlrt_fail(err, "a schedule needs at least one epoch of at least one batch");
    for (j = 0; j < rows[info->kind].nargs; j++)
        if (!isfinite(a[j]))
            return dlrt_fail(err, "%s: argument %d is not a number", rows[info->kind].name, j + 1);
    switch (info->kind) {
    case DLRT_SCHED_STEP:
        if (!whole(a[STEP_SIZE], 1) || !(a[STEP_GAMMA] > 0))
            return dlrt_fail(err, "step: step_size must be a whole number from 1 and gamma positive");
        break;
    case DLRT_SCHED_MULTISTEP:
        if (info->nmilestones < 1 || info->nmilestones > DLRT_SCHED_MAX_MILESTONES || !(a[MULTI_GAMMA] > 0))
            return dlrt_fail(err, "multistep: 1 to %d milestones and a positive gamma", DLRT_SCHED_MAX_MILESTONES);
        for (j = 0; j < info->nmilestones; j++)
            if (info->milestones[j] < 1 || (j && info->milestones[j] <= info->milestones[j - 1]))
                return dlrt_fail(err, "multistep: milestones out of order (%d)", info->milestones[j]);
        break;
    case DLRT_SCHED_EXPONENTIAL:
        if (!(a[EXP_GAMMA] > 0))
            return dlrt_fail(err, "exponential: gamma must be positive");
        break;
    case DLRT_SCHED_COSINE:
        if (!whole(a[COS_T_MAX], 1) || !(a[COS_ETA_MIN] >= 0))
            return dlrt_fail(err, "cosine: t_max must be a whole number from 1 and eta_min >= 0");
        break;
    case DLRT_SCHED_COSINE_RESTARTS:
        if (!whole(a[WR_T_0], 1) || !whole(a[WR_T_MULT], 1) || !(a[WR_ETA_MIN] >= 0))
            return dlrt_fail(err, "cosine_restarts: t_0 and t_mult must be whole numbers from 1, eta_min >= 0");
        break;
    case DLRT_SCHED_ONECYCLE:
        if (!(a[OC_MAX_LR] > 0) || !(a[OC_PCT_START] > 0 && a[OC_PCT_START] < 1) || !(a[OC_DIV] > 0)
            || !(a[OC_FINAL_DIV] > 0))
            return dlrt_fail(err, "onecycle: max_lr, div_factor and final_div_factor must be positive, "
                        "pct_start in (0, 1)");
        if (a[OC_CYCLE] != 0 && !base_momentum)
            return dlrt_fail(err, "onecycle: cycle_momentum needs an optimizer with a momentum");
        break;
    case DLRT_SCHED_PLATEAU:
        if (!(a[PL_FACTOR] >= 0 && a[PL_FACTOR] < 1) || !whole(a[PL_PATIENCE], 0)
            || !whole(a[PL_COOLDOWN], 0) || !(a[PL_MIN_LR] >= 0) || !(a[PL_EPS] >= 0)
            || !(a[PL_THRESHOLD] >= 0))
            return dlrt_fail(err, "plateau: factor in [0, 1), whole patience and cooldown, "
                        "non-negative threshold, min_lr and eps");
        break;
    }
    if (info->warmup_epochs < 0 || (info->warmup_epochs > 0 && !(info->warmup_start_factor > 0
                                                                 && info->warmup_start_factor <= 1)))
        return dlrt_fail(err, "warmup: epochs >= 0 and start factor in (0, 1]");
    s->info = *info;
    s->ngroups = ngroups;
    s->epochs = epochs;
    s->steps_per_epoch = steps_per_epoch;
    for (g = 0; g < ngroups; g++) {
        if (!isfinite(base_lr[g]) || base_lr[g] < 0)
            return dlrt_fail(err, "group %d's learning rate %g is not a learning rate", g, base_lr[g]);
        s->base_lr[g] = base_lr[g];
        s->base_momentum[g] = base_momentum ? base_momentum[g] : 0;
    }
    /* ReduceLROnPlateau starts from the lr the warm-up leaves. */
    s->plateau.best = info->kind == DLRT_SCHED_PLATEAU && a[PL_MODE] != 0 ? -INFINITY : INFINITY;
    s->plateau.ngroups = ngroups;
    for (g = 0; g < ngroups; g++)
        s->plateau.lr[g] = info->warmup_epochs > 0
                               ? warmup_lr(info, base_lr[g], info->warmup_epochs) : base_lr[g];
    return 0;
}

int dlrt_schedule_at(const dlrt_schedule *s, long epoch, long batch, double *lr, double *momentum)
{
    const dlrt_schedule_info *in = &s->info;
    int g;
    if (in->kind == DLRT_SCHED_ONECYCLE) {
        double l = 0, m = 0;
        onecycle(s, epoch * s->steps_per_epoch + batch, &l, &m);
        int cycled = in->arg[OC_CYCLE] != 0 && momentum;
        for (g = 0; g < s->ngroups; g++) {
            lr[g] = l;
            if (cycled)
                momentum[g] = m;
        }
        return cycled;
    }
    for (g = 0; g < s->ngroups; g++) {
        if (epoch < in->warmup_epochs)
            lr[g] = warmup_lr(in, s->base_lr[g], epoch);
        else if (in->kind == DLRT_SCHED_PLATEAU)
            lr[g] = s->plateau.lr[g];
        else
            lr[g] = main_lr(in, s->base_lr[g], epoch - in->warmup_epochs);
    }
    return 0;
}

static int is_better(const dlrt_schedule *s, double a, double best)
{
    const double *arg = s->info.arg, th = arg[PL_THRESHOLD];
    if (arg[PL_MODE] == 0)
        return arg[PL_THRESHOLD_MODE] == 0 ? a < best * (1. - th) : a < best - th;
    return arg[PL_THRESHOLD_MODE] == 0 ? a > best * (th + 1.) : a > best + th;
}

void dlrt_schedule_epoch_end(dlrt_schedule *s, long epoch, double val_loss)
{
    dlrt_plateau *p = &s->plateau;
    const double *a = s->info.arg;
    int g;
    if (s->info.kind != DLRT_SCHED_PLATEAU || epoch < s->info.warmup_epochs)
        return;
    /* ReduceLROnPlateau.step(val_loss) */
    p->last_epoch += 1;
    if (is_better(s, val_loss, p->best)) {
        p->best = val_loss;
        p->num_bad_epochs = 0;
    } else {
        p->num_bad_epochs += 1;
    }
    if (p->cooldown_counter > 0) {
        p->cooldown_counter -= 1;
        p->num_bad_epochs = 0;   /* ignore any bad epochs in cooldown */
    }
    if (p->num_bad_epochs > a[PL_PATIENCE]) {
        for (g = 0; g < s->ngroups; g++) {
            double old = p->lr[g], lr = old * a[PL_FACTOR];
            if (lr < a[PL_MIN_LR])
                lr = a[PL_MIN_LR];
            if (old - lr > a[PL_EPS])
                p->lr[g] = lr;
        }
        p->cooldown_counter = a[PL_COOLDOWN];
        p->num_bad_epochs = 0;
    }
}

void dlrt_schedule_save(const dlrt_schedule *s, double *out)
{
    memcpy(out, &s->plateau, sizeof s->plateau);
}

int dlrt_schedule_restore(dlrt_schedule *s, const double *in)
{
    dlrt_plateau p;
    int g;
    memcpy(&p, in, sizeof p);
    if (isnan(p.best) || !whole(p.num_bad_epochs, 0) || !whole(p.cooldown_counter, 0)
        || !whole(p.last_epoch, 0) || p.ngroups != s->ngroups)
        return -1;
    for (g = 0; g < s->ngroups; g++)
        if (!isfinite(p.lr[g]) || p.lr[g] < 0)
            return -1;
    s->plateau = p;
    return 0;
}
