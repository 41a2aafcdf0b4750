/* adam.c: Adam, torch.optim.Adam (weight decay coupled, as L2 in the
 * gradient), step t counting from 1:
 *   g = grad + weight_decay * p
 *   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
 *   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * The bias corrections are computed once per step, in double. */
#include "optim.h"

static const OptArg args[] = {
    {"lr", OPTARG_REAL, 1e-3, 0, INFINITY, true, true, "positive", "the learning rate lr"},
    {"beta1", OPTARG_REAL, 0.9, 0, 1, false, true, "in [0, 1)", "beta1"},
    {"beta2", OPTARG_REAL, 0.999, 0, 1, false, true, "in [0, 1)", "beta2"},
    {"eps", OPTARG_REAL, 1e-8, 0, INFINITY, true, true, "positive", "eps"},
};
enum { LR, BETA1, BETA2, EPS };

static const OptSlot slots[] = {
    {"exp_avg", "avg", -1, NULL},
    {"exp_avg_sq", "avg_sq", -1, NULL},
};

static const char *comment(Arena *a, const Optimizer *o)
{
    (void)o;
    return arena_strdup(a, "/* Adam (torch.optim.Adam), step t counting from 1:\n"
                           " *   g = grad + weight_decay * p\n"
                           " *   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2\n"
                           " *   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps) */\n");
}

static void prologue(OptStep *s)
{
    Emit *e = s->e;
    const char *real = s->real;
    if (s->group_lr_d)   /* beta1 is m->momentum[k], a runtime value */
        emit_line(e, "const double bias1 = 1.0 - pow(%s, (double)%s);", s->group_mom_d, s->step);
    emit_line(e, "const %s bias2_sqrt = (%s)sqrt(1.0 - pow(%s, (double)%s));", real, real,
              emit_double(e, s->opt->arg[BETA2]), s->step);
    if (s->group_lr_d)
        emit_line(e, "const %s step_size = (%s)(%s / bias1);", real, real, s->group_lr_d);
}

/* A layer in a learning-rate group of its own gets its own step size
 * (its lr and beta1 are its group's). */
static void before(OptStep *s)
{
    if (s->own_lr)
        emit_line(s->e, "const %s %s_step = (%s)(%s / (1.0 - pow(%s, (double)%s)));", s->real, s->w,
                  s->real, s->lr_d, s->mom_d, s->step);
}

static void body(OptStep *s)
{
    Emit *e = s->e;
    const Optimizer *o = s->opt;
    const char *m1 = s->state[0], *v = s->state[1];
    const char *step = s->own_lr ? arena_printf(s->a, "%s_step", s->w) : "step_size";
    emit_line(e, "%s[i] = %s * %s[i] + %s * g;", m1, s->mom_c, m1, s->mom1_c);
    emit_line(e, "%s[i] = %s * %s[i] + %s * g * g;", v, emit_lit(e, o->arg[BETA2]), v,
              emit_lit(e, 1 - o->arg[BETA2]));
    emit_line(e, "%s[i] -= %s * (%s[i] / (%s(%s[i]) / bias2_sqrt + %s));", s->w, step, m1,
              emit_fn(e, "sqrt"), v, emit_lit(e, o->arg[EPS]));
}

const OptInfo optim_adam = {
    .name = "adam",
    .summary = "Adam (torch.optim.Adam; weight decay coupled, as L2 in the gradient)",
    .example = "adam(lr = 1e-3)",
    .args = args,
    .nargs = sizeof args / sizeof args[0],
    .slots = slots,
    .nslots = sizeof slots / sizeof slots[0],
    .decay_arg = -1,
    .tuple = "betas",   /* torch.optim's betas = (beta1, beta2) */
    .tuple_first = BETA1,
    .tuple_count = 2,
    .torch_step = true,
    .torch = "torch.optim.Adam(groups, lr=LR, betas=(BETA1, BETA2), eps=EPS, "
             "weight_decay=WEIGHT_DECAY)",
    .comment = comment,
    .prologue = prologue,
    .before = before,
    .body = body,
};
