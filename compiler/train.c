/* train.c: the train block.
 *
 *   train {
 *       optimizer adam(lr = 1e-3)
 *       batch 64
 *       ...
 *   }
 *
 * Settings are rows of one table (name, kind, range, default, doc); the
 * optimizer's arguments come from its own table in optim/. Each value is
 * kept with where it was written, so --explain can say where every
 * hyperparameter came from and errors can point at it.
 */
#include "sema_internal.h"
#include "optim/optim.h"
#include "schedule.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#define MAX_EXACT 9007199254740992.0   /* 2^53: integers a double holds exactly */

typedef enum SetKind {
    SET_OPTIMIZER,   /* an optimizer call: optim/ */
    SET_INIT,        /* an init scheme */
    SET_INT,         /* an int field of TrainConfig */
    SET_U64,         /* a uint64_t field */
    SET_REAL,        /* a double field */
    SET_WORD,        /* one of the row's words, its index into an int field */
    SET_EARLY,       /* early_stopping(metric = ..., patience = ..., min_delta = ...) */
    SET_SCHEDULE,    /* a learning-rate schedule: schedule.c */
} SetKind;

typedef struct TrainSetting {
    const char *name;
    SetKind kind;
    double def;
    double lo, hi;          /* range; *_open: the end is excluded */
    bool lo_open, hi_open;
    const char *rule;       /* the range in words, for messages */
    const char *what;       /* the setting in messages */
    size_t field;           /* offsetof(TrainConfig, ...) */
    const char *doc;        /* docs/language.md's line */
} TrainSetting;

/* no_decay's words, in the order of NO_DECAY_* (dlc.h). */
static const char *const no_decay_words[] = {"none", "bias_and_norm", NULL};

/* A SET_WORD setting's words, NULL-terminated. */
static const char *const *setting_words(const TrainSetting *ts)
{
    (void)ts;   /* no_decay is the only one */
    return no_decay_words;
}

/* Every train setting, in the order --explain lists them. */
static const TrainSetting settings[] = {
    {"optimizer", SET_OPTIMIZER, 0, 0, 0, false, false, "", "optimizer", 0,
     "the optimizer and its arguments: sgd(lr) by default"},
    {"batch", SET_INT, 32, 1, 65536, false, false, "a whole number from 1 to 65536", "batch",
     offsetof(TrainConfig, batch), "samples per step"},
    {"epochs", SET_INT, 1, 1, 100000, false, false, "a whole number from 1 to 100000", "epochs",
     offsetof(TrainConfig, epochs), "passes over the training data"},
    {"seed", SET_U64, 0, 0, MAX_EXACT, false, false, "a whole number from 0 to 2^53", "seed",
     offsetof(TrainConfig, seed), "initial weights, shuffling and dropout"},
    {"weight_decay", SET_REAL, 0, 0, INFINITY, false, true, "zero or positive", "weight_decay",
     offsetof(TrainConfig, weight_decay), "L2 added to the gradient (coupled, as torch.optim)"},
    {"validation", SET_REAL, 0.1, 0, 1, false, true, "in [0, 1)",
     "validation (the fraction of training data held out)", offsetof(TrainConfig, validation),
     "fraction of the training data held out"},
    {"init", SET_INIT, 0, 0, 0, false, false, "", "init", 0,
     "default init scheme for weights: he_uniform"},
    {"clip_norm", SET_REAL, 0, 0, INFINITY, true, true, "positive", "clip_norm",
     offsetof(TrainConfig, clip_norm),
     "before each update, scale all gradients by clip_norm / (norm + 1e-6) when below 1: "
     "torch.nn.utils.clip_grad_norm_ (L2 norm over every gradient); off by default"},
    {"clip_value", SET_REAL, 0, 0, INFINITY, true, true, "positive", "clip_value",
     offsetof(TrainConfig, clip_value),
     "before each update, clamp every gradient to [-clip_value, clip_value]: "
     "torch.nn.utils.clip_grad_value_; off by default"},
    {"no_decay", SET_WORD, NO_DECAY_NONE, 0, 0, false, false, "none or bias_and_norm", "no_decay",
     offsetof(TrainConfig, no_decay),
     "bias_and_norm: biases and normalization parameters take no weight decay"},
    {"early_stopping", SET_EARLY, 0, 0, 0, false, false, "", "early_stopping", 0,
     "early_stopping(metric = val_loss, patience = 5, min_delta = 0): stop after `patience` "
     "epochs without an improvement of more than min_delta in the metric (val_loss, lowest "
     "best; val_acc, highest best), which also chooses the best checkpoint; off by default"},
    {"schedule", SET_SCHEDULE, 0, 0, 0, false, false, "", "schedule", 0,
     "the learning-rate schedule (torch.optim.lr_scheduler): constant by default"},
    {"warmup_epochs", SET_INT, 0, 0, 100000, false, false, "a whole number from 0 to 100000",
     "warmup_epochs", offsetof(TrainConfig, warmup_epochs),
     "linear learning-rate warm-up epochs before the schedule (LinearLR + SequentialLR); 0: none"},
    {"warmup_start_factor", SET_REAL, 1.0 / 3, 0, 1, true, false, "in (0, 1]",
     "warmup_start_factor", offsetof(TrainConfig, warmup_start_factor),
     "the warm-up's first epoch trains at lr times this (LinearLR's start_factor)"},
};
enum { NUM_SETTINGS = sizeof settings / sizeof settings[0] };

/* One value as it is being read: where it was set, if anywhere. */
typedef struct Value {
    double value;
    bool set;
    Loc loc;
} Value;

struct TrainBlock {
    Value setting[NUM_SETTINGS];
    Value arg[OPT_MAX_ARGS];      /* the optimizer's arguments */
    Value decay;                  /* weight_decay written as an optimizer argument */
    OptKind opt;
    InitKind init;
    double init_arg;
    /* early_stopping(...): its metric (MetricKind), patience, min_delta */
    Value metric, patience, min_delta;
    Schedule sched;               /* arguments as given (NAN: not given) */
    Value sched_arg[SCHED_MAX_ARGS];
};

static int setting_index(const char *name)
{
    for (int k = 0; k < NUM_SETTINGS; k++)
        if (strcmp(settings[k].name, name) == 0)
            return k;
    return -1;
}

static const char *const *setting_names(Arena *a)
{
    const char **names = arena_alloc(a, sizeof *names * (NUM_SETTINGS + 1));
    for (int k = 0; k < NUM_SETTINGS; k++)
        names[k] = settings[k].name;
    return names;
}

bool train_is_optimizer(const char *name)
{
    return optim_lookup(name, NULL) != NULL;
}

TrainBlock *train_begin(Arena *a)
{
    TrainBlock *tb = arena_alloc(a, sizeof *tb);
    tb->init = INIT_HE_UNIFORM;
    return tb;
}

static void set_value(Value *s, double v, Loc loc)
{
    s->value = v;
    s->set = true;
    s->loc = loc;
}

/* Reads a number and checks it against a range; `rule` words the range. */
static bool read_number(Lower *l, const Expr *e, const char *what, double lo, bool lo_open,
                        double hi, bool hi_open, bool integer, const char *rule, Value *out)
{
    double v;
    if (!lower_number(l, e, &v))
        return false;
    bool in_range = (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
    if (!in_range || (integer && v != floor(v))) {
        build_value_error(&l->b, e->loc, "%s must be %s, not %g", what, rule, v);
        return false;
    }
    if (!integer && !build_float_ok(&l->b, e->loc, v))
        return false;
    set_value(out, v, e->loc);
    return true;
}

/* A word (`no_decay bias_and_norm`, `line_search_fn = "strong_wolfe"`): a
 * bare name or a string among words; the value is the word's index. what
 * and rule word the errors. */
static void read_word(Lower *l, const Expr *e, const char *what, const char *rule,
                      const char *const *words, Value *out)
{
    Diag *d = l->diag;
    if (e->kind == EX_NAME || e->kind == EX_STR) {
        for (int k = 0; words[k]; k++)
            if (strcmp(words[k], e->name) == 0) {
                set_value(out, k, e->loc);
                return;
            }
        const char *sug = diag_suggest(e->name, words);
        if (sug) {
            diag_error(d, e->loc, "%s is %s, not '%s'; did you mean '%s'?", what, rule, e->name, sug);
            return;
        }
        diag_error(d, e->loc, "%s is %s, not '%s'", what, rule, e->name);
        return;
    }
    diag_error(d, e->loc, "%s is a word: %s", what, rule);
}

/* "sgd(lr), momentum(lr, momentum = 0.9) or adam(lr = 1e-3)" */
static const char *optimizer_examples(Arena *a)
{
    const char *s = "";
    for (int k = 0; k < OPT__COUNT; k++)
        s = arena_printf(a, "%s%s%s", s, k == 0 ? "" : k == OPT__COUNT - 1 ? " or " : ", ",
                         optim_info((OptKind)k)->example);
    return s;
}

static void lower_optimizer(Lower *l, const Expr *e, TrainBlock *tb, Value *out)
{
    Diag *d = l->diag;
    Arena *a = l->arena;
    if (e->kind != EX_NAME && e->kind != EX_CALL) {
        diag_error(d, e->loc, "an optimizer is needed here: %s", optimizer_examples(a));
        return;
    }
    Loc name_loc = e->kind == EX_CALL ? e->name_loc : e->loc;
    OptKind kind;
    const OptInfo *info = optim_lookup(e->name, &kind);
    if (!info) {
        const char *s = diag_suggest(e->name, optim_names());
        if (s)
            diag_error(d, name_loc, "unknown optimizer '%s'; did you mean '%s'?", e->name, s);
        else
            diag_error(d, name_loc, "unknown optimizer '%s' (optimizers: %s)", e->name,
                       arena_join_names(a, optim_names()));
        return;
    }
    tb->opt = kind;
    set_value(out, kind, e->loc);
    if (e->kind == EX_NAME)
        return;
    /* Every torch.optim optimizer takes weight_decay: one without its own
     * (decoupled) takes the train block's, also written here. */
    const char *names[OPT_MAX_ARGS + 2];   /* + weight_decay, + a tuple */
    const Expr *arg[OPT_MAX_ARGS + 2];
    int nnames = info->nargs;
    for (int k = 0; k < info->nargs; k++)
        names[k] = info->args[k].name;
    int decay = -1, tuple = -1;
    if (info->decay_arg < 0) {
        decay = nnames;
        names[nnames++] = "weight_decay";
    }
    if (info->tuple) {
        tuple = nnames;
        names[nnames++] = info->tuple;
    }
    if (!lower_bind_args(l, e, names, nnames, 0, arg))
        return;
    /* betas = (0.9, 0.999) stands for beta1 and beta2, as in torch.optim. */
    const Expr *item[OPT_MAX_ARGS] = {0};
    if (tuple >= 0 && arg[tuple]) {
        const Expr *t = arg[tuple];
        if (t->kind != EX_LIST || t->nitems != info->tuple_count) {
            diag_error(d, t->loc, "%s is a list of %d numbers, as in %s = (%s)", info->tuple,
                       info->tuple_count, info->tuple, info->tuple_count == 2 ? "0.9, 0.999" : "...");
        } else {
            for (int j = 0; j < info->tuple_count; j++) {
                const OptArg *oa = &info->args[info->tuple_first + j];
                if (arg[info->tuple_first + j]) {
                    diag_error(d, arg[info->tuple_first + j]->loc, "%s is given twice: by %s and "
                               "by %s", oa->name, oa->name, info->tuple);
                    diag_note(d, t->loc, "%s sets %s here", info->tuple, oa->name);
                    continue;
                }
                item[info->tuple_first + j] = t->items[j];
            }
        }
    }
    for (int k = 0; k < info->nargs; k++) {
        const OptArg *oa = &info->args[k];
        const Expr *v = arg[k] ? arg[k] : item[k];
        if (v && oa->kind == OPTARG_WORD)
            read_word(l, v, oa->what, oa->rule, info->words, &tb->arg[k]);
        else if (v)
            read_number(l, v, oa->what, oa->lo, oa->lo_open, oa->hi, oa->hi_open,
                        oa->kind == OPTARG_BOOL || oa->kind == OPTARG_INT, oa->rule, &tb->arg[k]);
    }
    if (decay >= 0 && arg[decay]) {
        const TrainSetting *ts = &settings[setting_index("weight_decay")];
        read_number(l, arg[decay], ts->what, ts->lo, ts->lo_open, ts->hi, ts->hi_open,
                    false, ts->rule, &tb->decay);
    }
}

/* The first optimizer in the table that takes an argument of this name. */
static int arg_owner(const char *name)
{
    for (int k = 0; k < OPT__COUNT; k++)
        if (optim_arg_index(optim_info((OptKind)k), name) >= 0)
            return k;
    return -1;
}

/* `lr 0.1` or `momentum 0.9` in a train block: an optimizer's argument
 * written as a setting (Keras and many tutorials set them apart). Reports
 * it with the line to write instead and returns true; false when the key is
 * not an optimizer argument. */
static bool optimizer_arg_as_setting(Lower *l, const Setting *opt, const Setting *set)
{
    Diag *d = l->diag;
    const char *arg = strcmp(set->key, "learning_rate") == 0 ? "lr" : set->key;
    int owner = arg_owner(arg);
    if (owner < 0)
        return false;
    const char *value = set->value ? build_expr_text(&l->b, set->value) : "...";
    const char *what = strcmp(arg, "lr") == 0 ? "the learning rate" : arg;
    diag_error(d, set->key_loc, "'%s' is not a train setting; %s is an argument of the "
               "optimizer", set->key, what);
    /* The block's optimizer, if it names a known one. */
    OptKind kind = OPT_SGD;
    const OptInfo *info = NULL;
    if (opt && opt->value && (opt->value->kind == EX_NAME || opt->value->kind == EX_CALL))
        info = optim_lookup(opt->value->name, &kind);
    if (info && optim_arg_index(info, arg) >= 0) {
        bool has_args = opt->value->kind == EX_CALL && opt->value->nargs > 0;
        diag_note(d, opt->loc, "add it to the optimizer: optimizer %s(%s%s = %s)", info->name,
                  has_args ? "..., " : "", arg, value);
        return true;
    }
    const char *by = optim_info((OptKind)owner)->name;
    if (info)
        diag_note(d, set->key_loc, "%s takes no %s; %s is the optimizer that does: "
                  "optimizer %s(%s = %s)", info->name, arg, by, by, arg, value);
    else
        diag_note(d, set->key_loc, "write: optimizer %s(%s = %s)", by, arg, value);
    return true;
}

static void lower_early_stopping(Lower *l, const Expr *e, TrainBlock *tb, Value *out);
/* "constant, step(step_size = 30, gamma = 0.1), ..." */
static const char *schedule_examples(Arena *a)
{
    const char *s = "";
    for (int k = 0; k < SCHED__COUNT; k++)
        s = arena_printf(a, "%s%s%s", s, k == 0 ? "" : k == SCHED__COUNT - 1 ? " or " : ", ",
                         sched_info(k)->example);
    return s;
}

/* milestones = (30, 80): whole numbers from 1, increasing. */
static void read_milestones(Lower *l, const Expr *v, const SchedArg *sa, TrainBlock *tb, Value *out)
{
    Diag *d = l->diag;
    const Expr *one[1] = {v};
    const Expr *const *items = v->kind == EX_LIST ? (const Expr *const *)v->items : one;
    int n = v->kind == EX_LIST ? v->nitems : 1;
    if (n < 1 || n > SCHED_MAX_MILESTONES) {
        diag_error(d, v->loc, "milestones is a list of 1 to %d epochs, as in milestones = (30, 80)",
                   SCHED_MAX_MILESTONES);
        return;
    }
    bool ok = true;
    for (int k = 0; k < n; k++) {
        Value m = {0};
        if (!read_number(l, items[k], "a milestone", sa->lo, false, sa->hi, false, true,
                         "a whole number from 1 (an epoch)", &m)) {
            ok = false;
            continue;
        }
        tb->sched.milestones[k] = (int)m.value;
        if (k > 0 && ok && tb->sched.milestones[k] <= tb->sched.milestones[k - 1]) {
            diag_error(d, items[k]->loc, "milestones out of order: %d comes after %d; they are "
                       "epochs, in increasing order", tb->sched.milestones[k], tb->sched.milestones[k - 1]);
            diag_note(d, items[k - 1]->loc, "the previous milestone");
            ok = false;
        }
    }
    if (ok) {
        tb->sched.nmilestones = n;
        set_value(out, n, v->loc);
    }
}

static void lower_schedule(Lower *l, const Expr *e, TrainBlock *tb, Value *out)
{
    Diag *d = l->diag;
    Arena *a = l->arena;
    if (e->kind != EX_NAME && e->kind != EX_CALL) {
        diag_error(d, e->loc, "a learning-rate schedule is needed here: %s", schedule_examples(a));
        return;
    }
    Loc name_loc = e->kind == EX_CALL ? e->name_loc : e->loc;
    int kind;
    const SchedInfo *info = sched_lookup(e->name, &kind);
    if (!info) {
        const char *s = diag_suggest(e->name, sched_names());
        if (s)
            diag_error(d, name_loc, "unknown schedule '%s'; did you mean '%s'?", e->name, s);
        else
            diag_error(d, name_loc, "unknown schedule '%s' (schedules: %s)", e->name,
                       arena_join_names(a, sched_names()));
        return;
    }
    tb->sched.kind = kind;
    tb->sched.loc = e->loc;
    set_value(out, kind, e->loc);
    const char *names[SCHED_MAX_ARGS];
    const Expr *arg[SCHED_MAX_ARGS];
    int nrequired = 0;
    for (int k = 0; k < info->nargs; k++) {
        names[k] = info->args[k].name;
        if (isnan(info->args[k].def) && info->args[k].kind != SARG_BOOL && nrequired == k)
            nrequired++;
    }
    if (e->kind == EX_NAME) {
        if (nrequired > 0) {
            diag_error(d, e->loc, "the %s schedule needs %s: schedule %s", info->name,
                       names[0], info->example);
        }
        return;
    }
    if (!lower_bind_args(l, e, names, info->nargs, nrequired, arg))
        return;
    for (int k = 0; k < info->nargs; k++) {
        const SchedArg *sa = &info->args[k];
        const Expr *v = arg[k];
        if (!v)
            continue;
        switch (sa->kind) {
        case SARG_CHOICE:
            read_word(l, v, arena_printf(a, "%s's %s", info->name, sa->name), sa->rule, sa->choices,
                      &tb->sched_arg[k]);
            break;
        case SARG_LIST:
            read_milestones(l, v, sa, tb, &tb->sched_arg[k]);
            break;
        default:
            read_number(l, v, arena_printf(a, "%s's %s", info->name, sa->name), sa->lo, sa->lo_open,
                        sa->hi, sa->hi_open, sa->kind != SARG_REAL, sa->rule, &tb->sched_arg[k]);
            break;
        }
    }
}

void train_lower(Lower *l, TrainBlock *tb, const Stmt *s)
{
    Diag *d = l->diag;
    Arena *a = l->arena;
    const Setting *seen[NUM_SETTINGS] = {0};
    const Setting *opt = NULL;   /* the first optimizer setting, for messages */
    for (int k = 0; k < s->nsettings && !opt; k++)
        if (strcmp(s->settings[k].key, "optimizer") == 0)
            opt = &s->settings[k];
    for (int k = 0; k < s->nsettings; k++) {
        const Setting *set = &s->settings[k];
        if (set->section)
            continue;   /* loss NAME { ... }: train_lower_section */
        int key = setting_index(set->key);
        if (key < 0 && optimizer_arg_as_setting(l, opt, set))
            continue;
        if (key < 0) {
            const char *const *names = setting_names(a);
            const char *sug = diag_suggest(set->key, names);
            if (sug)
                diag_error(d, set->key_loc, "unknown train setting '%s'; did you mean '%s'?",
                           set->key, sug);
            else
                diag_error(d, set->key_loc, "unknown train setting '%s' (settings: %s)",
                           set->key, arena_join_names(a, names));
            continue;
        }
        if (seen[key]) {
            diag_error(d, set->key_loc, "'%s' is set twice", set->key);
            diag_note(d, seen[key]->key_loc, "first set here");
            continue;
        }
        seen[key] = set;
        const Expr *v = set->value;
        const TrainSetting *ts = &settings[key];
        if (!v)
            continue;
        switch (ts->kind) {
        case SET_OPTIMIZER:
            lower_optimizer(l, v, tb, &tb->setting[key]);
            break;
        case SET_INIT:
            if (lower_init(l, v, &tb->init, &tb->init_arg))
                set_value(&tb->setting[key], tb->init, v->loc);
            break;
        case SET_SCHEDULE:
            lower_schedule(l, v, tb, &tb->setting[key]);
            break;
        case SET_INT:
        case SET_U64:
        case SET_REAL:
            read_number(l, v, ts->what, ts->lo, ts->lo_open, ts->hi, ts->hi_open,
                        ts->kind != SET_REAL, ts->rule, &tb->setting[key]);
            break;
        case SET_WORD:
            read_word(l, v, ts->what, ts->rule, setting_words(ts), &tb->setting[key]);
            break;
        case SET_EARLY:
            lower_early_stopping(l, v, tb, &tb->setting[key]);
            break;
        }
    }
}

static void finish_config(Lower *l, TrainBlock *tb, TrainConfig *t);

/* early_stopping(metric = val_loss, patience = 5, min_delta = 0) */
static void lower_early_stopping(Lower *l, const Expr *e, TrainBlock *tb, Value *out)
{
    Diag *d = l->diag;
    static const char *const names[] = {"metric", "patience", "min_delta"};
    const Expr *arg[3];
    if (e->kind != EX_CALL) {
        diag_error(d, e->loc, "early_stopping takes its settings as a call: "
                   "early_stopping(metric = val_loss, patience = 5, min_delta = 0)");
        return;
    }
    if (!lower_bind_args(l, e, names, 3, 0, arg))
        return;
    set_value(out, 1, e->loc);
    if (arg[0]) {
        const Expr *m = arg[0];
        if (m->kind == EX_NAME && !strcmp(m->name, "val_loss"))
            set_value(&tb->metric, METRIC_VAL_LOSS, m->loc);
        else if (m->kind == EX_NAME && !strcmp(m->name, "val_acc"))
            set_value(&tb->metric, METRIC_VAL_ACC, m->loc);
        else {
            static const char *const metrics[] = {"val_loss", "val_acc", NULL};
            const char *sug = m->kind == EX_NAME ? diag_suggest(m->name, metrics) : NULL;
            if (sug)
                diag_error(d, m->loc, "unknown metric '%s'; did you mean '%s'?", m->name, sug);
            else
                diag_error(d, m->loc, "early_stopping's metric is val_loss (the validation loss, "
                           "lower is better) or val_acc (the validation accuracy, higher is better)");
        }
    }
    if (arg[1])
        read_number(l, arg[1], "patience (epochs without improvement before stopping)", 0, false,
                    100000, false, true, "a whole number from 0 to 100000", &tb->patience);
    if (arg[2])
        read_number(l, arg[2], "min_delta (the least change that counts as an improvement)", 0,
                    false, INFINITY, true, false, "zero or positive", &tb->min_delta);
}

void train_finish(Lower *l, TrainBlock *tb)
{
    finish_config(l, tb, &l->ir->train);
}

/* The settings a `loss NAME { }` section may hold besides steps. */
static bool section_setting(const char *key)
{
    return !strcmp(key, "optimizer") || !strcmp(key, "weight_decay") || !strcmp(key, "clip_norm")
           || !strcmp(key, "clip_value") || !strcmp(key, "no_decay");
}

void train_lower_section(Lower *l, const Setting *sec, Group *g)
{
    Diag *d = l->diag;
    Arena *a = l->arena;
    TrainBlock *tb = train_begin(a);
    VEC(Setting) keep = {0};
    const Setting *steps = NULL;
    for (int k = 0; k < sec->nsub; k++) {
        const Setting *set = &sec->sub[k];
        if (set->section) {
            diag_error(d, set->key_loc, "a loss section cannot hold another ('loss %s { }')",
                       set->key);
            continue;
        }
        if (!strcmp(set->key, "steps")) {
            if (steps) {
                diag_error(d, set->key_loc, "'steps' is set twice");
                diag_note(d, steps->key_loc, "first set here");
                continue;
            }
            steps = set;
            Value v = {0};
            if (set->value && read_number(l, set->value, "steps (this loss's steps per round)", 1,
                                          false, 1000, false, true, "a whole number from 1 to 1000", &v))
                g->steps = (int)v.value;
            continue;
        }
        if (!section_setting(set->key) && setting_index(set->key) >= 0) {
            diag_error(d, set->key_loc, "'%s' is a setting of the whole train block, not of one "
                       "loss", set->key);
            diag_note(d, sec->key_loc, "a loss section takes optimizer, steps, weight_decay, "
                      "clip_norm, clip_value and no_decay");
            continue;
        }
        vec_push(a, &keep, *set);   /* unknown keys: train_lower says so */
    }
    Stmt s = {.kind = ST_TRAIN, .loc = sec->loc, .settings = keep.items, .nsettings = keep.len};
    train_lower(l, tb, &s);
    TrainConfig t = {0};
    int errors = d->errors;
    finish_config(l, tb, &t);
    if (d->errors != errors)
        return;
    int opt = setting_index("optimizer"), wd = setting_index("weight_decay");
    bool own_decay = optim_info(t.opt.kind)->decay_arg >= 0;
    if (tb->setting[opt].set) {
        g->opt = t.opt;
        if (own_decay)   /* adamw: its own argument, or its default */
            g->weight_decay = t.weight_decay;
    }
    if (tb->setting[wd].set && !own_decay)
        g->weight_decay = t.weight_decay;
    else if (tb->setting[opt].set && !own_decay && optim_info(l->ir->train.opt.kind)->decay_arg >= 0)
        g->weight_decay = 0;   /* the block's adamw decay is not this optimizer's */
    if (tb->setting[setting_index("clip_norm")].set)
        g->clip_norm = t.clip_norm;
    if (tb->setting[setting_index("clip_value")].set)
        g->clip_value = t.clip_value;
    if (tb->setting[setting_index("no_decay")].set)
        g->no_decay = t.no_decay;
}

/* The rules between the schedule and the other settings. */
static void check_schedule(Lower *l, TrainBlock *tb, const TrainConfig *t)
{
    Diag *d = l->diag;
    const Value *warm = &tb->setting[setting_index("warmup_epochs")];
    const Value *sched = &tb->setting[setting_index("schedule")];
    const Value *factor = &tb->setting[setting_index("warmup_start_factor")];
    if (t->schedule.kind == SCHED_ONECYCLE && warm->set && t->warmup_epochs > 0) {
        diag_error(d, warm->loc, "onecycle warms up by itself (its first pct_start of the steps); "
                   "warmup_epochs goes with the other schedules");
        diag_note(d, t->schedule.loc, "the schedule is onecycle here");
    }
    if (factor->set && t->warmup_epochs == 0)
        diag_warning(d, factor->loc, "warmup_start_factor does nothing without warmup_epochs");
    if (t->schedule.kind == SCHED_ONECYCLE) {
        int k = sched_arg_index(sched_info(SCHED_ONECYCLE), "cycle_momentum");
        const OptInfo *oi = optim_info(t->opt.kind);
        if (t->schedule.arg[k] != 0 && momentum_arg(&t->opt) < 0) {
            diag_error(d, tb->sched_arg[k].set ? tb->sched_arg[k].loc : sched->loc,
                       "cycle_momentum needs an optimizer with a momentum; %s has none%s",
                       oi->name, optim_arg_index(oi, "momentum") >= 0 ? " (its momentum is 0)" : "");
            diag_note(d, t->opt.loc.begin >= 0 ? t->opt.loc : sched->loc,
                      "momentum(...), adam, adamw and rmsprop(momentum > 0) have one");
        }
    }
}

static void finish_config(Lower *l, TrainBlock *tb, TrainConfig *t)
{
    Arena *a = l->arena;
    Diag *d = l->diag;
    IR *ir = l->ir;
    VEC(Hyper) hypers = {0};
#define HYPER(nm, s, v, txt)                                                   \
    do {                                                                       \
        Hyper h_ = {nm, v, !(s).set, (s).set ? (s).loc : NOLOC, NULL, txt};    \
        vec_push(a, &hypers, h_);                                              \
    } while (0)

    const OptInfo *info = optim_info(tb->opt);
    for (int k = 0; k < NUM_SETTINGS; k++) {
        const TrainSetting *ts = &settings[k];
        const Value *s = &tb->setting[k];
        double v = s->set ? s->value : ts->def;
        switch (ts->kind) {
        case SET_OPTIMIZER:
            t->opt.kind = tb->opt;
            t->opt.loc = s->set ? s->loc : NOLOC;
            HYPER("optimizer", *s, (double)tb->opt, info->name);
            /* weight_decay given as the optimizer's argument: the block's. */
            if (tb->decay.set) {
                Value *wd = &tb->setting[setting_index("weight_decay")];
                if (wd->set) {
                    diag_error(d, wd->loc, "weight_decay is set twice: here and as an argument "
                               "of the optimizer");
                    diag_note(d, tb->decay.loc, "first set here");
                } else {
                    *wd = tb->decay;
                }
            }
            for (int j = 0; j < info->nargs; j++) {
                const OptArg *oa = &info->args[j];
                const Value *av = &tb->arg[j];
                t->opt.arg[j] = av->set ? av->value : oa->def;
                const char *shown = info->arg_text ? info->arg_text(a, &t->opt, j) : NULL;
                HYPER(oa->name, *av, t->opt.arg[j],
                      shown ? shown
                      : oa->kind == OPTARG_BOOL ? (t->opt.arg[j] != 0 ? "true" : "false")
                      : oa->kind == OPTARG_WORD ? info->words[(int)t->opt.arg[j]] : NULL);
            }
            t->opt.lr = t->opt.arg[0];
            if (info->check) {
                int bad = 0, other = -1;
                const char *why = info->check(&t->opt, &bad, &other);
                if (why) {
                    build_value_error(&l->b, tb->arg[bad].set ? tb->arg[bad].loc : t->opt.loc, "%s", why);
                    if (other >= 0 && tb->arg[other].set) {
                        diag_note(d, tb->arg[other].loc, "%s is set to %g here",
                                  info->args[other].name, t->opt.arg[other]);
                        sema_note_values(d, ir, tb->arg[other].loc);
                    }
                }
            }
            break;
        case SET_SCHEDULE: {
            const SchedInfo *si = sched_info(tb->sched.kind);
            t->schedule = tb->sched;
            t->schedule.loc = s->set ? tb->sched.loc : NOLOC;
            HYPER("schedule", *s, (double)tb->sched.kind, si->name);
            for (int j = 0; j < si->nargs; j++) {
                const SchedArg *sa = &si->args[j];
                const Value *av = &tb->sched_arg[j];
                double v = av->set ? av->value : sa->def;
                if (sa->kind == SARG_BOOL && isnan(v))   /* cycle_momentum: the optimizer's */
                    v = momentum_arg(&t->opt) >= 0;
                t->schedule.arg[j] = v;
                HYPER(sa->name, *av, v,
                      sa->kind == SARG_BOOL ? (v != 0 ? "true" : "false")
                      : sa->kind == SARG_CHOICE ? sa->choices[(int)v]
                      : sa->kind == SARG_LIST ? sched_text(a, &t->schedule) : NULL);
            }
            break;
        }
        case SET_INIT:
            t->init = s->set ? tb->init : INIT_HE_UNIFORM;
            t->init_arg = s->set ? tb->init_arg : 0;
            HYPER(ts->name, *s, (double)t->init, NULL);
            break;
        case SET_INT:
            *(int *)((char *)t + ts->field) = (int)v;
            HYPER(ts->name, *s, v, NULL);
            break;
        case SET_U64:
            *(uint64_t *)((char *)t + ts->field) = (uint64_t)v;
            HYPER(ts->name, *s, v, NULL);
            break;
        case SET_REAL:
            *(double *)((char *)t + ts->field) = v;
            /* An optimizer with a weight decay of its own (adamw's decoupled
             * one) takes it there; the block's coupled one would be another. */
            if (strcmp(ts->name, "weight_decay") == 0 && info->decay_arg >= 0) {
                if (s->set) {
                    diag_error(d, s->loc, "%s has a weight decay of its own (decoupled, as in "
                               "torch.optim); set it there: optimizer %s(weight_decay = %g)",
                               info->name, info->name, v);
                }
                t->weight_decay = t->opt.arg[info->decay_arg];
                break;
            }
            /* The warm-up's factor only matters with a warm-up. */
            if (!strcmp(ts->name, "warmup_start_factor") && !s->set && t->warmup_epochs == 0)
                break;
            /* A setting whose default 0 means "not done" says so. */
            HYPER(ts->name, *s, v, !s->set && ts->def == 0 && ts->lo_open ? "off" : NULL);
            break;
        case SET_WORD:
            *(int *)((char *)t + ts->field) = (int)v;
            if (strcmp(ts->name, "no_decay") == 0)
                t->no_decay_loc = s->set ? s->loc : NOLOC;
            HYPER(ts->name, *s, v, setting_words(ts)[(int)v]);
            break;
        case SET_EARLY:
            t->early_stopping = s->set;
            t->metric = tb->metric.set ? (int)tb->metric.value : s->set ? METRIC_VAL_LOSS : METRIC_DEFAULT;
            t->patience = tb->patience.set ? (int)tb->patience.value : 5;
            t->min_delta = tb->min_delta.set ? tb->min_delta.value : 0;
            HYPER(ts->name, *s, s->set, s->set ? "on" : "off");
            if (s->set) {
                HYPER("metric", tb->metric, t->metric, t->metric == METRIC_VAL_ACC ? "val_acc" : "val_loss");
                HYPER("patience", tb->patience, t->patience, NULL);
                HYPER("min_delta", tb->min_delta, t->min_delta, NULL);
            }
            if (t->metric == METRIC_VAL_ACC && t == &ir->train) {
                bool acc = false;
                for (int i = 0; i < ir->losses.len; i++)
                    for (int j = 0; j < ir->losses.items[i].nterms; j++)
                        acc |= (op_info(ir->nodes.items[ir->losses.items[i].terms[j].node]->op)->flags &
                                OPF_ACCURACY) != 0;
                if (!acc && ir->losses.len) {
                    diag_error(d, tb->metric.loc, "metric val_acc needs an accuracy, but no loss "
                               "of this network has a cross_entropy term");
                    diag_note(d, tb->metric.loc, "use metric = val_loss");
                }
            }
            break;
        }
    }
#undef HYPER
    check_schedule(l, tb, t);
    t->hypers = hypers.items;
    t->nhypers = hypers.len;
}
