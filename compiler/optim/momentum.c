/* momentum.c: SGD with momentum, torch.optim.SGD with dampening 0:
 *   g = grad + weight_decay * p;  buf = momentum * buf + g
 *   p -= lr * buf,  or with Nesterov  p -= lr * (g + momentum * buf)
 * buf starts at zero, so the first step is buf = g, as in torch. */
#include "optim.h"

static const OptArg args[] = {
    {"lr", OPTARG_REAL, 0.01, 0, INFINITY, true, true, "positive", "the learning rate lr"},
    {"momentum", OPTARG_REAL, 0.9, 0, 1, false, true, "in [0, 1)", "momentum"},
    {"nesterov", OPTARG_BOOL, 0, 0, 1, false, false, "true or false", "nesterov"},
};
enum { LR, MOMENTUM, NESTEROV };

static const OptSlot slots[] = {
    {"momentum_buffer", "buf", -1, NULL},
};

/* PyTorch refuses it too: Nesterov's look-ahead needs a velocity. */
static const char *check(const Optimizer *o, int *bad, int *other)
{
    if (o->arg[NESTEROV] == 0 || o->arg[MOMENTUM] != 0)
        return NULL;
    *bad = NESTEROV;
    *other = MOMENTUM;
    return "nesterov = true needs momentum above 0 (Nesterov's look-ahead follows the "
           "momentum); momentum is 0";
}

static const char *comment(Arena *a, const Optimizer *o)
{
    return arena_printf(a, "/* SGD with momentum (torch.optim.SGD, dampening 0):\n"
                           " *   g = grad + weight_decay * p\n"
                           " *   buf = momentum * buf + g      (buf starts at zero: the first step is buf = g)\n"
                           "%s",
                        o->arg[NESTEROV] != 0 ? " *   p -= lr * (g + momentum * buf)      (Nesterov) */\n"
                                              : " *   p -= lr * buf */\n");
}

static void body(OptStep *s)
{
    Emit *e = s->e;
    const char *buf = s->state[0], *mu = s->mom_c;
    emit_line(e, "%s[i] = %s * %s[i] + g;", buf, mu, buf);
    if (s->opt->arg[NESTEROV] != 0)
        emit_line(e, "%s[i] -= %s * (g + %s * %s[i]);", s->w, s->lr_c, mu, buf);
    else
        emit_line(e, "%s[i] -= %s * %s[i];", s->w, s->lr_c, buf);
}

const OptInfo optim_momentum = {
    .name = "momentum",
    .summary = "SGD with momentum, optionally Nesterov (torch.optim.SGD, dampening 0)",
    .example = "momentum(lr, momentum = 0.9)",
    .args = args,
    .nargs = sizeof args / sizeof args[0],
    .slots = slots,
    .nslots = sizeof slots / sizeof slots[0],
    .decay_arg = -1,
    .torch = "torch.optim.SGD(groups, lr=LR, momentum=MOMENTUM, dampening=0, nesterov=NESTEROV, "
             "weight_decay=WEIGHT_DECAY)",
    .check = check,
    .comment = comment,
    .body = body,
};
