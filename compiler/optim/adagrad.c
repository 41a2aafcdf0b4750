/* adagrad.c: Adagrad, torch.optim.Adagrad (weight decay coupled, from the
 * train block, as L2 in the gradient), step t counting from 1:
 *   g = grad + weight_decay * p
 *   clr = lr / (1 + (t - 1) * lr_decay)
 *   sum += g^2                       (sum starts at initial_accumulator_value)
 *   p -= clr * g / (sqrt(sum) + eps) */
#include "optim.h"

static const OptArg args[] = {
    {"lr", OPTARG_REAL, 0.01, 0, INFINITY, true, true, "positive", "the learning rate lr"},
    {"lr_decay", OPTARG_REAL, 0, 0, INFINITY, false, true, "zero or positive", "lr_decay"},
    {"initial_accumulator_value", OPTARG_REAL, 0, 0, INFINITY, false, true, "zero or positive",
     "initial_accumulator_value"},
    {"eps", OPTARG_REAL, 1e-10, 0, INFINITY, true, true, "positive", "eps"},
};
enum { LR, LR_DECAY, INITIAL, EPS };

static const OptSlot slots[] = {
    {"sum", "sum", INITIAL, NULL},
};

static const char *comment(Arena *a, const Optimizer *o)
{
    (void)o;
    return arena_strdup(a, "/* Adagrad (torch.optim.Adagrad), step t counting from 1:\n"
                           " *   g = grad + weight_decay * p\n"
                           " *   clr = lr / (1 + (t - 1) * lr_decay)\n"
                           " *   sum += g^2      (sum starts at initial_accumulator_value)\n"
                           " *   p -= clr * g / (sqrt(sum) + eps) */\n");
}

/* With lr_decay, each step's learning rate, worked out in double as
 * torch.optim does. */
static void before(OptStep *s)
{
    if (s->opt->arg[LR_DECAY] != 0)
        emit_line(s->e, "const %s %s_clr = (%s)(%s / (1.0 + (double)(%s - 1) * %s));", s->real,
                  s->w, s->real, s->lr_d, s->step, emit_double(s->e, s->opt->arg[LR_DECAY]));
}

static void body(OptStep *s)
{
    Emit *e = s->e;
    const char *sum = s->state[0];
    const char *clr = s->opt->arg[LR_DECAY] != 0 ? arena_printf(s->a, "%s_clr", s->w)
                                                 : s->lr_c;
    emit_line(e, "%s[i] += g * g;", sum);
    emit_line(e, "%s[i] -= %s * (g / (%s(%s[i]) + %s));", s->w, clr, emit_fn(e, "sqrt"), sum,
              emit_lit(e, s->opt->arg[EPS]));
}

const OptInfo optim_adagrad = {
    .name = "adagrad",
    .summary = "Adagrad (torch.optim.Adagrad)",
    .example = "adagrad(lr = 0.01)",
    .args = args,
    .nargs = sizeof args / sizeof args[0],
    .slots = slots,
    .nslots = sizeof slots / sizeof slots[0],
    .decay_arg = -1,
    .torch_step = true,
    .torch = "torch.optim.Adagrad(groups, lr=LR, lr_decay=LR_DECAY, weight_decay=WEIGHT_DECAY, "
             "initial_accumulator_value=INITIAL_ACCUMULATOR_VALUE, eps=EPS)",
    .comment = comment,
    .before = before,
    .body = body,
};
